// Gradient of the token embedding: grad_table[v, j] = sum of grad_x[r, j] over the rows r whose token is v.
// No atomics and no search: the host lists each token's rows (it has the tokens anyway, to check them), in
// increasing r, as a CSR index: the rows of token v are token_rows[token_offsets[v] .. token_offsets[v + 1]).
// One invocation per element of grad_table adds its rows in that order, so the bits depend on the tokens alone,
// and a token that does not occur gets exactly 0. Each sum of n rows has error <= (n - 1) u sum |grad_x| (u = 2^-24).
// Cost: one read per element of grad_x, plus vocab * d_model writes. Grid-stride over vocab * d_model.
// Needs `const WORKGROUP_SIZE`.

struct EmbeddingBackwardParams {
  count: u32,
  d_model: u32,
}

var<uniform> params: EmbeddingBackwardParams;
var<storage, read> token_offsets: array<u32>;
var<storage, read> token_rows: array<u32>;
var<storage, read> grad_x: array<f32>;
var<storage, read_write> grad_table: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  for (var e = id.x; e < params.count; e += groups.x * WORKGROUP_SIZE) {
    let v = e / params.d_model;
    let j = e % params.d_model;
    var total = 0.0;
    for (var k = token_offsets[v]; k < token_offsets[v + 1u]; k++) {
      total += grad_x[token_rows[k] * params.d_model + j];
    }
    grad_table[e] = total;
  }
}
