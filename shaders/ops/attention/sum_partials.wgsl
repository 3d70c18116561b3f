// grad_scores[row] = sum over channel blocks of ds_partials[block, row] (score_grad_partial.wgsl). With
// params.write_final (after recurrent_lse_backward_scan.wgsl, whose blocks each carry a share of b), also the b of
// the scan's total: grad_first[sequence]'s header .y = the sum of the blocks' shares that follow the ds shares.
// One invocation per row; rows run over x then y (x spans params.chunks workgroups of 64).
// Composed with: scan_params (batch, count; chunks = workgroups along x; tiles_per_chunk = channel blocks),
// state_layout.

var<storage, read> ds_partials: array<f32>;
var<storage, read_write> grad_scores: array<f32>;
var<storage, read_write> grad_first: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let rows = params.batch * params.count;
  let row = id.y * params.chunks * 64u + id.x;
  if (row >= rows) {
    return;
  }
  var total = 0.0;
  for (var k = 0u; k < params.tiles_per_chunk; k++) {
    total += ds_partials[k * rows + row];
  }
  grad_scores[row] = total;
  if (params.write_final != 0u && row < params.batch) {
    var b_total = 0.0;
    for (var k = 0u; k < params.tiles_per_chunk; k++) {
      b_total += ds_partials[params.tiles_per_chunk * rows + k * params.batch + row];
    }
    grad_first[row * state_stride(params.head_dim)].y = b_total;
  }
}
