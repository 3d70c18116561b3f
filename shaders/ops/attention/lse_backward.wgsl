// The operator of the backward of the log-sum-exp scan (see src/reference/scan-backward.ts for the math): one
// reverse scan over c_i = (a_i, b_i) = x_i + lambda_i c_{i+1}, x_i = (g_i, D_i), lambda_i = e^{l_i} in [0, 1].
//
// The scan runs in REVERSED order (element j of the scan is position N-1-j: the element source and sink map the
// index), so A, earlier in scan order, is a LATER position than B, and
//   (lA, aA, bA) (.) (lB, aB, bB) = (lA + lB, aB + e^{lB} aA, bB + e^{lB} bA),   identity (0, 0, 0).
// Associative: both bracketings of A, B, C give (lA + lB + lC, xC + e^{lC} xB + e^{lB + lC} xA). Every l <= 0, so
// every factor e^{l} <= 1: nothing overflows. A position that passes nothing on (u_i = 0, no unmasked token yet)
// has l = NO_PASS; sums are clamped there so that adding two of them stays finite.
//
// A kernel holds the slice of a that its workgroup owns: LANES vec4s (const LANES from the host).

const NO_PASS: f32 = -1.0e38;

struct GradElem {
  l: f32,
  b: f32,
  a: array<vec4<f32>, LANES>,
}

alias Elem = GradElem;

fn elem_identity() -> Elem {
  var e: Elem; // all zero: l = 0 (factor 1), a = 0, b = 0
  return e;
}

fn elem_combine(x: Elem, y: Elem) -> Elem {
  let scale = exp(y.l);
  var r: Elem;
  r.l = max(x.l + y.l, NO_PASS);
  r.b = y.b + scale * x.b;
  for (var k = 0u; k < LANES; k++) {
    r.a[k] = y.a[k] + scale * x.a[k];
  }
  return r;
}

// In an element buffer (state_layout.wgsl): header (l, b, 0, 0), then a.
fn elem_header(e: Elem) -> vec4<f32> {
  return vec4<f32>(e.l, e.b, 0.0, 0.0);
}

fn elem_from_header(h: vec4<f32>) -> Elem {
  var e = elem_identity();
  e.l = max(h.x, NO_PASS);
  e.b = h.y;
  return e;
}

fn elem_lane(e: Elem, k: u32) -> vec4<f32> {
  return e.a[k];
}

fn elem_set_lane(e: ptr<function, Elem>, k: u32, v: vec4<f32>) {
  (*e).a[k] = v;
}

// Scan element j is position N-1-j.
fn position_of(j: u32) -> u32 {
  return params.count - 1u - j;
}

// A masked token: score -Infinity, tested on the bit pattern (no compiler assumption about infinities removes it).
fn is_masked_score(s: f32) -> bool {
  return bitcast<u32>(s) == 0xff800000u;
}
