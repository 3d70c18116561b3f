// matmul source: a is [m, k] row-major.
fn load_a(row: u32, k: u32) -> f32 {
  return a[row * params.k + k];
}
