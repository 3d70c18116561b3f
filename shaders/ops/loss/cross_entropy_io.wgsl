// What the cross-entropy row kernels share: their parameters and buffers, and the per-row rules for non-finite
// logits and out-of-range targets. Composed before cross_entropy_rows (an invocation per row, for CPU adapters)
// or cross_entropy_workgroup (a workgroup per row, for GPUs). For row r of logits [rows, vocab] with target t:
//   row_loss[r] = (max - x_t) + log(sum_j exp(x_j - max))        (= logsumexp(x) - x_t, >= 0)
//   grad[r, j]  = (exp(x_j - max) / sum - [j == t]) / rows        (d mean-loss / d logit)
// Subtracting the row max keeps every exp in (0, 1], so any finite logits are safe (spreads of 1e4 included),
// and the sum is >= 1.

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

/** 1 for a NaN or an infinity, by the exponent bits: WGSL lets a compiler assume floats are finite, so a float
 * comparison such as x != x may be folded away; a test on the bits may not. */
fn ce_nonfinite(x: f32) -> u32 {
  return u32((bitcast<u32>(x) & 0x7f800000u) == 0x7f800000u);
}

/** The row's loss, or NaN for a bad row (a non-finite logit, or a target outside [0, vocab): the host checks
 * targets first, this is a second line), so that the mean is NaN and the caller refuses the step. */
fn ce_row_loss(max_logit: f32, target_index: u32, total: f32, bad: u32, base: u32) -> f32 {
  let x_target = logits[base + min(target_index, params.vocab - 1u)];
  let is_bad = bad != 0u || target_index >= params.vocab;
  // A runtime NaN (a constant one would be a shader-creation error).
  let nan = bitcast<f32>(0x7fc00000u | bad);
  return select((max_logit - x_target) + log(total), nan, is_bad);
}

/** gradLogits of one element, from its exp and the row's 1 / sum. */
fn ce_grad(e: f32, inv_total: f32, is_target: bool) -> f32 {
  let p = e * inv_total;
  return select(p, p - 1.0, is_target) * params.inv_rows;
}
