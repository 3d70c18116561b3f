// The convolution's input at any t >= -3: x for t >= 0, else the history (or 0 without one, has_history = 0), and
// the window of the three inputs before t that a kernel walking a sequence forward carries in registers.
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

// x at t-1, t-2, t-3 of sequence b.
fn conv_window(b: u32, t: i32, d: u32) -> vec3<f32> {
  return vec3<f32>(conv_input(b, t - 1, d), conv_input(b, t - 2, d), conv_input(b, t - 3, d));
}
