// The result of every matrix kernel (matmul.wgsl, matmul_blocked.wgsl, matvec.wgsl) and their fused epilogue:
//   value = a @ b [+ bias];  [pre_activation = value];  value = act(value);  result = [result +] value [+ residual]
// act: none, GELU, or (GELU backward) value * GELU'(pre_activation). result, residual and pre_activation are
// [m, n] row-major. Each element is written by one invocation, so accumulate is deterministic.
// Needs matmul_params and gelu.

var<storage, read> bias: array<f32>;
var<storage, read> residual: array<f32>;
var<storage, read_write> pre_activation: array<f32>;
var<storage, read_write> result: array<f32>;

// Writes element (row, col) of the result from its dot product `acc`.
fn store_result(row: u32, col: u32, acc: f32) {
  var y = acc;
  if (params.has_bias != 0u) {
    y += bias[col];
  }
  let index = row * params.n + col;
  if (params.save_pre != 0u) {
    pre_activation[index] = y;
  }
  if (params.activation == 1u) {
    y = gelu(y);
  } else if (params.activation == 2u) {
    y *= gelu_grad(pre_activation[index]);
  }
  if (params.has_residual != 0u) {
    y += residual[index];
  }
  if (params.accumulate != 0u) {
    y += result[index];
  }
  result[index] = y;
}
