// Parameters, buffers and output step shared by the two LayerNorm forward kernels (layer_norm.wgsl: a workgroup
// per row, for GPUs; layer_norm_rows.wgsl: an invocation per row, for CPU adapters). With save_stats, each row's
// mean and 1/sqrt(var + eps) are written to row_stats for the backward (layer_norm_backward.wgsl): the means at
// [0, rows), the rstds at [rows, 2 rows). One buffer, not two: an op that does not save them binds one stand-in.
// x, gamma, beta and result are arrays of Packed (pack_f32 or pack_vec4, composed before this part): row r's
// elements are [r * width / PACK, (r + 1) * width / PACK).

struct LayerNormParams {
  rows: u32,
  width: u32,
  eps: f32,
  save_stats: u32,
}

var<uniform> params: LayerNormParams;
var<storage, read> x: array<Packed>;
var<storage, read> gamma: array<Packed>;
var<storage, read> beta: array<Packed>;
var<storage, read_write> result: array<Packed>;
var<storage, read_write> row_stats: array<f32>;

fn store_normalized(index: u32, j: u32, mean: f32, rstd: f32) {
  result[index] = (x[index] - mean) * rstd * gamma[j] + beta[j];
}

fn store_stats(r: u32, mean: f32, rstd: f32) {
  if (params.save_stats != 0u) {
    row_stats[r] = mean;
    row_stats[params.rows + r] = rstd;
  }
}
