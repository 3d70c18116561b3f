// Template (placeholder ROWS): read-only rows as vec4s, for head_dim % 4 == 0 (see rows_f32.wgsl).

var<storage, read> ROWS: array<vec4<f32>>;

fn ROWS_load4(row: u32, j: u32) -> vec4<f32> {
  return ROWS[row * (params.head_dim / 4u) + j];
}
