// Template (placeholder ROWS, instantiated by the host): read-only rows of head_dim floats as scalars, any head_dim
// (pairs with rows_vec4.wgsl). ROWS: [rows, head_dim] f32.

var<storage, read> ROWS: array<f32>;

// Channels [4j, 4j + 4) of row `row`, zero past head_dim.
fn ROWS_load4(row: u32, j: u32) -> vec4<f32> {
  let d = params.head_dim;
  var v = vec4<f32>();
  for (var k = 0u; k < 4u; k++) {
    if (4u * j + k < d) {
      v[k] = ROWS[row * d + 4u * j + k];
    }
  }
  return v;
}
