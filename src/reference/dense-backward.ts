// Float64 CPU references for the backward of the dense kernels (GELU, LayerNorm), written from the derivatives
// of src/reference/layer.ts's forward functions; test/dense.test.ts checks each against central finite
// differences of that forward.
import { erfReference } from './layer.js';

/** d/dx GELU(x) = Phi(x) + x phi(x) for the exact-erf GELU. */
export function geluGradReference(x: number): number {
  return 0.5 * (1 + erfReference(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
}

export interface LayerNormBackwardReference {
  gradInput: Float64Array; // [rows, width]
  gradGamma: Float64Array; // [width]
  gradBeta: Float64Array; // [width]
  mean: Float64Array; // [rows]
  rstd: Float64Array; // [rows]
}

/** Gradients of sum(gradOutput * LayerNorm(x)) (biased variance, as torch.nn.LayerNorm). */
export function layerNormBackwardReference(
  x: ArrayLike<number>, gradOutput: ArrayLike<number>, rows: number, width: number, gamma: ArrayLike<number>, eps: number,
): LayerNormBackwardReference {
  const gradInput = new Float64Array(rows * width);
  const gradGamma = new Float64Array(width);
  const gradBeta = new Float64Array(width);
  const meanOut = new Float64Array(rows);
  const rstdOut = new Float64Array(rows);
  const xhat = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    let mean = 0;
    for (let j = 0; j < width; j++) mean += x[o + j]!;
    mean /= width;
    let v = 0;
    for (let j = 0; j < width; j++) v += (x[o + j]! - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / width + eps);
    meanOut[r] = mean;
    rstdOut[r] = rstd;
    let c1 = 0;
    let c2 = 0;
    for (let j = 0; j < width; j++) {
      xhat[j] = (x[o + j]! - mean) * rstd;
      const g = gradOutput[o + j]! * gamma[j]!;
      c1 += g;
      c2 += g * xhat[j]!;
      gradGamma[j] = gradGamma[j]! + gradOutput[o + j]! * xhat[j]!;
      gradBeta[j] = gradBeta[j]! + gradOutput[o + j]!;
    }
    c1 /= width;
    c2 /= width;
    for (let j = 0; j < width; j++) gradInput[o + j] = rstd * (gradOutput[o + j]! * gamma[j]! - c1 - xhat[j]! * c2);
  }
  return { gradInput, gradGamma, gradBeta, mean: meanOut, rstd: rstdOut };
}
