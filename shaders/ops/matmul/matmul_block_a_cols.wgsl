// load_a_block for matmul_blocked: a is given transposed, [k, m] row-major with m a multiple of 4 (X^T dY), read
// as vec4 along m (four rows of the block per load) and transposed in registers. Rows past m repeat the last
// four; k past the end reads as 0.
var<storage, read> a: array<vec4<f32>>;

fn load_a_block(row0: u32, k0: u32) {
  let m4 = params.m / 4u;
  let last = params.k - 1u;
  var t: array<vec4<f32>, 4>;
  for (var g = 0u; g < MM_BM / 4u; g++) {
    let r4 = min(row0 / 4u + g, m4 - 1u);
    for (var kk = 0u; kk < 4u; kk++) {
      t[kk] = select(vec4<f32>(0.0), a[min(k0 + kk, last) * m4 + r4], k0 + kk <= last);
    }
    a_reg[4u * g] = vec4<f32>(t[0].x, t[1].x, t[2].x, t[3].x);
    a_reg[4u * g + 1u] = vec4<f32>(t[0].y, t[1].y, t[2].y, t[3].y);
    a_reg[4u * g + 2u] = vec4<f32>(t[0].z, t[1].z, t[2].z, t[3].z);
    a_reg[4u * g + 3u] = vec4<f32>(t[0].w, t[1].w, t[2].w, t[3].w);
  }
}
