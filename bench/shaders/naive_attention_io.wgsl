// The bindings both naive attention kernels share: the scan's inputs and outputs (scores [batch, length], values
// and outputs [batch, length, headDim] as vec4s) and the shape.

struct NaiveParams {
  length: u32,
  head_dim: u32,
}

var<storage, read> scores: array<f32>;
var<storage, read> values: array<vec4<f32>>;
var<storage, read_write> outputs: array<vec4<f32>>;
var<uniform> params: NaiveParams;
