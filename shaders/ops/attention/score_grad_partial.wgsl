// ds with several channel blocks: each block's share goes to ds_partials[channel_block, row] (rows = batch * count),
// and sum_partials.wgsl adds them up into grad_scores.

var<storage, read_write> ds_partials: array<f32>;

fn store_score_grad(row: u32, channel_block: u32, share: f32) {
  ds_partials[channel_block * params.batch * params.count + row] = share;
}

// The recurrent backward (recurrent_lse_backward_scan.wgsl) carries b per channel block too: each block's share of
// b at the first position of sequence b goes after the shares of ds, at [blocks * rows + channel_block * batch + b]
// (blocks = ceil(head_dim / 16), that kernel's), and sum_partials.wgsl adds them into grad_first's header.
fn store_first_b_share(b: u32, channel_block: u32, share: f32) {
  let rows = params.batch * params.count;
  let blocks = (w_vec4s(params.head_dim) + 3u) / 4u;
  ds_partials[blocks * rows + channel_block * params.batch + b] = share;
}
