// Causal depthwise convolution, input gradient (the forward's transpose, plus the residual's identity):
//   result[b, t, d] = [result +] g[t] + (c[d, 0] g[t] + c[d, 1] g[t+1]) + (c[d, 2] g[t+2] + c[d, 3] g[t+3])
// with g[t + j] = grad[b, t + j, d] for t + j < length, else 0 (the history's gradient is not formed).
// One invocation per (sequence b, run of chunk_rows time steps, channel d) walks its run backward carrying
// g[t+1..t+3] in registers, as conv_forward walks forward. Error: as the forward,
// |result - exact| <= gamma_5 (|g[t]| + sum_j |c_j g[t+j]|), plus u |result| with accumulate.
// Composed after conv_params. Needs `const WORKGROUP_SIZE` and `const CONV_ACCUMULATE` (1: result +=; a constant,
// not the uniform's accumulate: on SwiftShader a branch on a uniform in the loop costs like the loop's arithmetic).
// Grid-stride over batch * ceil(length / chunk_rows) * d_model.

var<storage, read> grad: array<f32>;
var<storage, read> weight: array<vec4<f32>>;
var<storage, read_write> result: array<f32>;

fn grad_at(b: u32, t: u32, d: u32) -> f32 {
  if (t >= params.length) {
    return 0.0;
  }
  return grad[(b * params.length + t) * params.d_model + d];
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = params.d_model;
  let runs = (params.length + params.chunk_rows - 1u) / params.chunk_rows;
  for (var e = id.x; e < params.batch * runs * n; e += groups.x * WORKGROUP_SIZE) {
    let d = e % n;
    let b = e / n / runs;
    let first = (e / n % runs) * params.chunk_rows;
    let end = min(first + params.chunk_rows, params.length);
    let c = weight[d];
    var window = vec3<f32>(grad_at(b, end, d), grad_at(b, end + 1u, d), grad_at(b, end + 2u, d)); // g[t+1..t+3] at t = end - 1
    for (var t = end; t > first; t--) {
      let i = (b * params.length + t - 1u) * n + d;
      let g0 = grad[i];
      var s = g0 + ((c.x * g0 + c.y * window.x) + (c.z * window.y + c.w * window.z));
      if (CONV_ACCUMULATE != 0u) {
        s += result[i];
      }
      result[i] = s;
      window = vec3<f32>(g0, window.x, window.y);
    }
  }
}
