// LayerNorm over the last dimension: result[r, :] = (x[r, :] - mean) / sqrt(var + eps) * gamma + beta
// (biased variance, as torch.nn.LayerNorm). One workgroup per row (grid-stride over rows, so any row count
// fits the dispatch limit); two passes over the row (mean, then centred variance) for accuracy. The kernel for
// GPUs; CPU adapters run layer_norm_rows.wgsl (no barriers).
// Composed after layer_norm_io. Needs `const LN_THREADS` (a power of two).

var<workgroup> partial: array<f32, LN_THREADS>;

fn row_sum(t: u32, value: f32) -> f32 {
  partial[t] = value;
  for (var width = LN_THREADS / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (t < width) {
      partial[t] += partial[t + width];
    }
  }
  workgroupBarrier();
  let total = partial[0];
  workgroupBarrier(); // partial is reused by the next reduction
  return total;
}

@compute @workgroup_size(LN_THREADS)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let n = params.width / PACK;
  for (var r = wg_id.x; r < params.rows; r += groups.x) {
    let base = r * n;
    var sum = 0.0;
    for (var j = t; j < n; j += LN_THREADS) {
      sum += pack_sum(x[base + j]);
    }
    let mean = row_sum(t, sum) / f32(params.width);
    var sq = 0.0;
    for (var j = t; j < n; j += LN_THREADS) {
      let d = x[base + j] - mean;
      sq += pack_sum(d * d);
    }
    let rstd = inverseSqrt(row_sum(t, sq) / f32(params.width) + params.eps);
    for (var j = t; j < n; j += LN_THREADS) {
      store_normalized(base + j, j, mean, rstd);
    }
    if (t == 0u) {
      store_stats(r, mean, rstd);
    }
  }
}
