// Element sink for level 0 of a many-to-many scan: o[b, i, :] = w_i / u_i, the attention output of the prefix.
// outputs: [batch, count, head_dim] f32.

@group(0) @binding(5) var<storage, read_write> outputs: array<f32>;

// An empty prefix (u = 0) has w = 0 exactly, so dividing by 1 instead of 0 gives the documented 0.
fn store_output_row(row: u32, channel_block: u32, s: Lse) {
  let d = params.head_dim;
  let base = row * d;
  let u = select(1.0, s.u, s.u > 0.0);
  for (var l = 0u; l < LANES; l++) {
    let c0 = (channel_block * LANES + l) * 4u;
    let o = s.w[l] / u;
    for (var k = 0u; k < 4u; k++) {
      if (c0 + k < d) {
        outputs[base + c0 + k] = o[k];
      }
    }
  }
}

fn store_prefix(b: u32, i: u32, channel_block: u32, exclusive: Lse, inclusive: Lse) {
  if (i < params.count) {
    store_output_row(b * params.count + i, channel_block, inclusive);
  }
}
