// matmul source: a is given transposed, [k, m] row-major (X^T dY: X holds one token per row and the product
// reduces over the tokens).
var<storage, read> a: array<f32>;

fn load_a(row: u32, k: u32) -> f32 {
  return a[k * params.m + row];
}
