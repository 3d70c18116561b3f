// The convolution's input at any t >= -3: x for t >= 0, else the history (or 0 without one, has_history = 0).
// Composed after conv_params. Read by the forward, the next history and the weight gradient.

var<storage, read> x: array<f32>;
var<storage, read> history: array<f32>;

fn conv_input(b: u32, t: i32, d: u32) -> f32 {
  if (t >= 0) {
    return x[(b * params.length + u32(t)) * params.d_model + d];
  }
  if (params.has_history == 0u) {
    return 0.0;
  }
  return history[(b * 3u + u32(3 + t)) * params.d_model + d];
}
