// Tiled matrix product with a fused epilogue: result = [gelu](a @ weight [+ bias]) [+ residual].
// a [m, k] comes through load_a (composed: matmul_load_rows | matmul_load_cols | matmul_load_heads) and
// weight [k, n] through load_b (matmul_weight_rows | matmul_weight_cols); result [m, n] is row-major.
// Each workgroup computes a (MM_TILE * MM_WORK) x MM_TILE block of the result:
// MM_TILE x MM_TILE invocations, each MM_WORK rows of one column, with both operand tiles staged in workgroup
// memory so that each element of a and weight is read from global memory once per tile instead of once per product.
// This is the kernel for GPUs (workgroup memory is fast there); CPU adapters run matmul_blocked.wgsl.
// Composed with: matmul_params, one load_a source, one load_b source, gelu, matmul_output. Needs `const MM_TILE`, `const MM_WORK`.

var<workgroup> a_tile: array<array<f32, MM_TILE>, MM_ROWS>;
var<workgroup> b_tile: array<array<f32, MM_TILE>, MM_TILE>;

@compute @workgroup_size(MM_TILE, MM_TILE)
fn main(@builtin(workgroup_id) wg_id: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let col = wg_id.x * MM_TILE + lid.x;
  let row0 = wg_id.y * MM_ROWS;
  var acc: array<f32, MM_WORK>;
  for (var k0 = 0u; k0 < params.k; k0 += MM_TILE) {
    let ka = k0 + lid.x;
    for (var r = 0u; r < MM_WORK; r++) {
      let tr = r * MM_TILE + lid.y;
      let row = row0 + tr;
      var value = 0.0;
      if (row < params.m && ka < params.k) {
        value = load_a(row, ka);
      }
      a_tile[tr][lid.x] = value;
    }
    let kb = k0 + lid.y;
    var wv = 0.0;
    if (kb < params.k && col < params.n) {
      wv = load_b(kb, col);
    }
    b_tile[lid.y][lid.x] = wv;
    workgroupBarrier();
    for (var kk = 0u; kk < MM_TILE; kk++) {
      let bk = b_tile[kk][lid.x];
      for (var r = 0u; r < MM_WORK; r++) {
        acc[r] += a_tile[r * MM_TILE + lid.y][kk] * bk;
      }
    }
    workgroupBarrier();
  }
  if (col >= params.n) {
    return;
  }
  for (var r = 0u; r < MM_WORK; r++) {
    let row = row0 + r * MM_TILE + lid.y;
    if (row < params.m) {
      store_result(row, col, acc[r]);
    }
  }
}
