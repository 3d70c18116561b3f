// GELU(x) = x * Phi(x) = x/2 * (1 + erf(x / sqrt 2)), the exact form (PyTorch's nn.GELU() default).
// WGSL has no erf: Abramowitz & Stegun 7.1.26, |error| < 1.5e-7, below f32 resolution of the result's scale.
fn erf_approx(z: f32) -> f32 {
  let a = abs(z);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  let r = 1.0 - poly * exp(-a * a);
  return select(r, -r, z < 0.0);
}

fn gelu(x: f32) -> f32 {
  return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));
}

// d/dx GELU(x) = Phi(x) + x * phi(x) = (1 + erf(x / sqrt 2)) / 2 + x * exp(-x^2 / 2) / sqrt(2 pi), with the same
// erf as gelu() above (the backward of the function the forward computes, to f32 resolution).
fn gelu_grad(x: f32) -> f32 {
  return 0.5 * (1.0 + erf_approx(x * 0.7071067811865476)) + x * 0.3989422804014327 * exp(-0.5 * x * x);
}
