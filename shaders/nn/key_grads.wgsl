// The score's gradient spread to the key projection and the query (s = scale * query_h . K_h per token):
//   grad_keys[r, h * head_dim + c]   = scale * ds[b * heads + h, i] * query[h, c]     (dK, token layout)
//   query_terms[r, h * head_dim + c] = scale * ds[b * heads + h, i] * K[r, h * head_dim + c]
// with r = b * length + i. dQuery is the column sum of query_terms over the rows (column_sum.wgsl, a fixed order):
// no atomics, the same bits every run. ds is in the scan's layout [batch * heads, length].
// One invocation per (token, head), grid-stride over count = batch * length * HEADS; HEADS and HEAD_DIM are
// constants, so the index arithmetic (an emulated division per lane on SwiftShader) is per slice, not per float.
// keys, query, grad_keys and query_terms are arrays of Packed (pack_f32, or pack_vec4 when HEAD_DIM % 4 == 0).
// Needs `const WORKGROUP_SIZE`, `const HEADS`, `const HEAD_DIM`.

struct KeyGradsParams {
  length: u32,
  count: u32,
  scale: f32,
}

var<uniform> params: KeyGradsParams;
var<storage, read> grad_scores: array<f32>;
var<storage, read> keys: array<Packed>;
var<storage, read> query: array<Packed>;
var<storage, read_write> grad_keys: array<Packed>;
var<storage, read_write> query_terms: array<Packed>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  for (var e = id.x; e < params.count; e += groups.x * WORKGROUP_SIZE) {
    // e indexes (b, i, h): row r = b * length + i of the token layout, head h.
    let h = e % HEADS;
    let row = e / HEADS;
    let b = row / params.length;
    let i = row - b * params.length;
    let ds = params.scale * grad_scores[(b * HEADS + h) * params.length + i];
    let base = e * (HEAD_DIM / PACK);
    for (var c = 0u; c < HEAD_DIM / PACK; c++) {
      grad_keys[base + c] = ds * query[h * (HEAD_DIM / PACK) + c];
      query_terms[base + c] = ds * keys[base + c];
    }
  }
}
