// Float64 CPU references for the Aaren layer and the stacked model, written straight from the definitions
// (full key projection, then query . key; the recurrence token by token), independent of the GPU code and of
// its algebraic shortcuts (the folded key-query vector, the scan). Tests compare the kernels against these.
//
// Two optional order-aware features of a layer (absent: exactly the plain layer):
// - recency decay, weights.decay = theta [heads]: head h ages its state by rate_h = softplus(theta_h) per token, so
//   token i weighs exp(s_i - rate_h (k - i)) at output k (softplus keeps the rate positive for any theta);
// - a causal depthwise convolution of width 4 on the layer input, weights.conv = c [dModel, 4], residual:
//   x'_t[d] = x_t[d] + sum_j c[d, j] x_{t-j}[d] (src/reference/conv.ts), with inputs before the block from the
//   state's history; the keys and values (so the scores too) are projected from x' instead of x.
import { CONV_HISTORY, referenceConvForward, referenceConvNextHistory } from './conv.js';

export interface ReferenceLayerWeights {
  query: ArrayLike<number>; // [heads, headDim]
  key: ArrayLike<number>; // [dModel, heads*headDim]
  value: ArrayLike<number>; // [dModel, heads*headDim]
  output: ArrayLike<number>; // [heads*headDim, dModel]
  keyBias?: ArrayLike<number>;
  valueBias?: ArrayLike<number>;
  outputBias?: ArrayLike<number>;
  /** Recency decay theta [heads]: rate_h = softplus(theta_h). */
  decay?: ArrayLike<number>;
  /** Causal depthwise convolution [dModel, 4], c[d * 4 + j] weighs x_{t-j}[d]; residual (x' = x + conv(x)). */
  conv?: ArrayLike<number>;
}

/** softplus(theta) = log(1 + e^theta), without overflow for large theta nor loss for very negative theta. */
export function softplusReference(theta: number): number {
  return theta > 0 ? theta + Math.log1p(Math.exp(-theta)) : Math.log1p(Math.exp(theta));
}

/** The decay rate of each head, softplus(theta_h), [heads]. */
export function referenceDecayRates(theta: ArrayLike<number>): Float64Array {
  return Float64Array.from(theta as ArrayLike<number>, softplusReference);
}

export interface ReferenceLayerConfig {
  dModel: number;
  heads: number;
  headDim: number;
  scale?: number;
  weights: ReferenceLayerWeights;
}

/** State of one (batch, head) sequence: m = -Infinity, u = 0, w = 0 when empty. */
export interface ReferenceHeadState {
  m: number;
  u: number;
  w: Float64Array;
}

/**
 * [batch * heads] head states, sequence b * heads + h. With a conv, `convHistory` [batch, 3, dModel] holds each
 * batch row's last 3 raw layer inputs (row 2 is the newest; the layout of src/reference/conv.ts); missing, it is
 * zeros, and referenceLayer attaches the advanced history to the state. The head states are in the frame of
 * their last token (decay ages them when the next token comes).
 */
export type ReferenceLayerState = ReferenceHeadState[] & { convHistory?: Float64Array };

/** An empty state; with `dModel`, also a zero conv history (for a layer with conv). */
export function referenceLayerState(batch: number, heads: number, headDim: number, dModel?: number): ReferenceLayerState {
  const state: ReferenceLayerState = Array.from({ length: batch * heads }, () => ({ m: -Infinity, u: 0, w: new Float64Array(headDim) }));
  if (dModel !== undefined) state.convHistory = new Float64Array(batch * CONV_HISTORY * dModel);
  return state;
}

/** A deep copy of a layer state (head states and conv history). */
export function cloneReferenceLayerState(state: ReferenceLayerState): ReferenceLayerState {
  const copy: ReferenceLayerState = state.map((h) => ({ m: h.m, u: h.u, w: Float64Array.from(h.w) }));
  if (state.convHistory) copy.convHistory = Float64Array.from(state.convHistory);
  return copy;
}

