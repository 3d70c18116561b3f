// Element sink of the backward scan: with c_i = (a_i, b_i) the inclusive result at position i = N-1-j,
//   dv_i = pi_i a_i,   ds_i = pi_i (v_i . a_i - b_i),   pi_i = exp(s_i - m_i) / u_i <= 1  (0 for a masked token or u_i = 0).
// pi_i comes from grad_terms (grad_terms.wgsl); dv rows go through store_output4 (outputs_*.wgsl bound to
// gradValues), v through load_value4 (values_*.wgsl).
// A workgroup owns one channel block, so it hands store_score_grad its block's share of ds: pi (v . a) over its
// channels, minus pi b in block 0 (score_grad_direct.wgsl writes it when there is one block; score_grad_partial.wgsl
// keeps one share per block for sum_partials.wgsl).

fn store_prefix(b: u32, j: u32, channel_block: u32, exclusive: Elem, inclusive: Elem) {
  if (j >= params.count) {
    return;
  }
  let i = position_of(j);
  let row = b * params.count + i;
  let pi = grad_terms[row].z;
  let vecs = w_vec4s(params.head_dim);
  var va = 0.0;
  for (var k = 0u; k < LANES; k++) {
    let q = channel_block * LANES + k;
    if (q < vecs) {
      va += dot(load_value4(row, q), inclusive.a[k]);
      store_output4(row, q, pi * inclusive.a[k]);
    }
  }
  var share = pi * va;
  if (channel_block == 0u) {
    share -= pi * inclusive.b;
  }
  store_score_grad(row, channel_block, share);
}
