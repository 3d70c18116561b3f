// Parameters of one matmul dispatch (matmul.wgsl, matmul_blocked.wgsl, matvec.wgsl). The product is
// a @ b with a logically [m, k] and b logically [k, n]; the load parts say how each is stored (row-major,
// transposed, head-major). seq_length, heads and head_dim describe a head-major a (matmul_load_heads); the other
// sources ignore them. The epilogue flags are read by matmul_output.
struct MatmulParams {
  m: u32,
  n: u32,
  k: u32,
  has_bias: u32,
  has_residual: u32,
  activation: u32, // 0: none, 1: GELU, 2: multiply by GELU'(pre_activation) (GELU backward)
  seq_length: u32,
  heads: u32,
  head_dim: u32,
  accumulate: u32, // 1: result += the value instead of result = the value
  save_pre: u32, // 1: write the value before the activation to pre_activation
}

var<uniform> params: MatmulParams;
