// tile_b for matmul_blocked: weight is [k, n] row-major with n a multiple of 4; one vec4 load along n per k.
// Columns past n repeat the last four; k past the end reads as 0.
var<storage, read> weight: array<vec4<f32>>;

fn b_rows_load(k: u32, c4: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), weight[min(k, params.k - 1u) * (params.n / 4u) + c4], k < params.k);
}

fn tile_b(col0: u32, k0: u32) -> mat4x4<f32> {
  let c4 = min(col0 / 4u, params.n / 4u - 1u);
  return mat4x4<f32>(b_rows_load(k0, c4), b_rows_load(k0 + 1u, c4), b_rows_load(k0 + 2u, c4), b_rows_load(k0 + 3u, c4));
}
