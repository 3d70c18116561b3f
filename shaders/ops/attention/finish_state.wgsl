// Last step of a many-to-one pass: the sequence total (from chunk_reduce), after the caller's initial state
// when there is one, becomes the final state and the output o = w / u of the last position.
// One invocation per (sequence, channel channel_block).
//
// Composed with: lse_combine, state_layout, scan_params, state_load(in_states), state_load(carry_in),
// state_store(final_state), store_outputs.

var<storage, read> in_states: array<vec4<f32>>;
var<storage, read> carry_in: array<vec4<f32>>;
var<storage, read_write> final_state: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let b = id.x;
  let channel_block = id.y;
  if (b >= params.batch) {
    return;
  }
  var s = in_states_load(b, channel_block);
  if (params.has_carry != 0u) {
    s = lse_combine(carry_in_load(b, channel_block), s);
  }
  final_state_store(b, channel_block, s);
  store_output_row(b, channel_block, s);
}
