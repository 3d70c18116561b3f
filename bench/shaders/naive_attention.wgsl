// Quadratic causal attention, the way a standard attention kernel computes the scan's outputs: one workgroup per
// (query row k, channel block, sequence) reads every earlier token i <= k again. Each invocation folds a strided
// subset of the keys into an online-softmax state (m, u, w) with lse_combine (the FlashAttention merge), then the
// workgroup reduces its WORKGROUP_SIZE partial states in workgroup memory and writes o_k = w / u.
// Same inputs and outputs as the scan (scores [batch, length], values and outputs [batch, length, headDim]), so the
// work is O(length^2 headDim) where the scan's is O(length headDim).
//
// Composed with: naive_attention_io, lse_combine, workgroup_reduce (host constants LANES, WORKGROUP_SIZE, a power of two). head_dim % 4 == 0.

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let k = wg.x;             // query row
  let channel_block = wg.y;
  let b = wg.z;
  let vecs = params.head_dim / 4u;
  let base = b * params.length;

  // Online softmax over keys t, t + WORKGROUP_SIZE, ... <= k.
  var state = lse_identity();
  for (var i = t; i <= k; i += WORKGROUP_SIZE) {
    var e = lse_identity();
    e.m = finite_max(scores[base + i]);
    e.u = select(1.0, 0.0, e.m == MASKED_SCORE);
    for (var l = 0u; l < LANES; l++) {
      let j = channel_block * LANES + l;
      if (j < vecs) {
        e.w[l] = values[(base + i) * vecs + j] * e.u;
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
        outputs[(base + k) * vecs + j] = total.w[l] / u;
      }
    }
  }
}
