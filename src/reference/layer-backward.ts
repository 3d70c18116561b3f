// Float64 CPU references for the backward passes of the Aaren layer and the pre-LN model, from the definitions in
// docs/models.md ("The Aaren layer") and src/reference/layer.ts: x @ W row-major, LayerNorm with the biased variance,
// GELU with the exact erf. Gradients of the stacked model are keyed by the safetensors names (modelToSafetensors).
import { referenceConvBackward, referenceConvForward } from './conv.js';
import { erfReference, geluReference, layerNormReference, matmulReference, referenceDecayRates } from './layer.js';
import type { ReferenceLayerState, ReferenceLayerWeights, ReferenceModelConfig } from './layer.js';
import { referenceScanBackward } from './scan-backward.js';

export interface ReferenceShape {
  batch: number;
  length: number;
}

/** LayerNorm y = (x - mean) / sqrt(var + eps) * gamma + beta over rows of `width`: gradients of x, gamma, beta, and
 * each row's mean and rstd (what the GPU forward saves for its backward). */
export function layerNormBackward(
  x: ArrayLike<number>, gradOutput: ArrayLike<number>, rows: number, width: number, gamma: ArrayLike<number>, eps: number,
): { gradInput: Float64Array; gradWeight: Float64Array; gradBias: Float64Array; mean: Float64Array; rstd: Float64Array } {
  const gradInput = new Float64Array(rows * width);
  const gradWeight = new Float64Array(width);
  const gradBias = new Float64Array(width);
  const meanOut = new Float64Array(rows);
  const rstdOut = new Float64Array(rows);
  const xhat = new Float64Array(width);
  const dxhat = new Float64Array(width);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < width; j++) mean += x[r * width + j]!;
    mean /= width;
    let v = 0;
    for (let j = 0; j < width; j++) v += (x[r * width + j]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / width + eps);
    meanOut[r] = mean;
    rstdOut[r] = inv;
    let meanD = 0;
    let meanDX = 0;
    for (let j = 0; j < width; j++) {
      const dy = gradOutput[r * width + j]!;
      xhat[j] = (x[r * width + j]! - mean) * inv;
      gradWeight[j] = gradWeight[j]! + dy * xhat[j]!;
      gradBias[j] = gradBias[j]! + dy;
      dxhat[j] = dy * gamma[j]!;
      meanD += dxhat[j]!;
      meanDX += dxhat[j]! * xhat[j]!;
    }
    meanD /= width;
    meanDX /= width;
    for (let j = 0; j < width; j++) gradInput[r * width + j] = inv * (dxhat[j]! - meanD - xhat[j]! * meanDX);
  }
  return { gradInput, gradWeight, gradBias, mean: meanOut, rstd: rstdOut };
}

/** d/dx of the exact GELU x Phi(x): Phi(x) + x phi(x). */
export function geluDerivative(x: number): number {
  return 0.5 * (1 + erfReference(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
}

/** Elementwise dLoss/dx of y = GELU(x) (exact erf form). */
export function geluBackward(x: ArrayLike<number>, gradOutput: ArrayLike<number>): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < out.length; i++) out[i] = gradOutput[i]! * geluDerivative(x[i]!);
  return out;
}

/** Y [m, n] = X [m, k] @ W [k, n] (+ bias [n]): dX = dY W^T, dW = X^T dY, dBias = the column sums of dY. */
export function matmulBackward(
  x: ArrayLike<number>, w: ArrayLike<number>, gradOutput: ArrayLike<number>, m: number, k: number, n: number,
): { gradInput: Float64Array; gradWeight: Float64Array; gradBias: Float64Array } {
  const gradInput = new Float64Array(m * k);
  const gradWeight = new Float64Array(k * n);
  const gradBias = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const dy = gradOutput[i * n + j]!;
      if (dy === 0) continue;
      gradBias[j] = gradBias[j]! + dy;
      for (let l = 0; l < k; l++) {
        gradInput[i * k + l] = gradInput[i * k + l]! + dy * w[l * n + j]!;
        gradWeight[l * n + j] = gradWeight[l * n + j]! + x[i * k + l]! * dy;
      }
    }
  }
  return { gradInput, gradWeight, gradBias };
}

