// Before the backward scan: the gradient arriving through the final state, folded into the last position, as the
// scan's starting carry (scan order starts at the last position): with (gm, gu, gw) = grad_final_state[b] and
// u_N the forward's last u, carry = (l 0, a u_N gw, b -u_N gu). Zero when no gradient is given (the identity).
// Composed with: lse_backward (stats), state_layout, grad_end_params.

var<storage, read> grad_final_state: array<vec4<f32>>;
var<storage, read_write> grad_carry: array<vec4<f32>>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let b = id.x;
  if (b >= params.batch) {
    return;
  }
  let base = b * state_stride(params.head_dim);
  var scale = 0.0;
  if (params.has_grad_final != 0u && params.count > 0u) {
    scale = stats[b * params.count + params.count - 1u].y; // u_N (0 when every token is masked: nothing to pass)
  }
  var gu = 0.0;
  if (params.has_grad_final != 0u) {
    gu = grad_final_state[base].y;
  }
  grad_carry[base] = vec4<f32>(0.0, -scale * gu, 0.0, 0.0);
  for (var q = 0u; q < w_vec4s(params.head_dim); q++) {
    var gw = vec4<f32>();
    if (params.has_grad_final != 0u) {
      gw = grad_final_state[base + 1u + q];
    }
    grad_carry[base + 1u + q] = scale * gw;
  }
}
