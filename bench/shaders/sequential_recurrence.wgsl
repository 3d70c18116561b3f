// The recurrence of attention as an RNN, literally: one invocation per (sequence, channel) walks the tokens in
// order with a scalar state (m, u, w) and writes o_k = w_k / u_k after each token:
//   m_k = max(m_{k-1}, s_k),  u_k = u_{k-1} exp(m_{k-1} - m_k) + exp(s_k - m_k),  w_k likewise with v_k.
// One read and one write per element, parallel only across batch x headDim invocations.
//
// Composed with: lse_combine (for MASKED_SCORE and finite_max; host constants LANES = 1, WORKGROUP_SIZE).

struct SequentialParams {
  batch: u32,
  length: u32,
  head_dim: u32,
}

var<storage, read> scores: array<f32>;
var<storage, read> values: array<f32>;
var<storage, read_write> outputs: array<f32>;
var<uniform> params: SequentialParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let c = id.x;
  let b = id.y;
  if (c >= params.head_dim || b >= params.batch) {
    return;
  }
  var m = MASKED_SCORE;
  var u = 0.0;
  var w = 0.0;
  for (var i = 0u; i < params.length; i++) {
    let row = b * params.length + i;
    let s = finite_max(scores[row]);
    if (s != MASKED_SCORE) { // a masked token leaves the state as it is
      let m_new = max(m, s);
      let decay = exp(m - m_new); // m <= m_new, so at most 1; MASKED_SCORE - s underflows to 0
      let p = exp(s - m_new);
      u = u * decay + p;
      w = w * decay + p * values[row * params.head_dim + c];
      m = m_new;
    }
    outputs[row * params.head_dim + c] = select(0.0, w / u, u > 0.0);
  }
}
