// Outputs as scalars: any head_dim. Pairs with outputs_vec4.wgsl, which needs head_dim % 4 == 0.
// outputs: [rows, head_dim] f32.

var<storage, read_write> outputs: array<f32>;

// Channels [4j, 4j + 4) of row `row`, those below head_dim.
fn store_output4(row: u32, j: u32, o: vec4<f32>) {
  let d = params.head_dim;
  for (var k = 0u; k < 4u; k++) {
    if (4u * j + k < d) {
      outputs[row * d + 4u * j + k] = o[k];
    }
  }
}
