// The log-sum-exp scan operator of attention as an RNN (Feng et al. 2024).
//
// A state (m, u, w) summarises a run of tokens: m is the largest score, u = sum exp(s_i - m) and
// w = sum exp(s_i - m) v_i (a vector of headDim floats). The attention output of the run is w / u.
// Two adjacent runs merge with
//   (mA, uA, wA) (+) (mB, uB, wB) = (m, uA*exp(mA-m) + uB*exp(mB-m), wA*exp(mA-m) + wB*exp(mB-m)), m = max(mA, mB)
// which is associative (and commutative), with identity (-inf, 0, 0).
//
// Recency decay (rate r >= 0 per sequence): token i weighs exp(s_i - r (k - i)) at output k. A state then also
// holds n, the tokens it covers, and is kept in the frame of its LAST token: m is the largest decayed score seen
// from there. Run A followed by run B of n_B tokens: A's scores are n_B tokens older at B's end, so A's maximum
// shifts by -r n_B before the merge,
//   A (+) B = (m, uA*exp(mA - r nB - m) + uB*exp(mB - m), ...),  m = max(mA - r nB, mB),  n = nA + nB.
// Still associative (the shifts add: r nC + r nB = r (nB + nC)), no longer commutative, and every exp stays <= 1.
// r = 0 is the plain operator bit for bit (mA - 0 * nB == mA). The rate rides in the element (all elements of a
// sequence carry the same one; the identity carries 0, hence the max), so the skeleton's kernels need nothing else.
// n is a float: exact to 2^24 tokens a state, past that the shift r n is off by at most 2^-24 relative.
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
  n: f32,    // tokens covered (the decay's clock)
  rate: f32, // the sequence's decay rate per token (0: no decay)
  w: array<vec4<f32>, LANES>,
}

fn lse_identity() -> Lse {
  var s: Lse; // zero-initialised w, n and rate
  s.m = MASKED_SCORE;
  s.u = 0.0;
  return s;
}

// A's maximum seen from the end of a following run of `later` tokens, clamped so that the masked score stays
// finite. A select, not max: max(NaN, x) may return x, which would turn a NaN score into a masked token.
fn lse_aged(m: f32, rate: f32, later: f32) -> f32 {
  let aged = m - rate * later;
  return select(aged, MASKED_SCORE, aged < MASKED_SCORE);
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
  let rate = max(a.rate, b.rate);
  let am = lse_aged(a.m, rate, b.n);
  let a_leads = am >= b.m;
  let m = select(b.m, am, a_leads);
  let factor = exp(-abs(am - b.m));
  let scale_a = select(factor, 1.0, a_leads);
  let scale_b = select(1.0, factor, a_leads);
  var r: Lse;
  r.m = m;
  r.n = a.n + b.n;
  r.rate = rate;
  r.u = a.u * scale_a + b.u * scale_b;
  for (var l = 0u; l < LANES; l++) {
    r.w[l] = a.w[l] * scale_a + b.w[l] * scale_b;
  }
  return r;
}

// The state as stored in a state buffer (see state_layout.wgsl): header vec4 (m, u, n, rate). A state made
// elsewhere (packState) has n = rate = 0: as a carry it is only ever the earlier side of a combine, where neither
// is read.
fn lse_header(s: Lse) -> vec4<f32> {
  return vec4<f32>(s.m, s.u, s.n, s.rate);
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
  s.n = h.z;
  s.rate = h.w;
  return s;
}

fn elem_lane(s: Elem, l: u32) -> vec4<f32> {
  return s.w[l];
}

fn elem_set_lane(s: ptr<function, Elem>, l: u32, v: vec4<f32>) {
  (*s).w[l] = v;
}