export interface ReferenceLayerDims {
  dModel: number;
  heads: number;
  headDim: number;
  /** Default 1/sqrt(headDim). */
  scale?: number;
}

export interface ReferenceLayerGradients {
  query: Float64Array;
  key: Float64Array;
  value: Float64Array;
  output: Float64Array;
  keyBias?: Float64Array;
  valueBias?: Float64Array;
  outputBias?: Float64Array;
  /** dLoss/dtheta [heads] (through rate = softplus(theta): dLoss/drate * sigmoid(theta)); present with weights.decay. */
  decay?: Float64Array;
  /** dLoss/dc [dModel, 4]; present with weights.conv. */
  conv?: Float64Array;
}

/** sigmoid(theta) = d softplus(theta) / dtheta, without overflow either way. */
function sigmoid(theta: number): number {
  return theta >= 0 ? 1 / (1 + Math.exp(-theta)) : Math.exp(theta) / (1 + Math.exp(theta));
}

/**
 * Forward and backward of one Aaren layer (docs/models.md): s = scale * query_h . (x @ key + keyBias)_h,
 * v = (x @ value + valueBias)_h, the scan per (batch, head), y = concat_h o @ output + outputBias.
 * `state` (sequence b * heads + h) is a constant initial state: it is read, not advanced, and gets no gradient.
 * With weights.conv the keys and values read x' = x + conv(x) (inputs before the block from state.convHistory, or
 * zeros); with weights.decay head h's scan ages by softplus(theta_h) per token (src/reference/layer.ts).
 * Bias, decay and conv gradients are present exactly when the weight is.
 */