/** y [batch, length, dModel] in float64; advances `state` when given (else starts empty). */
export function referenceLayer(config: ReferenceLayerConfig, x: ArrayLike<number>, batch: number, length: number, state?: ReferenceLayerState): Float64Array {
  const { dModel, heads, headDim, weights: wt } = config;
  const scale = config.scale ?? 1 / Math.sqrt(headDim);
  const hd = heads * headDim;
  const st = state ?? referenceLayerState(batch, heads, headDim);
  const rates = wt.decay ? referenceDecayRates(wt.decay) : undefined;
  // Keys and values read the convolved input; the history advances by the raw inputs.
  let xk: ArrayLike<number> = x;
  if (wt.conv) {
    const shape = { batch, length, dModel };
    xk = referenceConvForward(shape, x, wt.conv, st.convHistory);
    st.convHistory = referenceConvNextHistory(shape, x, st.convHistory);
  }
  const y = new Float64Array(batch * length * dModel);
  const k = new Float64Array(hd);
  const v = new Float64Array(hd);
  const o = new Float64Array(hd);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < length; i++) {
      const xo = (b * length + i) * dModel;
      for (let c = 0; c < hd; c++) {
        let ks = wt.keyBias ? wt.keyBias[c]! : 0;
        let vs = wt.valueBias ? wt.valueBias[c]! : 0;
        for (let j = 0; j < dModel; j++) {
          ks += xk[xo + j]! * wt.key[j * hd + c]!;
          vs += xk[xo + j]! * wt.value[j * hd + c]!;
        }
        k[c] = ks;
        v[c] = vs;
      }
      for (let h = 0; h < heads; h++) {
        let s = 0;
        for (let c = 0; c < headDim; c++) s += wt.query[h * headDim + c]! * k[h * headDim + c]!;
        s *= scale;
        const hs = st[b * heads + h]!;
        if (rates) hs.m -= rates[h]!; // one token older (-Infinity stays)
        const m = Math.max(hs.m, s);
        const old = hs.m === -Infinity ? 0 : Math.exp(hs.m - m);
        const add = Math.exp(s - m);
        hs.u = hs.u * old + add;
        for (let c = 0; c < headDim; c++) {
          hs.w[c] = hs.w[c]! * old + add * v[h * headDim + c]!;
          o[h * headDim + c] = hs.w[c]! / hs.u;
        }
        hs.m = m;
      }
      for (let j = 0; j < dModel; j++) {
        let acc = wt.outputBias ? wt.outputBias[j]! : 0;
        for (let c = 0; c < hd; c++) acc += o[c]! * wt.output[c * dModel + j]!;
        y[xo + j] = acc;
      }
    }
  }
  return y;
}

/** erf to ~1e-13: Maclaurin series for |z| < 3, continued fraction of erfc beyond. */
export function erfReference(z: number): number {
  const a = Math.abs(z);
  let r: number;
  if (a < 3) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 200; n++) {
      term *= (-a * a) / n;
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-17 * Math.abs(sum)) break;
    }
    r = (2 / Math.sqrt(Math.PI)) * sum;
  } else {
    // erfc(a) = exp(-a^2)/sqrt(pi) * 1/(a + 1/2/(a + 1/(a + 3/2/(a + 2/(a + ...)))))
    let f = a;
    for (let n = 60; n >= 1; n--) f = a + n / 2 / f;
    r = 1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / f;
  }
  return z < 0 ? -r : r;
}

export function geluReference(x: number): number {
  return 0.5 * x * (1 + erfReference(x / Math.SQRT2));
}

export function layerNormReference(x: ArrayLike<number>, rows: number, width: number, gamma: ArrayLike<number>, beta: ArrayLike<number>, eps: number): Float64Array {
  const out = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let j = 0; j < width; j++) mean += x[r * width + j]!;
    mean /= width;
    let v = 0;
    for (let j = 0; j < width; j++) v += (x[r * width + j]! - mean) ** 2;
    const inv = 1 / Math.sqrt(v / width + eps);
    for (let j = 0; j < width; j++) out[r * width + j] = (x[r * width + j]! - mean) * inv * gamma[j]! + beta[j]!;
  }
  return out;
}

/** a [m, k] @ b [k, n] (+ bias [n]). */
export function matmulReference(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number, bias?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = bias ? bias[j]! : 0;
      for (let l = 0; l < k; l++) acc += a[i * k + l]! * b[l * n + j]!;
      out[i * n + j] = acc;
    }
  }
  return out;
}

export interface ReferenceModelBlock {
  ln1: { weight: ArrayLike<number>; bias: ArrayLike<number> };
  attention: ReferenceLayerWeights;
  ln2: { weight: ArrayLike<number>; bias: ArrayLike<number> };
  ffn: { w1: ArrayLike<number>; b1: ArrayLike<number>; w2: ArrayLike<number>; b2: ArrayLike<number> };
}

export interface ReferenceModelConfig {
  dModel: number;
  heads: number;
  headDim: number;
  dFF: number;
  scale?: number;
  eps?: number;
  weights: { blocks: ReferenceModelBlock[]; finalNorm: { weight: ArrayLike<number>; bias: ArrayLike<number> } };
}

/** Pre-LN stack: h += Aaren(LN1(h)); h += W2 GELU(W1 LN2(h) + b1) + b2; then the final LayerNorm. */
export function referenceModel(config: ReferenceModelConfig, x: ArrayLike<number>, batch: number, length: number, states?: ReferenceLayerState[]): Float64Array {
  const { dModel, dFF } = config;
  const eps = config.eps ?? 1e-5;
  const rows = batch * length;
  let h = Float64Array.from(x as ArrayLike<number>);
  config.weights.blocks.forEach((block, l) => {
    const a = layerNormReference(h, rows, dModel, block.ln1.weight, block.ln1.bias, eps);
    const att = referenceLayer({ dModel, heads: config.heads, headDim: config.headDim, scale: config.scale, weights: block.attention }, a, batch, length, states?.[l]);
    h = h.map((value, i) => value + att[i]!);
    const n2 = layerNormReference(h, rows, dModel, block.ln2.weight, block.ln2.bias, eps);
    const hidden = matmulReference(n2, block.ffn.w1, rows, dModel, dFF, block.ffn.b1).map(geluReference);
    const f = matmulReference(hidden, block.ffn.w2, rows, dFF, dModel, block.ffn.b2);
    h = h.map((value, i) => value + f[i]!);
  });
  return layerNormReference(h, rows, dModel, config.weights.finalNorm.weight, config.weights.finalNorm.bias, eps);
}
