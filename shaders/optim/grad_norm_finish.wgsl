// Second pass of the total gradient norm: one workgroup merges every partial of every gradient, in a fixed order
// (invocation t takes partials t, t + WORKGROUP_SIZE, ..., then a tree over the invocations), and writes the
// step's status word for the AdamW update and for the host:
//   status[0] = the total 2-norm of all gradients (NaN if one is NaN, +Infinity if one is infinite)
//   status[1] = 1 when every gradient element is finite (the update may run), else 0
//   status[2] = the factor every gradient is multiplied by: torch's clamp(max_norm / (norm + 1e-6), max=1)
//               with clipping, exactly 1 without
//   status[3] = 0 (reserved)
// Composed after grad_norm_combine. Needs `const WORKGROUP_SIZE` (a power of two). Dispatch: (1, 1, 1).

struct GradNormFinishParams {
  partial_count: u32,
  clip: u32,
  max_norm: f32,
}

var<uniform> params: GradNormFinishParams;
var<storage, read> partials: array<vec4<f32>>;
var<storage, read_write> status: array<f32>;

var<workgroup> shared_parts: array<vec4<f32>, WORKGROUP_SIZE>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(local_invocation_index) t: u32) {
  var part = norm_empty();
  for (var i = t; i < params.partial_count; i += WORKGROUP_SIZE) {
    part = norm_combine(part, norm_unpack(partials[i]));
  }
  shared_parts[t] = norm_pack(part);
  workgroupBarrier();
  for (var half = WORKGROUP_SIZE / 2u; half > 0u; half /= 2u) {
    if (t < half) {
      shared_parts[t] = norm_pack(norm_combine(norm_unpack(shared_parts[t]), norm_unpack(shared_parts[t + half])));
    }
    workgroupBarrier();
  }
  if (t == 0u) {
    let total = norm_unpack(shared_parts[0]);
    // A runtime NaN or infinity from bits (a constant one would be a shader-creation error).
    let special = bitcast<f32>(0x7f800000u | select(0u, 0x00400000u, (total.flags & 2u) != 0u));
    let finite = total.flags == 0u;
    let norm = select(special, total.scale * sqrt(total.ssq), finite);
    var scale = 1.0;
    if (params.clip != 0u) {
      scale = min(params.max_norm / (norm + 1e-6), 1.0);
    }
    status[0] = norm;
    status[1] = select(0.0, 1.0, finite);
    status[2] = scale;
    status[3] = 0.0;
  }
}
