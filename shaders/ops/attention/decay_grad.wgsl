// dLoss/d(decay rate) of each sequence, after the backward scan (src/reference/scan-backward.ts): the outputs depend
// on the rate r only through the shifted scores s_i + r i, so dL/dr = sum_i i ds_i, plus the end terms that
// grad_finish.wgsl left in grad_decay[b] (-dm0 - (N - 1) gm). One workgroup of 64 per sequence: invocation t sums
// positions t, t + 64, ... in order, then a fixed tree adds the 64 partial sums, so the bits never change from run
// to run. Error: each partial sums about N / 64 terms, the tree 6 levels: |error| <= (N / 64 + 7) eps sum_i |i ds_i|.
// f32(i) is exact below 2^24 positions.
// Composed with: scan_params. Workgroup x = sequence.

var<storage, read> grad_scores: array<f32>;
var<storage, read_write> grad_decay: array<f32>;

const DECAY_GRAD_WORKGROUP: u32 = 64u;
var<workgroup> partial_sums: array<f32, DECAY_GRAD_WORKGROUP>;

@compute @workgroup_size(DECAY_GRAD_WORKGROUP)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let b = wg.x;
  let n = params.count;
  var acc = 0.0;
  for (var i = t; i < n; i += DECAY_GRAD_WORKGROUP) {
    acc += f32(i) * grad_scores[b * n + i];
  }
  partial_sums[t] = acc;
  for (var stride = DECAY_GRAD_WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (t < stride) {
      partial_sums[t] += partial_sums[t + stride];
    }
  }
  if (t == 0u) {
    grad_decay[b] += partial_sums[0];
  }
}
