// Tree reduction of one state per invocation in workgroup memory. Needs `const WORKGROUP_SIZE` (a power of two)
// and the Elem operator.

var<workgroup> reduce_tile: array<Elem, WORKGROUP_SIZE>;

// The combination of every invocation's `own` state, returned to all of them. Every invocation of the workgroup
// must call it (it has barriers).
fn workgroup_reduce(t: u32, own: Elem) -> Elem {
  reduce_tile[t] = own;
  // Adjacent pairs at every level (t with t + stride), so the order of the states is kept: the operator need not
  // be commutative.
  for (var stride = 1u; stride < WORKGROUP_SIZE; stride *= 2u) {
    workgroupBarrier();
    if (t % (2u * stride) == 0u) {
      reduce_tile[t] = elem_combine(reduce_tile[t], reduce_tile[t + stride]);
    }
  }
  workgroupBarrier();
  return reduce_tile[0];
}
