// matmul source: a holds per-head attention outputs in the scan's layout, [batch, heads, seq_length, head_dim]
// (sequence b * heads + h, as chunk_scan + store_outputs write them); row (b, i) of the product's left operand is
// concat_h o[b, h, i, :], i.e. column k = h * head_dim + c. Reading it strided here saves a transpose pass.
var<storage, read> a: array<f32>;

fn load_a(row: u32, k: u32) -> f32 {
  let b = row / params.seq_length;
  let i = row % params.seq_length;
  let h = k / params.head_dim;
  let c = k % params.head_dim;
  return a[((b * params.heads + h) * params.seq_length + i) * params.head_dim + c];
}
