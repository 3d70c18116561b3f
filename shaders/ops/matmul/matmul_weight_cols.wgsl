// matmul right operand: weight is given transposed, [n, k] row-major (dY @ W^T with W stored [n, k] as x @ W
// stores it).
var<storage, read> weight: array<f32>;

fn load_b(k: u32, col: u32) -> f32 {
  return weight[col * params.k + k];
}
