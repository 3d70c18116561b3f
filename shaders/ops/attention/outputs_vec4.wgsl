// Outputs as vec4s, one 16-byte store per 4 channels: for head_dim % 4 == 0 (see outputs_f32.wgsl).

var<storage, read_write> outputs: array<vec4<f32>>;

fn store_output4(row: u32, j: u32, o: vec4<f32>) {
  outputs[row * (params.head_dim / 4u) + j] = o;
}