export function referenceLayerBackward(
  config: ReferenceLayerDims, weights: ReferenceLayerWeights, x: ArrayLike<number>, gradOutput: ArrayLike<number>, shape: ReferenceShape, state?: ReferenceLayerState,
): { output: Float64Array; gradInput: Float64Array; gradients: ReferenceLayerGradients } {
  const { dModel, heads, headDim } = config;
  const { batch, length } = shape;
  const scale = config.scale ?? 1 / Math.sqrt(headDim);
  const hd = heads * headDim;
  const rows = batch * length;
  const convShape = { batch, length, dModel };
  const history = state?.convHistory;
  const xk = weights.conv ? referenceConvForward(convShape, x, weights.conv, history) : x;
  const K = matmulReference(xk, weights.key, rows, dModel, hd, weights.keyBias);
  const V = matmulReference(xk, weights.value, rows, dModel, hd, weights.valueBias);

  // Scan layout: sequence q = b * heads + h; scores [q, length], values [q, length, headDim].
  const seqs = batch * heads;
  const scores = new Float64Array(seqs * length);
  const values = new Float64Array(seqs * length * headDim);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < length; i++) {
      const r = b * length + i;
      for (let h = 0; h < heads; h++) {
        const q = b * heads + h;
        let s = 0;
        for (let c = 0; c < headDim; c++) {
          s += weights.query[h * headDim + c]! * K[r * hd + h * headDim + c]!;
          values[(q * length + i) * headDim + c] = V[r * hd + h * headDim + c]!;
        }
        scores[q * length + i] = scale * s;
      }
    }
  }
  const initialState = state
    ? { m: state.map((st) => st.m), u: state.map((st) => st.u), w: Float64Array.from(state.flatMap((st) => Array.from(st.w))) }
    : undefined;
  // Every (batch, head) sequence of head h ages by rate_h.
  const headRates = weights.decay ? referenceDecayRates(weights.decay) : undefined;
  const decay = headRates ? Float64Array.from({ length: seqs }, (_, q) => headRates[q % heads]!) : undefined;

  // Forward outputs (scan with zero gradient) to get O, then y, then dO, then the real scan backward.
  const gradO = new Float64Array(seqs * length * headDim);
  const forward = referenceScanBackward({ scores, values, gradOutput: gradO, batch: seqs, length, headDim }, { initialState, decay });
  const O = new Float64Array(rows * hd);
  const toRows = (scan: Float64Array, out: Float64Array) => {
    for (let b = 0; b < batch; b++)
      for (let h = 0; h < heads; h++)
        for (let i = 0; i < length; i++)
          for (let c = 0; c < headDim; c++) out[(b * length + i) * hd + h * headDim + c] = scan[((b * heads + h) * length + i) * headDim + c]!;
  };
  toRows(forward.output, O);
  const output = matmulReference(O, weights.output, rows, hd, dModel, weights.outputBias);
  const out = matmulBackward(O, weights.output, gradOutput, rows, hd, dModel);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++)
      for (let i = 0; i < length; i++)
        for (let c = 0; c < headDim; c++) gradO[((b * heads + h) * length + i) * headDim + c] = out.gradInput[(b * length + i) * hd + h * headDim + c]!;
  const scan = referenceScanBackward({ scores, values, gradOutput: gradO, batch: seqs, length, headDim }, { initialState, decay });

  const dK = new Float64Array(rows * hd);
  const dV = new Float64Array(rows * hd);
  toRows(scan.gradValues, dV);
  const gradQuery = new Float64Array(hd);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < length; i++) {
      const r = b * length + i;
      for (let h = 0; h < heads; h++) {
        const ds = scale * scan.gradScores[(b * heads + h) * length + i]!;
        for (let c = 0; c < headDim; c++) {
          gradQuery[h * headDim + c] = gradQuery[h * headDim + c]! + ds * K[r * hd + h * headDim + c]!;
          dK[r * hd + h * headDim + c] = ds * weights.query[h * headDim + c]!;
        }
      }
    }
  }
  const key = matmulBackward(xk, weights.key, dK, rows, dModel, hd);
  const value = matmulBackward(xk, weights.value, dV, rows, dModel, hd);
  const gradConvolved = key.gradInput.map((g, i) => g + value.gradInput[i]!);
  const gradients: ReferenceLayerGradients = { query: gradQuery, key: key.gradWeight, value: value.gradWeight, output: out.gradWeight };
  if (weights.keyBias) gradients.keyBias = key.gradBias;
  if (weights.valueBias) gradients.valueBias = value.gradBias;
  if (weights.outputBias) gradients.outputBias = out.gradBias;
  let gradInput: Float64Array = gradConvolved;
  if (weights.conv) {
    const conv = referenceConvBackward(convShape, x, weights.conv, gradConvolved, history);
    gradInput = conv.gradInput;
    gradients.conv = conv.gradWeight;
  }
  if (weights.decay) {
    // theta_h reaches the loss only through rate_h, shared by the batch's sequences of head h.
    const gradTheta = new Float64Array(heads);
    for (let q = 0; q < seqs; q++) gradTheta[q % heads] = gradTheta[q % heads]! + scan.gradDecay![q]!;
    for (let h = 0; h < heads; h++) gradTheta[h] = gradTheta[h]! * sigmoid(weights.decay[h]!);
    gradients.decay = gradTheta;
  }
  return { output, gradInput, gradients };
}

export interface ReferenceModelDims {
  dModel: number;
  heads: number;
  headDim: number;
  dFF: number;
  scale?: number;
  /** LayerNorm eps, default 1e-5. */
  eps?: number;
}

export type ReferenceModelWeights = ReferenceModelConfig['weights'];

/**
 * Forward and backward of the pre-LN stack (referenceModel): h += Aaren(LN1(h)); h += W2 GELU(W1 LN2(h) + b1) + b2;
 * final LayerNorm. Gradients keyed by the safetensors names: blocks.{l}.ln1.weight, blocks.{l}.attention.query,
 * blocks.{l}.attention.key_bias, .decay (theta), .conv (when present), blocks.{l}.ffn.w1, ..., final_norm.bias.
 */
