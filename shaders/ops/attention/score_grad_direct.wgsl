// ds with one channel block: the block's share is the whole of it. grad_scores: [batch, count].

var<storage, read_write> grad_scores: array<f32>;

fn store_score_grad(row: u32, channel_block: u32, share: f32) {
  grad_scores[row] = share;
}

// With one block, the scan's final state already holds the whole of b (see score_grad_partial.wgsl).
fn store_first_b_share(b: u32, channel_block: u32, share: f32) {
}
