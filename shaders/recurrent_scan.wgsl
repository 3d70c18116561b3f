// The scan as the RNN it is: each invocation owns one sequence and one block of channels and walks the tokens
// in order, carrying the state in registers. No workgroup memory, no barriers, one read and one write per
// element. On CPU adapters (SwiftShader) this is by far the fastest schedule; on a GPU it is parallel only
// across batch x channel blocks, so it serves there only when that alone fills the device.
//
// Composed with: lse_combine, state_layout, scan_params, state_load(carry_in), state_store(final_state), one
// element source and one sink. Invocation (x, y) = (channel block, sequence).

@group(0) @binding(3) var<storage, read> carry_in: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> final_state: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let channel_block = id.x;
  let b = id.y;
  if (channel_block * LANES >= w_vec4s(params.head_dim)) {
    return;
  }
  var state = lse_identity();
  if (params.has_carry != 0u) {
    state = carry_in_load(b, channel_block);
  }
  for (var i = 0u; i < params.count; i++) {
    let before = state;
    state = lse_combine(state, load_element(b, i, channel_block));
    store_prefix(b, i, channel_block, before, state);
  }
  if (params.write_final != 0u) {
    final_state_store(b, channel_block, state);
  }
}
