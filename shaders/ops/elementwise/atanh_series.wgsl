// atanh(z) for |z| <= 1/3 by its odd series to z^13 (truncation < z^15 / 15, below 2e-8 of the result): the
// accurate core of log(1 - p) = -2 atanh(p / (2 - p)) (grad_terms.wgsl) and log(1 + y) = 2 atanh(y / (2 + y))
// (softplus_rates.wgsl), where WGSL's log, off by up to 2^-21 absolute near 1, would lose every small value.

fn atanh_series(z: f32) -> f32 {
  let z2 = z * z;
  var t = 1.0 / 13.0;
  t = t * z2 + 1.0 / 11.0;
  t = t * z2 + 1.0 / 9.0;
  t = t * z2 + 1.0 / 7.0;
  t = t * z2 + 1.0 / 5.0;
  t = t * z2 + 1.0 / 3.0;
  t = t * z2 + 1.0;
  return z * t;
}
