// tile_a for matmul_blocked: a is given transposed, [k, m] row-major with m a multiple of 4 (X^T dY); one vec4
// load along m per k, transposed in registers. Rows past m repeat the last four; k past the end reads as 0.
var<storage, read> a: array<vec4<f32>>;

fn a_cols_load(k: u32, r4: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), a[min(k, params.k - 1u) * (params.m / 4u) + r4], k < params.k);
}

fn tile_a(row0: u32, k0: u32) -> mat4x4<f32> {
  let r4 = min(row0 / 4u, params.m / 4u - 1u);
  return transpose(mat4x4<f32>(a_cols_load(k0, r4), a_cols_load(k0 + 1u, r4), a_cols_load(k0 + 2u, r4), a_cols_load(k0 + 3u, r4)));
}
