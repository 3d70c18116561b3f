// Parameters of one matmul dispatch (matmul.wgsl, matmul_blocked.wgsl, matvec.wgsl). The product is
// a @ b with a logically [m, k] and b logically [k, n]; the load parts say how each is stored (row-major,
// transposed, head-major). seq_length, heads and head_dim describe a head-major a (matmul_load_heads); the other
// sources ignore them. The epilogue is chosen by constants (matmul_output), not by fields here.
struct MatmulParams {
  m: u32,
  n: u32,
  k: u32,
  seq_length: u32,
  heads: u32,
  head_dim: u32,
}

var<uniform> params: MatmulParams;
