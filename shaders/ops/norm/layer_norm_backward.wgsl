// LayerNorm backward, input gradient. With xhat = (x - mean) * rstd and g = dY * gamma (per element of a row),
//   dX = rstd * (g - mean_j(g) - xhat * mean_j(g * xhat)).
// One invocation per row: one pass for the two row means, one to write. Composed after layer_norm_backward_io.
// Needs `const WORKGROUP_SIZE` and `const LN_ACCUMULATE` (1: result += dX), a constant rather than a uniform field:
// on SwiftShader a branch on a uniform inside the loop costs about as much as the loop's arithmetic.
// Grid-stride over rows.

var<storage, read> gamma: array<Packed>;
var<storage, read_write> result: array<Packed>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = params.width / PACK;
  for (var r = id.x; r < params.rows; r += groups.x * WORKGROUP_SIZE) {
    let base = r * n;
    let mean = row_stats[r];
    let rstd = row_stats[params.rows + r];
    var sum_g = 0.0;
    var sum_gx = 0.0;
    for (var j = 0u; j < n; j++) {
      let g = grad[base + j] * gamma[j];
      sum_g += pack_sum(g);
      sum_gx += pack_sum(g * (x[base + j] - mean) * rstd);
    }
    let c1 = sum_g / f32(params.width);
    let c2 = sum_gx / f32(params.width);
    for (var j = 0u; j < n; j++) {
      let xhat = (x[base + j] - mean) * rstd;
      var d = rstd * (grad[base + j] * gamma[j] - c1 - xhat * c2);
      if (LN_ACCUMULATE != 0u) {
        d += result[base + j];
      }
      result[base + j] = d;
    }
  }
}
