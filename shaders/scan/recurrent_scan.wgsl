// The recurrent scan (one invocation per sequence x channel block, state in registers, tokens in order) with
// two-level accumulation: tokens are folded into a run state that restarts every RUN_LENGTH tokens, and the run
// is folded into the carry once per run. A single running sum of n terms in f32 loses every term below half an
// ulp of the sum (exp(s - m) < 2^-25 * u), a bias that grows like n * eps (0.5% of the output at 10^5 tokens of
// near-uniform attention, measured); with runs, no sum takes more than max(RUN_LENGTH, n / RUN_LENGTH) terms,
// like the tree of the workgroup scan. One extra combine per token.
//
// Composed with: an operator (the Elem interface, e.g. ops/attention/lse_combine), state_layout, scan_params, state_load(carry_in), state_store(final_state), one
// element source and one sink. Invocation (x, y) = (channel block, sequence). Needs `const RUN_LENGTH`.

var<storage, read> carry_in: array<vec4<f32>>;
var<storage, read_write> final_state: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let channel_block = id.x;
  let b = id.y;
  if (channel_block * LANES >= w_vec4s(params.head_dim)) {
    return;
  }
  var carry = elem_identity();
  if (params.has_carry != 0u) {
    carry = carry_in_load(b, channel_block);
  }
  var before = carry;
  for (var start = 0u; start < params.count; start += RUN_LENGTH) {
    let end = min(start + RUN_LENGTH, params.count);
    var run = elem_identity();
    for (var i = start; i < end; i++) {
      run = elem_combine(run, load_element(b, i, channel_block));
      let inclusive = elem_combine(carry, run);
      store_prefix(b, i, channel_block, before, inclusive);
      before = inclusive;
    }
    carry = elem_combine(carry, run);
  }
  if (params.write_final != 0u) {
    final_state_store(b, channel_block, carry);
  }
}
