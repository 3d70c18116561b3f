// tile_a for matmul_blocked from any scalar source (load_a: matmul_load_rows | matmul_load_cols |
// matmul_load_heads), for shapes whose layout allows no vec4 loads. Rows past m repeat the last row; k past the
// end reads as 0.
fn a_scalar_row(row: u32, k0: u32) -> vec4<f32> {
  let r = min(row, params.m - 1u);
  var v: vec4<f32>;
  for (var kk = 0u; kk < 4u; kk++) {
    v[kk] = select(0.0, load_a(r, min(k0 + kk, params.k - 1u)), k0 + kk < params.k);
  }
  return v;
}

fn tile_a(row0: u32, k0: u32) -> mat4x4<f32> {
  return mat4x4<f32>(a_scalar_row(row0, k0), a_scalar_row(row0 + 1u, k0), a_scalar_row(row0 + 2u, k0), a_scalar_row(row0 + 3u, k0));
}
