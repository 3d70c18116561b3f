// The element type of the kernels that walk rows or slices (packFor in src/ops/elementwise.ts lists them): one
// float, any length. The kernels index rows in Packed elements (length / PACK of them) and sum one with pack_sum.
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
