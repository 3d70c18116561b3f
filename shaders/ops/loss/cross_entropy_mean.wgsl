// The mean of the per-row losses (cross_entropy_rows) into loss[0], in one workgroup and a fixed order:
// invocation t adds rows t, t + WORKGROUP_SIZE, ... in increasing order, then a tree over the invocations, then
// one division by rows. Error <= (rows / WORKGROUP_SIZE + log2(WORKGROUP_SIZE) + 1) u * mean |row loss|
// (all row losses are >= 0, so no cancellation). No atomics: the same bits every run. With rows = 0 it writes 0.
// Needs `const WORKGROUP_SIZE` (a power of two). Dispatch: (1, 1, 1).

struct CrossEntropyMeanParams {
  rows: u32,
}

var<uniform> params: CrossEntropyMeanParams;
var<storage, read> row_loss: array<f32>;
var<storage, read_write> loss: array<f32>;

var<workgroup> sums: array<f32, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) t: u32) {
  var sum = 0.0;
  for (var r = t; r < params.rows; r += WORKGROUP_SIZE) {
    sum += row_loss[r];
  }
  sums[t] = sum;
  workgroupBarrier();
  for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
    if (t < half) {
      sums[t] += sums[t + half];
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    loss[0] = sums[0] / f32(max(params.rows, 1u));
  }
}
