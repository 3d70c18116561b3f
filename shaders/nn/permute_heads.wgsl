// Moves per-head rows between the token layout and the scan's layout:
//   token layout [batch, length, heads * head_dim] (x @ W, what matmuls read and write)
//   head layout  [batch, heads, length, head_dim]  (sequence b * heads + h, what the prefix scan reads and writes)
// to_heads = 1: result (head layout) from source (token layout); 0: the inverse. One invocation per element of the
// result, grid-stride over `count` = batch * length * heads * head_dim (any count fits the dispatch limit).
// Needs `const WORKGROUP_SIZE`.

struct PermuteHeadsParams {
  length: u32,
  heads: u32,
  head_dim: u32,
  count: u32,
  to_heads: u32,
}

var<uniform> params: PermuteHeadsParams;
var<storage, read> source: array<f32>;
var<storage, read_write> result: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let width = params.heads * params.head_dim;
  for (var e = id.x; e < params.count; e += groups.x * WORKGROUP_SIZE) {
    // e indexes the token layout: (b, i, h, c).
    let c = e % params.head_dim;
    let h = (e / params.head_dim) % params.heads;
    let row = e / width;
    let b = row / params.length;
    let i = row % params.length;
    let head_index = ((b * params.heads + h) * params.length + i) * params.head_dim + c;
    if (params.to_heads != 0u) {
      result[head_index] = source[e];
    } else {
      result[e] = source[head_index];
    }
  }
}
