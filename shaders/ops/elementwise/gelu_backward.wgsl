// GELU backward, elementwise: result[i] = [result[i] +] grad[i] * GELU'(pre_activation[i]), with pre_activation
// the value the forward fed to GELU (matmul_output writes it when asked). Composed after gelu (gelu_grad).
// Needs `const WORKGROUP_SIZE`. Grid-stride over elements, so any count fits the dispatch limit.

struct GeluBackwardParams {
  count: u32,
  accumulate: u32,
}

var<uniform> params: GeluBackwardParams;
var<storage, read> grad: array<f32>;
var<storage, read> pre_activation: array<f32>;
var<storage, read_write> result: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  for (var i = id.x; i < params.count; i += groups.x * WORKGROUP_SIZE) {
    var y = grad[i] * gelu_grad(pre_activation[i]);
    if (params.accumulate != 0u) {
      y += result[i];
    }
    result[i] = y;
  }
}
