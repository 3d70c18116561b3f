// Token embedding lookup: x[r, j] = table[tokens[r], j] for tokens [rows] u32 and table [vocab, d_model] f32.
// The host refuses a token outside [0, vocab) before any GPU work (checkTokens); the min() below only keeps a
// buffer that a caller filled on the GPU inside the table. table and x are arrays of Packed (pack_f32, or pack_vec4
// when d_model % 4 == 0: a quarter of the loads, and of the integer divisions by the uniform width, which
// SwiftShader emulates per lane). One invocation per element of x, grid-stride over count = rows * d_model / PACK
// (any count fits the dispatch limit). Needs `const WORKGROUP_SIZE`.

struct EmbeddingParams {
  count: u32,
  d_model: u32,
  vocab: u32,
}

var<uniform> params: EmbeddingParams;
var<storage, read> tokens: array<u32>;
var<storage, read> table: array<Packed>;
var<storage, read_write> x: array<Packed>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  for (var e = id.x; e < params.count; e += groups.x * WORKGROUP_SIZE) {
    let width = params.d_model / PACK;
    let row = e / width;
    let j = e - row * width;
    x[e] = table[min(tokens[row], params.vocab - 1u) * width + j];
  }
}
