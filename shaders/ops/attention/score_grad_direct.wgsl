// ds with one channel block: the block's share is the whole of it. grad_scores: [batch, count].

var<storage, read_write> grad_scores: array<f32>;

fn store_score_grad(row: u32, channel_block: u32, share: f32) {
  grad_scores[row] = share;
}
