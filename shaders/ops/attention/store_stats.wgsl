// Element sink for level 0 of a many-to-many forward scan that also keeps what the backward needs: the output row
// (through store_prefix_outputs, store_outputs.wgsl instantiated with store_prefix renamed) and, per position,
// stats[b, i] = (m_i, u_i), the forward state's scalars. m and u are kept apart, not L = m + log u: with scores of
// magnitude 1e4..1e30, m + log u rounds to m in f32 and the backward's pi_i = exp(s_i - m_i) / u_i and
// lambda_i = (u_i / u_{i+1}) exp(m_i - m_{i+1}) would lose u entirely; from (m, u) both stay exact.

var<storage, read_write> stats: array<vec2<f32>>;

fn store_prefix(b: u32, i: u32, channel_block: u32, exclusive: Lse, inclusive: Lse) {
  store_prefix_outputs(b, i, channel_block, exclusive, inclusive);
  if (i < params.count && channel_block == 0u) {
    stats[b * params.count + i] = vec2<f32>(inclusive.m, inclusive.u);
  }
}
