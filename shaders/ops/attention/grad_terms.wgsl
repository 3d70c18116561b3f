// Before the backward scan: per position i of every sequence, the scalars the scan's element source and sink need,
//   grad_terms[row] = (l_i, D_i, pi_i, 1), or (NO_PASS, 0, 0, 0) where u_i = 0 (no unmasked token yet: o_i = 0,
//   the position passes nothing on),
//   l_i = log lambda_i = L_i - L_{i+1} = log(1 - pi_{i+1})  (0 at the last position; see log_one_minus),
//   D_i = g_i . o_i over every channel (0 when DOT_IN_SCAN: the recurrent kernel recurrent_lse_backward_scan.wgsl
//   forms it per channel block from the rows it reads anyway; reading whole rows of g and o here, one invocation a
//   row, took 100 ms of 110 at batch 8 x 16384 x 64 on SwiftShader),
//   pi_i = exp(s_i - m_i) / u_i <= 1  (0 for a masked token or u_i = 0),
// from the forward's stats (m_i, u_i), scores, outputs and gradOutput. Done once per position here, the scan binds
// 7 storage buffers instead of 9 (WebGPU's default per-stage limit is 8) and every channel block no longer rereads
// the whole rows of g and o to form D. One invocation per row (rows = batch * count) over x then y (x spans
// params.chunks workgroups of 64).
// With recency decay the same holds with L_{i+1} = log(e^{L_i - r} + e^{s_{i+1}}): lambda_i = e^{L_i - r - L_{i+1}}
// = 1 - pi_{i+1}, so only the ratio form below subtracts the rate r = sequence_decay(b).
// Composed with: scan_params, lse_backward (NO_PASS, is_masked_score), stats_read, rows_*<grad_output>,
// rows_*<forward_output>, decay_rates or no_decay, atanh_series. Needs `const DOT_IN_SCAN` (1: D = 0, the scan forms it).

var<storage, read> scores: array<f32>;

// pi of position `row` (its token's weight in L at that position): exp(s - m) / u, 0 for a masked token.
fn own_weight(row: u32) -> f32 {
  let s = scores[row];
  let st = stats[row];
  if (is_masked_score(s) || st.y <= 0.0) {
    return 0.0;
  }
  return exp(min(s - st.x, 0.0)) / st.y;
}

// lambda_i = e^{L_i - L_{i+1}} = 1 - pi_{i+1} (L_{i+1} = log(e^{L_i} + e^{s_{i+1}})), so l_i = log(1 - pi_{i+1}).
// Computed from pi, not as (m_i - m_{i+1}) + log(u_i / u_{i+1}): that ratio is within an ulp of 1 once a sequence
// is long, and WGSL lets log err by 2^-21 absolute on [0.5, 2], an error in every l that the scan sums along the
// sequence (measured: 1.3e-4 of max|grad| at 2^20 tokens of N(0,1) scores). For p <= 1/2 the series
// log(1 - p) = -2 atanh(z), z = p / (2 - p) <= 1/3, to z^13 (truncation < 2e-8 relative) keeps l exact to a few
// ulps however small; for p > 1/2 (|l| > 0.69, possibly huge: scores of 1e30) the ratio form is accurate.
fn log_one_minus(p: f32, st: vec2<f32>, next: vec2<f32>, rate: f32) -> f32 {
  if (p > 0.5) {
    return min((st.x - rate - next.x) + log(st.y / next.y), 0.0);
  }
  return -2.0 * atanh_series(p / (2.0 - p));
}
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
    l = log_one_minus(own_weight(row + 1u), st, stats[row + 1u], sequence_decay(row / params.count));
  }
  var d = 0.0;
  for (var q = 0u; DOT_IN_SCAN == 0u && q < w_vec4s(params.head_dim); q++) {
    d += dot(grad_output_load4(row, q), forward_output_load4(row, q));
  }
  grad_terms[row] = vec4<f32>(l, d, own_weight(row), 1.0);
}
