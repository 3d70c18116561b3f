// load_b_block for matmul_blocked from any scalar right operand (load_b: matmul_weight_rows |
// matmul_weight_cols), for shapes whose layout does not allow vec4 loads. Columns past n repeat the last column;
// k past the end reads as 0.
fn load_b_block(col0: u32, k0: u32) {
  let last = params.k - 1u;
  for (var kk = 0u; kk < 4u; kk++) {
    let k = min(k0 + kk, last);
    let inside = k0 + kk <= last;
    for (var j = 0u; j < MM_BN4; j++) {
      var v: vec4<f32>;
      for (var c = 0u; c < 4u; c++) {
        v[c] = select(0.0, load_b(k, min(col0 + 4u * j + c, params.n - 1u)), inside);
      }
      b_reg[kk * MM_BN4 + j] = v;
    }
  }
}
