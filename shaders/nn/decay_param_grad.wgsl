// dLoss/d(theta_h) of the Aaren layer's recency decay rate_h = softplus(theta_h): sigmoid(theta_h) times the sum
// over the batch of dLoss/d(rate) of the sequences b * heads + h (decay_grad.wgsl), added in order of b (the same
// bits every run). One invocation per head.

struct DecayParamParams {
  batch: u32,
  heads: u32,
}

var<uniform> params: DecayParamParams;
var<storage, read> theta: array<f32>;
var<storage, read> grad_rates: array<f32>;
var<storage, read_write> grad_theta: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let h = id.x;
  if (h >= params.heads) {
    return;
  }
  var sum = 0.0;
  for (var b = 0u; b < params.batch; b++) {
    sum += grad_rates[b * params.heads + h];
  }
  // sigmoid without overflow: e^-|t| <= 1 on both sides.
  let t = theta[h];
  let e = exp(-abs(t));
  let sigmoid = select(e / (1.0 + e), 1.0 / (1.0 + e), t >= 0.0);
  grad_theta[h] = sigmoid * sum;
}
