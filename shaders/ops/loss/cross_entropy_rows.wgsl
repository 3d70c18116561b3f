// Softmax cross-entropy per row, fused with its gradient: for row r of logits [rows, vocab] with target t,
//   row_loss[r] = (max - x_t) + log(sum_j exp(x_j - max))        (= logsumexp(x) - x_t, >= 0)
//   grad[r, j]  = (exp(x_j - max) / sum - [j == t]) / rows        (d mean-loss / d logit)
// Subtracting the row max keeps every exp in (0, 1], so any finite logits are safe (spreads of 1e4 included),
// and the sum is >= 1. One invocation per row walks the vocabulary in order (no barriers, no atomics: the same
// bits every run). The sum of exps is added in runs of 64 terms folded into the total, so no f32 sum has more
// than about 64 + vocab / 64 terms: relative error <= (64 + vocab / 64 + 2) u, u = 2^-24 (Higham 3.1).
// A row with a non-finite logit (tested on the exponent bits: WGSL may assume floats are finite), or a target
// outside [0, vocab) (the host checks targets first; this is a second line), gets a NaN loss, so the mean is NaN.
// Needs `const WORKGROUP_SIZE`. Dispatch: (ceil(rows / WORKGROUP_SIZE), 1, 1), grid-stride over rows.

struct CrossEntropyParams {
  rows: u32,
  vocab: u32,
  inv_rows: f32,
}

var<uniform> params: CrossEntropyParams;
var<storage, read> logits: array<f32>;
var<storage, read> targets: array<u32>;
var<storage, read_write> grad_logits: array<f32>;
var<storage, read_write> row_loss: array<f32>;

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
      bad |= u32((bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u);
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
    bad |= u32(target_index >= vocab);
    for (var j = 0u; j < vocab; j++) {
      let p = exp(logits[base + j] - max_logit) * inv_total;
      grad_logits[base + j] = select(p, p - 1.0, j == target_index) * params.inv_rows;
    }
    let x_target = logits[base + min(target_index, vocab - 1u)];
    // A runtime NaN for a bad row (a constant one would be a shader-creation error).
    let nan = bitcast<f32>(0x7fc00000u | bad);
    row_loss[r] = select((max_logit - x_target) + log(total), nan, bad != 0u);
  }
}
