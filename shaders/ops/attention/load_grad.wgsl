// Element source of the backward scan: scan element j is position i = N-1-j, the element (l_i, g_i, D_i) with
// l_i = log lambda_i and D_i = g_i . o_i from grad_terms (grad_terms.wgsl, through grad_terms_read.wgsl) and g_i,
// this workgroup's channel block of it, from grad_output (a rows_*.wgsl instance). A position with u_i = 0 (no
// unmasked token yet, o_i = 0; grad_terms' last component 0) passes nothing: l = NO_PASS, x = 0. The last position
// has l = 0: the gradient of the final state enters as the scan's carry.

fn load_element(b: u32, j: u32, channel_block: u32) -> Elem {
  var e = elem_identity();
  if (j >= params.count) {
    return e;
  }
  let row = b * params.count + position_of(j);
  let t = grad_terms[row];
  e.l = max(t.x, NO_PASS);
  if (t.w == 0.0) {
    return e;
  }
  e.b = t.y;
  let vecs = w_vec4s(params.head_dim);
  for (var k = 0u; k < LANES; k++) {
    let q = channel_block * LANES + k;
    if (q < vecs) {
      e.a[k] = grad_output_load4(row, q);
    }
  }
  return e;
}
