// Parameters of one scan or reduce dispatch. Workgroup (x, y, z) = (chunk, channel channel_block, sequence).
struct ScanParams {
  batch: u32,           // independent sequences
  count: u32,           // elements per sequence at this level: tokens, or the chunk states of the level below
  head_dim: u32,
  tiles_per_chunk: u32, // tiles of TILE elements that one workgroup walks in order
  chunks: u32,          // chunks per sequence
  has_carry: u32,       // 1: start each chunk from carry_in[sequence * chunks + chunk]
  write_final: u32,     // 1: the last chunk writes the sequence's final state
}

var<uniform> params: ScanParams;
