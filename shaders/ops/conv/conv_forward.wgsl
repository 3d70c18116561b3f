// Causal depthwise convolution with a residual, forward:
//   result[b, t, d] = x[b, t, d] + (c[d, 0] x[b, t, d] + c[d, 1] x[b, t-1, d]) + (c[d, 2] x[b, t-2, d] + c[d, 3] x[b, t-3, d])
// with x before t = 0 from the history (conv_input). One invocation per output element, grid-stride over
// batch * length * d_model. Every output is formed by the same expression from the same values whatever the
// block it falls in, so a sequence fed block by block (carrying the history) gives the bits of one pass.
// Error: 4 products and 4 additions, |result - exact| <= gamma_5 (|x| + sum_j |c_j x_{t-j}|) (Higham 3.1; an FMA
// contraction only removes roundings). Zero weights give result = x exactly. Composed after conv_params, conv_input.
// Needs `const WORKGROUP_SIZE`.

var<storage, read> weight: array<vec4<f32>>;
var<storage, read_write> result: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let count = params.batch * params.length * params.d_model;
  for (var e = id.x; e < count; e += groups.x * WORKGROUP_SIZE) {
    let d = e % params.d_model;
    let row = e / params.d_model;
    let b = row / params.length;
    let t = i32(row % params.length);
    let c = weight[d];
    let x0 = x[e];
    let taps = (c.x * x0 + c.y * conv_input(b, t - 1, d)) + (c.z * conv_input(b, t - 2, d) + c.w * conv_input(b, t - 3, d));
    result[e] = x0 + taps;
  }
}
