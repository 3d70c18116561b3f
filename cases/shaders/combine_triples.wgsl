// Test kernel: applies the package's lse_combine to triples of states, to check associativity and identity
// on the GPU's own arithmetic. Composed after lse_combine.wgsl with LANES = 1.
// Each input state is 6 floats (m, u, w0..w3); each output is 3 states: (a+b)+c, a+(b+c), a+identity.

var<storage, read> triples: array<f32>;
var<storage, read_write> results: array<f32>;

fn load(i: u32) -> Lse {
  var s = lse_identity();
  s.m = finite_max(triples[i * 6u]);
  s.u = triples[i * 6u + 1u];
  s.w[0] = vec4<f32>(triples[i * 6u + 2u], triples[i * 6u + 3u], triples[i * 6u + 4u], triples[i * 6u + 5u]);
  return s;
}

fn store(i: u32, s: Lse) {
  results[i * 6u] = s.m;
  results[i * 6u + 1u] = s.u;
  for (var k = 0u; k < 4u; k++) {
    results[i * 6u + 2u + k] = s.w[0][k];
  }
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let n = arrayLength(&triples) / 18u;
  let t = id.x;
  if (t >= n) {
    return;
  }
  let a = load(3u * t);
  let b = load(3u * t + 1u);
  let c = load(3u * t + 2u);
  store(3u * t, lse_combine(lse_combine(a, b), c));
  store(3u * t + 1u, lse_combine(a, lse_combine(b, c)));
  store(3u * t + 2u, lse_combine(a, lse_identity()));
}
