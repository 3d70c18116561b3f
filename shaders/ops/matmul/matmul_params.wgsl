// Parameters of one matmul dispatch (matmul.wgsl). seq_length, heads and head_dim describe a head-major
// input (matmul_load_heads); the row-major source ignores them.
struct MatmulParams {
  m: u32,
  n: u32,
  k: u32,
  has_bias: u32,
  has_residual: u32,
  activation: u32, // 0: none, 1: GELU
  seq_length: u32,
  heads: u32,
  head_dim: u32,
}

var<uniform> params: MatmulParams;
var<storage, read> a: array<f32>;
