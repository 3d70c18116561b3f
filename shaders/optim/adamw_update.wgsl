// One AdamW step of one parameter tensor, in torch's order of operations (torch.optim.adamw / _single_tensor_adam,
// decoupled weight decay, amsgrad=False, maximize=False), every operation in f32 as torch does on f32 tensors:
//   g = grad * clip_scale                                  (clip_grad_norm_: grads.mul_(clip_coef_clamped))
//   p = p * (1 - lr wd)                                    (param.mul_(1 - lr * weight_decay); wd = 0 for 1-D)
//   m = lerp(m, g, 1 - b1)                                 (exp_avg.lerp_(grad, 1 - beta1), torch's CPU lerp)
//   v = v * b2 + ((1 - b2) * g) * g                        (exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2))
//   p = p + (-step_size * m) / (sqrt(v) / bc2_sqrt + eps)  (param.addcdiv_(exp_avg, denom, value=-step_size))
// with step_size = lr / (1 - b1^t) and bc2_sqrt = sqrt(1 - b2^t) computed on the host in float64 per step.
// Nothing is written when status[1] (grad_norm_finish) says a gradient is not finite: the refused step leaves
// parameters, m and v as they were. grad, param, exp_avg and exp_avg_sq are arrays of Packed (pack_f32 or pack_vec4,
// composed before this part): each float gets the same operations either way, so the same bits. Needs
// `const WORKGROUP_SIZE`. Grid-stride, so any count fits the dispatch limit.

struct AdamWParams {
  count: u32,
  decay: u32,
}

/** Written by the host before each step (AdamW.encodeStep). */
struct AdamWHyper {
  decay_factor: f32,
  lerp_weight: f32,
  beta2: f32,
  one_minus_beta2: f32,
  neg_step_size: f32,
  bias_correction2_sqrt: f32,
  eps: f32,
  pad: f32,
}

var<uniform> params: AdamWParams;
var<storage, read> hyper: AdamWHyper;
var<storage, read> status: array<f32>;
var<storage, read> grad: array<Packed>;
var<storage, read_write> param: array<Packed>;
var<storage, read_write> exp_avg: array<Packed>;
var<storage, read_write> exp_avg_sq: array<Packed>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  if (status[1] != 1.0) {
    return;
  }
  let clip_scale = status[2];
  let w = hyper.lerp_weight;
  for (var i = id.x; i < params.count / PACK; i += groups.x * WORKGROUP_SIZE) {
    let g = grad[i] * clip_scale;
    var p = param[i];
    if (params.decay != 0u) {
      p = p * hyper.decay_factor;
    }
    let m0 = exp_avg[i];
    // torch's lerp: self + w (end - self) for |w| < 0.5, else end - (end - self)(1 - w).
    let m = select(g - (g - m0) * (1.0 - w), m0 + w * (g - m0), abs(w) < 0.5);
    let v = exp_avg_sq[i] * hyper.beta2 + (hyper.one_minus_beta2 * g) * g;
    let denom = sqrt(v) / hyper.bias_correction2_sqrt + hyper.eps;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = p + (hyper.neg_step_size * m) / denom;
  }
}
