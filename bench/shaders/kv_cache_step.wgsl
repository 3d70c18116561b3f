// One decode step of standard softmax attention over a KV cache, the inference cost Aaren's step replaces: for each
// (sequence, head), o = softmax(q . K^T * scale) V over the P cached tokens. One workgroup per (channel block, head,
// sequence) in the flash-decoding manner: each invocation runs an online softmax (lse_combine) over a strided subset
// of the cached tokens (score q . k_i from the full key row, value slice of its channel block), then the workgroup
// reduces the partial states and writes o. Its time and its cache grow with P.
//
// Layouts: q [batch, heads, head_dim]; keys, values [batch, P, heads, head_dim] (the usual cache layout, rows
// appended per token); out [batch, heads, head_dim]. head_dim % 4 == 0.
// Composed with: lse_combine, workgroup_reduce (host constants LANES, WORKGROUP_SIZE, a power of two).

struct KvParams {
  tokens: u32, // P
  heads: u32,
  head_dim: u32,
  scale: f32,
}

var<storage, read> q: array<vec4<f32>>;
var<storage, read> keys: array<vec4<f32>>;
var<storage, read> values: array<vec4<f32>>;
var<storage, read_write> out: array<vec4<f32>>;
var<uniform> params: KvParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let channel_block = wg.x;
  let h = wg.y;
  let b = wg.z;
  let vecs = params.head_dim / 4u;
  let q_row = (b * params.heads + h) * vecs;

  var state = lse_identity();
  for (var i = t; i < params.tokens; i += WORKGROUP_SIZE) {
    let row = ((b * params.tokens + i) * params.heads + h) * vecs;
    var dot4 = vec4<f32>(0.0);
    for (var j = 0u; j < vecs; j++) {
      dot4 += q[q_row + j] * keys[row + j];
    }
    var e = lse_identity();
    e.m = (dot4.x + dot4.y + dot4.z + dot4.w) * params.scale;
    e.u = 1.0;
    for (var l = 0u; l < LANES; l++) {
      let j = channel_block * LANES + l;
      if (j < vecs) {
        e.w[l] = values[row + j];
      }
    }
    state = lse_combine(state, e);
  }
  let total = workgroup_reduce(t, state);
  if (t == 0u) {
    let u = select(1.0, total.u, total.u > 0.0);
    for (var l = 0u; l < LANES; l++) {
      let j = channel_block * LANES + l;
      if (j < vecs) {
        out[q_row + j] = total.w[l] / u;
      }
    }
  }
}
