// Token values as scalars: any head_dim. Pairs with values_vec4.wgsl, which needs head_dim % 4 == 0.
// values: [batch, count, head_dim] f32.

var<storage, read> values: array<f32>;

// Channels [4j, 4j + 4) of row `row`, zero past head_dim.
fn load_value4(row: u32, j: u32) -> vec4<f32> {
  let d = params.head_dim;
  var v = vec4<f32>();
  for (var k = 0u; k < 4u; k++) {
    if (4u * j + k < d) {
      v[k] = values[row * d + 4u * j + k];
    }
  }
  return v;
}
