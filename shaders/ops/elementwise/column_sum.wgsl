// Column sums of a [rows, cols] row-major matrix, over chunks of rows: result[c, j] = [result[c, j] +]
// sum_{r in chunk c} x[r, j], chunk c = rows [c * chunk_rows, (c + 1) * chunk_rows). One invocation per (column,
// chunk) sums its rows in increasing order, so the result's bits are fixed by the shape alone (no atomics).
// Two dispatches make a deterministic two-pass reduction: chunks into a scratch [chunks, cols], then the scratch
// with one chunk into the result (a bias gradient: dBias = sum over rows of dY).
// x and result are arrays of Packed (pack_f32 or pack_vec4, composed before this part): an invocation owns PACK
// columns. Needs `const WORKGROUP_SIZE`. Dispatch: (ceil(cols / PACK / WORKGROUP_SIZE), chunks).

struct ColumnSumParams {
  rows: u32,
  cols: u32,
  chunk_rows: u32,
  accumulate: u32,
}

var<uniform> params: ColumnSumParams;
var<storage, read> x: array<Packed>;
var<storage, read_write> result: array<Packed>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let col = id.x;
  let chunk = id.y;
  let cols = params.cols / PACK;
  if (col >= cols) {
    return;
  }
  let first = chunk * params.chunk_rows;
  let end = min(first + params.chunk_rows, params.rows);
  var sum = Packed();
  for (var r = first; r < end; r++) {
    sum += x[r * cols + col];
  }
  let index = chunk * cols + col;
  if (params.accumulate != 0u) {
    sum += result[index];
  }
  result[index] = sum;
}
