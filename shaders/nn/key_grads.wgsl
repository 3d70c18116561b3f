// The score's gradient spread to the key projection and the query (s = scale * query_h . K_h per token):
//   grad_keys[r, h * head_dim + c]   = scale * ds[b * heads + h, i] * query[h, c]     (dK, token layout)
//   query_terms[r, h * head_dim + c] = scale * ds[b * heads + h, i] * K[r, h * head_dim + c]
// with r = b * length + i. dQuery is the column sum of query_terms over the rows (column_sum.wgsl, a fixed order):
// no atomics, the same bits every run. ds is in the scan's layout [batch * heads, length].
// Needs `const WORKGROUP_SIZE`. Grid-stride over count = batch * length * heads * head_dim.

struct KeyGradsParams {
  length: u32,
  heads: u32,
  head_dim: u32,
  count: u32,
  scale: f32,
}

var<uniform> params: KeyGradsParams;
var<storage, read> grad_scores: array<f32>;
var<storage, read> keys: array<f32>;
var<storage, read> query: array<f32>;
var<storage, read_write> grad_keys: array<f32>;
var<storage, read_write> query_terms: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let width = params.heads * params.head_dim;
  for (var e = id.x; e < params.count; e += groups.x * WORKGROUP_SIZE) {
    let j = e % width;
    let h = j / params.head_dim;
    let row = e / width;
    let b = row / params.length;
    let i = row % params.length;
    let ds = params.scale * grad_scores[(b * params.heads + h) * params.length + i];
    grad_keys[e] = ds * query[j];
    query_terms[e] = ds * keys[e];
  }
}
