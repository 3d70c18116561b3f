// How states sit in a state buffer (array<vec4<f32>>), the layout of every state the kernels read or write:
// state `index` starts at vec4 `index * state_stride(head_dim)`, a header (m, u, 0, 0) followed by w in
// ceil(head_dim / 4) vec4s, zero-padded. Needs `params.head_dim` and `const LANES`.

fn state_stride(head_dim: u32) -> u32 {
  return 1u + w_vec4s(head_dim);
}

fn w_vec4s(head_dim: u32) -> u32 {
  return (head_dim + 3u) / 4u;
}
