// Moves per-head rows between the token layout and the scan's layout:
//   token layout [batch, length, heads * head_dim] (x @ W, what matmuls read and write)
//   head layout  [batch, heads, length, head_dim]  (sequence b * heads + h, what the prefix scan reads and writes)
// to_heads = 1: result (head layout) from source (token layout); 0: the inverse. One invocation per (token, head)
// copies that head's HEAD_DIM contiguous floats, grid-stride over `count` = batch * length * HEADS. HEADS and
// HEAD_DIM are constants and the index arithmetic is per slice, not per float: on SwiftShader an integer division
// by a uniform is emulated per lane, and with five of them per float this copy took 5 ms for 64 Ki floats.
// source and result are arrays of Packed (pack_f32, or pack_vec4 when HEAD_DIM % 4 == 0: a quarter of the loads).
// Needs `const WORKGROUP_SIZE`, `const HEADS`, `const HEAD_DIM`.

struct PermuteHeadsParams {
  length: u32,
  count: u32,
  to_heads: u32,
}

var<uniform> params: PermuteHeadsParams;
var<storage, read> source: array<Packed>;
var<storage, read_write> result: array<Packed>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  for (var e = id.x; e < params.count; e += groups.x * WORKGROUP_SIZE) {
    // e indexes (b, i, h) in the token layout.
    let h = e % HEADS;
    let row = e / HEADS;
    let b = row / params.length;
    let i = row - b * params.length;
    let token_base = e * (HEAD_DIM / PACK);
    let head_base = ((b * HEADS + h) * params.length + i) * (HEAD_DIM / PACK);
    if (params.to_heads != 0u) {
      for (var c = 0u; c < HEAD_DIM / PACK; c++) {
        result[head_base + c] = source[token_base + c];
      }
    } else {
      for (var c = 0u; c < HEAD_DIM / PACK; c++) {
        result[token_base + c] = source[head_base + c];
      }
    }
  }
}
