// dLoss/d(decay rate) of each sequence, after grad_finish (src/reference/scan-backward.ts): the outputs depend on
// the rate r only through the shifted scores s_i + r i (the initial state: m0 - r), so
//   dL/dr = sum_i i ds_i + E + (the max's share r_max: i* r_max to the token i* the max picked, -r_max to m0),
// E = -dm0 - (N - 1) gm and r_max from grad_finish (grad_first[b].zw). What the max picked, like torch.max: the
// first position with the largest shifted score, or the initial state when m0 - r >= it; r_max is added to that
// token's ds (or to the initial state's dm). f32 shifted scores can swap near-ties, which matters only for a
// gradient of the final state's m itself (r_max = 0 for any loss that sees the state through o, L or the combine).
// One workgroup of W = DECAY_GRAD_WORKGROUP (a power of 2) per sequence: invocation t takes positions t, t + W, ...
// in order (its share of the sum and its first best shifted score), then fixed trees add the shares and pick the
// first best (the same bits every run). W is 64 on GPUs and 1 on CPU adapters, where the tree's barriers cost more
// than a sequential sum. Error of the sum: each share adds about N / W terms, the tree log2 W levels:
// (N / W + log2 W + 1) eps sum_i |i ds_i|. f32(i) is exact below 2^24 positions.
// Composed with: grad_end_params, state_layout, decay_rates; needs `const DECAY_GRAD_WORKGROUP`. Workgroup x = sequence.

var<storage, read_write> grad_scores: array<f32>;
var<storage, read_write> grad_decay: array<f32>;
var<storage, read> grad_first: array<vec4<f32>>;
var<storage, read> initial_state: array<vec4<f32>>;
var<storage, read> scores: array<f32>;
var<storage, read_write> grad_initial_state: array<vec4<f32>>;

var<workgroup> partial_sums: array<f32, DECAY_GRAD_WORKGROUP>;
var<workgroup> best_scores: array<f32, DECAY_GRAD_WORKGROUP>;
var<workgroup> best_positions: array<u32, DECAY_GRAD_WORKGROUP>;

@compute @workgroup_size(DECAY_GRAD_WORKGROUP)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let b = wg.x;
  let n = params.count;
  let rate = sequence_decay(b);
  var acc = 0.0;
  var best = t;
  var top = MASKED_SHIFTED;
  for (var i = t; i < n; i += DECAY_GRAD_WORKGROUP) {
    acc += f32(i) * grad_scores[b * n + i];
    let s = scores[b * n + i];
    let shifted = select(s + rate * f32(i), MASKED_SHIFTED, is_negative_infinity_score(s));
    if (shifted > top) {
      top = shifted;
      best = i;
    }
  }
  partial_sums[t] = acc;
  best_scores[t] = top;
  best_positions[t] = best;
  for (var stride = DECAY_GRAD_WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    workgroupBarrier();
    if (t < stride) {
      partial_sums[t] += partial_sums[t + stride];
      let other = best_scores[t + stride];
      let other_at = best_positions[t + stride];
      if (other > best_scores[t] || (other == best_scores[t] && other_at < best_positions[t])) {
        best_scores[t] = other;
        best_positions[t] = other_at;
      }
    }
  }
  if (t == 0u) {
    let base = b * state_stride(params.head_dim);
    let ends = grad_first[base];
    let r_max = ends.w;
    var g = partial_sums[0] + ends.z;
    let h = initial_state[base];
    let max_is_initial = params.has_initial != 0u && !is_empty_m(h.x) && h.x - rate >= best_scores[0];
    if (r_max != 0.0 && max_is_initial) {
      g -= r_max;
      if (params.write_grad_initial != 0u) {
        grad_initial_state[base].x += r_max;
      }
    } else if (r_max != 0.0 && n > 0u) {
      grad_scores[b * n + best_positions[0]] += r_max;
      g += f32(best_positions[0]) * r_max;
    }
    grad_decay[b] = g;
  }
}

// Below any real shifted score: a masked token (-Infinity) is never what the max picked unless all are.
const MASKED_SHIFTED: f32 = -3.4028234663852886e38;

fn is_negative_infinity_score(x: f32) -> bool {
  return bitcast<u32>(x) == 0xff800000u;
}
