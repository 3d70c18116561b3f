// LayerNorm for CPU adapters: one invocation per row walks it three times (mean, centred variance, output) with
// no workgroup memory and no barriers; the same arithmetic as layer_norm.wgsl, one sum per row instead of a tree.
// Composed after layer_norm_io. Needs `const WORKGROUP_SIZE`. Grid-stride over rows.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = params.width / PACK;
  for (var r = id.x; r < params.rows; r += groups.x * WORKGROUP_SIZE) {
    let base = r * n;
    var sum = 0.0;
    for (var j = 0u; j < n; j++) {
      sum += pack_sum(x[base + j]);
    }
    let mean = sum / f32(params.width);
    var sq = 0.0;
    for (var j = 0u; j < n; j++) {
      let d = x[base + j] - mean;
      sq += pack_sum(d * d);
    }
    let rstd = inverseSqrt(sq / f32(params.width) + params.eps);
    for (var j = 0u; j < n; j++) {
      store_normalized(base + j, j, mean, rstd);
    }
    store_stats(r, mean, rstd);
  }
}