export function referenceModelBackward(
  config: ReferenceModelDims, weights: ReferenceModelWeights, x: ArrayLike<number>, gradOutput: ArrayLike<number>, shape: ReferenceShape,
): { output: Float64Array; gradInput: Float64Array; gradients: Record<string, Float64Array> } {
  const { dModel, dFF, heads, headDim } = config;
  const eps = config.eps ?? 1e-5;
  const rows = shape.batch * shape.length;
  const layerDims = { dModel, heads, headDim, scale: config.scale };
  const zero = new Float64Array(rows * dModel);

  // Forward, keeping each block's input and the FFN's pre-activation.
  const saved: { h: Float64Array; a: Float64Array; h1: Float64Array; n2: Float64Array; pre: Float64Array; hidden: Float64Array }[] = [];
  let h = Float64Array.from(x);
  for (const block of weights.blocks) {
    const a = layerNormReference(h, rows, dModel, block.ln1.weight, block.ln1.bias, eps);
    const att = referenceLayerBackward(layerDims, block.attention, a, zero, shape).output;
    const h1 = h.map((value, i) => value + att[i]!);
    const n2 = layerNormReference(h1, rows, dModel, block.ln2.weight, block.ln2.bias, eps);
    const pre = matmulReference(n2, block.ffn.w1, rows, dModel, dFF, block.ffn.b1);
    const hidden = pre.map(geluReference);
    const f = matmulReference(hidden, block.ffn.w2, rows, dFF, dModel, block.ffn.b2);
    saved.push({ h, a, h1, n2, pre, hidden });
    h = h1.map((value, i) => value + f[i]!);
  }
  const output = layerNormReference(h, rows, dModel, weights.finalNorm.weight, weights.finalNorm.bias, eps);

  const gradients: Record<string, Float64Array> = {};
  const fin = layerNormBackward(h, gradOutput, rows, dModel, weights.finalNorm.weight, eps);
  let dh = fin.gradInput;
  for (let l = weights.blocks.length - 1; l >= 0; l--) {
    const block = weights.blocks[l]!;
    const s = saved[l]!;
    const p = `blocks.${l}`;
    // h_out = h1 + W2 GELU(W1 LN2(h1) + b1) + b2
    const down = matmulBackward(s.hidden, block.ffn.w2, dh, rows, dFF, dModel);
    const dpre = geluBackward(s.pre, down.gradInput);
    const up = matmulBackward(s.n2, block.ffn.w1, dpre, rows, dModel, dFF);
    const ln2 = layerNormBackward(s.h1, up.gradInput, rows, dModel, block.ln2.weight, eps);
    const dh1 = dh.map((g, i) => g + ln2.gradInput[i]!);
    // h1 = h + Aaren(LN1(h))
    const att = referenceLayerBackward(layerDims, block.attention, s.a, dh1, shape);
    const ln1 = layerNormBackward(s.h, att.gradInput, rows, dModel, block.ln1.weight, eps);
    dh = dh1.map((g, i) => g + ln1.gradInput[i]!);

    gradients[`${p}.ln1.weight`] = ln1.gradWeight;
    gradients[`${p}.ln1.bias`] = ln1.gradBias;
    gradients[`${p}.attention.query`] = att.gradients.query;
    gradients[`${p}.attention.key`] = att.gradients.key;
    gradients[`${p}.attention.value`] = att.gradients.value;
    gradients[`${p}.attention.output`] = att.gradients.output;
    if (att.gradients.keyBias) gradients[`${p}.attention.key_bias`] = att.gradients.keyBias;
    if (att.gradients.valueBias) gradients[`${p}.attention.value_bias`] = att.gradients.valueBias;
    if (att.gradients.outputBias) gradients[`${p}.attention.output_bias`] = att.gradients.outputBias;
    if (att.gradients.decay) gradients[`${p}.attention.decay`] = att.gradients.decay;
    if (att.gradients.conv) gradients[`${p}.attention.conv`] = att.gradients.conv;
    gradients[`${p}.ln2.weight`] = ln2.gradWeight;
    gradients[`${p}.ln2.bias`] = ln2.gradBias;
    gradients[`${p}.ffn.w1`] = up.gradWeight;
    gradients[`${p}.ffn.b1`] = up.gradBias;
    gradients[`${p}.ffn.w2`] = down.gradWeight;
    gradients[`${p}.ffn.b2`] = down.gradBias;
  }
  gradients['final_norm.weight'] = fin.gradWeight;
  gradients['final_norm.bias'] = fin.gradBias;
  return { output, gradInput: dh, gradients };
}

