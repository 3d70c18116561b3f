// Template (placeholder STATES, see state_load.wgsl): the writer of one read_write element buffer binding.

fn STATES_store(index: u32, channel_block: u32, s: Elem) {
  let base = index * state_stride(params.head_dim);
  // Every channel block computes the same header scalars, bit for bit; block 0 writes them.
  if (channel_block == 0u) {
    STATES[base] = elem_header(s);
  }
  let vecs = w_vec4s(params.head_dim);
  for (var l = 0u; l < LANES; l++) {
    let j = channel_block * LANES + l;
    if (j < vecs) {
      STATES[base + 1u + j] = elem_lane(s, l);
    }
  }
}
