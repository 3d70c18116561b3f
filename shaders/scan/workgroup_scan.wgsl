// Work-efficient exclusive scan of one tile of TILE states in workgroup memory (Blelloch 1990), run by
// TILE / 2 invocations. Needs `const TILE: u32` (a power of two) and the Elem operator.

var<workgroup> scan_tile: array<Elem, TILE>;

// Replaces scan_tile[i] by the combination of scan_tile[0..i) and returns the tile's total.
// Every invocation of the workgroup must call it (it has barriers).
fn workgroup_exclusive_scan(t: u32) -> Elem {
  // Up-sweep: a balanced tree of partial reductions; node bi ends up holding the sum of its subtree.
  var offset = 1u;
  for (var width = TILE / 2u; width > 0u; width /= 2u) {
    workgroupBarrier();
    if (t < width) {
      let ai = offset * (2u * t + 1u) - 1u;
      let bi = ai + offset;
      scan_tile[bi] = elem_combine(scan_tile[ai], scan_tile[bi]);
    }
    offset *= 2u;
  }
  workgroupBarrier();
  let total = scan_tile[TILE - 1u];
  workgroupBarrier();
  if (t == 0u) {
    scan_tile[TILE - 1u] = elem_identity();
  }
  // Down-sweep: each node passes its prefix to its left child, and prefix (+) left subtree to its right child.
  for (var width = 1u; width < TILE; width *= 2u) {
    offset /= 2u;
    workgroupBarrier();
    if (t < width) {
      let ai = offset * (2u * t + 1u) - 1u;
      let bi = ai + offset;
      let left = scan_tile[ai];
      scan_tile[ai] = scan_tile[bi];
      scan_tile[bi] = elem_combine(scan_tile[bi], left);
    }
  }
  workgroupBarrier();
  return total;
}
