// The four vec4 lanes of a recurrent kernel's channel block as a mat4x4 (column l = vec4 4 block + l of the row),
// for recurrent_lse_scan.wgsl and recurrent_lse_backward_scan.wgsl. Not an array indexed in a loop: SwiftShader does
// not unroll loops, so such an array lives in memory (2.8x slower, measured). Lanes past the row (headDim not a
// multiple of 16) are clamped to its last vec4 rather than guarded (a guard per lane cost another 2x): they load,
// compute and store the same bits as that lane.
// Composed with: state_layout, values_* (load_value4), outputs_* (store_output4).

// The vec4 index of each lane of a channel block, past the row's last vec4 clamped to it.
fn block_lanes(channel_block: u32, vecs: u32) -> vec4<u32> {
  return min(vec4<u32>(4u * channel_block) + vec4<u32>(0u, 1u, 2u, 3u), vec4<u32>(vecs - 1u));
}

// 1 for the lanes within the row, 0 for the clamped copies (a sum over lanes counts each channel once).
fn block_own_lanes(channel_block: u32, vecs: u32) -> vec4<f32> {
  return select(vec4<f32>(0.0), vec4<f32>(1.0), vec4<u32>(4u * channel_block) + vec4<u32>(0u, 1u, 2u, 3u) < vec4<u32>(vecs));
}

// A state's vector part, as state_load.wgsl reads it (0 past the row), with the lanes past the row clamped too.
fn clamp_block(w: array<vec4<f32>, 4>, channel_block: u32, vecs: u32) -> mat4x4<f32> {
  let last = vecs - 1u - 4u * channel_block;
  return mat4x4<f32>(w[0], w[min(1u, last)], w[min(2u, last)], w[min(3u, last)]);
}

fn load_block(row: u32, lanes: vec4<u32>) -> mat4x4<f32> {
  return mat4x4<f32>(load_value4(row, lanes.x), load_value4(row, lanes.y), load_value4(row, lanes.z), load_value4(row, lanes.w));
}

fn store_block(row: u32, lanes: vec4<u32>, o: mat4x4<f32>) {
  store_output4(row, lanes.x, o[0]);
  store_output4(row, lanes.y, o[1]);
  store_output4(row, lanes.z, o[2]);
  store_output4(row, lanes.w, o[3]);
}
