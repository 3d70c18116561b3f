// Template: the host replaces STATES with the name of a read-only state buffer binding (WGSL cannot pass a
// storage buffer to a function, so each binding gets its own accessor, composed from this one source).

fn STATES_load(index: u32, channel_block: u32) -> Lse {
  let base = index * state_stride(params.head_dim);
  let header = STATES[base];
  var s = lse_identity();
  s.m = finite_max(header.x);
  s.u = header.y;
  let vecs = w_vec4s(params.head_dim);
  for (var l = 0u; l < LANES; l++) {
    let j = channel_block * LANES + l;
    if (j < vecs) {
      s.w[l] = STATES[base + 1u + j];
    }
  }
  return s;
}
