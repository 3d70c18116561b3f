// load_b_block for matmul_blocked: weight is given transposed, [n, k] row-major with k a multiple of 4
// (dY @ W^T), read as vec4 along k (one load per column of the block) and transposed in registers. Columns past n
// repeat the last column.
var<storage, read> weight: array<vec4<f32>>;

fn load_b_block(col0: u32, k0: u32) {
  let k4 = params.k / 4u;
  for (var j = 0u; j < MM_BN4; j++) {
    let c = col0 + 4u * j;
    let w0 = weight[min(c, params.n - 1u) * k4 + k0 / 4u];
    let w1 = weight[min(c + 1u, params.n - 1u) * k4 + k0 / 4u];
    let w2 = weight[min(c + 2u, params.n - 1u) * k4 + k0 / 4u];
    let w3 = weight[min(c + 3u, params.n - 1u) * k4 + k0 / 4u];
    b_reg[j] = vec4<f32>(w0.x, w1.x, w2.x, w3.x);
    b_reg[MM_BN4 + j] = vec4<f32>(w0.y, w1.y, w2.y, w3.y);
    b_reg[2u * MM_BN4 + j] = vec4<f32>(w0.z, w1.z, w2.z, w3.z);
    b_reg[3u * MM_BN4 + j] = vec4<f32>(w0.w, w1.w, w2.w, w3.w);
  }
}
