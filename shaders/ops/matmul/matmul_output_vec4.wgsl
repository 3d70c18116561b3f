// matmul_output's epilogue four columns at a time, for matmul_blocked when n is a multiple of 4: the same
// arithmetic on each element (the same bits as matmul_output), with vec4 loads and stores, and the same constants.
// Defines store_block for matmul_blocked (the scalar one is matmul_block_store). Needs matmul_params and gelu.

var<storage, read> bias: array<vec4<f32>>;
var<storage, read> residual: array<vec4<f32>>;
var<storage, read_write> pre_activation: array<vec4<f32>>;
var<storage, read_write> result: array<vec4<f32>>;

fn gelu4(x: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(gelu(x.x), gelu(x.y), gelu(x.z), gelu(x.w));
}

fn gelu_grad4(x: vec4<f32>) -> vec4<f32> {
  return vec4<f32>(gelu_grad(x.x), gelu_grad(x.y), gelu_grad(x.z), gelu_grad(x.w));
}

// Writes columns col0..col0+3 (col0 a multiple of 4, below n) of row `row` from their dot products `acc`.
fn store_result4(row: u32, col0: u32, acc: vec4<f32>) {
  var y = acc;
  if (MM_BIAS != 0u) {
    y += bias[col0 / 4u];
  }
  let index = (row * params.n + col0) / 4u;
  if (MM_SAVE_PRE != 0u) {
    pre_activation[index] = y;
  }
  if (MM_ACTIVATION == 1u) {
    y = gelu4(y);
  } else if (MM_ACTIVATION == 2u) {
    y *= gelu_grad4(pre_activation[index]);
  }
  if (MM_RESIDUAL != 0u) {
    y += residual[index];
  }
  if (MM_ACCUMULATE != 0u) {
    y += result[index];
  }
  result[index] = y;
}

// Column i of a block accumulator is row row0 + i of the result over columns col0..col0+3 (matmul_blocked).
fn store_block(row0: u32, col0: u32, c: mat4x4<f32>) {
  if (col0 >= params.n) {
    return;
  }
  if (row0 < params.m) { store_result4(row0, col0, c[0]); }
  if (row0 + 1u < params.m) { store_result4(row0 + 1u, col0, c[1]); }
  if (row0 + 2u < params.m) { store_result4(row0 + 2u, col0, c[2]); }
  if (row0 + 3u < params.m) { store_result4(row0 + 3u, col0, c[3]); }
}
