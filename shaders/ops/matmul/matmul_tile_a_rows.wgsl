// tile_a for matmul_blocked: a is [m, k] row-major with k a multiple of 4; one vec4 load per row of the block.
// Rows past m repeat the last row (their results are not stored).
var<storage, read> a: array<vec4<f32>>;

fn tile_a(row0: u32, k0: u32) -> mat4x4<f32> {
  let k4 = params.k / 4u;
  let last = params.m - 1u;
  let q = k0 / 4u;
  return mat4x4<f32>(a[min(row0, last) * k4 + q], a[min(row0 + 1u, last) * k4 + q], a[min(row0 + 2u, last) * k4 + q], a[min(row0 + 3u, last) * k4 + q]);
}
