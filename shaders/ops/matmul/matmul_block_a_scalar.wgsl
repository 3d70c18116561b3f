// load_a_block for matmul_blocked from any scalar source (load_a: matmul_load_rows | matmul_load_cols |
// matmul_load_heads), for shapes whose layout does not allow vec4 loads. Rows past m repeat the last row; k past
// the end reads as 0.
fn load_a_block(row0: u32, k0: u32) {
  let last = params.k - 1u;
  for (var i = 0u; i < MM_BM; i++) {
    let row = min(row0 + i, params.m - 1u);
    var v: vec4<f32>;
    for (var kk = 0u; kk < 4u; kk++) {
      v[kk] = select(0.0, load_a(row, min(k0 + kk, last)), k0 + kk <= last);
    }
    a_reg[i] = v;
  }
}
