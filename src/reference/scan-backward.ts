// Float64 CPU reference for the backward pass of the Aaren scan (MISSION.md), independent of the GPU code.
//
// Per sequence, with an optional initial state (m0, u0, w0) (default: empty, (-inf, 0, 0)), the forward state after
// position k is m_k = max(m0, s_1..s_k), u_k = u0 e^{m0-m_k} + sum_{i<=k} e^{s_i-m_k}, w_k likewise with v_i, and
// o_k = w_k / u_k (0 while u_k = 0). With L_k = m_k + log u_k and p_{k,i} = e^{s_i - L_k} (the softmax weight of token
// i at position k), o_k = sum_{i<=k} p_{k,i} v_i + e^{m0-L_k} w0, so for g_k = dLoss/do_k and D_k = g_k . o_k:
//
//   dv_i = sum_{k>=i} p_{k,i} g_k
//   ds_i = sum_{k>=i} p_{k,i} g_k . (v_i - o_k) = v_i . dv_i - sum_{k>=i} p_{k,i} D_k
//
// Both sums are one reverse recurrence on c_i = (a_i, b_i) = sum_{k>=i} e^{L_i - L_k} (g_k, D_k):
//
//   c_i = (g_i, D_i) + lambda_i c_{i+1},   lambda_i = e^{L_i - L_{i+1}} = (u_i / u_{i+1}) e^{m_i - m_{i+1}},   c_{N+1} = 0
//   dv_i = pi_i a_i,   ds_i = pi_i (v_i . a_i - b_i),   pi_i = e^{s_i - m_i} / u_i = p_{i,i}
//
// m and u are kept apart and L is never formed: with scores of magnitude 1e30, m + log u rounds to m even in float64
// (two tied scores of 1e30 would each get weight 1 instead of 1/2). A masked token (score -Infinity) has pi = 0, and
// positions with no unmasked token yet (u = 0, o = 0) pass nothing on (lambda = 0) and get 0, never NaN.
//
// Initial state: it acts as a token of weight e^{m0} u0 and value w0/u0, so with eps = e^{m0 - m_1} / u_1 (the state
// after position 1): dw0 = eps a_1, du0 = -eps b_1, and dm0 = u0 du0 + w0 . dw0 (e^{m0} scales u0 and w0 together).
// The outputs do not change when every score and m0 move by the same amount, hence sum_i ds_i = -dm0 when no
// gradient of the final state is given (0 without an initial state).
//
// gradFinalState semantics (decided): the final state is the triple the forward returns,
//   m_N = max(m0, s_1..s_N),  u_N = u0 e^{m0-m_N} + sum_i e^{s_i-m_N},  w_N = w0 e^{m0-m_N} + sum_i e^{s_i-m_N} v_i,
// a function of the scores, values and initial state in this representation (not only up to the shift
// (m, u, w) ~ (m + c, u e^{-c}, w e^{-c})). With (gm, gu, gw) = dLoss/d(m_N, u_N, w_N):
//   - holding m_N fixed, du_N/ds_j = u_N p_{N,j}, dw_N/ds_j = u_N p_{N,j} v_j, dw_N/dv_j = u_N p_{N,j}: this is
//     a_N += u_N gw, b_N -= u_N gu folded into the last position (the initial state gets its share through eps);
//   - m_N itself, with du_N/dm_N = -u_N and dw_N/dm_N = -w_N, gives r = gm - gu u_N - gw . w_N, which goes to
//     what the max picked, differentiated like torch.max: all of it to the FIRST argmax token, or to dm0 when the
//     initial state's m0 >= every score (ties go to m0).
//   - When the final state is empty (u_N = 0: every token masked and an empty or zero-u initial state) or the length
//     is 0, the final state IS the initial state, and gradFinalState passes straight to gradInitialState.

// Recency decay (options.decay, one rate r >= 0 per sequence): token i weighs e^{s_i - r (k - i)} at position k and
// the state stays in the frame of its last token: m_k = max(m_{k-1} - r, s_k) (m0 is one token before position 1).
// The same recurrence holds with lambda_i = e^{L_i - r - L_{i+1}} = (u_i / u_{i+1}) e^{m_i - r - m_{i+1}} and
// eps = e^{m0 - r - m_1} / u_1. The outputs depend on r only through the shifted scores s_i + r i (i from 0; the
// e^{-r k} of position k cancels in o_k) and m0 - r (the initial state is a token at i = -1), so
//   dLoss/dr = sum_i i ds_i - dm0 - (N - 1) gm
// (i from 0; dm0 the initial state's whole m gradient). The last term: the final state is in the frame of position
// N - 1, m_N = max(shifted scores) - r (N - 1), and u_N, w_N are sums of e^{shifted - max}; so beyond the shifted
// scores (whose share of gm, r_max below, is in ds or dm0) r moves m_N by -(N - 1). Checked by central finite
// differences (test/reference-backward.test.ts) before it judges the GPU.

