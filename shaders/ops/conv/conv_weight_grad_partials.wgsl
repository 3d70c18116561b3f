// Causal depthwise convolution, weight gradient, first pass: per chunk k of the flattened rows r = b * length + t
// (chunk_rows rows each) and channel d,
//   partial[k, d] = [partial[k, d] +] sum_{r in k} grad[r, d] * (x[b, t, d], x[b, t-1, d], x[b, t-2, d], x[b, t-3, d])
// (a vec4: the four taps), inputs before t = 0 from the history (conv_input). One invocation per (chunk, channel)
// sums its rows in increasing order, carrying x at t-1..t-3 in registers: no atomics, the bits are fixed by the
// shape. partial is [chunks, d_model] vec4 = [chunks, 4 d_model] f32; column_sum.wgsl then adds the chunks in
// order (one chunk: this pass writes dc itself, with accumulate). Error of the two passes together:
// |dc - exact| <= gamma_{chunk_rows + chunks} sum_{b,t} |grad x| (Higham 3.1, recursive sums of products).
// Composed after conv_params, conv_input. Needs `const WORKGROUP_SIZE`. Grid-stride over chunks * d_model.

var<storage, read> grad: array<f32>;
var<storage, read_write> partial: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let n = params.d_model;
  let rows = params.batch * params.length;
  let chunks = (rows + params.chunk_rows - 1u) / params.chunk_rows;
  for (var e = id.x; e < chunks * n; e += groups.x * WORKGROUP_SIZE) {
    let d = e % n;
    let first = (e / n) * params.chunk_rows;
    let end = min(first + params.chunk_rows, rows);
    var b = first / params.length;
    var t = first % params.length;
    var window = conv_window(b, i32(t), d);
    var acc = vec4<f32>(0.0);
    for (var r = first; r < end; r++) {
      let x0 = x[r * n + d];
      acc += grad[r * n + d] * vec4<f32>(x0, window);
      window = vec3<f32>(x0, window.x, window.y);
      t++;
      if (t == params.length && r + 1u < end) {
        t = 0u;
        b++;
        window = conv_window(b, 0, d);
      }
    }
    if (params.accumulate != 0u) {
      acc += partial[e];
    }
    partial[e] = acc;
  }
}
