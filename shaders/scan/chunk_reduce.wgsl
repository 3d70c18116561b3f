// Reduction of one chunk of one sequence to a single state, for one block of channels: each invocation folds
// a contiguous share of the chunk, then a tree in workgroup memory folds the invocations. It is the first phase
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
  // Each invocation folds a contiguous run, in order, and workgroup_reduce folds the runs in order: the operator
  // need not be commutative (the backward's is not).
  let per = (chunk_length + WORKGROUP_SIZE - 1u) / WORKGROUP_SIZE;
  var acc = elem_identity();
  let run_end = min(start + (t + 1u) * per, end);
  for (var i = start + t * per; i < run_end; i++) {
    acc = elem_combine(acc, load_element(b, i, channel_block));
  }
  let total = workgroup_reduce(t, acc);
  if (t == 0u) {
    out_states_store(b * params.chunks + chunk, channel_block, total);
  }
}
