// Element source for level 0: token i of sequence b is the leaf state (s, 1, v) covering one token, or the
// identity when its score is -inf (a masked token: it still covers one token, the decay's clock runs on) or i is
// past the end (covers none). scores: [batch, count] f32; the values come through load_value4 (values_f32.wgsl
// or values_vec4.wgsl); the rate through sequence_decay (decay_rates.wgsl or no_decay.wgsl).

var<storage, read> scores: array<f32>;

fn load_element(b: u32, i: u32, channel_block: u32) -> Lse {
  if (i >= params.count) {
    return lse_identity();
  }
  let row = b * params.count + i;
  let score = scores[row];
  var e = lse_identity();
  e.n = 1.0;
  e.rate = sequence_decay(b);
  if (is_negative_infinity(score)) {
    return e;
  }
  e.m = score;
  e.u = 1.0;
  let vecs = w_vec4s(params.head_dim);
  for (var l = 0u; l < LANES; l++) {
    let j = channel_block * LANES + l;
    if (j < vecs) {
      e.w[l] = load_value4(row, j);
    }
  }
  return e;
}
