// Register-blocked matrix product for CPU adapters (SwiftShader, llvmpipe, WARP), with the epilogue of
// matmul_output. No workgroup memory and no barriers: on a CPU adapter a barrier is expensive and "global memory"
// is RAM behind the CPU's caches, so the cost is the number of storage loads per multiply-add. Each invocation
// computes an MM_BM x MM_BN block of the result (MM_BN = 4 * MM_BN4) and steps k by 4: it loads an MM_BM x 4
// block of a and a 4 x MM_BN block of b (load_a_block, load_b_block: vec4 loads where the layout allows) and does
// MM_BM * MM_BN * 4 multiply-adds from registers, i.e. (MM_BM + MM_BN) loads per 4 * MM_BM * MM_BN products.
// Every result element sums its k products one at a time in increasing k: the bits do not depend on the block
// sizes, the workgroup or the adapter's scheduling (a transposed-a product that reduces over tokens is
// deterministic without atomics).
// Composed with: matmul_params, a load_a_block part, a load_b_block part, gelu, matmul_output.
// Needs `const MM_BM` (a multiple of 4), `const MM_BN4`, `const MM_WG_X`, `const MM_WG_Y`.

// a_reg[i][kk] = a(row0 + i, k0 + kk); b_reg[kk * MM_BN4 + j][c] = b(k0 + kk, col0 + 4 j + c); zero past k.
var<private> a_reg: array<vec4<f32>, MM_BM>;
var<private> b_reg: array<vec4<f32>, 4u * MM_BN4>;

@compute @workgroup_size(MM_WG_X, MM_WG_Y)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let col0 = id.x * 4u * MM_BN4;
  let row0 = id.y * MM_BM;
  if (col0 >= params.n || row0 >= params.m) {
    return;
  }
  var acc: array<vec4<f32>, MM_BM * MM_BN4>;
  for (var k0 = 0u; k0 < params.k; k0 += 4u) {
    load_a_block(row0, k0);
    load_b_block(col0, k0);
    for (var i = 0u; i < MM_BM; i++) {
      let av = a_reg[i];
      for (var j = 0u; j < MM_BN4; j++) {
        var s = acc[i * MM_BN4 + j];
        s = fma(vec4<f32>(av.x), b_reg[j], s);
        s = fma(vec4<f32>(av.y), b_reg[MM_BN4 + j], s);
        s = fma(vec4<f32>(av.z), b_reg[2u * MM_BN4 + j], s);
        s = fma(vec4<f32>(av.w), b_reg[3u * MM_BN4 + j], s);
        acc[i * MM_BN4 + j] = s;
      }
    }
  }
  let rows = min(MM_BM, params.m - row0);
  let cols = min(4u * MM_BN4, params.n - col0);
  for (var i = 0u; i < rows; i++) {
    for (var c = 0u; c < cols; c++) {
      store_result(row0 + i, col0 + c, acc[i * MM_BN4 + c / 4u][c % 4u]);
    }
  }
}
