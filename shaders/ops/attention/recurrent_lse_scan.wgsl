// The forward scan of attention as an RNN on the recurrent schedule, specialised for the log-sum-exp operator:
// one invocation per (sequence, block of 16 channels) walks the tokens in order with its state in registers,
// and writes o_i = w_i / u_i at every position (with SAVE_STATS also the stats (m_i, u_i) that the backward reads).
//
// One frame for everything. The generic recurrent_scan.wgsl keeps a run state and a carry, each with its own
// maximum, and pays two full combines per token: the run update, then carry (+) run for the output. Here the
// carry (u_c, w_c) and the run (u_r, w_r) share one frame F: both hold sums of exp(s_i - F) and exp(s_i - F) v_i.
// A token (s, v) costs one exp and, per channel, a multiply-add, an add and a multiply: b = exp(s - F),
// u_r += b, w_r += b v, o = (w_c + w_r) / (u_c + u_r). Every RUN_LENGTH tokens the run is added to the carry
// (same frame: plain addition) and restarts at 0. Masked tokens (-Infinity scores) weigh 0.
//
// The frame is lazy. F changes only when a score exceeds it by more than FRAME_SLACK. The hot loop breaks out
// there, and the token is handled apart: the run is folded into the carry, both are scaled by exp(F - s), and
// F = s. So F <= m <= F + FRAME_SLACK, where m is the running maximum. m is tracked apart for the stats and the
// final state, which keep the frame of m: (m, u exp(F - m)), as the generic kernels write them.
//
// Error bound (eps = 2^-24; e_x: the relative error of the device's exp, a few ulp; R = RUN_LENGTH; n tokens,
// those of the initial state included; |v| <= V). This bounds the error against the exact sums, in the frame F, of
// the float weights b_i = exp(s_i - F). Their own error (e_x plus eps |s_i - F|) is the same in every schedule.
//  - Summation: a float sum of k positive terms is within (k - 1) eps of the exact sum (first order). A run sums
//    at most R weights and the carry at most n / R runs. The output adds the two and divides. So u, and every
//    |w - exact| / (u V), are within (R + n / R + 1) eps, and |o - exact| <= 2 (R + n / R + 2) eps V. As in
//    recurrent_scan.wgsl and the tree of the workgroup scan, no float sum takes more than max(R, n / R) terms; a
//    single running sum would take n, and lose every weight below half an ulp of u. (A rescale also folds the run
//    early, but it scales everything before it by less than e^-FRAME_SLACK.)
//  - Rescales: each multiplies everything accumulated so far by exp(F - s), off by e_x + eps. The factor is the same
//    for u and w, so it cancels in w / u, but it does not apply to the tokens after it. Each rescale raises F by
//    more than FRAME_SLACK. After the k-th-last rescale, F rises by more than (k - 1) FRAME_SLACK, so each earlier
//    token weighs at most e^-((k - 1) FRAME_SLACK) against the token that set the last F (weight 1). Those tokens
//    make up at most n e^-((k - 1) FRAME_SLACK) of u. Summed over k: |o - exact| <= 2 (e_x + eps)
//    (2 + ln(n) / FRAME_SLACK) V, however many rescales there are (below 8 (e_x + eps) V at n = 2^22). A frame
//    that followed the maximum exactly would rescale at every token of rising scores and accumulate n (e_x + eps).
//  - Range: b <= e^FRAME_SLACK, so u <= n e^8 and |w| <= u V: finite while n V < 1.1e35.
// Measured: bench/accuracy.mjs (README).
//
// Recency decay (rate r = sequence_decay(b), lse_combine.wgsl): everything is kept in the frame of the current
// token, where the weights accumulated so far are exp(s_i - r (k - i) - F_k). Moving F down by r per token,
// F_k = F_0 - r (k - k_0) from the token k_0 that set it, leaves those sums unchanged, so a token still costs one
// exp and a multiply-add per channel; F_k is computed from k - k_0 each time, not by repeated subtraction, so its
// rounding does not accumulate (an absolute error of eps (|F_0| + r (k - k_0)) in a weight's exponent, on weights
// that are <= e^{FRAME_SLACK - r (k - k_0)}). As F falls, a later score passes F + FRAME_SLACK sooner and opens a
// new frame (every ~FRAME_SLACK / r tokens of flat scores): a rescale per 8 / r tokens. The running maximum ages
// the same way, m_k = max(m_{k-1} - r, s_k). r = 0 is the plain kernel's arithmetic bit for bit. Per token that is
// a convert, two multiply-adds and a max more (not clamped at the lowest float as lse_aged is: only a rate past
// ~1e30 could reach -Infinity there, where every earlier token weighs 0 anyway); bench decayForwardCost.
//
// NaN and +Infinity (not checked on the GPU): a NaN score makes b, and every later output of its sequence, NaN. A
// +Infinity score opens the frame F = +Infinity: every earlier weight becomes 0 and its own is 1, so the output
// is its value. A second one gives exp(inf - inf) = NaN.
//
// The four vec4 lanes of an invocation are a mat4x4, lanes past the row clamped, not guarded (block_lanes.wgsl).
//
// Composed with: lse_combine (Lse with LANES = 4, MASKED_SCORE, is_negative_infinity), state_layout, scan_params,
// state_load(carry_in), state_store(final_state), values_vec4 or values_f32, outputs_vec4 or outputs_f32, block_lanes,
// decay_rates or no_decay.
// Invocation (x, y) = (channel block, sequence). Needs `const RUN_LENGTH` and `const SAVE_STATS` (1: write stats).