/** A batch of scan states, as ScanState holds them: m [batch], u [batch], w [batch, headDim]. */
export interface ReferenceStateBatch {
  m: ArrayLike<number>;
  u: ArrayLike<number>;
  w: ArrayLike<number>;
}

/** A batch of scan states (or their gradients) in float64: m [batch], u [batch], w [batch, headDim]. */
export interface ReferenceStateBatch64 {
  m: Float64Array;
  u: Float64Array;
  w: Float64Array;
}

export interface ReferenceScanBackwardInput {
  /** [batch, length]; -Infinity masks a token. */
  scores: ArrayLike<number>;
  /** [batch, length, headDim] */
  values: ArrayLike<number>;
  /** dLoss/doutput [batch, length, headDim] */
  gradOutput: ArrayLike<number>;
  batch: number;
  length: number;
  headDim: number;
}

export interface ReferenceScanBackwardOptions {
  /** The state the scan continues from (block-wise mode); default empty (-inf, 0, 0). */
  initialState?: ReferenceStateBatch;
  /** dLoss/d(final state), e.g. the gradInitialState of the next block; default 0. */
  gradFinalState?: ReferenceStateBatch;
  /** Recency decay rate of each sequence ([batch], >= 0); default none. gradDecay is then returned. */
  decay?: ArrayLike<number>;
}

export interface ReferenceScanBackwardResult {
  /** The forward outputs [batch, length, headDim]. */
  output: Float64Array;
  /** The forward's final states. */
  finalState: ReferenceStateBatch64;
  /** [batch, length] */
  gradScores: Float64Array;
  /** [batch, length, headDim] */
  gradValues: Float64Array;
  /** Present when options.initialState is given. */
  gradInitialState?: ReferenceStateBatch64;
  /** dLoss/d(decay rate) [batch]: present when options.decay is given. */
  gradDecay?: Float64Array;
}

