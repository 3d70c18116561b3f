// Roofline reference: copies `count` vec4s from src to dst, one vec4 per invocation. It moves exactly the bytes
// the scan moves (scores + values read, outputs written), so scan time / copy time is the scan's distance from
// this adapter's memory roofline. Dispatch: (min(groups, 65535), ceil(groups / 65535)) workgroups of WORKGROUP_SIZE.

struct CopyParams {
  count: u32,
  groups_x: u32,
}

var<storage, read> src: array<vec4<f32>>;
var<storage, read_write> dst: array<vec4<f32>>;
var<uniform> params: CopyParams;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) t: u32) {
  let i = (wg.y * params.groups_x + wg.x) * WORKGROUP_SIZE + t;
  if (i < params.count) {
    dst[i] = src[i];
  }
}
