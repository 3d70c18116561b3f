// The forward's (m_i, u_i) per position (written by store_stats.wgsl), read by the backward: its
// pre-pass (grad_terms.wgsl) and its two ends (grad_carry, grad_finish).

var<storage, read> stats: array<vec2<f32>>;
