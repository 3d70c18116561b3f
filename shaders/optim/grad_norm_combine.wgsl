// The running state of an overflow-safe 2-norm (Blue / Hammarling, as LAPACK's dnrm2): sum x^2 = scale^2 * ssq,
// with scale = max |x| seen so far, so no square overflows or underflows however large or small the gradients
// are (a plain f32 sum of squares overflows once |g| > 1.8e19). `flags` records non-finite inputs by their bits
// (bit 0: an infinity, bit 1: a NaN): WGSL lets a compiler assume floats are finite, so `x != x` may be folded
// away, but a test on the exponent bits may not. Non-finite values are left out of scale and ssq.
// Error: each added term (x / scale)^2 is within 3 u of exact (u = 2^-24), and a run of n additions within
// n u of the exact sum (Higham 3.1), so the norm is within about (n + 3) u / 2 relative.

struct NormPart {
  scale: f32,
  ssq: f32,
  flags: u32,
}

fn norm_empty() -> NormPart {
  return NormPart(0.0, 0.0, 0u);
}

/** The state with one more value x. */
fn norm_add(a: NormPart, x: f32) -> NormPart {
  let bits = bitcast<u32>(x);
  if ((bits & 0x7f800000u) == 0x7f800000u) {
    // Exponent all ones: an infinity (mantissa 0) or a NaN.
    return NormPart(a.scale, a.ssq, a.flags | select(2u, 1u, (bits & 0x007fffffu) == 0u));
  }
  let ax = abs(x);
  if (ax == 0.0) {
    return a;
  }
  if (ax > a.scale) {
    let r = a.scale / ax;
    return NormPart(ax, 1.0 + a.ssq * r * r, a.flags);
  }
  let r = ax / a.scale;
  return NormPart(a.scale, a.ssq + r * r, a.flags);
}

/** Two states merged (a before b: the order is fixed by the callers, so the bits are too). */
fn norm_combine(a: NormPart, b: NormPart) -> NormPart {
  let flags = a.flags | b.flags;
  if (b.scale == 0.0) {
    return NormPart(a.scale, a.ssq, flags);
  }
  if (a.scale == 0.0) {
    return NormPart(b.scale, b.ssq, flags);
  }
  if (a.scale >= b.scale) {
    let r = b.scale / a.scale;
    return NormPart(a.scale, a.ssq + b.ssq * r * r, flags);
  }
  let r = a.scale / b.scale;
  return NormPart(b.scale, a.ssq * r * r + b.ssq, flags);
}

/** Packed as vec4<f32> (scale, ssq, flags as the float 0, 1, 2 or 3, 0) for the partials buffer and workgroup
 * memory. The flags travel as a small whole float, not as bits: bits 1 to 3 read as an f32 are subnormals, which
 * a GPU may flush to zero. */
fn norm_pack(a: NormPart) -> vec4<f32> {
  return vec4<f32>(a.scale, a.ssq, f32(a.flags), 0.0);
}

fn norm_unpack(p: vec4<f32>) -> NormPart {
  return NormPart(p.x, p.y, u32(p.z));
}
