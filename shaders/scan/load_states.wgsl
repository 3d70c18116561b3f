// Element source for levels above 0: element i of sequence b is a state (the reduction of one chunk of
// the level below). in_states holds batch * count states (state_layout.wgsl).

var<storage, read> in_states: array<vec4<f32>>;

fn load_element(b: u32, i: u32, channel_block: u32) -> Elem {
  if (i >= params.count) {
    return elem_identity();
  }
  return in_states_load(b * params.count + i, channel_block);
}
