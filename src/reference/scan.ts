// Float64 CPU references, independent of the GPU code: the token-by-token recurrence, the quadratic
// softmax-over-each-prefix form, and the scan operator itself. Tests compare every kernel with them.

export interface ReferenceState {
  m: number;
  u: number;
  w: Float64Array;
}

export function identityState(headDim: number): ReferenceState {
  return { m: -Infinity, u: 0, w: new Float64Array(headDim) };
}

/** The scan operator on (m, u, w), in float64, with identity (-inf, 0, 0). */
export function combineReference(a: ReferenceState, b: ReferenceState): ReferenceState {
  const m = Math.max(a.m, b.m);
  const scaleA = a.m === -Infinity ? 0 : Math.exp(a.m - m);
  const scaleB = b.m === -Infinity ? 0 : Math.exp(b.m - m);
  const w = new Float64Array(a.w.length);
  for (let c = 0; c < w.length; c++) w[c] = a.w[c]! * scaleA + b.w[c]! * scaleB;
  return { m, u: a.u * scaleA + b.u * scaleB, w };
}

export interface ReferenceInput {
  scores: ArrayLike<number>;
  values: ArrayLike<number>;
  batch: number;
  length: number;
  headDim: number;
}

/**
 * The RNN recurrence of MISSION.md, token by token: every prefix output [batch, length, headDim] and the
 * final state of each sequence. `initial` continues from earlier states. `decay` (one rate >= 0 per sequence):
 * the recurrence with recency decay, m_k = max(m_{k-1} - rate, s_k) and u, w rescaled by exp(m_{k-1} - rate - m_k),
 * so token i weighs exp(s_i - rate (k - i)) at output k; the state stays in the frame of the last token.
 */
export function referenceRecurrence(input: ReferenceInput, initial?: ReferenceState[], decay?: ArrayLike<number>): { outputs: Float64Array; states: ReferenceState[] } {
  const { scores, values, batch, length, headDim } = input;
  const outputs = new Float64Array(batch * length * headDim);
  const states: ReferenceState[] = [];
  for (let b = 0; b < batch; b++) {
    const start = initial?.[b] ?? identityState(headDim);
    const rate = decay?.[b] ?? 0;
    let m = start.m;
    let u = start.u;
    const w = Float64Array.from(start.w);
    for (let k = 0; k < length; k++) {
      const row = b * length + k;
      const s = scores[row]!;
      m -= rate; // one token older (-Infinity stays)
      if (s !== -Infinity) {
        const mNext = Math.max(m, s);
        const scale = m === -Infinity ? 0 : Math.exp(m - mNext);
        const weight = Math.exp(s - mNext);
        u = u * scale + weight;
        for (let c = 0; c < headDim; c++) w[c] = w[c]! * scale + weight * values[row * headDim + c]!;
        m = mNext;
      }
      for (let c = 0; c < headDim; c++) outputs[row * headDim + c] = u > 0 ? w[c]! / u : 0;
    }
    states.push({ m, u, w });
  }
  return { outputs, states };
}

/** Softmax attention of each position over its prefix, computed from scratch per position: O(length^2).
 * `decay` (one rate per sequence): the score of token i at position k is s_i - rate (k - i). */
export function referenceQuadratic(input: ReferenceInput, decay?: ArrayLike<number>): Float64Array {
  const { scores, values, batch, length, headDim } = input;
  const outputs = new Float64Array(batch * length * headDim);
  for (let b = 0; b < batch; b++) {
    const rate = decay?.[b] ?? 0;
    const score = (k: number, i: number) => scores[b * length + i]! - rate * (k - i);
    for (let k = 0; k < length; k++) {
      let max = -Infinity;
      for (let i = 0; i <= k; i++) max = Math.max(max, score(k, i));
      if (max === -Infinity) continue; // no unmasked token yet: output 0
      let denominator = 0;
      const out = outputs.subarray((b * length + k) * headDim, (b * length + k + 1) * headDim);
      for (let i = 0; i <= k; i++) {
        const weight = Math.exp(score(k, i) - max);
        denominator += weight;
        for (let c = 0; c < headDim; c++) out[c] = out[c]! + weight * values[(b * length + i) * headDim + c]!;
      }
      for (let c = 0; c < headDim; c++) out[c] = out[c]! / denominator;
    }
  }
  return outputs;
}
