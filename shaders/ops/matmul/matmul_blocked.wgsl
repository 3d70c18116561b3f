// Register-blocked matrix product for CPU adapters (SwiftShader, llvmpipe, WARP), with the epilogue of
// matmul_output. No workgroup memory and no barriers: on a CPU adapter a barrier is expensive and "global memory"
// is RAM behind the CPU's caches, so the cost is the number of storage loads per multiply-add (on SwiftShader
// about loads/0.5e9 + multiply-adds/4.5e9 seconds). Each invocation computes a 32 x 16 block of the result as 8 x 4
// blocks of 4 x 4, held in 32 named mat4x4 accumulators (named, not an array: with arrays indexed in loops
// SwiftShader spilled them and ran 4-20x slower). Per step of 4 along k it loads 8 blocks of a and 4 of b (vec4
// loads where the layout allows: tile_a, tile_b) and does 32 4x4 matrix products: 48 vec4 loads per 2048
// multiply-adds. (A 16 x 16 block measured ~10% slower on 1024x256x1024.)
// Every result element sums its k products in increasing k, four at a time in a fixed order: the bits depend on
// the shape alone, not on scheduling (the transposed-a weight gradient, a sum over tokens, needs no atomics).
// Composed with: matmul_params, a tile_a part, a tile_b part, gelu, matmul_output (its epilogue specialised by
// constants). The stores stay scalar, in loops: an unrolled vec4 epilogue (32 blocks x 4 rows inlined) measured
// about as fast and took several times longer to compile on SwiftShader.
// Needs `const WORKGROUP_SIZE`. The blocks are numbered row-major over the result (column blocks fastest) and the
// invocations take them in order, WORKGROUP_SIZE per workgroup along x and rows of workgroups along y, so one
// pipeline serves every shape: a workgroup size chosen per shape made a pipeline per shape, each compiled for
// seconds on SwiftShader. One u32 division per invocation, against k / 4 steps of 32 matrix products.
//
// Block convention (column-major WGSL matrices): tile_a(row0, k0) = A^T of the 4 x 4 block of a at (row0, k0), i.e.
// column i holds a(row0 + i, k0..k0+3); tile_b(col0, k0) = B^T of the block of b at (k0, col0), column kk holding
// b(k0 + kk, col0..col0+3). Then C^T += B^T A^T = tile_b * tile_a: column i of an accumulator is row i of the
// block of the result, over 4 columns.

