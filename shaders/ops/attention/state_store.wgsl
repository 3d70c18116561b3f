// Template: the host replaces STATES with the name of a read_write state buffer binding.

fn STATES_store(index: u32, channel_block: u32, s: Lse) {
  let base = index * state_stride(params.head_dim);
  // Every channel channel_block computes the same m and u, bit for bit; channel_block 0 writes them.
  if (channel_block == 0u) {
    STATES[base] = lse_header(s);
  }
  let vecs = w_vec4s(params.head_dim);
  for (var l = 0u; l < LANES; l++) {
    let j = channel_block * LANES + l;
    if (j < vecs) {
      STATES[base + 1u + j] = s.w[l];
    }
  }
}
