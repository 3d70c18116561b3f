// Reduction of one chunk of one sequence to a single state, for one block of channels: each invocation folds
// a strided share of the chunk, then a tree in workgroup memory folds the invocations. It is the first phase
// of reduce-then-scan (chunk totals for the level above) and all of a many-to-one pass.
//
// Composed with: an operator (the Elem interface, e.g. ops/attention/lse_combine), state_layout, scan_params, workgroup_reduce, state_store(out_states), store_states
// and one element source (load_tokens | load_states).

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let chunk = wg_id.x;
  let channel_block = wg_id.y;
  let b = wg_id.z;

  let chunk_length = params.tiles_per_chunk * TILE;
  let start = chunk * chunk_length;
  let end = min(start + chunk_length, params.count);
  var acc = elem_identity();
  for (var i = start + t; i < end; i += WORKGROUP_SIZE) {
    acc = elem_combine(acc, load_element(b, i, channel_block));
  }
  let total = workgroup_reduce(t, acc);
  if (t == 0u) {
    out_states_store(b * params.chunks + chunk, channel_block, total);
  }
}
