// Element sink for levels above 0: the exclusive prefix state of element i, which is the carry that chunk i
// of the level below starts from. Also where chunk_reduce writes its chunk totals.

var<storage, read_write> out_states: array<vec4<f32>>;

fn store_prefix(b: u32, i: u32, channel_block: u32, exclusive: Elem, inclusive: Elem) {
  if (i < params.count) {
    out_states_store(b * params.count + i, channel_block, exclusive);
  }
}
