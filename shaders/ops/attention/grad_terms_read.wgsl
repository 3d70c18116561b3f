// The per-position scalars (l_i, D_i, pi_i, passes) that grad_terms.wgsl writes, read by the backward scan's element
// source (load_grad.wgsl) and sink (store_grads.wgsl, which always accompanies it).

var<storage, read> grad_terms: array<vec4<f32>>;
