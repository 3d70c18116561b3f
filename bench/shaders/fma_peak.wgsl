// The adapter's multiply-add ceiling, the denominator of model FLOP utilisation: each invocation runs `iterations`
// rounds of 8 independent vec4 multiply-adds held in registers (no memory traffic in the loop), written as
// `a * b + c` as the package's kernels write them (WGSL's fma() may be a slower exactly-rounded call on CPU
// adapters). The values stay bounded (acc * 0.999 + 0.001 -> 1), so no denormals or infinities slow it down.
// 2 * 4 * 8 FLOPs per round per invocation. The result is written so the loop cannot be removed.

struct FmaParams {
  iterations: u32,
}

var<uniform> params: FmaParams;
var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let seed = f32(id.x) * 1e-6;
  var a0 = vec4<f32>(seed, seed + 0.1, seed + 0.2, seed + 0.3);
  var a1 = a0 + 0.01; var a2 = a0 + 0.02; var a3 = a0 + 0.03;
  var a4 = a0 + 0.04; var a5 = a0 + 0.05; var a6 = a0 + 0.06; var a7 = a0 + 0.07;
  let m = vec4<f32>(0.999);
  let c = vec4<f32>(0.001);
  for (var i = 0u; i < params.iterations; i++) {
    a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
    a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
  }
  out[id.x] = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
}
