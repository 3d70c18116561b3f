// Parameters and inputs shared by the LayerNorm backward kernels (layer_norm_backward.wgsl: dX;
// layer_norm_param_grads.wgsl: dGamma, dBeta partials): the gradient of the output, the forward's input and the
// per-row mean and rstd the forward saved (row_stats: means at [0, rows), rstds at [rows, 2 rows). grad, x and the
// kernels' gamma, results and partials are arrays of Packed (pack_f32 or pack_vec4, composed before this part).

struct LayerNormBackwardParams {
  rows: u32,
  width: u32,
  chunk_rows: u32,
}

var<uniform> params: LayerNormBackwardParams;
var<storage, read> grad: array<Packed>;
var<storage, read> x: array<Packed>;
var<storage, read> row_stats: array<f32>;
