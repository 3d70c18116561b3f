// Matrix product for a few rows of a (m <= MV_ROWS, e.g. one token per sequence in a step): one invocation per
// column of the result walks k with its MV_ROWS sums in registers. No workgroup memory and no barriers; adjacent
// invocations read adjacent weights. For m = 1 the tiled kernel (matmul.wgsl) would compute 63 padding rows and
// synchronise its workgroup twice per tile of k, which on SwiftShader took 40 ms for 256 x 256.
// Composed with: matmul_params, one load_a source, one load_b source, gelu, matmul_output. Needs `const MV_ROWS`, `const WORKGROUP_SIZE`.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let col = id.x;
  if (col >= params.n) {
    return;
  }
  let rows = min(params.m, MV_ROWS);
  var acc: array<f32, MV_ROWS>;
  for (var k = 0u; k < params.k; k++) {
    let w = load_b(k, col);
    for (var r = 0u; r < rows; r++) {
      acc[r] += load_a(r, k) * w;
    }
  }
  for (var r = 0u; r < rows; r++) {
    store_result(r, col, acc[r]);
  }
}
