// First pass of the total gradient norm (clip_grad_norm_) and of the finiteness check: one invocation per slice
// of one gradient tensor, without barriers or atomics. Invocation i of this dispatch takes the Packed elements
// (pack_f32 or pack_vec4, composed first) i, i + stride, i + 2 stride, ... in increasing order, the floats of each
// in order (stride = invocations of the dispatch), and writes its
// NormPart to partials[first_partial + i]. Every parameter's dispatch owns its own range of partials, so the
// order of every addition is fixed by the shapes alone: the same gradients give the same bits.
// Composed after grad_norm_combine. Needs `const WORKGROUP_SIZE`. Dispatch: (groups, 1, 1).

struct GradNormParams {
  count: u32,
  first_partial: u32,
}

var<uniform> params: GradNormParams;
var<storage, read> grad: array<Packed>;
var<storage, read_write> partials: array<vec4<f32>>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let stride = groups.x * WORKGROUP_SIZE;
  var part = norm_empty();
  for (var i = id.x; i < params.count / PACK; i += stride) {
    let g = pack_widen(grad[i]); // with pack_f32, three zeros after the float: norm_add leaves the state as it is
    part = norm_add(norm_add(norm_add(norm_add(part, g.x), g.y), g.z), g.w);
  }
  partials[params.first_partial + id.x] = norm_pack(part);
}
