// Element source for the fused Aaren layer: token i of sequence `seq` (= b * HEADS + h) is the leaf state
// (s, 1, v) computed here from the layer input x, so neither the keys, the scores nor the values ever touch
// global memory. The key projection and the query fold into one vector per head (host side):
//   s = scale * query_h . (x key_h + key_bias_h) = x . key_query[h] + key_query[h][D_MODEL]
//   v = x value_h + value_bias_h                 (value_proj row D_MODEL is the bias)
// x: [batch, count, D_MODEL] f32; key_query: [HEADS, D_MODEL + 1] f32;
// value_proj: [HEADS, D_MODEL + 1, V_STRIDE] vec4 (channels of head h, zero-padded to blocks * LANES vec4s).
// Needs `const D_MODEL`, `const HEADS`, `const V_STRIDE` from the host.

var<storage, read> x: array<f32>;
var<storage, read> key_query: array<f32>;
var<storage, read> value_proj: array<vec4<f32>>;

fn load_element(seq: u32, i: u32, channel_block: u32) -> Lse {
  if (i >= params.count) {
    return lse_identity();
  }
  let b = seq / HEADS;
  let h = seq % HEADS;
  let x_base = (b * params.count + i) * D_MODEL;
  let kq_base = h * (D_MODEL + 1u);
  let v_base = h * (D_MODEL + 1u) * V_STRIDE + channel_block * LANES;
  var e = lse_identity();
  e.n = 1.0;
  e.rate = sequence_decay(seq);
  var s = key_query[kq_base + D_MODEL];
  for (var l = 0u; l < LANES; l++) {
    e.w[l] = value_proj[v_base + D_MODEL * V_STRIDE + l];
  }
  for (var j = 0u; j < D_MODEL; j++) {
    let xj = x[x_base + j];
    s += xj * key_query[kq_base + j];
    let row = v_base + j * V_STRIDE;
    for (var l = 0u; l < LANES; l++) {
      e.w[l] += xj * value_proj[row + l];
    }
  }
  e.m = s;
  e.u = 1.0;
  return e;
}
