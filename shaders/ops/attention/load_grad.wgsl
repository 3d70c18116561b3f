// Element source of the backward scan (lse_backward.wgsl): scan element j is position i = N-1-j, the element
// (l_i, g_i, D_i) with D_i = g_i . o_i (over every channel: each channel block computes the same D, bit for bit)
// and l_i = log lambda_i = (m_i - m_{i+1}) + log(u_i / u_{i+1}) (0 at the last position: the gradient of the final
// state enters as the scan's carry). A position with u_i = 0 (no unmasked token yet, o_i = 0) passes nothing: l =
// NO_PASS, x = 0. Reads grad_output and forward_output (rows_*.wgsl instances) and stats.

fn load_element(b: u32, j: u32, channel_block: u32) -> Elem {
  var e = elem_identity();
  if (j >= params.count) {
    return e;
  }
  let i = position_of(j);
  let row = b * params.count + i;
  let st = stats[row];
  if (st.y <= 0.0) {
    e.l = NO_PASS;
    return e;
  }
  if (i + 1u < params.count) {
    let next = stats[row + 1u];
    e.l = min((st.x - next.x) + log(st.y / next.y), 0.0);
  }
  let vecs = w_vec4s(params.head_dim);
  var dot_go = 0.0;
  for (var q = 0u; q < vecs; q++) {
    let g = grad_output_load4(row, q);
    dot_go += dot(g, forward_output_load4(row, q));
    let k = q - channel_block * LANES;
    if (q >= channel_block * LANES && k < LANES) {
      e.a[k] = g;
    }
  }
  e.b = dot_go;
  return e;
}
