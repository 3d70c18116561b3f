// ds with several channel blocks: each block's share goes to ds_partials[channel_block, row] (rows = batch * count),
// and sum_partials.wgsl adds them up into grad_scores.

var<storage, read_write> ds_partials: array<f32>;

fn store_score_grad(row: u32, channel_block: u32, share: f32) {
  ds_partials[channel_block * params.batch * params.count + row] = share;
}
