// store_block for matmul_blocked through matmul_output's scalar epilogue, for any n (matmul_output_vec4 is the
// faster one where n is a multiple of 4). Column i of a block accumulator is row row0 + i of the result over
// columns col0..col0+3; rows and columns past the result are not stored.

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
