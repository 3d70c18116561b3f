// Reduction of one chunk of one sequence to a single state, for one channel_block of channels: each invocation folds
// a strided share of the chunk, then a tree in workgroup memory folds the invocations. It is the first phase
// of reduce-then-scan (chunk totals for the level above) and all of a many-to-one pass.
//
// Composed with: lse_combine, state_layout, scan_params, state_store(out_states), store_states and one element
// source (load_tokens | load_states).

var<workgroup> reduce_tile: array<Lse, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let chunk = wg_id.x;
  let channel_block = wg_id.y;
  let b = wg_id.z;

  let chunk_length = params.tiles_per_chunk * TILE;
  let start = chunk * chunk_length;
  let end = min(start + chunk_length, params.count);
  var acc = lse_identity();
  for (var i = start + t; i < end; i += WORKGROUP_SIZE) {
    acc = lse_combine(acc, load_element(b, i, channel_block));
  }
  reduce_tile[t] = acc;
  for (var width = WORKGROUP_SIZE / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (t < width) {
      reduce_tile[t] = lse_combine(reduce_tile[t], reduce_tile[t + width]);
    }
  }
  if (t == 0u) {
    out_states_store(b * params.chunks + chunk, channel_block, reduce_tile[0]);
  }
}
