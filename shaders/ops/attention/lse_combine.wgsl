// The log-sum-exp scan operator of attention as an RNN (Feng et al. 2024).
//
// A state (m, u, w) summarises a run of tokens: m is the largest score, u = sum exp(s_i - m) and
// w = sum exp(s_i - m) v_i (a vector of headDim floats). The attention output of the run is w / u.
// Two adjacent runs merge with
//   (mA, uA, wA) (+) (mB, uB, wB) = (m, uA*exp(mA-m) + uB*exp(mB-m), wA*exp(mA-m) + wB*exp(mB-m)), m = max(mA, mB)
// which is associative (and commutative), with identity (-inf, 0, 0).
//
// A kernel holds the slice of w that its workgroup owns: LANES vec4s, i.e. channels
// [channel_block * 4 * LANES, (channel_block + 1) * 4 * LANES). The host prepends `const LANES: u32`.

// Stands in for -inf on the GPU. WGSL lets implementations assume infinities never occur, and
// exp(-inf - -inf) would be NaN anyway, so an empty state uses the lowest finite f32 instead.
// Emptiness is carried by u == 0, never by m, so a real score equal to this value is still counted.
const MASKED_SCORE: f32 = -3.4028234663852886e38;

struct Lse {
  m: f32,
  u: f32,
  w: array<vec4<f32>, LANES>,
}

fn lse_identity() -> Lse {
  var s: Lse; // zero-initialised w
  s.m = MASKED_SCORE;
  s.u = 0.0;
  return s;
}

// -Infinity (a masked token, or an empty state written by another library) becomes MASKED_SCORE;
// the test is on the bit pattern so that no compiler assumption about infinities can remove it.
fn is_negative_infinity(x: f32) -> bool {
  return bitcast<u32>(x) == 0xff800000u;
}

fn finite_max(x: f32) -> f32 {
  return select(x, MASKED_SCORE, is_negative_infinity(x));
}

fn lse_combine(a: Lse, b: Lse) -> Lse {
  // The state with the larger m keeps scale 1 and the other gets exp(-|mA - mB|): one exp per combine, an
  // exponent <= 0 (nothing overflows), and finite m on both sides (nothing is NaN).
  let a_leads = a.m >= b.m;
  let m = select(b.m, a.m, a_leads);
  let decay = exp(-abs(a.m - b.m));
  let scale_a = select(decay, 1.0, a_leads);
  let scale_b = select(1.0, decay, a_leads);
  var r: Lse;
  r.m = m;
  r.u = a.u * scale_a + b.u * scale_b;
  for (var l = 0u; l < LANES; l++) {
    r.w[l] = a.w[l] * scale_a + b.w[l] * scale_b;
  }
  return r;
}

// The state as stored in a state buffer (see state_layout.wgsl): header vec4 (m, u, 0, 0).
fn lse_header(s: Lse) -> vec4<f32> {
  return vec4<f32>(s.m, s.u, 0.0, 0.0);
}

// The operator interface of the generic scan skeleton (shaders/scan/): the element type, its identity, the
// combine (a before b), and how an element sits in an element buffer (state_layout.wgsl): header + vector lanes.
alias Elem = Lse;

fn elem_identity() -> Elem {
  return lse_identity();
}

fn elem_combine(a: Elem, b: Elem) -> Elem {
  return lse_combine(a, b);
}

fn elem_header(s: Elem) -> vec4<f32> {
  return lse_header(s);
}

// The header of a stored state; -Infinity in m (an empty state written elsewhere) becomes MASKED_SCORE.
fn elem_from_header(h: vec4<f32>) -> Elem {
  var s = lse_identity();
  s.m = finite_max(h.x);
  s.u = h.y;
  return s;
}

fn elem_lane(s: Elem, l: u32) -> vec4<f32> {
  return s.w[l];
}

fn elem_set_lane(s: ptr<function, Elem>, l: u32, v: vec4<f32>) {
  (*s).w[l] = v;
}
