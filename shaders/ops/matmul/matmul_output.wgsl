// The result of every matrix kernel (matmul.wgsl, matmul_blocked.wgsl, matvec.wgsl) and their fused epilogue:
//   value = a @ b [+ bias];  [pre_activation = value];  value = act(value);  result = [result +] value [+ residual]
// act: none, GELU, or (GELU backward) value * GELU'(pre_activation). result, residual and pre_activation are
// [m, n] row-major. Each element is written by one invocation, so accumulate is deterministic.
// The epilogue is specialised by constants (the kernel's cache key holds them), not read from the uniform: on
// SwiftShader a branch on a uniform flag costs as if both sides ran, and with the GELU and its derivative behind
// such flags a 1024 x 64 x 64 product spent most of its time here (1024 x 64 x 4 took 4 to 7 ms; with constants,
// 1 to 2 ms).
// Needs matmul_params, gelu, and `const MM_BIAS`, `MM_RESIDUAL`, `MM_ACCUMULATE`, `MM_SAVE_PRE` (0 or 1) and
// `MM_ACTIVATION` (0: none, 1: GELU, 2: multiply by GELU'(pre_activation), the GELU backward).

var<storage, read> bias: array<f32>;
var<storage, read> residual: array<f32>;
var<storage, read_write> pre_activation: array<f32>;
var<storage, read_write> result: array<f32>;

// Writes element (row, col) of the result from its dot product `acc`.
fn store_result(row: u32, col: u32, acc: f32) {
  var y = acc;
  if (MM_BIAS != 0u) {
    y += bias[col];
  }
  let index = row * params.n + col;
  if (MM_SAVE_PRE != 0u) {
    pre_activation[index] = y;
  }
  if (MM_ACTIVATION == 1u) {
    y = gelu(y);
  } else if (MM_ACTIVATION == 2u) {
    y *= gelu_grad(pre_activation[index]);
  }
  if (MM_RESIDUAL != 0u) {
    y += residual[index];
  }
  if (MM_ACCUMULATE != 0u) {
    y += result[index];
  }
  result[index] = y;
}
