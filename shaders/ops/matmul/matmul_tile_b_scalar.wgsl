// tile_b for matmul_blocked from any scalar right operand (load_b: matmul_weight_rows | matmul_weight_cols), for
// shapes whose layout allows no vec4 loads. Columns past n repeat the last column; k past the end reads as 0.
fn b_scalar_row(k: u32, col0: u32) -> vec4<f32> {
  let kc = min(k, params.k - 1u);
  var v: vec4<f32>;
  for (var j = 0u; j < 4u; j++) {
    v[j] = load_b(kc, min(col0 + j, params.n - 1u));
  }
  return select(vec4<f32>(0.0), v, k < params.k);
}

fn tile_b(col0: u32, k0: u32) -> mat4x4<f32> {
  return mat4x4<f32>(b_scalar_row(k0, col0), b_scalar_row(k0 + 1u, col0), b_scalar_row(k0 + 2u, col0), b_scalar_row(k0 + 3u, col0));
}
