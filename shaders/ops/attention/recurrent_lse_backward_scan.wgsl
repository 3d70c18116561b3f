// The backward of the log-sum-exp scan on the recurrent schedule: the reverse scan of lse_backward.wgsl,
//   c_i = (a_i, b_i) = (g_i, D_i) + lambda_i c_{i+1},   dv_i = pi_i a_i,   ds_i = pi_i (v_i . a_i - b_i),
// specialised like the forward's recurrent_lse_scan.wgsl: one invocation per (sequence, block of 16 channels)
// walks the positions from the last to the first with its state in registers, the four vec4 lanes of a and of
// every row a mat4x4 (block_lanes.wgsl: lanes past the row clamped to its last vec4, no loop-indexed array, no
// guard per lane), reading (l_i = log lambda_i, pi_i) from the grad_terms pre-pass.
//
// b per channel block. b is linear in D_i = g_i . o_i, so each block carries its own b^k, the chain of
// D_i^k = g_i^k . o_i^k over its 16 channels (it reads g_i^k anyway; the pre-pass, planned with DOT_IN_SCAN, leaves
// D out: one invocation per row reading whole rows of g and o was most of the backward's time), and writes the
// share pi_i (v_i^k . a_i^k - b_i^k) of ds_i; sum_partials.wgsl adds the blocks' shares, and those of b at the first
// position for grad_finish (store_first_b_share). The gradient of the final state's b enters in block 0.
//
// Two levels, as in recurrent_scan.wgsl with the lse_backward operator (the same arithmetic, inlined): the positions
// are cut into runs of RUN_LENGTH (in scan order, from the last position). Within a run,
//   run_a = g_i + lambda_i run_a,  run_b = D_i^k + lambda_i run_b,  run_l = sum of the run's l (clamped at NO_PASS),
// and each position's result is c_i = run + e^{run_l} carry (one exp for lambda_i, one for e^{run_l}; per channel
// two multiply-adds, then pi a and the dot product v . a). At the run's end that result is the new carry. So the
// carry is multiplied once per run, not once per position.
//
// Error bound (eps = 2^-24; e_x: the relative error of the device's exp, a few ulp; R = RUN_LENGTH; n positions).
// c_i is a sum of terms Lambda_ij x_j with Lambda_ij = prod lambda over [i, j) <= 1 (x_j = (g_j, D_j), and the
// gradient of the final state as the carry). In f32 each term reaches c_i through at most R multiplies by a
// rounded lambda within its own run (R (e_x + 2 eps)), then at most n / R carry updates, each by e^{run_l} with
// run_l a float sum of at most R logs: e^{run_l} is off by e_x + R eps |run_l|, and e^{run_l} |run_l| <= 1/e, and
// within the run of i, one more factor e^{run_l}. So, to first order,
//   |c_i - exact| <= ((R + n / R + 1)(e_x + 2 eps) + (n / R + 1) R eps) * sum_j Lambda_ij |x_j|,
// against n (e_x + 2 eps) for one chain of lambda multiplications through every position; dv and ds add a few eps
// (pi is within a few ulp; v . a - b is summed over at most 16 channels per block, then over blocks). The
// l_i themselves are accurate to a few ulp however small (grad_terms.wgsl: log(1 - pi) by an atanh series), which
// is what keeps the run's sum of logs, and the chain, accurate. Measured: the README's backward accuracy table.
//
// Positions with u_i = 0 (no unmasked token yet; grad_terms' last component 0) pass nothing on: l = NO_PASS, so
// lambda = 0 and the run's factor e^{NO_PASS} = 0, and their g is not read (x = 0). Masked tokens have pi = 0: dv
// and ds are exactly 0 (gradOutput finite). A fully masked sequence with no initial state writes zeros.
//
// Composed with: lse_backward (GradElem with LANES = 4, NO_PASS), state_layout, scan_params, state_load(carry_in),
// state_store(final_state), grad_terms_read, rows_*<grad_output>, rows_*<forward_output>, values_* and outputs_*
// (bound to gradValues), block_lanes, score_grad_direct or score_grad_partial (8 storage buffers). Invocation (x, y) = (channel block, sequence). Needs
// `const RUN_LENGTH`. carry_in: the gradient of the final state folded into the last position (grad_carry.wgsl);
// final_state: c at the first position, the scan's total (grad_finish.wgsl reads it).

