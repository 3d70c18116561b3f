// The adapter's multiply-add ceiling, the denominator of model FLOP utilisation: each invocation runs `iterations`
// rounds of 16 independent vec4 multiply-adds held in registers (no memory traffic in the loop), written as
// `a * b + c` as the package's kernels write them. 16 chains: on SwiftShader (2 cores) 1, 2, 4, 8, 16, 32 and 64
// chains measured 2.7, 3.9, 4.2, 4.5-4.8, 4.9-5.3, 5.0 and 3.3 GFLOP/s (fewer leave the pipelines waiting on each
// chain's latency; more spill). The values stay bounded (acc * 0.999 + 0.001 -> 1): no denormals or infinities.
// 2 * 4 * 16 FLOPs per round per invocation. The sum is written so that the loop cannot be removed.

struct FmaParams {
  iterations: u32,
}

var<uniform> params: FmaParams;
var<storage, read_write> out: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let a = vec4<f32>(f32(id.x) * 1e-6) + vec4<f32>(0.0, 0.1, 0.2, 0.3);
  var a0 = a + 0.00;
  var a1 = a + 0.01;
  var a2 = a + 0.02;
  var a3 = a + 0.03;
  var a4 = a + 0.04;
  var a5 = a + 0.05;
  var a6 = a + 0.06;
  var a7 = a + 0.07;
  var a8 = a + 0.08;
  var a9 = a + 0.09;
  var a10 = a + 0.10;
  var a11 = a + 0.11;
  var a12 = a + 0.12;
  var a13 = a + 0.13;
  var a14 = a + 0.14;
  var a15 = a + 0.15;
  let m = vec4<f32>(0.999);
  let c = vec4<f32>(0.001);
  for (var i = 0u; i < params.iterations; i++) {
    a0 = a0 * m + c; a1 = a1 * m + c; a2 = a2 * m + c; a3 = a3 * m + c;
    a4 = a4 * m + c; a5 = a5 * m + c; a6 = a6 * m + c; a7 = a7 * m + c;
    a8 = a8 * m + c; a9 = a9 * m + c; a10 = a10 * m + c; a11 = a11 * m + c;
    a12 = a12 * m + c; a13 = a13 * m + c; a14 = a14 * m + c; a15 = a15 * m + c;
  }
  out[id.x] = ((a0 + a1) + (a2 + a3)) + ((a4 + a5) + (a6 + a7)) + ((a8 + a9) + (a10 + a11)) + ((a12 + a13) + (a14 + a15));
}
