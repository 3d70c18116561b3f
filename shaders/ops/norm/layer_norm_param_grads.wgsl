// LayerNorm backward, parameter gradients, first pass: per chunk of rows c and column j,
//   gamma_partial[c, j] = sum_{r in c} dY[r, j] * xhat[r, j],   beta_partial[c, j] = sum_{r in c} dY[r, j],
// summed in increasing r by one invocation (deterministic, no atomics). column_sum.wgsl then sums the chunks into
// dGamma and dBeta. Composed after layer_norm_backward_io. Needs `const WORKGROUP_SIZE`.
// Dispatch: (ceil(width / WORKGROUP_SIZE), chunks).

var<storage, read_write> gamma_partial: array<f32>;
var<storage, read_write> beta_partial: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let j = id.x;
  let chunk = id.y;
  if (j >= params.width) {
    return;
  }
  let first = chunk * params.chunk_rows;
  let end = min(first + params.chunk_rows, params.rows);
  var dgamma = 0.0;
  var dbeta = 0.0;
  for (var r = first; r < end; r++) {
    let g = grad[r * params.width + j];
    dgamma += g * (x[r * params.width + j] - row_stats[r]) * row_stats[params.rows + r];
    dbeta += g;
  }
  gamma_partial[chunk * params.width + j] = dgamma;
  beta_partial[chunk * params.width + j] = dbeta;
}
