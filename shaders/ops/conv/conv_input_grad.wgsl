// Causal depthwise convolution, input gradient (the forward's transpose, plus the residual's identity):
//   result[b, t, d] = [result +] grad[b, t, d] + (c[d, 0] g[t] + c[d, 1] g[t+1]) + (c[d, 2] g[t+2] + c[d, 3] g[t+3])
// with g[t + j] = grad[b, t + j, d] for t + j < length, else 0 (the history's gradient is not formed).
// One invocation per element, grid-stride over batch * length * d_model.
// Error: as the forward, |result - exact| <= gamma_5 (|g[t]| + sum_j |c_j g[t+j]|), plus u |result| with accumulate.
// Composed after conv_params. Needs `const WORKGROUP_SIZE`.

var<storage, read> grad: array<f32>;
var<storage, read> weight: array<vec4<f32>>;
var<storage, read_write> result: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = params.d_model;
  let count = params.batch * params.length * n;
  for (var e = id.x; e < count; e += groups.x * WORKGROUP_SIZE) {
    let d = e % n;
    let left = params.length - (e / n) % params.length; // rows from t to the sequence's end, >= 1
    let c = weight[d];
    let g0 = grad[e];
    var g1 = 0.0;
    var g2 = 0.0;
    var g3 = 0.0;
    if (left > 1u) {
      g1 = grad[e + n];
    }
    if (left > 2u) {
      g2 = grad[e + 2u * n];
    }
    if (left > 3u) {
      g3 = grad[e + 3u * n];
    }
    var s = g0 + ((c.x * g0 + c.y * g1) + (c.z * g2 + c.w * g3));
    if (params.accumulate != 0u) {
      s += result[e];
    }
    result[e] = s;
  }
}
