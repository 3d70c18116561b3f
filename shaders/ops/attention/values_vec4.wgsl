// Token values as vec4s, one 16-byte load per 4 channels: for head_dim % 4 == 0 (see values_f32.wgsl).

var<storage, read> values: array<vec4<f32>>;

fn load_value4(row: u32, j: u32) -> vec4<f32> {
  return values[row * (params.head_dim / 4u) + j];
}