var<storage, read> carry_in: array<vec4<f32>>;
var<storage, read_write> final_state: array<vec4<f32>>;

fn load_grad_block(row: u32, lanes: vec4<u32>) -> mat4x4<f32> {
  return mat4x4<f32>(grad_output_load4(row, lanes.x), grad_output_load4(row, lanes.y), grad_output_load4(row, lanes.z), grad_output_load4(row, lanes.w));
}

fn load_forward_block(row: u32, lanes: vec4<u32>) -> mat4x4<f32> {
  return mat4x4<f32>(forward_output_load4(row, lanes.x), forward_output_load4(row, lanes.y), forward_output_load4(row, lanes.z), forward_output_load4(row, lanes.w));
}

// The sum over the block's own lanes of x_l . y_l (the clamped copies count 0).
fn block_dot(x: mat4x4<f32>, y: mat4x4<f32>, own: vec4<f32>) -> f32 {
  return dot(vec4<f32>(dot(x[0], y[0]), dot(x[1], y[1]), dot(x[2], y[2]), dot(x[3], y[3])), own);
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
  let own = block_own_lanes(channel_block, vecs);
  var carry_l = 0.0;
  var carry_b = 0.0;
  var carry_a = mat4x4<f32>();
  if (params.has_carry != 0u) {
    let carry = carry_in_load(b, channel_block);
    carry_l = carry.l;
    carry_b = select(0.0, carry.b, channel_block == 0u);
    carry_a = clamp_block(carry.a, channel_block, vecs);
  }
  // Scan element j is position count - 1 - j; rows run down from the sequence's last one.
  let last_row = b * count + count - 1u;
  for (var start = 0u; start < count; start += RUN_LENGTH) {
    let end = min(start + RUN_LENGTH, count);
    var run_l = 0.0;
    var run_b = 0.0;
    var run_a = mat4x4<f32>();
    var c_b = carry_b;
    var c_a = carry_a;
    for (var j = start; j < end; j++) {
      let row = last_row - j;
      let t = grad_terms[row]; // (l, D = 0 here, pi, passes)
      let l = max(t.x, NO_PASS);
      let lambda = exp(l);
      run_l = max(run_l + l, NO_PASS);
      var g = mat4x4<f32>();
      var d = 0.0;
      if (t.w != 0.0) {
        g = load_grad_block(row, lanes);
        d = block_dot(g, load_forward_block(row, lanes), own);
      }
      run_a = g + run_a * lambda;
      run_b = d + run_b * lambda;
      let scale = exp(run_l);
      c_a = run_a + carry_a * scale;
      c_b = run_b + carry_b * scale;
      let pi = t.z;
      store_block(row, lanes, c_a * pi);
      let v = load_block(row, lanes);
      store_score_grad(row, channel_block, pi * block_dot(v, c_a, own) - pi * c_b);
    }
    // The run's last result is carry (.) run: the next run's carry.
    carry_l = max(carry_l + run_l, NO_PASS);
    carry_b = c_b;
    carry_a = c_a;
  }
  if (params.write_final != 0u) {
    store_first_b_share(b, channel_block, carry_b);
    var total: Elem; // with several blocks, sum_partials.wgsl replaces b (block 0's share) by the sum of the shares
    total.l = carry_l;
    total.b = carry_b;
    total.a = array<vec4<f32>, LANES>(carry_a[0], carry_a[1], carry_a[2], carry_a[3]);
    final_state_store(b, channel_block, total);
  }
}
