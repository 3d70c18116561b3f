// The element type of the kernels that take either (LayerNorm forward and backward, column sums, AdamW): one float.
// Any width. The kernels index rows in Packed elements (width / PACK of them) and sum an element with pack_sum.
// The other choice is pack_vec4.wgsl.

alias Packed = f32;
const PACK = 1u;

fn pack_sum(v: Packed) -> f32 {
  return v;
}

// The element as a vec4: the float, then zeros.
fn pack_widen(v: Packed) -> vec4<f32> {
  return vec4<f32>(v, 0.0, 0.0, 0.0);
}
