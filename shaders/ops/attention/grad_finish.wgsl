// After the backward scan (and sum_partials): per sequence,
//  - the final state's m: r = gm - gu u_N - gw . w_N (w_N = u_N o_N) goes to what the max picked, like torch.max:
//    the initial state's m0 when m0 >= m_N, else the FIRST token whose score is m_N, i.e. the first position with
//    m_i == m_N (m is nondecreasing: binary search over stats);
//  - the initial state's gradient from c_1 = grad_first[b] (the scan's total): eps = exp(m0 - m_1) / u_1,
//    dw0 = eps a_1, du0 = -eps b_1, dm0 = u0 du0 + w0 . dw0 (+ r above);
//  - when u_N = 0 (every token masked, empty initial state) the final state is the initial state: the gradient of
//    the final state passes straight through.
// With recency decay (DECAY, from decay_rates.wgsl; rate r = sequence_decay(b)): the initial state is one token
// older at the first position (eps = exp(m0 - r - m_1) / u_1), and the max's share r_max is left to
// decay_grad.wgsl, which finds what the max picked over the scores shifted to one frame (m is no longer monotone):
// grad_first[b]'s free header slots receive (E, r_max), E = -dm0 - (N - 1) gm the end terms of dL/drate
// (src/reference/scan-backward.ts; dm0 without r_max), both 0 when u_N = 0 (the rate changes nothing then).
// Composed with: lse_backward (stats), state_layout, grad_end_params, rows_*<forward_output>, decay_rates or
// no_decay (DECAY, sequence_decay).

var<storage, read> initial_state: array<vec4<f32>>;
var<storage, read> grad_final_state: array<vec4<f32>>;
var<storage, read_write> grad_first: array<vec4<f32>>;
var<storage, read_write> grad_scores: array<f32>;
var<storage, read_write> grad_initial_state: array<vec4<f32>>;

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
  let has_grad_final = params.has_grad_final != 0u;
  let rate = sequence_decay(b);
  if (DECAY) {
    grad_first[base].z = 0.0; // E and r_max when u_N = 0 below
    grad_first[base].w = 0.0;
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
  let max_is_initial = !DECAY && has_initial && m0 >= last.x;
  var dm0 = 0.0;
  if (write_initial || DECAY) {
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
  if (DECAY) {
    var gm = 0.0;
    if (has_grad_final) {
      gm = grad_final_state[base].x;
    }
    grad_first[base].z = -dm0 - f32(n - 1u) * gm;
    grad_first[base].w = r;
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
