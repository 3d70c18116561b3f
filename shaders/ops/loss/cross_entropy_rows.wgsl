// Softmax cross-entropy per row, fused with its gradient (definitions in cross_entropy_io), for CPU adapters and
// small vocabularies: one invocation per row walks the vocabulary in order, without barriers or atomics (the
// same bits every run). The sum of exps is added in runs of 64 terms folded into the total, so no f32 sum has
// more than about 64 + vocab / 64 terms: relative error <= (64 + vocab / 64 + 2) u, u = 2^-24 (Higham 3.1).
// Composed after cross_entropy_io. Needs `const WORKGROUP_SIZE`. Dispatch: (ceil(rows / WORKGROUP_SIZE), 1, 1),
// grid-stride over rows.

const RUN = 64u;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let vocab = params.vocab;
  for (var r = id.x; r < params.rows; r += groups.x * WORKGROUP_SIZE) {
    let base = r * vocab;
    var bad = 0u;
    var max_logit = logits[base];
    for (var j = 0u; j < vocab; j++) {
      let x = logits[base + j];
      bad |= ce_nonfinite(x);
      max_logit = max(max_logit, x);
    }
    var total = 0.0;
    var run = 0.0;
    for (var j = 0u; j < vocab; j++) {
      run += exp(logits[base + j] - max_logit);
      if ((j + 1u) % RUN == 0u) {
        total += run;
        run = 0.0;
      }
    }
    total += run;
    let inv_total = 1.0 / total;
    let target_index = targets[r];
    for (var j = 0u; j < vocab; j++) {
      grad_logits[base + j] = ce_grad(exp(logits[base + j] - max_logit), inv_total, j == target_index);
    }
    row_loss[r] = ce_row_loss(max_logit, target_index, total, bad, base);
  }
}
