// Parameters shared by the causal depthwise convolution kernels (src/ops/conv.ts): x, y, dy are
// [batch, length, d_model] row-major f32, the weights [d_model] vec4 (c[d, 0..3] weighs x at t, t-1, t-2, t-3),
// the history [batch, 3, d_model] (row 2 is t = -1, row 1 is t = -2, row 0 is t = -3). The host keeps every
// element index below 2^32 (its buffers fit a binding) and length below 2^31 (the kernels form t - j as i32).
// Each kernel reads the fields it needs; the others are 0.

struct ConvParams {
  batch: u32,
  length: u32,
  d_model: u32,
  has_history: u32,   // conv_input: a history is bound (else the inputs before t = 0 are 0)
  write_history: u32, // conv_next_history: next_history is bound
  chunk_rows: u32,    // conv_weight_grad_partials: rows (b, t) per partial sum
  accumulate: u32,    // conv_input_grad, conv_weight_grad_partials: result += instead of result =
}

var<uniform> params: ConvParams;
