// LayerNorm backward, parameter gradients, first pass: per chunk of rows c and column j,
//   gamma_partial[c, j] = sum_{r in c} dY[r, j] * xhat[r, j],   beta_partial[c, j] = sum_{r in c} dY[r, j],
// summed in increasing r by one invocation (deterministic, no atomics). column_sum.wgsl then sums the chunks into
// dGamma and dBeta. Composed after layer_norm_backward_io. Needs `const WORKGROUP_SIZE`. An invocation owns PACK
// columns. Dispatch: (ceil(width / PACK / WORKGROUP_SIZE), chunks).

var<storage, read_write> gamma_partial: array<Packed>;
var<storage, read_write> beta_partial: array<Packed>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let j = id.x;
  let chunk = id.y;
  let n = params.width / PACK;
  if (j >= n) {
    return;
  }
  let first = chunk * params.chunk_rows;
  let end = min(first + params.chunk_rows, params.rows);
  var dgamma = Packed();
  var dbeta = Packed();
  for (var r = first; r < end; r++) {
    let g = grad[r * n + j];
    dgamma += g * (x[r * n + j] - row_stats[r]) * row_stats[params.rows + r];
    dbeta += g;
  }
  gamma_partial[chunk * n + j] = dgamma;
  beta_partial[chunk * n + j] = dbeta;
}
