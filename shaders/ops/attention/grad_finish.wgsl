// After the backward scan (and sum_partials): per sequence,
//  - the final state's m: r = gm - gu u_N - gw . w_N (w_N = u_N o_N) goes to what the max picked, like torch.max:
//    the initial state's m0 when m0 >= m_N, else the FIRST token whose score is m_N, i.e. the first position with
//    m_i == m_N (m is nondecreasing: binary search over stats);
//  - the initial state's gradient from c_1 = grad_first[b] (the scan's total): eps = exp(m0 - m_1) / u_1,
//    dw0 = eps a_1, du0 = -eps b_1, dm0 = u0 du0 + w0 . dw0 (+ r above);
//  - when u_N = 0 (every token masked, empty initial state) the final state is the initial state: the gradient of
//    the final state passes straight through.
// With recency decay (rate r = sequence_decay(b)): the initial state is one token older at the first position
// (eps = exp(m0 - r - m_1) / u_1), and the max is taken over the scores shifted to one frame, s_i + r i against
// m0 - r (a linear search: m is no longer monotone; f32 shifted scores can swap near-ties, which only matters for a
// gradient of m itself, zero for any loss that sees the state only through o, L or the combine); and
// grad_decay[b] = -dm0 - (N - 1) gm, the end terms of dL/dr (src/reference/scan-backward.ts), to which
// decay_grad.wgsl adds sum_i i ds_i.
// Composed with: lse_backward (stats), state_layout, grad_end_params, rows_*<forward_output>, decay_rates or
// no_decay.

var<storage, read> initial_state: array<vec4<f32>>;
var<storage, read> grad_final_state: array<vec4<f32>>;
var<storage, read> grad_first: array<vec4<f32>>;
var<storage, read_write> grad_scores: array<f32>;
var<storage, read_write> grad_initial_state: array<vec4<f32>>;
var<storage, read_write> grad_decay: array<f32>;
var<storage, read> scores: array<f32>;

// The first position whose score, shifted to position 0's frame (s_i + r i), is the largest; masked ones never are
// unless all are (u_N > 0 here, so one is not).
fn first_shifted_argmax(b: u32, n: u32, rate: f32) -> u32 {
  var best = 0u;
  var top = scores[b * n] ;
  for (var i = 1u; i < n; i++) {
    let s = scores[b * n + i] + rate * f32(i);
    if (s > top) {
      top = s;
      best = i;
    }
  }
  return best;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let b = id.x;
  if (b >= params.batch || params.count == 0u) {
    return;
  }
  let n = params.count;
  let base = b * state_stride(params.head_dim);
  let vecs = w_vec4s(params.head_dim);
  let last = stats[b * n + n - 1u];
  let first = stats[b * n];
  let has_initial = params.has_initial != 0u && !is_empty_m(initial_state[base].x);
  var m0 = 0.0;
  var u0 = 0.0;
  if (has_initial) {
    m0 = initial_state[base].x;
    u0 = initial_state[base].y;
  }
  let write_initial = params.write_grad_initial != 0u;
  let write_decay = params.write_grad_decay != 0u;
  let has_grad_final = params.has_grad_final != 0u;
  let rate = sequence_decay(b);
  if (write_decay) {
    grad_decay[b] = 0.0; // the whole of it when u_N = 0 below
  }
  if (last.y <= 0.0) {
    if (write_initial) {
      for (var q = 0u; q < 1u + vecs; q++) {
        var g = vec4<f32>();
        if (has_grad_final) {
          g = grad_final_state[base + q];
        }
        grad_initial_state[base + q] = g;
      }
    }
    return;
  }
  var r = 0.0;
  if (has_grad_final) {
    let h = grad_final_state[base];
    r = h.x - h.y * last.y;
    for (var q = 0u; q < vecs; q++) {
      r -= dot(grad_final_state[base + 1u + q], last.y * forward_output_load4(b * n + n - 1u, q));
    }
  }
  // Which the max picked: without decay m is nondecreasing (binary search below), with it compare shifted scores.
  var argmax = 0u;
  if (rate > 0.0) {
    argmax = first_shifted_argmax(b, n, rate);
  }
  let max_is_initial = has_initial && select(m0 >= last.x, m0 - rate >= scores[b * n + argmax] + rate * f32(argmax), rate > 0.0);
  var dm0 = 0.0;
  if (write_initial || write_decay) {
    var eps = 0.0;
    if (has_initial && first.y > 0.0) {
      eps = exp(min(m0 - rate - first.x, 0.0)) / first.y;
    }
    let c = grad_first[base];
    let du0 = -eps * c.y;
    for (var q = 0u; q < vecs; q++) {
      let dw = eps * grad_first[base + 1u + q];
      if (write_initial) {
        grad_initial_state[base + 1u + q] = dw;
      }
      dm0 += dot(initial_state[base + 1u + q], dw);
    }
    dm0 += u0 * du0;
    if (max_is_initial) {
      dm0 += r;
    }
    if (write_initial) {
      grad_initial_state[base] = vec4<f32>(dm0, du0, 0.0, 0.0);
    }
  }
  if (write_decay) {
    var gm = 0.0;
    if (has_grad_final) {
      gm = grad_final_state[base].x;
    }
    grad_decay[b] = -dm0 - f32(n - 1u) * gm;
  }
  if (has_grad_final && !max_is_initial && rate > 0.0) {
    grad_scores[b * n + argmax] += r;
  } else if (has_grad_final && !max_is_initial) {
    // The first position whose m reached m_N: lo = the smallest i with stats[i].x >= m_N.
    var lo = 0u;
    var hi = n - 1u;
    while (lo < hi) {
      let mid = (lo + hi) / 2u;
      if (stats[b * n + mid].x >= last.x) {
        hi = mid;
      } else {
        lo = mid + 1u;
      }
    }
    grad_scores[b * n + lo] += r;
  }
}