/** The forward scan and its gradients with respect to scores, values and the initial state (see above). */
export function referenceScanBackward(input: ReferenceScanBackwardInput, options: ReferenceScanBackwardOptions = {}): ReferenceScanBackwardResult {
  const { scores, values, gradOutput, batch, length, headDim: d } = input;
  const { initialState, gradFinalState, decay } = options;
  const gradDecay = decay ? new Float64Array(batch) : undefined;
  const output = new Float64Array(batch * length * d);
  const gradScores = new Float64Array(batch * length);
  const gradValues = new Float64Array(batch * length * d);
  const finalState: ReferenceStateBatch64 = { m: new Float64Array(batch), u: new Float64Array(batch), w: new Float64Array(batch * d) };
  const gradInitialState: ReferenceStateBatch64 | undefined = initialState
    ? { m: new Float64Array(batch), u: new Float64Array(batch), w: new Float64Array(batch * d) }
    : undefined;

  const mAt = new Float64Array(length); // m_k, u_k after position k (0-based)
  const uAt = new Float64Array(length);
  const D = new Float64Array(length);
  const a = new Float64Array(d);
  const carryA = new Float64Array(d);

  for (let b = 0; b < batch; b++) {
    const rate = decay ? decay[b]! : 0;
    const m0 = initialState ? initialState.m[b]! : -Infinity;
    const u0 = initialState ? initialState.u[b]! : 0;
    const w0 = new Float64Array(d);
    if (initialState) for (let c = 0; c < d; c++) w0[c] = initialState.w[b * d + c]!;

    // Forward, keeping m_k and u_k.
    let m = m0;
    let u = u0;
    const w = Float64Array.from(w0);
    for (let k = 0; k < length; k++) {
      const row = b * length + k;
      const s = scores[row]!;
      m -= rate; // one token older
      if (s !== -Infinity) {
        const mNext = Math.max(m, s);
        const scale = m === -Infinity ? 0 : Math.exp(m - mNext);
        const weight = Math.exp(s - mNext);
        u = u * scale + weight;
        for (let c = 0; c < d; c++) w[c] = w[c]! * scale + weight * values[row * d + c]!;
        m = mNext;
      }
      mAt[k] = m;
      uAt[k] = u;
      let dot = 0;
      for (let c = 0; c < d; c++) {
        const o = u > 0 ? w[c]! / u : 0;
        output[row * d + c] = o;
        dot += gradOutput[row * d + c]! * o;
      }
      D[k] = dot;
    }
    finalState.m[b] = m;
    finalState.u[b] = u;
    finalState.w.set(w, b * d);
    const mN = m;
    const uN = u;

    const gm = gradFinalState ? gradFinalState.m[b]! : 0;
    const gu = gradFinalState ? gradFinalState.u[b]! : 0;
    const gw = (c: number) => (gradFinalState ? gradFinalState.w[b * d + c]! : 0);

    if (length === 0 || uN === 0) {
      // Nothing unmasked anywhere (or nothing at all): the final state is the initial state, the outputs are 0
      // constants, and every score/value gradient is 0.
      if (gradInitialState) {
        gradInitialState.m[b] = gm;
        gradInitialState.u[b] = gu;
        for (let c = 0; c < d; c++) gradInitialState.w[b * d + c] = gw(c);
      }
      continue;
    }

    // Reverse recurrence. carry = lambda_k c_{k+1}, already in position k's scale; it starts with the final-state
    // gradient folded into position N (a_N += u_N gw, b_N -= u_N gu).
    for (let c = 0; c < d; c++) carryA[c] = uN * gw(c);
    let carryB = -uN * gu;
    for (let k = length - 1; k >= 0; k--) {
      const row = b * length + k;
      for (let c = 0; c < d; c++) a[c] = gradOutput[row * d + c]! + carryA[c]!;
      const bk = D[k]! + carryB;
      const s = scores[row]!;
      const uk = uAt[k]!;
      if (s !== -Infinity && uk > 0) {
        const pi = Math.exp(s - mAt[k]!) / uk;
        let va = 0;
        for (let c = 0; c < d; c++) {
          const vc = values[row * d + c]!;
          va += vc * a[c]!;
          gradValues[row * d + c] = pi * a[c]!;
        }
        gradScores[row] = pi * (va - bk);
      }
      // lambda_{k-1} = (u_{k-1} / u_k) e^{m_{k-1} - m_k}; 0 while u_{k-1} = 0 (nothing to pass to).
      let lambda = 0;
      if (k > 0) {
        const uPrev = uAt[k - 1]!;
        if (uPrev > 0 && uk > 0) lambda = (uPrev / uk) * Math.exp(mAt[k - 1]! - rate - mAt[k]!);
        for (let c = 0; c < d; c++) carryA[c] = lambda * a[c]!;
        carryB = lambda * bk;
      } else if (gradInitialState) {
        // Position 1 (k = 0) hands its c_1 to the initial state: eps = e^{m0 - m_1} / u_1.
        const eps = m0 !== -Infinity && uk > 0 ? Math.exp(m0 - rate - mAt[0]!) / uk : 0;
        let dm0 = 0;
        for (let c = 0; c < d; c++) {
          const dw = eps * a[c]!;
          gradInitialState.w[b * d + c] = dw;
          dm0 += w0[c]! * dw;
        }
        const du0 = -eps * bk;
        gradInitialState.u[b] = du0;
        gradInitialState.m[b] = dm0 + (u0 === 0 ? 0 : u0 * du0);
      }
    }

    // The max: r = gm - gu u_N - gw . w_N to the first argmax (m0 on ties). With decay the candidates are
    // compared by their scores shifted to a common frame, s_k + r k and m0 - r (exact in float64 at these sizes).
    let r = 0;
    if (gradFinalState) {
      r = gm - gu * uN;
      for (let c = 0; c < d; c++) r -= gw(c) * w[c]!;
      let best = 0;
      for (let k = 1; k < length; k++) if (scores[b * length + k]! + rate * k > scores[b * length + best]! + rate * best) best = k;
      if (gradInitialState && m0 - rate >= scores[b * length + best]! + rate * best) {
        gradInitialState.m[b] = gradInitialState.m[b]! + r;
      } else {
        gradScores[b * length + best] = gradScores[b * length + best]! + r;
      }
    }
    if (gradDecay) {
      let g = -(gradInitialState?.m[b] ?? 0) - (length - 1) * gm;
      for (let k = 0; k < length; k++) g += k * gradScores[b * length + k]!;
      gradDecay[b] = g;
    }
  }
  return { output, finalState, gradScores, gradValues, ...(gradInitialState ? { gradInitialState } : {}), ...(gradDecay ? { gradDecay } : {}) };
}
