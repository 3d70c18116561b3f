// The element type of the kernels that walk rows or slices (packFor in src/ops/elementwise.ts lists them): four
// floats, for lengths that are multiples of 4 (the host picks). On CPU adapters a vec4 load costs about what a
// float load costs (SwiftShader: copying 32 MB as vec4s took 38 ms, as floats 120 ms), so these kernels run up to
// 4x fewer loads. pack_sum adds the four in pairs: a row sum of n floats is then still a float sum of n terms,
// within (n - 1) eps of exact to first order. The other choice is pack_f32.wgsl.

alias Packed = vec4<f32>;
const PACK = 4u;

fn pack_sum(v: Packed) -> f32 {
  return (v.x + v.y) + (v.z + v.w);
}

fn pack_widen(v: Packed) -> vec4<f32> {
  return v;
}
