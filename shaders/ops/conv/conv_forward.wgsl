// Causal depthwise convolution with a residual, forward:
//   result[b, t, d] = x[b, t, d] + (c[d, 0] x[b, t, d] + c[d, 1] x[b, t-1, d]) + (c[d, 2] x[b, t-2, d] + c[d, 3] x[b, t-3, d])
// with x before t = 0 from the history (conv_input). One invocation per (sequence b, run of chunk_rows time steps,
// channel d) walks its run forward carrying x at t-1..t-3 in registers (one load and one store per output, no
// division per element; on SwiftShader, 16 x 1024 x 64: ~33 ms, where an invocation per output took 110-350 ms,
// its index arithmetic and per-workgroup overhead dominating). Neighbouring invocations are neighbouring channels:
// coalesced on GPUs.
// Every output is the same expression of the same values whatever the run or block it falls in, so a sequence
// fed block by block (carrying the history) gives the bits of one pass.
// Error: 4 products and 4 additions, |result - exact| <= gamma_5 (|x| + sum_j |c_j x_{t-j}|) (Higham 3.1; an FMA
// contraction only removes roundings). Zero weights give result = x exactly. Composed after conv_params, conv_input.
// Needs `const WORKGROUP_SIZE`. Grid-stride over batch * ceil(length / chunk_rows) * d_model.

var<storage, read> weight: array<vec4<f32>>;
var<storage, read_write> result: array<f32>;

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
    var window = conv_window(b, i32(first), d);
    for (var t = first; t < end; t++) {
      let i = (b * params.length + t) * n + d;
      let x0 = x[i];
      result[i] = x0 + ((c.x * x0 + c.y * window.x) + (c.z * window.y + c.w * window.z));
      window = vec3<f32>(x0, window.x, window.y);
    }
  }
}
