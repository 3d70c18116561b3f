// Prefix scan of one chunk of one sequence, for one block of channels. The workgroup walks the chunk's tiles
// in order: a Blelloch scan inside each tile, and the running carry (everything before the tile) kept in the
// workgroup, so each element is read and written once. With one chunk per sequence this is the whole scan;
// with several, each chunk starts from the carry that the scan of chunk totals (one level up) left for it.
// No workgroup waits on another, so it terminates without forward-progress guarantees.
//
// Composed with: an operator (the Elem interface, e.g. ops/attention/lse_combine), state_layout, scan_params, workgroup_scan, state_load(carry_in),
// state_store(final_state), one element source (load_tokens | load_states) and one sink (store_outputs | store_states).

var<storage, read> carry_in: array<vec4<f32>>;
var<storage, read_write> final_state: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE) // WORKGROUP_SIZE = TILE / 2, from the host
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let chunk = wg_id.x;
  let channel_block = wg_id.y;
  let b = wg_id.z;

  var carry = elem_identity();
  if (params.has_carry != 0u) {
    carry = carry_in_load(b * params.chunks + chunk, channel_block);
  }
  let tiles = (params.count + TILE - 1u) / TILE;
  let first_tile = chunk * params.tiles_per_chunk;
  let end_tile = min(first_tile + params.tiles_per_chunk, tiles);
  for (var tile = first_tile; tile < end_tile; tile++) {
    let i0 = tile * TILE + t;
    let i1 = i0 + WORKGROUP_SIZE;
    let e0 = load_element(b, i0, channel_block);
    let e1 = load_element(b, i1, channel_block);
    scan_tile[t] = e0;
    scan_tile[t + WORKGROUP_SIZE] = e1;
    let total = workgroup_exclusive_scan(t);
    let before0 = elem_combine(carry, scan_tile[t]);
    let before1 = elem_combine(carry, scan_tile[t + WORKGROUP_SIZE]);
    store_prefix(b, i0, channel_block, before0, elem_combine(before0, e0));
    store_prefix(b, i1, channel_block, before1, elem_combine(before1, e1));
    carry = elem_combine(carry, total);
    workgroupBarrier(); // the next tile overwrites scan_tile
  }
  if (params.write_final != 0u && chunk + 1u == params.chunks && t == 0u) {
    final_state_store(b, channel_block, carry);
  }
}
