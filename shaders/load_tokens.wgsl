// Element source for level 0: token i of sequence b is the leaf state (s, 1, v), or the identity when
// its score is -inf (a masked token) or i is past the end.
// scores: [batch, count] f32; values: [batch, count, head_dim] f32, row-major.

@group(0) @binding(0) var<storage, read> scores: array<f32>;
@group(0) @binding(1) var<storage, read> values: array<f32>;

fn load_element(b: u32, i: u32, channel_block: u32) -> Lse {
  if (i >= params.count) {
    return lse_identity();
  }
  let row = b * params.count + i;
  let score = scores[row];
  if (is_negative_infinity(score)) {
    return lse_identity();
  }
  var e = lse_identity();
  e.m = score;
  e.u = 1.0;
  let d = params.head_dim;
  let base = row * d;
  for (var l = 0u; l < LANES; l++) {
    let c0 = (channel_block * LANES + l) * 4u;
    for (var k = 0u; k < 4u; k++) {
      if (c0 + k < d) {
        e.w[l][k] = values[base + c0 + k];
      }
    }
  }
  return e;
}