var<storage, read> carry_in: array<vec4<f32>>;
var<storage, read_write> final_state: array<vec4<f32>>;
var<storage, read> scores: array<f32>;
// [batch, count] vec2 (m_i, u_i), written when SAVE_STATS (store_stats.wgsl says why m and u are kept apart).
var<storage, read_write> stats: array<vec2<f32>>;

const FRAME_SLACK: f32 = 8.0;

// exp(F - m): from the frame F to the frame of the maximum m >= F (1 when m == F, +Infinity included).
fn top_scale(frame: f32, top: f32) -> f32 {
  return select(exp(frame - top), 1.0, frame >= top);
}


@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let channel_block = id.x;
  let b = id.y;
  let vecs = w_vec4s(params.head_dim);
  if (channel_block * 4u >= vecs) {
    return;
  }
  let count = params.count;
  let lanes = block_lanes(channel_block, vecs);
  let rate = sequence_decay(b);
  var base = MASKED_SCORE;  // F at token `at`; at token i, F = base - rate (i - at)
  var at = 0u;
  var top = MASKED_SCORE;   // m, the running maximum in the frame of the last token: F <= m <= F + FRAME_SLACK
  var carry_u = 0.0;
  var carry_w = mat4x4<f32>();
  var carried = 0.0;        // tokens the initial state covers
  if (params.has_carry != 0u) {
    let carry = carry_in_load(b, channel_block);
    base = lse_aged(carry.m, rate, 1.0); // the carry ends one token before token 0
    top = carry.m;                       // aged at token 0 below
    carry_u = carry.u;
    carry_w = clamp_block(carry.w, channel_block, vecs);
    carried = carry.n;
  }
  var frame = base;
  var run_u = 0.0;
  var run_w = mat4x4<f32>();
  var i = 0u;
  var run_end = min(RUN_LENGTH, count);
  loop {
    // The hot loop: to the end of the run, or to a token that opens a new frame.
    for (; i < run_end; i++) {
      let row = b * count + i;
      let s = scores[row];
      frame = base - rate * f32(i - at); // unclamped in the hot loop (see above)
      if (s > frame + FRAME_SLACK) {
        break;
      }
      let weight = select(0.0, exp(s - frame), !is_negative_infinity(s));
      top = max(top - rate, s);
      run_u += weight;
      run_w += load_block(row, lanes) * weight;
      let u = carry_u + run_u;
      // An empty prefix (u = 0) has w = 0 exactly: 0, not 0 / 0.
      store_block(row, lanes, (carry_w + run_w) * (1.0 / select(1.0, u, u > 0.0)));
      if (SAVE_STATS != 0u && channel_block == 0u) {
        // max: with decay, m (aged token by token) may round a hair below F (computed from k - k_0).
        let m = max(top, frame);
        stats[row] = vec2<f32>(m, u * top_scale(frame, m));
      }
    }
    if (i >= count) {
      break;
    }
    if (i == run_end) {
      carry_u += run_u;
      carry_w += run_w;
      run_u = 0.0;
      run_w = mat4x4<f32>();
      run_end = min(i + RUN_LENGTH, count);
      continue;
    }
    // Token i opens the frame F = s (s > F + FRAME_SLACK >= m): the run joins the carry, rescaled; weight 1.
    let row = b * count + i;
    let s = scores[row];
    let f = exp(frame - s);
    carry_u = (carry_u + run_u) * f;
    carry_w = (carry_w + run_w) * f;
    run_u = 1.0;
    run_w = load_block(row, lanes);
    base = s;
    at = i;
    frame = s;
    top = s;
    let u = carry_u + run_u;
    store_block(row, lanes, (carry_w + run_w) * (1.0 / u));
    if (SAVE_STATS != 0u && channel_block == 0u) {
      stats[row] = vec2<f32>(s, u); // the frame of the maximum
    }
    i++;
  }
  if (params.write_final != 0u) {
    let m = max(top, frame); // frame: that of the last token
    let g = top_scale(frame, m);
    let w = (carry_w + run_w) * g;
    var last: Lse;
    last.m = m;
    last.u = (carry_u + run_u) * g;
    last.n = carried + f32(count);
    last.rate = rate;
    last.w = array<vec4<f32>, LANES>(w[0], w[1], w[2], w[3]);
    final_state_store(b, channel_block, last);
  }
}
