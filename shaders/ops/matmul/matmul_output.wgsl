// The right operand and the result of both matrix kernels (matmul.wgsl, matvec.wgsl), and their fused epilogue:
// result = [gelu](a @ weight [+ bias]) [+ residual]. weight [k, n], result and residual [m, n], row-major.
// Needs matmul_params and gelu.

var<storage, read> weight: array<f32>;
var<storage, read> bias: array<f32>;
var<storage, read> residual: array<f32>;
var<storage, read_write> result: array<f32>;

// Writes element (row, col) of the result from its dot product `acc`.
fn store_result(row: u32, col: u32, acc: f32) {
  var y = acc;
  if (params.has_bias != 0u) {
    y += bias[col];
  }
  if (params.activation == 1u) {
    y = gelu(y);
  }
  let index = row * params.n + col;
  if (params.has_residual != 0u) {
    y += residual[index];
  }
  result[index] = y;
}
