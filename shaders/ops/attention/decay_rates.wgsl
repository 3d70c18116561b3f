// The recency decay rate of each sequence (lse_combine.wgsl says how it enters the operator), for the element
// sources, the recurrent kernels and the backward. decay_rates repeats every DECAY_PERIOD sequences: the op
// (prefixAttention) gives one rate per sequence (DECAY_PERIOD = 2^32 - 1), the Aaren layer one per head (its
// sequences are b * HEADS + h, DECAY_PERIOD = HEADS). Kernels without decay compose no_decay.wgsl instead.
// Needs `const DECAY_PERIOD` from the host.

var<storage, read> decay_rates: array<f32>;

const DECAY: bool = true;

fn sequence_decay(seq: u32) -> f32 {
  return decay_rates[seq % DECAY_PERIOD];
}
