// matmul right operand: weight is [k, n] row-major (x @ W).
var<storage, read> weight: array<f32>;

fn load_b(k: u32, col: u32) -> f32 {
  return weight[k * params.n + col];
}
