// The Aaren layer's recency decay rates from their parameters: rate_h = softplus(theta_h) = log(1 + e^theta_h) >= 0
// (so any theta is a valid rate), as max(theta, 0) + log(1 + e^-|theta|) with the log by atanh_series: accurate to a
// few ulp however negative theta is (where the rate is e^theta, tiny), never overflowing however large.
// Composed with: atanh_series. One invocation per head.

struct SoftplusParams {
  count: u32,
}

var<uniform> params: SoftplusParams;
var<storage, read> theta: array<f32>;
var<storage, read_write> rates: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let h = id.x;
  if (h >= params.count) {
    return;
  }
  let t = theta[h];
  let y = exp(-abs(t));
  rates[h] = max(t, 0.0) + 2.0 * atanh_series(y / (2.0 + y));
}
