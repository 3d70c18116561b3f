// Element sink for level 0 of a many-to-many scan: o[b, i, :] = w_i / u_i, the attention output of the prefix,
// written through store_output4 (outputs_f32.wgsl or outputs_vec4.wgsl).

// An empty prefix (u = 0) has w = 0 exactly, so dividing by 1 instead of 0 gives the documented 0.
fn store_output_row(row: u32, channel_block: u32, s: Lse) {
  let u = select(1.0, s.u, s.u > 0.0);
  let vecs = w_vec4s(params.head_dim);
  for (var l = 0u; l < LANES; l++) {
    let j = channel_block * LANES + l;
    if (j < vecs) {
      store_output4(row, j, s.w[l] / u);
    }
  }
}

fn store_prefix(b: u32, i: u32, channel_block: u32, exclusive: Lse, inclusive: Lse) {
  if (i < params.count) {
    store_output_row(b * params.count + i, channel_block, inclusive);
  }
}
