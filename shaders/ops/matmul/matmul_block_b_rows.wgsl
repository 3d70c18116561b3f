// load_b_block for matmul_blocked: weight is [k, n] row-major with n a multiple of 4, read as vec4 along n.
// Columns past n repeat the last four; k past the end reads as 0.
var<storage, read> weight: array<vec4<f32>>;

fn load_b_block(col0: u32, k0: u32) {
  let n4 = params.n / 4u;
  let last = params.k - 1u;
  for (var kk = 0u; kk < 4u; kk++) {
    let row = min(k0 + kk, last) * n4;
    for (var j = 0u; j < MM_BN4; j++) {
      b_reg[kk * MM_BN4 + j] = select(vec4<f32>(0.0), weight[row + min(col0 / 4u + j, n4 - 1u)], k0 + kk <= last);
    }
  }
}
