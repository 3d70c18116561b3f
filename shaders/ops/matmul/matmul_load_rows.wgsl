// matmul source: a is [m, k] row-major.
var<storage, read> a: array<f32>;

fn load_a(row: u32, k: u32) -> f32 {
  return a[row * params.k + k];
}
