// load_a_block for matmul_blocked: a is [m, k] row-major with k a multiple of 4, read as vec4 along k (one load
// per row of the block). Rows past m repeat the last row (their results are not stored).
var<storage, read> a: array<vec4<f32>>;

fn load_a_block(row0: u32, k0: u32) {
  let k4 = params.k / 4u;
  for (var i = 0u; i < MM_BM; i++) {
    a_reg[i] = a[min(row0 + i, params.m - 1u) * k4 + k0 / 4u];
  }
}
