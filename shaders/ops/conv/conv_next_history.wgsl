// The history after a block: next_history[b, r, d] = the input at t = length - 3 + r (r = 0, 1, 2), i.e. the last
// three rows of (history ++ x) per sequence, taken from the old history when length < 3 (zeros without one).
// A copy, exact. next_history must not be the bound history (WebGPU refuses one buffer read and written by a
// dispatch; the host checks). Does nothing when write_history is 0 (no next_history bound: a stand-in is).
// Composed after conv_params, conv_input. Needs `const WORKGROUP_SIZE`. Grid-stride over batch * 3 * d_model.

var<storage, read_write> next_history: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  if (params.write_history == 0u) {
    return;
  }
  let count = params.batch * 3u * params.d_model;
  for (var e = id.x; e < count; e += groups.x * WORKGROUP_SIZE) {
    let d = e % params.d_model;
    let row = e / params.d_model;
    let b = row / 3u;
    let r = i32(row % 3u);
    next_history[e] = conv_input(b, i32(params.length) - 3 + r, d);
  }
}
