// Recomputes the fused projections the inference scan reads (load_projected.wgsl) from the raw weights, on the GPU,
// after an optimizer changed them (AarenLayer.encodeRefresh):
//   key_query[h, j]       = scale * key[j, h-slice] . query[h]          (j < d_model)
//   key_query[h, d_model] = scale * key_bias[h-slice] . query[h]        (0 without a key bias)
//   value_proj[h, j, c]   = value[j, h * head_dim + c];  row d_model = value_bias (0 without)
// value_proj rows are v_stride floats (the head's channels zero-padded to whole channel blocks); the padding is
// never written here (it is zero from the upload and stays so). One invocation per (h, j), j in [0, d_model].
// Needs `const WORKGROUP_SIZE`. Grid-stride over heads * (d_model + 1).

struct FuseParams {
  d_model: u32,
  heads: u32,
  head_dim: u32,
  v_stride: u32,
  scale: f32,
  has_key_bias: u32,
  has_value_bias: u32,
}

var<uniform> params: FuseParams;
var<storage, read> query: array<f32>;
var<storage, read> key: array<f32>;
var<storage, read> value: array<f32>;
var<storage, read> key_bias: array<f32>;
var<storage, read> value_bias: array<f32>;
var<storage, read_write> key_query: array<f32>;
var<storage, read_write> value_proj: array<f32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn main(@builtin(global_invocation_id) id: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let rows = params.d_model + 1u;
  let width = params.heads * params.head_dim;
  for (var e = id.x; e < params.heads * rows; e += groups.x * WORKGROUP_SIZE) {
    let h = e / rows;
    let j = e % rows;
    let out = e * params.v_stride;
    var dot = 0.0;
    if (j < params.d_model) {
      let base = j * width + h * params.head_dim;
      for (var c = 0u; c < params.head_dim; c++) {
        dot += key[base + c] * query[h * params.head_dim + c];
        value_proj[out + c] = value[base + c];
      }
    } else {
      let base = h * params.head_dim;
      for (var c = 0u; c < params.head_dim; c++) {
        if (params.has_key_bias != 0u) {
          dot += key_bias[base + c] * query[base + c];
        }
        value_proj[out + c] = select(0.0, value_bias[base + c], params.has_value_bias != 0u);
      }
    }
    key_query[e] = params.scale * dot;
  }
}