/** The model's weights by safetensors name (the names modelToSafetensors writes), as ArrayLikes. */
export function referenceModelNamedWeights(weights: ReferenceModelWeights): Record<string, ArrayLike<number>> {
  const named: Record<string, ArrayLike<number>> = {};
  weights.blocks.forEach((b, l) => {
    const p = `blocks.${l}`;
    named[`${p}.ln1.weight`] = b.ln1.weight;
    named[`${p}.ln1.bias`] = b.ln1.bias;
    named[`${p}.attention.query`] = b.attention.query;
    named[`${p}.attention.key`] = b.attention.key;
    named[`${p}.attention.value`] = b.attention.value;
    named[`${p}.attention.output`] = b.attention.output;
    if (b.attention.keyBias) named[`${p}.attention.key_bias`] = b.attention.keyBias;
    if (b.attention.valueBias) named[`${p}.attention.value_bias`] = b.attention.valueBias;
    if (b.attention.outputBias) named[`${p}.attention.output_bias`] = b.attention.outputBias;
    if (b.attention.decay) named[`${p}.attention.decay`] = b.attention.decay;
    if (b.attention.conv) named[`${p}.attention.conv`] = b.attention.conv;
    named[`${p}.ln2.weight`] = b.ln2.weight;
    named[`${p}.ln2.bias`] = b.ln2.bias;
    named[`${p}.ffn.w1`] = b.ffn.w1;
    named[`${p}.ffn.b1`] = b.ffn.b1;
    named[`${p}.ffn.w2`] = b.ffn.w2;
    named[`${p}.ffn.b2`] = b.ffn.b2;
  });
  named['final_norm.weight'] = weights.finalNorm.weight;
  named['final_norm.bias'] = weights.finalNorm.bias;
  return named;
}

/** The inverse of referenceModelNamedWeights: `layers` blocks read from safetensors-named tensors (no copies). */
export function referenceModelWeightsFromNamed(named: Record<string, ArrayLike<number>>, layers: number): ReferenceModelWeights {
  const get = (name: string) => {
    const t = named[name];
    if (!t) throw new RangeError(`missing weight ${name}`);
    return t;
  };
  const blocks = Array.from({ length: layers }, (_, l) => {
    const p = `blocks.${l}`;
    const attention: ReferenceLayerWeights = {
      query: get(`${p}.attention.query`), key: get(`${p}.attention.key`), value: get(`${p}.attention.value`), output: get(`${p}.attention.output`),
    };
    if (named[`${p}.attention.key_bias`]) attention.keyBias = named[`${p}.attention.key_bias`];
    if (named[`${p}.attention.value_bias`]) attention.valueBias = named[`${p}.attention.value_bias`];
    if (named[`${p}.attention.output_bias`]) attention.outputBias = named[`${p}.attention.output_bias`];
    if (named[`${p}.attention.decay`]) attention.decay = named[`${p}.attention.decay`];
    if (named[`${p}.attention.conv`]) attention.conv = named[`${p}.attention.conv`];
    return {
      ln1: { weight: get(`${p}.ln1.weight`), bias: get(`${p}.ln1.bias`) },
      attention,
      ln2: { weight: get(`${p}.ln2.weight`), bias: get(`${p}.ln2.bias`) },
      ffn: { w1: get(`${p}.ffn.w1`), b1: get(`${p}.ffn.b1`), w2: get(`${p}.ffn.w2`), b2: get(`${p}.ffn.b2`) },
    };
  });
  return { blocks, finalNorm: { weight: get('final_norm.weight'), bias: get('final_norm.bias') } };
}
