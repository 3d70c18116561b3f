// tile_b for matmul_blocked: weight is given transposed, [n, k] row-major with k a multiple of 4 (dY @ W^T); one
// vec4 load along k per column, transposed in registers. Columns past n repeat the last column.
var<storage, read> weight: array<vec4<f32>>;

fn tile_b(col0: u32, k0: u32) -> mat4x4<f32> {
  let k4 = params.k / 4u;
  let last = params.n - 1u;
  let q = k0 / 4u;
  return transpose(mat4x4<f32>(weight[min(col0, last) * k4 + q], weight[min(col0 + 1u, last) * k4 + q], weight[min(col0 + 2u, last) * k4 + q], weight[min(col0 + 3u, last) * k4 + q]));
}
