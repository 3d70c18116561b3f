// Before the backward scan: per position i of every sequence, the scalars the scan's element source and sink need,
//   grad_terms[row] = (l_i, D_i, pi_i, 1), or (NO_PASS, 0, 0, 0) where u_i = 0 (no unmasked token yet: o_i = 0,
//   the position passes nothing on),
//   l_i = log lambda_i = (m_i - m_{i+1}) + log(u_i / u_{i+1})  (0 at the last position),
//   D_i = g_i . o_i over every channel,
//   pi_i = exp(s_i - m_i) / u_i <= 1  (0 for a masked token or u_i = 0),
// from the forward's stats (m_i, u_i), scores, outputs and gradOutput. Done once per position here, the scan binds
// 7 storage buffers instead of 9 (WebGPU's default per-stage limit is 8) and every channel block no longer rereads
// the whole rows of g and o to form D. One invocation per row (rows = batch * count) over x then y (x spans
// params.chunks workgroups of 64).
// Composed with: scan_params, lse_backward (NO_PASS, is_masked_score), stats_read, rows_*<grad_output>,
// rows_*<forward_output>.

var<storage, read> scores: array<f32>;
var<storage, read_write> grad_terms: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let rows = params.batch * params.count;
  let row = id.y * params.chunks * 64u + id.x;
  if (row >= rows) {
    return;
  }
  let i = row % params.count;
  let st = stats[row];
  if (st.y <= 0.0) {
    grad_terms[row] = vec4<f32>(NO_PASS, 0.0, 0.0, 0.0);
    return;
  }
  var l = 0.0;
  if (i + 1u < params.count) {
    let next = stats[row + 1u];
    l = min((st.x - next.x) + log(st.y / next.y), 0.0);
  }
  var d = 0.0;
  for (var q = 0u; q < w_vec4s(params.head_dim); q++) {
    d += dot(grad_output_load4(row, q), forward_output_load4(row, q));
  }
  let s = scores[row];
  var pi = 0.0;
  if (!is_masked_score(s)) {
    pi = exp(min(s - st.x, 0.0)) / st.y;
  }
  grad_terms[row] = vec4<f32>(l, d, pi, 1.0);
}
