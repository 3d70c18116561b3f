// How scan elements sit in an element buffer (array<vec4<f32>>), the layout of every state, chunk total and carry
// the skeleton reads or writes: element `index` starts at vec4 `index * state_stride(head_dim)`, a header vec4 of
// the operator's scalars (elem_header) followed by its vector part in ceil(head_dim / 4) vec4s, zero-padded.
// For the forward operator the header is (m, u, 0, 0) and the vector is w. Needs `params.head_dim`, `const LANES`.

fn state_stride(head_dim: u32) -> u32 {
  return 1u + w_vec4s(head_dim);
}

fn w_vec4s(head_dim: u32) -> u32 {
  return (head_dim + 3u) / 4u;
}