fn store_block(row0: u32, col0: u32, c: mat4x4<f32>) {
  for (var i = 0u; i < 4u; i++) {
    if (row0 + i < params.m) {
      for (var j = 0u; j < 4u; j++) {
        if (col0 + j < params.n) {
          store_result(row0 + i, col0 + j, c[i][j]);
        }
      }
    }
  }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let col_blocks = (params.n + 15u) / 16u;
  let block_index = id.y * groups.x * WORKGROUP_SIZE + id.x;
  let col0 = (block_index % col_blocks) * 16u;
  let row0 = (block_index / col_blocks) * 32u;
  if (row0 >= params.m) {
    return;
  }
  var c00 = mat4x4<f32>(); var c01 = mat4x4<f32>(); var c02 = mat4x4<f32>(); var c03 = mat4x4<f32>();
  var c10 = mat4x4<f32>(); var c11 = mat4x4<f32>(); var c12 = mat4x4<f32>(); var c13 = mat4x4<f32>();
  var c20 = mat4x4<f32>(); var c21 = mat4x4<f32>(); var c22 = mat4x4<f32>(); var c23 = mat4x4<f32>();
  var c30 = mat4x4<f32>(); var c31 = mat4x4<f32>(); var c32 = mat4x4<f32>(); var c33 = mat4x4<f32>();
  var c40 = mat4x4<f32>(); var c41 = mat4x4<f32>(); var c42 = mat4x4<f32>(); var c43 = mat4x4<f32>();
  var c50 = mat4x4<f32>(); var c51 = mat4x4<f32>(); var c52 = mat4x4<f32>(); var c53 = mat4x4<f32>();
  var c60 = mat4x4<f32>(); var c61 = mat4x4<f32>(); var c62 = mat4x4<f32>(); var c63 = mat4x4<f32>();
  var c70 = mat4x4<f32>(); var c71 = mat4x4<f32>(); var c72 = mat4x4<f32>(); var c73 = mat4x4<f32>();
  for (var k0 = 0u; k0 < params.k; k0 += 4u) {
    let b0 = tile_b(col0 + 0u, k0);
    let b1 = tile_b(col0 + 4u, k0);
    let b2 = tile_b(col0 + 8u, k0);
    let b3 = tile_b(col0 + 12u, k0);
    let a0 = tile_a(row0 + 0u, k0);
    c00 += b0 * a0; c01 += b1 * a0; c02 += b2 * a0; c03 += b3 * a0;
    let a1 = tile_a(row0 + 4u, k0);
    c10 += b0 * a1; c11 += b1 * a1; c12 += b2 * a1; c13 += b3 * a1;
    let a2 = tile_a(row0 + 8u, k0);
    c20 += b0 * a2; c21 += b1 * a2; c22 += b2 * a2; c23 += b3 * a2;
    let a3 = tile_a(row0 + 12u, k0);
    c30 += b0 * a3; c31 += b1 * a3; c32 += b2 * a3; c33 += b3 * a3;
    let a4 = tile_a(row0 + 16u, k0);
    c40 += b0 * a4; c41 += b1 * a4; c42 += b2 * a4; c43 += b3 * a4;
    let a5 = tile_a(row0 + 20u, k0);
    c50 += b0 * a5; c51 += b1 * a5; c52 += b2 * a5; c53 += b3 * a5;
    let a6 = tile_a(row0 + 24u, k0);
    c60 += b0 * a6; c61 += b1 * a6; c62 += b2 * a6; c63 += b3 * a6;
    let a7 = tile_a(row0 + 28u, k0);
    c70 += b0 * a7; c71 += b1 * a7; c72 += b2 * a7; c73 += b3 * a7;
  }
  store_block(row0 + 0u, col0 + 0u, c00); store_block(row0 + 0u, col0 + 4u, c01); store_block(row0 + 0u, col0 + 8u, c02); store_block(row0 + 0u, col0 + 12u, c03);
  store_block(row0 + 4u, col0 + 0u, c10); store_block(row0 + 4u, col0 + 4u, c11); store_block(row0 + 4u, col0 + 8u, c12); store_block(row0 + 4u, col0 + 12u, c13);
  store_block(row0 + 8u, col0 + 0u, c20); store_block(row0 + 8u, col0 + 4u, c21); store_block(row0 + 8u, col0 + 8u, c22); store_block(row0 + 8u, col0 + 12u, c23);
  store_block(row0 + 12u, col0 + 0u, c30); store_block(row0 + 12u, col0 + 4u, c31); store_block(row0 + 12u, col0 + 8u, c32); store_block(row0 + 12u, col0 + 12u, c33);
  store_block(row0 + 16u, col0 + 0u, c40); store_block(row0 + 16u, col0 + 4u, c41); store_block(row0 + 16u, col0 + 8u, c42); store_block(row0 + 16u, col0 + 12u, c43);
  store_block(row0 + 20u, col0 + 0u, c50); store_block(row0 + 20u, col0 + 4u, c51); store_block(row0 + 20u, col0 + 8u, c52); store_block(row0 + 20u, col0 + 12u, c53);
  store_block(row0 + 24u, col0 + 0u, c60); store_block(row0 + 24u, col0 + 4u, c61); store_block(row0 + 24u, col0 + 8u, c62); store_block(row0 + 24u, col0 + 12u, c63);
  store_block(row0 + 28u, col0 + 0u, c70); store_block(row0 + 28u, col0 + 4u, c71); store_block(row0 + 28u, col0 + 8u, c72); store_block(row0 + 28u, col0 + 12u, c73);
}
