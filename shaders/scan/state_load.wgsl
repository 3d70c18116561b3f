// Template (placeholder STATES, instantiated by the host with src/core/compose.ts `instantiate`): the reader of
// one read-only element buffer binding. WGSL cannot pass a storage buffer to a function, so each binding gets its
// own accessor; the instantiation lists the accessor's full name, so grep finds it.

fn STATES_load(index: u32, channel_block: u32) -> Elem {
  let base = index * state_stride(params.head_dim);
  var s = elem_from_header(STATES[base]);
  let vecs = w_vec4s(params.head_dim);
  for (var l = 0u; l < LANES; l++) {
    let j = channel_block * LANES + l;
    if (j < vecs) {
      elem_set_lane(&s, l, STATES[base + 1u + j]);
    }
  }
  return s;
}
