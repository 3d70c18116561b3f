// Quadratic causal attention as the textbook softmax, one invocation per (query row k, channel block, sequence): a
// first pass over the earlier tokens i <= k finds the largest score m, a second sums p_i = exp(s_i - m) and
// p_i v_i, and o_k = sum p_i v_i / sum p_i. No workgroup memory and no barriers (the form that suits CPU adapters;
// naive_attention.wgsl is the workgroup-reduction, online-softmax form). Same inputs and outputs as the scan;
// O(length^2 headDim) work.
//
// Composed with: naive_attention_io, lse_combine (host constants LANES, WORKGROUP_SIZE). head_dim % 4 == 0.
// Dispatch: (ceil(length / WORKGROUP_SIZE), channel blocks, batch).

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let k = id.x;
  let channel_block = id.y;
  let b = id.z;
  if (k >= params.length) {
    return;
  }
  let vecs = params.head_dim / 4u;
  let base = b * params.length;
  var m = MASKED_SCORE;
  for (var i = 0u; i <= k; i++) {
    m = max(m, finite_max(scores[base + i]));
  }
  var state = lse_identity(); // (m, sum p_i, sum p_i v_i)
  for (var i = 0u; i <= k; i++) {
    let s = finite_max(scores[base + i]);
    let p = select(exp(s - m), 0.0, s == MASKED_SCORE); // masked tokens weigh nothing
    state.u += p;
    for (var l = 0u; l < LANES; l++) {
      let j = channel_block * LANES + l;
      if (j < vecs) {
        state.w[l] += p * values[(base + i) * vecs + j];
      }
    }
  }
  let u = select(1.0, state.u, state.u > 0.0);
  for (var l = 0u; l < LANES; l++) {
    let j = channel_block * LANES + l;
    if (j < vecs) {
      outputs[(base + k) * vecs + j] = state.w[l] / u;
    }
  }
}
