// Scores of the materialised Aaren layer (the training forward, which keeps K for the query's gradient):
//   scores[b * heads + h, i] = scale * query[h] . K[b * length + i, h * head_dim .. (h + 1) * head_dim]
// K is [batch * length, heads * head_dim] row-major (x @ key + key_bias); scores are in the scan's layout
// [batch * heads, length]. One invocation per score; each sums its head_dim products in increasing c (fixed bits).
// Needs `const WORKGROUP_SIZE`. Dispatch: (min(ceil(length / WORKGROUP_SIZE), max), batch * heads); grid-stride in x.

struct HeadScoresParams {
  batch: u32,
  length: u32,
  heads: u32,
  head_dim: u32,
  scale: f32,
}

var<uniform> params: HeadScoresParams;
var<storage, read> query: array<f32>;
var<storage, read> keys: array<f32>;
var<storage, read_write> scores: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let seq = id.y;
  let b = seq / params.heads;
  let h = seq % params.heads;
  let width = params.heads * params.head_dim;
  for (var i = id.x; i < params.length; i += groups.x * WORKGROUP_SIZE) {
    let base = (b * params.length + i) * width + h * params.head_dim;
    var s = 0.0;
    for (var c = 0u; c < params.head_dim; c++) {
      s += query[h * params.head_dim + c] * keys[base + c];
    }
    scores[seq * params.length + i] = params.scale * s;
  }
}
