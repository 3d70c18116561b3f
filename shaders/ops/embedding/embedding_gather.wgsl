// Token embedding lookup: x[r, j] = table[tokens[r], j] for tokens [rows] u32 and table [vocab, d_model] f32.
// The host refuses a token outside [0, vocab) before any GPU work (checkTokens); the min() below only keeps a
// buffer that a caller filled on the GPU inside the table. One invocation per element of x, grid-stride over
// rows * d_model (any count fits the dispatch limit). Needs `const WORKGROUP_SIZE`.

struct EmbeddingParams {
  count: u32,
  d_model: u32,
  vocab: u32,
}

var<uniform> params: EmbeddingParams;
var<storage, read> tokens: array<u32>;
var<storage, read> table: array<f32>;
var<storage, read_write> x: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  for (var e = id.x; e < params.count; e += groups.x * WORKGROUP_SIZE) {
    let row = e / params.d_model;
    let j = e % params.d_model;
    x[e] = table[min(tokens[row], params.vocab - 1u) * params.d_model + j];
  }
}
