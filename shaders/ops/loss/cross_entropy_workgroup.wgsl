// Softmax cross-entropy per row, fused with its gradient (definitions in cross_entropy_io), for GPUs: one
// workgroup per row. Invocation t takes the elements t, t + WORKGROUP_SIZE, ... in increasing order, then a tree
// over the invocations (max, then the sum of exps): a fixed order, no atomics, the same bits every run. The sum of
// exps has relative error <= (vocab / WORKGROUP_SIZE + log2(WORKGROUP_SIZE) + 2) u, u = 2^-24.
// Composed after cross_entropy_io. Needs `const WORKGROUP_SIZE` (a power of two). Dispatch: (min(rows, max), 1, 1),
// workgroup-stride over rows (the row index is uniform, so the barriers are too).

var<workgroup> red_value: array<f32, WORKGROUP_SIZE>;
var<workgroup> red_bad: array<u32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) t: u32, @builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let vocab = params.vocab;
  for (var r = wid.x; r < params.rows; r += groups.x) {
    let base = r * vocab;
    var bad = 0u;
    var local_max = logits[base];
    for (var j = t; j < vocab; j += WORKGROUP_SIZE) {
      let x = logits[base + j];
      bad |= ce_nonfinite(x);
      local_max = max(local_max, x);
    }
    red_value[t] = local_max;
    red_bad[t] = bad;
    workgroupBarrier();
    for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
      if (t < half) {
        red_value[t] = max(red_value[t], red_value[t + half]);
        red_bad[t] |= red_bad[t + half];
      }
      workgroupBarrier();
    }
    let max_logit = red_value[0];
    let row_bad = red_bad[0];
    workgroupBarrier();
    var sum = 0.0;
    for (var j = t; j < vocab; j += WORKGROUP_SIZE) {
      sum += exp(logits[base + j] - max_logit);
    }
    red_value[t] = sum;
    workgroupBarrier();
    for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
      if (t < half) {
        red_value[t] += red_value[t + half];
      }
      workgroupBarrier();
    }
    let total = red_value[0];
    workgroupBarrier();
    let inv_total = 1.0 / total;
    let target_index = targets[r];
    for (var j = t; j < vocab; j += WORKGROUP_SIZE) {
      grad_logits[base + j] = ce_grad(exp(logits[base + j] - max_logit), inv_total, j == target_index);
    }
    if (t == 0u) {
      row_loss[r] = ce_row_loss(max_logit, target_index, total, row_bad, base);
    }
  }
}
