// Parameters of the two ends of the backward scan (grad_carry.wgsl before it, grad_finish.wgsl after it).
// One invocation per sequence.
struct GradEndParams {
  batch: u32,
  count: u32,
  head_dim: u32,
  has_initial: u32,        // 1: initial_state is bound (the forward continued from it)
  has_grad_final: u32,     // 1: grad_final_state is bound
  write_grad_initial: u32, // 1: grad_initial_state is bound and receives dL/d(initial state)
}

var<uniform> params: GradEndParams;

// A state buffer's m that stands for -Infinity (the bit pattern, or the lowest f32 of lse_combine.wgsl).
fn is_empty_m(m: f32) -> bool {
  return bitcast<u32>(m) == 0xff800000u || m <= -3.4028234663852886e38;
}
