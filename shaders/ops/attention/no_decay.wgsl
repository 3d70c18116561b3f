// No recency decay: the plain log-sum-exp operator (decay_rates.wgsl is the other choice).

const DECAY: bool = false;

fn sequence_decay(seq: u32) -> f32 {
  return 0.0;
}
