// The float64 backward references (scan, layer, model, language model, cross-entropy) against central finite
// differences of the independent float64 forwards (src/reference/scan.ts, layer.ts), plus the algebraic checks
// (shift invariance sum ds = -dm0, split-anywhere, huge scores against the direct O(N^2) double sum), and AdamW
// against hand-computed steps. Pure CPU.
//
// Finite differences: central, h = 1e-6 * max(1, |x|) (the step actually taken is (x+h) - x, exactly
// representable). Truncation error is O(h^2 f''') ~ 1e-12 relative and rounding error ~ 1e-16 |f| / h ~ 1e-10 |f|
// for the O(1)..O(100) losses used here, so every check asks |grad - fd| <= FD_TOL * max(1, max|grad|) with
// FD_TOL = 1e-6: three or more orders of magnitude above the FD noise, far below any real error (a wrong term is
// O(max|grad|)).
import { describe, expect, test } from 'vitest';
import { expectFd } from './fd.js';
import { mulberry32, normal, makeScores } from '../cases/random.js';
import { referenceQuadratic, referenceRecurrence } from '../src/reference/scan.js';
import type { ReferenceState } from '../src/reference/scan.js';
import { referenceScanBackward } from '../src/reference/scan-backward.js';
import type { ReferenceStateBatch64 } from '../src/reference/scan-backward.js';
import {
  cloneReferenceLayerState, geluReference, layerNormReference, matmulReference, referenceLayer, referenceLayerState, referenceModel, softplusReference,
} from '../src/reference/layer.js';
import type { ReferenceLayerState, ReferenceLayerWeights, ReferenceModelBlock } from '../src/reference/layer.js';
import {
  geluBackward, layerNormBackward, matmulBackward, referenceLayerBackward, referenceModelBackward, referenceModelNamedWeights,
  referenceModelWeightsFromNamed,
} from '../src/reference/layer-backward.js';
import { referenceCrossEntropy, referenceLmBackward, referenceLmForward } from '../src/reference/language-model.js';
import type { ReferenceLmConfig } from '../src/reference/language-model.js';
import { referenceAdamWState, referenceAdamWStep, referenceClipGradNorm, referenceDecays } from '../src/reference/adamw.js';

const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const randn = (n: number, random: () => number, sd = 1) => Float64Array.from({ length: n }, () => sd * normal(random));
const maxAbs = (a: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel: number, label: string): void {
  expect(actual.length, label).toBe(expected.length);
  const scale = Math.max(1, maxAbs(expected));
  for (let i = 0; i < actual.length; i++) {
    expect(Number.isFinite(actual[i]!), `${label}[${i}] finite`).toBe(true);
    expect(Math.abs(actual[i]! - expected[i]!), `${label}[${i}]: ${actual[i]} vs ${expected[i]}`).toBeLessThanOrEqual(rel * scale);
  }
}

/** A one-block LM's weights by name, drawn in this order; `attention` adds the layer's optional tensors. */
function randomLmWeights(config: ReferenceLmConfig, random: () => number, attention: () => Record<string, Float64Array>): Record<string, Float64Array> {
  const { vocabSize, dModel, heads, headDim, dFF } = config;
  const hd = heads * headDim;
  return {
    token_embedding: randn(vocabSize * dModel, random),
    'blocks.0.ln1.weight': randn(dModel, random, 0.3).map((v) => 1 + v), 'blocks.0.ln1.bias': randn(dModel, random, 0.2),
    'blocks.0.attention.query': randn(hd, random), 'blocks.0.attention.key': randn(dModel * hd, random, 0.7),
    'blocks.0.attention.value': randn(dModel * hd, random, 0.7), 'blocks.0.attention.output': randn(hd * dModel, random, 0.5),
    ...attention(),
    'blocks.0.ln2.weight': randn(dModel, random, 0.3).map((v) => 1 + v), 'blocks.0.ln2.bias': randn(dModel, random, 0.2),
    'blocks.0.ffn.w1': randn(dModel * dFF, random, 0.6), 'blocks.0.ffn.b1': randn(dFF, random, 0.3),
    'blocks.0.ffn.w2': randn(dFF * dModel, random, 0.6), 'blocks.0.ffn.b2': randn(dModel, random, 0.3),
    'final_norm.weight': randn(dModel, random, 0.3).map((v) => 1 + v), 'final_norm.bias': randn(dModel, random, 0.2),
    'lm_head.weight': randn(dModel * vocabSize, random, 0.8), 'lm_head.bias': randn(vocabSize, random, 0.2),
  };
}

/** The LM reference backward: its loss and logits equal the forward's, and every named gradient central differences. */
function checkLmByFd(config: ReferenceLmConfig, weights: Record<string, Float64Array>, tokens: Uint32Array, targets: Uint32Array, shape: { batch: number; length: number }) {
  const r = referenceLmBackward(config, weights, tokens, targets, shape);
  const lossOf = (w: Record<string, ArrayLike<number>>) => referenceCrossEntropy(referenceLmForward(config, w, tokens, shape), targets, config.vocabSize).loss;
  expect(Math.abs(r.loss - lossOf(weights))).toBeLessThan(1e-14);
  expectClose(r.logits, referenceLmForward(config, weights, tokens, shape), 1e-14, 'logits');
  expect(Object.keys(r.gradients).sort()).toEqual(Object.keys(weights).sort());
  for (const [name, p] of Object.entries(weights)) {
    expect(r.gradients[name]!.length, name).toBe(p.length);
    expectFd((v) => lossOf({ ...weights, [name]: v }), p, r.gradients[name]!, name);
  }
  return r;
}

/** A model's reference backward on random x and dY: the output equals the forward's, the named gradients cover the
 * named weights (plus `check`), and dx and every gradient match central differences. */
function checkModelByFd(sizes: { dModel: number; heads: number; headDim: number; dFF: number }, blocks: ReferenceModelBlock[],
  shape: { batch: number; length: number }, random: () => number,
  check: (r: ReturnType<typeof referenceModelBackward>, named: Record<string, ArrayLike<number>>) => void): void {
  const { dModel } = sizes;
  const weights = { blocks, finalNorm: { weight: randn(dModel, random, 0.3).map((v) => 1 + v), bias: randn(dModel, random, 0.2) } };
  const dims = { ...sizes, eps: 1e-5 };
  const x = randn(shape.batch * shape.length * dModel, random);
  const dy = randn(x.length, random);
  const r = referenceModelBackward(dims, weights, x, dy, shape);
  const named = referenceModelNamedWeights(weights);
  const forward = (nw: Record<string, ArrayLike<number>>, xx: ArrayLike<number>) =>
    referenceModel({ ...dims, weights: referenceModelWeightsFromNamed(nw, blocks.length) }, xx, shape.batch, shape.length);
  expectClose(r.output, forward(named, x), 1e-13, 'output');
  expect(Object.keys(r.gradients).sort()).toEqual(Object.keys(named).sort());
  check(r, named);
  expectFd((v) => dot(dy, forward(named, v)), x, r.gradInput, 'dx');
  for (const [name, p] of Object.entries(named)) {
    expect(r.gradients[name]!.length, name).toBe(p.length);
    expectFd((v) => dot(dy, forward({ ...named, [name]: v }, x)), p, r.gradients[name]!, name);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Scan

interface ScanCase {
  scores: Float64Array;
  values: Float64Array;
  gradOutput: Float64Array;
  batch: number;
  length: number;
  headDim: number;
  init?: ReferenceStateBatch64;
  gradFinal?: ReferenceStateBatch64;
  /** Recency decay rate per sequence. */
  decay?: Float64Array;
}

type InitKind = 'none' | 'random' | 'dominant' | 'empty';

function makeScanCase(batch: number, length: number, headDim: number, pattern: 'normal1' | 'normal30' | 'masked-runs' | 'masked-prefix', init: InitKind, final: boolean, seed: number): ScanCase {
  const random = mulberry32(seed);
  const scores = Float64Array.from(makeScores(pattern, batch, length, seed + 1));
  const spread = pattern === 'normal30' ? 30 : 1;
  const values = randn(batch * length * headDim, random, 2);
  const gradOutput = randn(batch * length * headDim, random);
  const c: ScanCase = { scores, values, gradOutput, batch, length, headDim };
  if (init !== 'none') {
    const m = new Float64Array(batch);
    const u = new Float64Array(batch);
    const w = new Float64Array(batch * headDim);
    for (let b = 0; b < batch; b++) {
      if (init === 'empty') {
        m[b] = -Infinity;
        continue;
      }
      m[b] = init === 'dominant' ? 50 + spread * 3 : spread * normal(random);
      u[b] = 0.5 + 3 * random();
      for (let j = 0; j < headDim; j++) w[b * headDim + j] = u[b]! * 2 * normal(random);
    }
    c.init = { m, u, w };
  }
  if (final) c.gradFinal = { m: randn(batch, random), u: randn(batch, random), w: randn(batch * headDim, random) };
  return c;
}

function toStates(s: ReferenceStateBatch64 | undefined, batch: number, headDim: number): ReferenceState[] | undefined {
  if (!s) return undefined;
  return Array.from({ length: batch }, (_, b) => ({ m: s.m[b]!, u: s.u[b]!, w: s.w.slice(b * headDim, (b + 1) * headDim) }));
}

/** The loss sum g . o + sum_b (gm m_N + gu u_N + gw . w_N) by the independent forward (referenceRecurrence). */
function scanLoss(c: ScanCase, scores: ArrayLike<number>, values: ArrayLike<number>, init?: ReferenceStateBatch64, decay = c.decay): number {
  const { outputs, states } = referenceRecurrence({ scores, values, batch: c.batch, length: c.length, headDim: c.headDim }, toStates(init, c.batch, c.headDim), decay);
  let loss = dot(c.gradOutput, outputs);
  if (c.gradFinal) {
    states.forEach((st, b) => {
      loss += c.gradFinal!.m[b]! * st.m + c.gradFinal!.u[b]! * st.u;
      for (let j = 0; j < c.headDim; j++) loss += c.gradFinal!.w[b * c.headDim + j]! * st.w[j]!;
    });
  }
  return loss;
}

function runScan(c: ScanCase) {
  return referenceScanBackward(
    { scores: c.scores, values: c.values, gradOutput: c.gradOutput, batch: c.batch, length: c.length, headDim: c.headDim },
    { initialState: c.init, gradFinalState: c.gradFinal, decay: c.decay },
  );
}

function checkScanByFd(c: ScanCase, label: string): void {
  const r = runScan(c);
  const ref = referenceRecurrence({ scores: c.scores, values: c.values, batch: c.batch, length: c.length, headDim: c.headDim }, toStates(c.init, c.batch, c.headDim), c.decay);
  expectClose(r.output, ref.outputs, 1e-13, `${label} output`);
  const finite = Array.from(c.scores.keys()).filter((i) => c.scores[i] !== -Infinity);
  for (let i = 0; i < c.scores.length; i++) if (c.scores[i] === -Infinity) expect(r.gradScores[i], `${label} masked ds`).toBe(0);
  expectFd((s) => scanLoss(c, s, c.values, c.init), c.scores, r.gradScores, `${label} ds`, finite);
  expectFd((v) => scanLoss(c, c.scores, v, c.init), c.values, r.gradValues, `${label} dv`);
  if (c.init) {
    const init = c.init;
    const g = r.gradInitialState!;
    expect(g).toBeDefined();
    const with_ = (part: 'm' | 'u' | 'w', x: Float64Array) => scanLoss(c, c.scores, c.values, { ...init, [part]: x });
    const finiteM = Array.from(init.m.keys()).filter((b) => init.m[b] !== -Infinity);
    expectFd((x) => with_('m', x), init.m, g.m, `${label} dm0`, finiteM);
    expectFd((x) => with_('u', x), init.u, g.u, `${label} du0`, finiteM);
    expectFd((x) => with_('w', x), init.w, g.w, `${label} dw0`);
  } else {
    expect(r.gradInitialState).toBeUndefined();
  }
  if (c.decay) {
    expectFd((x) => scanLoss(c, c.scores, c.values, c.init, x), c.decay, r.gradDecay!, `${label} d(decay)`);
  } else {
    expect(r.gradDecay).toBeUndefined();
  }
}

/** The case with recency decay: rates cycling through none, slow (half-life ~7 tokens), one token and fast. */
function withDecay(c: ScanCase): ScanCase {
  const rates = [0, 0.1, Math.LN2, 2.5];
  return { ...c, decay: Float64Array.from({ length: c.batch }, (_, b) => rates[b % rates.length]!) };
}

describe('scan backward', () => {
  const cases: [string, () => ScanCase][] = [
    ['N(0,1), no state', () => makeScanCase(2, 7, 3, 'normal1', 'none', false, 1)],
    ['N(0,30), headDim 1, gradFinalState', () => makeScanCase(2, 9, 1, 'normal30', 'none', true, 2)],
    ['length 1, initial state, gradFinalState', () => makeScanCase(2, 1, 2, 'normal1', 'random', true, 3)],
    ['masked runs, initial state, gradFinalState', () => makeScanCase(2, 17, 2, 'masked-runs', 'random', true, 4)],
    ['masked prefix, gradFinalState', () => makeScanCase(2, 7, 2, 'masked-prefix', 'none', true, 5)],
    ['masked prefix, initial state', () => makeScanCase(2, 7, 2, 'masked-prefix', 'random', true, 6)],
    ['initial state above every score (r -> dm0)', () => makeScanCase(2, 6, 3, 'normal30', 'dominant', true, 7)],
    ['explicit empty initial state', () => makeScanCase(2, 6, 2, 'normal1', 'empty', true, 8)],
    ['N(0,30), headDim 1, initial state', () => makeScanCase(3, 12, 1, 'normal30', 'random', true, 9)],
    ['N(0,1), initial state, no gradFinalState', () => makeScanCase(2, 8, 4, 'normal1', 'random', false, 10)],
  ];
  test.each(cases)('matches central finite differences: %s', (label, make) => checkScanByFd(make(), label));
  test.each(cases)('with recency decay, matches central finite differences (the rates too): %s', (label, make) => checkScanByFd(withDecay(make()), label));

  test('recency decay: the outputs are the quadratic form with scores s_i - rate (k - i); rate 0 changes nothing', () => {
    const c = withDecay(makeScanCase(4, 23, 3, 'normal30', 'none', false, 40));
    const r = runScan(c);
    const quadratic = referenceQuadratic(c, c.decay);
    expectClose(r.output, quadratic, 1e-12, 'decayed output');
    const plain = runScan({ ...c, decay: undefined });
    expect(Array.from(r.gradScores.subarray(0, c.length))).toEqual(Array.from(plain.gradScores.subarray(0, c.length))); // sequence 0 has rate 0
    expect(maxAbs(r.output.subarray(c.length * 3)) > 0 && Math.abs(r.output[c.length * 3 + 5]! - plain.output[c.length * 3 + 5]!)).toBeGreaterThan(1e-3);
  });

  test('shift invariance: sum_i ds_i = -dm0 without gradFinalState (0 without initial state)', () => {
    for (const [seed, pattern, init] of [[20, 'normal1', 'random'], [21, 'normal30', 'random'], [22, 'masked-prefix', 'random'], [23, 'normal30', 'none'], [24, 'masked-runs', 'none']] as const) {
      const c = makeScanCase(3, 20, 3, pattern, init, false, seed);
      const r = runScan(c);
      for (let b = 0; b < c.batch; b++) {
        let sum = 0;
        let abs = 0;
        for (let i = 0; i < c.length; i++) {
          sum += r.gradScores[b * c.length + i]!;
          abs += Math.abs(r.gradScores[b * c.length + i]!);
        }
        const dm0 = r.gradInitialState ? r.gradInitialState.m[b]! : 0;
        expect(Math.abs(sum + dm0)).toBeLessThanOrEqual(1e-12 * Math.max(1, abs));
      }
    }
  });

  test('split anywhere: two blocks (state forward, state gradient backward) equal one block', () => {
    for (const [seed, pattern, init] of [[30, 'normal1', 'random'], [31, 'normal30', 'none'], [32, 'masked-prefix', 'none'], [33, 'masked-runs', 'dominant']] as const) {
      const c = makeScanCase(2, 17, 2, pattern, init, true, seed);
      const whole = runScan(c);
      const { batch, length, headDim: d } = c;
      for (let t = 0; t <= length; t++) {
        const part = (from: number, to: number, src: Float64Array, width: number) => {
          const out = new Float64Array(batch * (to - from) * width);
          for (let b = 0; b < batch; b++) out.set(src.subarray((b * length + from) * width, (b * length + to) * width), b * (to - from) * width);
          return out;
        };
        const block = (from: number, to: number, initialState: ReferenceStateBatch64 | undefined, gradFinalState: ReferenceStateBatch64 | undefined) =>
          referenceScanBackward(
            { scores: part(from, to, c.scores, 1), values: part(from, to, c.values, d), gradOutput: part(from, to, c.gradOutput, d), batch, length: to - from, headDim: d },
            { initialState, gradFinalState },
          );
        const first = block(0, t, c.init, undefined); // forward only: its final state
        const second = block(t, length, first.finalState, c.gradFinal);
        const firstBack = block(0, t, c.init, second.gradInitialState);
        const join = (x: Float64Array, y: Float64Array, width: number) => {
          const out = new Float64Array(batch * length * width);
          for (let b = 0; b < batch; b++) {
            out.set(x.subarray(b * t * width, (b + 1) * t * width), b * length * width);
            out.set(y.subarray(b * (length - t) * width, (b + 1) * (length - t) * width), (b * length + t) * width);
          }
          return out;
        };
        const label = `${pattern} split at ${t}`;
        expectClose(join(firstBack.output, second.output, d), whole.output, 1e-12, `${label} output`);
        expectClose(join(firstBack.gradScores, second.gradScores, 1), whole.gradScores, 1e-12, `${label} ds`);
        expectClose(join(firstBack.gradValues, second.gradValues, d), whole.gradValues, 1e-12, `${label} dv`);
        expectClose(second.finalState.u, whole.finalState.u, 1e-12, `${label} final u`);
        if (c.init) {
          for (const k of ['m', 'u', 'w'] as const) expectClose(firstBack.gradInitialState![k], whole.gradInitialState![k], 1e-12, `${label} d${k}0`);
        }
      }
    }
  });

  /** The gradients as the direct double sum over p_{k,i} = e^{s_i - m_k} / u_k, every m_k and u_k from scratch: O(N^2). */
  function directGradients(c: ScanCase) {
    const { batch, length, headDim: d } = c;
    const ds = new Float64Array(batch * length);
    const dv = new Float64Array(batch * length * d);
    const dInit = { m: new Float64Array(batch), u: new Float64Array(batch), w: new Float64Array(batch * d) };
    for (let b = 0; b < batch; b++) {
      const s = (i: number) => c.scores[b * length + i]!;
      const v = (i: number, j: number) => c.values[(b * length + i) * d + j]!;
      const m0 = c.init ? c.init.m[b]! : -Infinity;
      const u0 = c.init ? c.init.u[b]! : 0;
      const w0 = (j: number) => (c.init ? c.init.w[b * d + j]! : 0);
      const at = (k: number) => {
        // m_k, u_k and o_k of prefix 0..k (k = -1: the initial state), from scratch.
        let m = m0;
        for (let i = 0; i <= k; i++) m = Math.max(m, s(i));
        let u = m0 === -Infinity ? 0 : u0 * Math.exp(m0 - m);
        const w = Array.from({ length: d }, (_, j) => (m0 === -Infinity ? 0 : w0(j) * Math.exp(m0 - m)));
        for (let i = 0; i <= k; i++) {
          if (s(i) === -Infinity) continue;
          const e = Math.exp(s(i) - m);
          u += e;
          for (let j = 0; j < d; j++) w[j] = w[j]! + (e * v(i, j));
        }
        return { m, u, w, o: w.map((x) => (u > 0 ? x / u : 0)) };
      };
      const gm = c.gradFinal ? c.gradFinal.m[b]! : 0;
      const gu = c.gradFinal ? c.gradFinal.u[b]! : 0;
      const gw = (j: number) => (c.gradFinal ? c.gradFinal.w[b * d + j]! : 0);
      const N = at(length - 1);
      for (let k = 0; k < length; k++) {
        const st = at(k);
        if (st.u === 0) continue;
        const g = (j: number) => c.gradOutput[(b * length + k) * d + j]!;
        let D = 0;
        for (let j = 0; j < d; j++) D += g(j) * st.o[j]!;
        for (let i = 0; i <= k; i++) {
          if (s(i) === -Infinity) continue;
          const p = Math.exp(s(i) - st.m) / st.u;
          let gv = 0;
          for (let j = 0; j < d; j++) {
            dv[(b * length + i) * d + j] = dv[(b * length + i) * d + j]! + (p * g(j));
            gv += g(j) * v(i, j);
          }
          ds[b * length + i] = ds[b * length + i]! + (p * (gv - D));
        }
        if (m0 !== -Infinity) {
          const e = Math.exp(m0 - st.m) / st.u;
          for (let j = 0; j < d; j++) dInit.w[b * d + j] = dInit.w[b * d + j]! + (e * g(j));
          dInit.u[b] = dInit.u[b]! - (e * D);
        }
      }
      if (N.u > 0) {
        for (let i = 0; i < length; i++) {
          if (s(i) === -Infinity) continue;
          const e = Math.exp(s(i) - N.m);
          let gv = 0;
          for (let j = 0; j < d; j++) {
            dv[(b * length + i) * d + j] = dv[(b * length + i) * d + j]! + (e * gw(j));
            gv += gw(j) * v(i, j);
          }
          ds[b * length + i] = ds[b * length + i]! + (e * (gu + gv));
        }
        if (m0 !== -Infinity) {
          const e = Math.exp(m0 - N.m);
          for (let j = 0; j < d; j++) dInit.w[b * d + j] = dInit.w[b * d + j]! + (e * gw(j));
          dInit.u[b] = dInit.u[b]! + (e * gu);
        }
        let r = gm - gu * N.u;
        for (let j = 0; j < d; j++) r -= gw(j) * N.w[j]!;
        let dm0 = u0 * dInit.u[b]!;
        for (let j = 0; j < d; j++) dm0 += w0(j) * dInit.w[b * d + j]!;
        let argmax = -1;
        if (!(c.init && m0 >= N.m)) for (let i = 0; i < length && argmax < 0; i++) if (s(i) === N.m) argmax = i;
        if (argmax >= 0) ds[b * length + argmax] = ds[b * length + argmax]! + (r);
        else dm0 += r;
        dInit.m[b] = dm0;
      }
    }
    return { ds, dv, dInit };
  }

  test('direct double sum agrees on ordinary scores (an independent formulation)', () => {
    for (const [seed, pattern, init] of [[40, 'normal1', 'random'], [41, 'normal30', 'dominant'], [42, 'masked-runs', 'none']] as const) {
      const c = makeScanCase(2, 15, 3, pattern, init, true, seed);
      const r = runScan(c);
      const direct = directGradients(c);
      expectClose(r.gradScores, direct.ds, 1e-12, `${pattern} ds`);
      expectClose(r.gradValues, direct.dv, 1e-12, `${pattern} dv`);
      if (c.init) for (const k of ['m', 'u', 'w'] as const) expectClose(r.gradInitialState![k], direct.dInit[k], 1e-12, `${pattern} d${k}0`);
    }
  });

  test.each([1e4, 1e30])('scores spread over +-%d: finite gradients equal to the direct double sum', (spread) => {
    const random = mulberry32(50 + Math.log10(spread));
    const batch = 3;
    const length = 24;
    const d = 2;
    const c = makeScanCase(batch, length, d, 'normal1', 'random', true, 51);
    for (let i = 0; i < c.scores.length; i++) c.scores[i] = spread * (2 * random() - 1);
    // Near-ties at the top of sequence 0 keep some gradients away from 0 / 1 weights.
    c.scores[3] = spread * 0.999;
    c.scores[9] = c.scores[3]! + 0.5;
    c.scores[12] = c.scores[3]! - 0.25;
    for (let b = 0; b < batch; b++) c.init!.m[b] = spread * (2 * random() - 1);
    const r = runScan(c);
    const direct = directGradients(c);
    for (const a of [r.output, r.gradScores, r.gradValues, r.gradInitialState!.m, r.gradInitialState!.u, r.gradInitialState!.w]) for (const x of a) expect(Number.isFinite(x)).toBe(true);
    expectClose(r.gradScores, direct.ds, 1e-10, 'ds');
    expectClose(r.gradValues, direct.dv, 1e-10, 'dv');
    for (const k of ['m', 'u', 'w'] as const) expectClose(r.gradInitialState![k], direct.dInit[k], 1e-10, `d${k}0`);
    if (spread === 1e4) expect(maxAbs(r.gradScores.subarray(0, length))).toBeGreaterThan(0.01); // the near-ties matter
  });

  test('scores offset by 1e4 give the gradients of the unshifted scores (checked by FD)', () => {
    const c = makeScanCase(2, 10, 3, 'normal1', 'random', true, 60);
    const r = runScan(c);
    checkScanByFd(c, 'unshifted');
    const shifted: ScanCase = { ...c, scores: c.scores.map((s) => s + 1e4), init: { ...c.init!, m: c.init!.m.map((m) => m + 1e4) } };
    const rs = runScan(shifted);
    expectClose(rs.gradScores, r.gradScores, 1e-8, 'ds');
    expectClose(rs.gradValues, r.gradValues, 1e-8, 'dv');
    for (const k of ['m', 'u', 'w'] as const) expectClose(rs.gradInitialState![k], r.gradInitialState![k], 1e-8, `d${k}0`);
  });

  test('two tied scores of 1e30 share the weight (m and u kept apart, no m + log u)', () => {
    const r = referenceScanBackward({ scores: [1e30, 1e30], values: [1, 3], gradOutput: [1, 1], batch: 1, length: 2, headDim: 1 });
    expect(Array.from(r.output)).toEqual([1, 2]);
    expect(Array.from(r.gradValues)).toEqual([1.5, 0.5]);
    expect(Array.from(r.gradScores)).toEqual([-0.5, 0.5]);
  });

  test('the max gradient goes to the first argmax, or to m0 when it is >= every score', () => {
    const gradFinalState = { m: [1], u: [0], w: [0] };
    const input = { scores: [1, 3, 3], values: [0, 0, 0], gradOutput: [0, 0, 0], batch: 1, length: 3, headDim: 1 };
    expect(Array.from(referenceScanBackward(input, { gradFinalState }).gradScores)).toEqual([0, 1, 0]);
    const tied = referenceScanBackward(input, { gradFinalState, initialState: { m: [3], u: [1], w: [0] } });
    expect(Array.from(tied.gradScores)).toEqual([0, 0, 0]);
    expect(tied.gradInitialState!.m[0]).toBe(1);
    const below = referenceScanBackward(input, { gradFinalState, initialState: { m: [2.5], u: [1], w: [0] } });
    expect(Array.from(below.gradScores)).toEqual([0, 1, 0]);
    expect(below.gradInitialState!.m[0]).toBe(0);
  });

  test('a fully masked sequence gives zeros (never NaN); with an empty state the state gradient passes through', () => {
    const input = { scores: [-Infinity, -Infinity, -Infinity], values: [1, 2, 3, 4, 5, 6], gradOutput: [1, -1, 2, 0.5, 3, 1], batch: 1, length: 3, headDim: 2 };
    const plain = referenceScanBackward(input);
    expect(Array.from(plain.output)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(plain.gradScores)).toEqual([0, 0, 0]);
    expect(Array.from(plain.gradValues)).toEqual([0, 0, 0, 0, 0, 0]);
    const gradFinalState = { m: [0.5], u: [2], w: [3, -1] };
    const withFinal = referenceScanBackward(input, { gradFinalState, initialState: { m: [-Infinity], u: [0], w: [0, 0] } });
    expect(Array.from(withFinal.gradScores)).toEqual([0, 0, 0]);
    expect(Array.from(withFinal.gradValues)).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(withFinal.gradInitialState!.m)).toEqual([0.5]);
    expect(Array.from(withFinal.gradInitialState!.u)).toEqual([2]);
    expect(Array.from(withFinal.gradInitialState!.w)).toEqual([3, -1]);
    // A non-empty initial state through masked tokens: outputs are w0/u0, and the gradient matches FD.
    const c: ScanCase = { scores: Float64Array.of(-Infinity, -Infinity, -Infinity), values: Float64Array.from(input.values), gradOutput: Float64Array.from(input.gradOutput), batch: 1, length: 3, headDim: 2, init: { m: Float64Array.of(0.7), u: Float64Array.of(1.5), w: Float64Array.of(0.3, -2) }, gradFinal: { m: Float64Array.of(0.5), u: Float64Array.of(2), w: Float64Array.of(3, -1) } };
    checkScanByFd(c, 'masked with state');
  });

  test('length 0 with an initial state: gradFinalState passes straight to gradInitialState', () => {
    const r = referenceScanBackward(
      { scores: [], values: [], gradOutput: [], batch: 2, length: 0, headDim: 2 },
      { initialState: { m: [1, -Infinity], u: [2, 0], w: [1, 2, 0, 0] }, gradFinalState: { m: [0.5, 1], u: [-1, 2], w: [3, 4, 5, 6] } },
    );
    expect(Array.from(r.gradInitialState!.m)).toEqual([0.5, 1]);
    expect(Array.from(r.gradInitialState!.u)).toEqual([-1, 2]);
    expect(Array.from(r.gradInitialState!.w)).toEqual([3, 4, 5, 6]);
    expect(Array.from(r.finalState.m)).toEqual([1, -Infinity]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Layer pieces, layer, model

function layerWeights(dModel: number, heads: number, headDim: number, biases: boolean, random: () => number): ReferenceLayerWeights {
  const hd = heads * headDim;
  const w: ReferenceLayerWeights = {
    query: randn(hd, random), key: randn(dModel * hd, random, 0.7), value: randn(dModel * hd, random, 0.7), output: randn(hd * dModel, random, 0.5),
  };
  if (biases) {
    w.keyBias = randn(hd, random, 0.3);
    w.valueBias = randn(hd, random, 0.3);
    w.outputBias = randn(dModel, random, 0.3);
  }
  return w;
}

const cloneState = (s: ReferenceLayerState | undefined) => (s ? cloneReferenceLayerState(s) : undefined);

describe('layer and model backward', () => {
  test('LayerNorm, GELU and matmul backward match finite differences', () => {
    const random = mulberry32(70);
    const rows = 3;
    const width = 5;
    const x = randn(rows * width, random, 2);
    const gamma = randn(width, random);
    const beta = randn(width, random);
    const dy = randn(rows * width, random);
    const ln = layerNormBackward(x, dy, rows, width, gamma, 1e-5);
    const lnLoss = (xx: ArrayLike<number>, g: ArrayLike<number>, bb: ArrayLike<number>) => dot(dy, layerNormReference(xx, rows, width, g, bb, 1e-5));
    expectFd((v) => lnLoss(v, gamma, beta), x, ln.gradInput, 'ln dx');
    expectFd((v) => lnLoss(x, v, beta), gamma, ln.gradWeight, 'ln dgamma');
    expectFd((v) => lnLoss(x, gamma, v), beta, ln.gradBias, 'ln dbeta');

    const gx = Float64Array.of(-6, -4.3, -3, -1.2, -0.3, 0, 1e-3, 0.4, 1, 2.5, 4.2426, 4.3, 7);
    const gdy = randn(gx.length, random);
    expectFd((v) => dot(gdy, v.map(geluReference)), gx, geluBackward(gx, gdy), 'gelu');

    const [m, k, n] = [4, 3, 5];
    const a = randn(m * k, random);
    const w = randn(k * n, random);
    const bias = randn(n, random);
    const my = randn(m * n, random);
    const mm = matmulBackward(a, w, my, m, k, n);
    expectFd((v) => dot(my, matmulReference(v, w, m, k, n, bias)), a, mm.gradInput, 'matmul dx');
    expectFd((v) => dot(my, matmulReference(a, v, m, k, n, bias)), w, mm.gradWeight, 'matmul dW');
    expectFd((v) => dot(my, matmulReference(a, w, m, k, n, v)), bias, mm.gradBias, 'matmul dbias');
  });

  test.each([
    ['2 heads, biases', 5, 2, 3, true, false],
    ['1 head of dim 1, no biases', 3, 1, 1, false, false],
    ['2 heads, biases, constant initial state', 4, 2, 2, true, true],
  ] as const)('Aaren layer: %s', (_label, dModel, heads, headDim, biases, withState) => {
    const random = mulberry32(80 + dModel);
    const shape = { batch: 2, length: 4 };
    const weights = layerWeights(dModel, heads, headDim, biases, random);
    const dims = { dModel, heads, headDim, scale: 0.8 };
    const x = randn(shape.batch * shape.length * dModel, random);
    const dy = randn(x.length, random);
    const state: ReferenceLayerState | undefined = withState
      ? Array.from({ length: shape.batch * heads }, () => {
        const u = 0.5 + random();
        return { m: normal(random), u, w: randn(headDim, random, u) };
      })
      : undefined;
    const r = referenceLayerBackward(dims, weights, x, dy, shape, state);
    const forward = (w: ReferenceLayerWeights, xx: ArrayLike<number>) => referenceLayer({ ...dims, weights: w }, xx, shape.batch, shape.length, cloneState(state));
    expectClose(r.output, forward(weights, x), 1e-13, 'output');
    if (state) expect(state[0]!.u).toBe(cloneState(state)![0]!.u); // not advanced
    expectFd((v) => dot(dy, forward(weights, v)), x, r.gradInput, 'dx');
    for (const key of ['query', 'key', 'value', 'output', 'keyBias', 'valueBias', 'outputBias'] as const) {
      const p = weights[key];
      expect(r.gradients[key] === undefined, key).toBe(p === undefined);
      if (!p) continue;
      expectFd((v) => dot(dy, forward({ ...weights, [key]: v }, x)), p, r.gradients[key]!, `d${key}`);
    }
  });

  test('pre-LN model: every named gradient and the input gradient match finite differences', () => {
    const random = mulberry32(90);
    const [dModel, heads, headDim, dFF] = [4, 2, 2, 6];
    const shape = { batch: 2, length: 3 };
    const block = (biases: boolean): ReferenceModelBlock => ({
      ln1: { weight: randn(dModel, random, 0.3).map((v) => 1 + v), bias: randn(dModel, random, 0.2) },
      attention: layerWeights(dModel, heads, headDim, biases, random),
      ln2: { weight: randn(dModel, random, 0.3).map((v) => 1 + v), bias: randn(dModel, random, 0.2) },
      ffn: { w1: randn(dModel * dFF, random, 0.6), b1: randn(dFF, random, 0.3), w2: randn(dFF * dModel, random, 0.6), b2: randn(dModel, random, 0.3) },
    });
    checkModelByFd({ dModel, heads, headDim, dFF }, [block(true), block(false)], shape, random, (r) => {
      expect(r.gradients['blocks.0.attention.key_bias']).toBeDefined();
      expect(r.gradients['blocks.1.attention.key_bias']).toBeUndefined();
    });
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Language model, cross-entropy

describe('language model', () => {
  test('cross-entropy: stable with huge logits, gradient matches FD and sums to 0 per row', () => {
    const random = mulberry32(100);
    const vocab = 6;
    const count = 5;
    const logits = randn(count * vocab, random, 3);
    const targets = Uint32Array.from({ length: count }, () => Math.floor(random() * vocab));
    const { loss, gradLogits } = referenceCrossEntropy(logits, targets, vocab);
    expectFd((v) => referenceCrossEntropy(v, targets, vocab).loss, logits, gradLogits, 'dlogits');
    for (let r = 0; r < count; r++) expect(Math.abs(gradLogits.subarray(r * vocab, (r + 1) * vocab).reduce((a, b) => a + b, 0))).toBeLessThan(1e-15);
    const shifted = referenceCrossEntropy(logits.map((v) => v + 1e4), targets, vocab);
    expect(Math.abs(shifted.loss - loss)).toBeLessThan(1e-10);
    const big = referenceCrossEntropy([1000, 0, -1000], [1], 3);
    expect(big.loss).toBeCloseTo(1000, 10);
    expect(Array.from(big.gradLogits)).toEqual([1, -1, 0]);
  });

  test('LM: loss and every named gradient match finite differences; repeated tokens accumulate', () => {
    const random = mulberry32(110);
    const config: ReferenceLmConfig = { vocabSize: 7, layers: 1, dModel: 4, heads: 2, headDim: 2, dFF: 5 };
    const { dModel } = config;
    const weights = randomLmWeights(config, random, () => ({ 'blocks.0.attention.output_bias': randn(dModel, random, 0.2) }));
    const tokens = Uint32Array.of(1, 3, 1, 1, 0, 3, 5, 1); // 1 repeats, 2, 4 and 6 never appear
    const targets = Uint32Array.of(3, 1, 1, 0, 3, 5, 1, 2);
    const r = checkLmByFd(config, weights, tokens, targets, { batch: 2, length: 4 });
    const emb = r.gradients.token_embedding!;
    for (const t of [2, 4, 6]) expect(maxAbs(emb.subarray(t * dModel, (t + 1) * dModel))).toBe(0);
    expect(maxAbs(emb.subarray(dModel, 2 * dModel))).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Order-aware layer: recency decay (theta, rate = softplus(theta)) and the causal depthwise conv of width 4

/** Layer weights with the order-aware features: decay theta per head around 0 (rates ~0.3..1.3), conv taps ~0.4. */
function orderAwareWeights(dModel: number, heads: number, headDim: number, biases: boolean, random: () => number, features: { decay: boolean; conv: boolean }): ReferenceLayerWeights {
  const w = layerWeights(dModel, heads, headDim, biases, random);
  if (features.decay) w.decay = randn(heads, random, 0.8);
  if (features.conv) w.conv = randn(dModel * 4, random, 0.4);
  return w;
}

/** A carried state: random head states, and a random conv history when `dModel` is given. */
function randomLayerState(batch: number, heads: number, headDim: number, random: () => number, dModel?: number): ReferenceLayerState {
  const state: ReferenceLayerState = Array.from({ length: batch * heads }, () => {
    const u = 0.5 + random();
    return { m: normal(random), u, w: randn(headDim, random, u) };
  });
  if (dModel !== undefined) state.convHistory = randn(batch * 3 * dModel, random);
  return state;
}

/**
 * The layer written from the contract's quadratic form, independent of referenceLayer's recurrence: x' by the conv
 * sum over j with x_{t-j} from the history, keys and values from x', and output k of head h the softmax over
 * i <= k of s_i - rate_h (k - i), plus the carried state (m0, u0, w0) as one more term of weight u0 e^{m0 - rate_h k - rate_h}.
 */
function orderAwareDirect(
  dims: { dModel: number; heads: number; headDim: number; scale: number }, wt: ReferenceLayerWeights, x: ArrayLike<number>, batch: number, length: number,
  state?: ReferenceLayerState,
): Float64Array {
  const { dModel, heads, headDim, scale } = dims;
  const hd = heads * headDim;
  const xAt = (b: number, t: number, d: number) =>
    t >= 0 ? x[(b * length + t) * dModel + d]! : state?.convHistory ? state.convHistory[(b * 3 + 3 + t) * dModel + d]! : 0;
  const xc = new Float64Array(batch * length * dModel);
  for (let b = 0; b < batch; b++)
    for (let t = 0; t < length; t++)
      for (let d = 0; d < dModel; d++) {
        let v = xAt(b, t, d);
        if (wt.conv) for (let j = 0; j < 4; j++) v += wt.conv[d * 4 + j]! * xAt(b, t - j, d);
        xc[(b * length + t) * dModel + d] = v;
      }
  const K = matmulReference(xc, wt.key, batch * length, dModel, hd, wt.keyBias);
  const V = matmulReference(xc, wt.value, batch * length, dModel, hd, wt.valueBias);
  const O = new Float64Array(batch * length * hd);
  for (let b = 0; b < batch; b++)
    for (let h = 0; h < heads; h++) {
      const rate = wt.decay ? softplusReference(wt.decay[h]!) : 0;
      const s = (i: number) => {
        let acc = 0;
        for (let c = 0; c < headDim; c++) acc += wt.query[h * headDim + c]! * K[(b * length + i) * hd + h * headDim + c]!;
        return scale * acc;
      };
      const st = state?.[b * heads + h];
      for (let k = 0; k < length; k++) {
        // Terms (log weight, value); the state sits one token before token 0.
        const terms: [number, (c: number) => number][] = [];
        if (st && st.m !== -Infinity) terms.push([st.m + Math.log(st.u) - rate * (k + 1), (c) => st.w[c]! / st.u]);
        for (let i = 0; i <= k; i++) terms.push([s(i) - rate * (k - i), (c) => V[(b * length + i) * hd + h * headDim + c]!]);
        const max = Math.max(...terms.map((t) => t[0]));
        let den = 0;
        for (const [lw] of terms) den += Math.exp(lw - max);
        for (let c = 0; c < headDim; c++) {
          let num = 0;
          for (const [lw, v] of terms) num += Math.exp(lw - max) * v(c);
          O[(b * length + k) * hd + h * headDim + c] = num / den;
        }
      }
    }
  return matmulReference(O, wt.output, batch * length, hd, dModel, wt.outputBias);
}

describe('order-aware layer, model and LM (recency decay, conv)', () => {
  test('softplus: log(1 + e^theta) without overflow or underflow', () => {
    for (const t of [-3, -0.5, 0, 0.5, 3, 20]) expect(softplusReference(t)).toBeCloseTo(Math.log(1 + Math.exp(t)), 14);
    expect(softplusReference(1000)).toBe(1000);
    expect(softplusReference(-800)).toBeGreaterThanOrEqual(0);
    expect(Math.abs(softplusReference(-30) - Math.exp(-30)) / Math.exp(-30)).toBeLessThan(1e-12);
  });

  const cases = [
    ['decay, 2 heads, biases', 5, 2, 3, true, { decay: true, conv: false }, 'none'],
    ['conv, 1 head of dim 1', 3, 1, 1, false, { decay: false, conv: true }, 'none'],
    ['decay and conv, 2 heads, biases', 4, 2, 2, true, { decay: true, conv: true }, 'none'],
    ['decay and conv, carried head states and conv history', 4, 2, 2, true, { decay: true, conv: true }, 'state'],
    ['decay and conv, carried head states without a conv history (zeros)', 3, 2, 2, false, { decay: true, conv: true }, 'heads-only'],
    ['decay, carried head states', 4, 2, 2, false, { decay: true, conv: false }, 'state'],
  ] as const;

  test.each(cases)('layer, forward = the quadratic form of the definitions: %s', (_label, dModel, heads, headDim, biases, features, stateKind) => {
    const random = mulberry32(200 + dModel);
    const [batch, length] = [2, 6];
    const weights = orderAwareWeights(dModel, heads, headDim, biases, random, features);
    const dims = { dModel, heads, headDim, scale: 0.8 };
    const x = randn(batch * length * dModel, random);
    const state = stateKind === 'none' ? undefined : randomLayerState(batch, heads, headDim, random, stateKind === 'state' && features.conv ? dModel : undefined);
    expectClose(referenceLayer({ ...dims, weights }, x, batch, length, cloneState(state)), orderAwareDirect(dims, weights, x, batch, length, state), 1e-13, 'y');
  });

  test.each(cases)('layer backward matches central finite differences (decay theta, conv and every old gradient): %s', (_label, dModel, heads, headDim, biases, features, stateKind) => {
    const random = mulberry32(210 + dModel);
    const shape = { batch: 2, length: 5 };
    const weights = orderAwareWeights(dModel, heads, headDim, biases, random, features);
    const dims = { dModel, heads, headDim, scale: 0.8 };
    const x = randn(shape.batch * shape.length * dModel, random);
    const dy = randn(x.length, random);
    const state = stateKind === 'none' ? undefined : randomLayerState(shape.batch, heads, headDim, random, stateKind === 'state' && features.conv ? dModel : undefined);
    const before = cloneState(state);
    const r = referenceLayerBackward(dims, weights, x, dy, shape, state);
    const forward = (w: ReferenceLayerWeights, xx: ArrayLike<number>) => referenceLayer({ ...dims, weights: w }, xx, shape.batch, shape.length, cloneState(state));
    expectClose(r.output, forward(weights, x), 1e-13, 'output');
    if (state) expect(state).toEqual(before); // read, not advanced (the conv history neither)
    expectFd((v) => dot(dy, forward(weights, v)), x, r.gradInput, 'dx');
    for (const key of ['query', 'key', 'value', 'output', 'keyBias', 'valueBias', 'outputBias', 'decay', 'conv'] as const) {
      const p = weights[key];
      expect(r.gradients[key] === undefined, key).toBe(p === undefined);
      if (!p) continue;
      expect(r.gradients[key]!.length, key).toBe(p.length);
      expectFd((v) => dot(dy, forward({ ...weights, [key]: v }, x)), p, r.gradients[key]!, `d${key}`);
    }
    if (features.decay) expect(maxAbs(r.gradients.decay!)).toBeGreaterThan(1e-3);
    if (features.conv) expect(maxAbs(r.gradients.conv!)).toBeGreaterThan(1e-3);
  });

  test('layer: token by token, and in blocks, with a carried state (head states and conv history) equals one pass', () => {
    const random = mulberry32(230);
    const [dModel, heads, headDim, batch, length] = [4, 2, 3, 3, 9];
    const weights = orderAwareWeights(dModel, heads, headDim, true, random, { decay: true, conv: true });
    const config = { dModel, heads, headDim, weights };
    const x = randn(batch * length * dModel, random);
    const rows = (from: number, to: number) => {
      const out = new Float64Array(batch * (to - from) * dModel);
      for (let b = 0; b < batch; b++) out.set(x.subarray((b * length + from) * dModel, (b * length + to) * dModel), b * (to - from) * dModel);
      return out;
    };
    const whole = referenceLayerState(batch, heads, headDim, dModel);
    const once = referenceLayer(config, x, batch, length, whole);
    for (const cuts of [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [0, 2, 3, 7, 9], [0, 5, 9]]) {
      // The plain array state (no convHistory) gets its history attached by the first call.
      for (const st of [referenceLayerState(batch, heads, headDim, dModel), referenceLayerState(batch, heads, headDim)]) {
        const y = new Float64Array(once.length);
        for (let c = 0; c + 1 < cuts.length; c++) {
          const [from, to] = [cuts[c]!, cuts[c + 1]!];
          const part = referenceLayer(config, rows(from, to), batch, to - from, st);
          for (let b = 0; b < batch; b++) y.set(part.subarray(b * (to - from) * dModel, (b + 1) * (to - from) * dModel), (b * length + from) * dModel);
        }
        expectClose(y, once, 1e-13, `cuts ${cuts}`);
        expectClose(st.convHistory!, whole.convHistory!, 0, 'conv history');
        expectClose(st.flatMap((h) => [h.m, h.u, ...h.w]), whole.flatMap((h) => [h.m, h.u, ...h.w]), 1e-13, 'head states');
      }
    }
    // The history holds the last 3 raw inputs (not x').
    for (let b = 0; b < batch; b++) expect(Array.from(whole.convHistory!.subarray(b * 3 * dModel, (b + 1) * 3 * dModel))).toEqual(Array.from(rows(length - 3, length).subarray(b * 3 * dModel, (b + 1) * 3 * dModel)));
  });

  test('theta = -30 and conv = 0 reproduce the plain layer (forward, state, every gradient) to 1e-12', () => {
    const random = mulberry32(240);
    const [dModel, heads, headDim] = [4, 2, 2];
    const shape = { batch: 2, length: 7 };
    const plain = layerWeights(dModel, heads, headDim, true, random);
    const near = { ...plain, decay: new Float64Array(heads).fill(-30), conv: new Float64Array(dModel * 4) };
    const dims = { dModel, heads, headDim };
    const x = randn(shape.batch * shape.length * dModel, random);
    const dy = randn(x.length, random);
    const state = randomLayerState(shape.batch, heads, headDim, random, dModel);
    for (const st of [undefined, state]) {
      const a = cloneState(st);
      const b = cloneState(st);
      expectClose(referenceLayer({ ...dims, weights: near }, x, shape.batch, shape.length, a), referenceLayer({ ...dims, weights: plain }, x, shape.batch, shape.length, b), 1e-12, 'y');
      if (a && b) expectClose(a.flatMap((h) => [h.m, h.u, ...h.w]), b.flatMap((h) => [h.m, h.u, ...h.w]), 1e-12, 'state');
      const ra = referenceLayerBackward(dims, near, x, dy, shape, st);
      const rb = referenceLayerBackward(dims, plain, x, dy, shape, st);
      expectClose(ra.output, rb.output, 1e-12, 'output');
      expectClose(ra.gradInput, rb.gradInput, 1e-12, 'dx');
      for (const key of ['query', 'key', 'value', 'output', 'keyBias', 'valueBias', 'outputBias'] as const) expectClose(ra.gradients[key]!, rb.gradients[key]!, 1e-12, key);
      expect(maxAbs(ra.gradients.decay!)).toBeLessThan(1e-11); // sigmoid(-30) ~ 1e-13
    }
  });

  const modelBlock = (dModel: number, heads: number, headDim: number, dFF: number, biases: boolean, features: { decay: boolean; conv: boolean }, random: () => number): ReferenceModelBlock => ({
    ln1: { weight: randn(dModel, random, 0.3).map((v) => 1 + v), bias: randn(dModel, random, 0.2) },
    attention: orderAwareWeights(dModel, heads, headDim, biases, random, features),
    ln2: { weight: randn(dModel, random, 0.3).map((v) => 1 + v), bias: randn(dModel, random, 0.2) },
    ffn: { w1: randn(dModel * dFF, random, 0.6), b1: randn(dFF, random, 0.3), w2: randn(dFF * dModel, random, 0.6), b2: randn(dModel, random, 0.3) },
  });

  test('pre-LN model: blocks.{l}.attention.decay / .conv and every other named gradient match finite differences', () => {
    const random = mulberry32(250);
    const [dModel, heads, headDim, dFF] = [4, 2, 2, 6];
    const shape = { batch: 2, length: 5 };
    const blocks = [
      modelBlock(dModel, heads, headDim, dFF, true, { decay: true, conv: true }, random),
      modelBlock(dModel, heads, headDim, dFF, false, { decay: false, conv: true }, random),
      modelBlock(dModel, heads, headDim, dFF, false, { decay: true, conv: false }, random),
    ];
    checkModelByFd({ dModel, heads, headDim, dFF }, blocks, shape, random, (_r, named) => {
      for (const name of ['blocks.0.attention.decay', 'blocks.0.attention.conv', 'blocks.1.attention.conv', 'blocks.2.attention.decay']) expect(named[name], name).toBeDefined();
      for (const name of ['blocks.1.attention.decay', 'blocks.2.attention.conv']) expect(named[name], name).toBeUndefined();
      expect(referenceModelWeightsFromNamed(named, blocks.length).blocks.map((b) => [b.attention.decay, b.attention.conv])).toEqual(blocks.map((b) => [b.attention.decay, b.attention.conv]));
    });
  });

  test('pre-LN model: token by token with per-layer states (conv histories included) equals one pass', () => {
    const random = mulberry32(260);
    const [dModel, heads, headDim, dFF, batch, length] = [4, 2, 2, 5, 2, 6];
    const weights = {
      blocks: [modelBlock(dModel, heads, headDim, dFF, true, { decay: true, conv: true }, random), modelBlock(dModel, heads, headDim, dFF, false, { decay: true, conv: true }, random)],
      finalNorm: { weight: randn(dModel, random, 0.3).map((v) => 1 + v), bias: randn(dModel, random, 0.2) },
    };
    const config = { dModel, heads, headDim, dFF, weights };
    const x = randn(batch * length * dModel, random);
    const once = referenceModel(config, x, batch, length);
    const states = [referenceLayerState(batch, heads, headDim, dModel), referenceLayerState(batch, heads, headDim)];
    const y = new Float64Array(once.length);
    for (let t = 0; t < length; t++) {
      const xt = new Float64Array(batch * dModel);
      for (let b = 0; b < batch; b++) xt.set(x.subarray((b * length + t) * dModel, (b * length + t + 1) * dModel), b * dModel);
      const yt = referenceModel(config, xt, batch, 1, states);
      for (let b = 0; b < batch; b++) y.set(yt.subarray(b * dModel, (b + 1) * dModel), (b * length + t) * dModel);
    }
    expectClose(y, once, 1e-13, 'y');
  });

  test('LM: the decay and conv weights by name, and every other gradient, match finite differences', () => {
    const random = mulberry32(270);
    const config: ReferenceLmConfig = { vocabSize: 6, layers: 1, dModel: 4, heads: 2, headDim: 2, dFF: 5 };
    const { heads, dModel, vocabSize } = config;
    const weights = randomLmWeights(config, random, () => ({
      'blocks.0.attention.decay': randn(heads, random, 0.8), 'blocks.0.attention.conv': randn(dModel * 4, random, 0.4),
    }));
    const shape = { batch: 2, length: 5 };
    const tokens = Uint32Array.of(1, 3, 1, 1, 0, 3, 5, 1, 2, 2);
    const targets = Uint32Array.of(3, 1, 1, 0, 3, 5, 1, 2, 2, 4);
    const r = checkLmByFd(config, weights, tokens, targets, shape);
    const { 'blocks.0.attention.decay': _d, 'blocks.0.attention.conv': _c, ...plain } = weights;
    const plainLoss = referenceCrossEntropy(referenceLmForward(config, plain, tokens, shape), targets, vocabSize).loss;
    expect(Math.abs(plainLoss - r.loss)).toBeGreaterThan(1e-6); // the features are read
  });
});

// ---------------------------------------------------------------------------------------------------------------
// AdamW

describe('AdamW', () => {
  const options = { lr: 0.01, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.1 };

  test('step 1 closed form: p (1 - lr wd) - lr g / (|g| + eps), decay only where decays(name)', () => {
    const params = { 'blocks.0.attention.key': Float64Array.of(1, -2, 0.5), 'blocks.0.ln1.bias': Float64Array.of(1, -2, 0.5) };
    const g = Float64Array.of(0.3, -1e-3, 4);
    const state = referenceAdamWState();
    const out = referenceAdamWStep(params, { 'blocks.0.attention.key': g, 'blocks.0.ln1.bias': g }, state, options, referenceDecays);
    expect(out.clipScale).toBe(1);
    expect(state.step).toBe(1);
    const p0 = [1, -2, 0.5];
    for (let i = 0; i < 3; i++) {
      const update = (options.lr * g[i]!) / (Math.abs(g[i]!) + options.eps);
      expect(params['blocks.0.attention.key'][i]).toBeCloseTo(p0[i]! * (1 - options.lr * options.weightDecay) - update, 14);
      expect(params['blocks.0.ln1.bias'][i]).toBeCloseTo(p0[i]! - update, 14);
    }
  });

  test('a constant gradient moves p by lr g / (|g| + eps) each step (bias corrections cancel); step 2 by hand', () => {
    const params = { w: Float64Array.of(1, -1) };
    const g = { w: Float64Array.of(0.5, -2) };
    const state = referenceAdamWState();
    const opts = { ...options, weightDecay: 0 };
    for (let t = 1; t <= 5; t++) {
      referenceAdamWStep(params, g, state, opts, () => true);
      expect(params.w[0]).toBeCloseTo(1 - (t * opts.lr * 0.5) / (0.5 + opts.eps), 13);
      expect(params.w[1]).toBeCloseTo(-1 + (t * opts.lr * 2) / (2 + opts.eps), 13);
    }

    // Two different gradients, with weight decay, written out.
    const p = { w: Float64Array.of(0.8) };
    const s2 = referenceAdamWState();
    const [b1, b2] = options.betas;
    const { lr, eps, weightDecay: wd } = options;
    referenceAdamWStep(p, { w: [0.2] }, s2, options, () => true);
    referenceAdamWStep(p, { w: [-0.6] }, s2, options, () => true);
    const p1 = 0.8 * (1 - lr * wd) - (lr * 0.2) / (0.2 + eps);
    const m2 = b1 * (1 - b1) * 0.2 + (1 - b1) * -0.6;
    const v2 = b2 * (1 - b2) * 0.04 + (1 - b2) * 0.36;
    const p2 = p1 * (1 - lr * wd) - ((lr / (1 - b1 * b1)) * m2) / (Math.sqrt(v2) / Math.sqrt(1 - b2 * b2) + eps);
    expect(p.w[0]).toBeCloseTo(p2, 14);
    expect(s2.m.w![0]).toBeCloseTo(m2, 15);
    expect(s2.v.w![0]).toBeCloseTo(v2, 15);
  });

  test('clip_grad_norm_: total 2-norm over all gradients, scale min(1, max / (norm + 1e-6)); grads untouched', () => {
    const grads = { a: Float64Array.of(3, 0), b: Float64Array.of(4) };
    expect(referenceClipGradNorm(grads, 1)).toEqual({ totalNorm: 5, scale: 1 / (5 + 1e-6) });
    expect(referenceClipGradNorm(grads, 10).scale).toBe(1);
    const opts = { ...options, eps: 0.1, weightDecay: 0, clipGradNorm: 1 };
    const params = { a: Float64Array.of(0, 0), b: Float64Array.of(0) };
    const out = referenceAdamWStep(params, grads, referenceAdamWState(), opts, () => false);
    expect(out.gradNorm).toBe(5);
    expect(out.clipScale).toBe(1 / (5 + 1e-6));
    expect(Array.from(grads.a)).toEqual([3, 0]);
    const gc = 4 * out.clipScale; // step 1 with a large eps: -lr gc / (gc + eps) shows the clipped gradient
    expect(params.b[0]).toBeCloseTo((-opts.lr * gc) / (gc + opts.eps), 15);
    expect(params.a[1]).toBe(0);
  });

  test('decay rule: matrices, query, embedding and head decay; biases and LayerNorm do not', () => {
    for (const n of ['token_embedding', 'lm_head.weight', 'blocks.0.attention.query', 'blocks.1.attention.key', 'blocks.0.attention.value', 'blocks.0.attention.output', 'blocks.2.ffn.w1', 'blocks.0.ffn.w2']) expect(referenceDecays(n), n).toBe(true);
    for (const n of ['lm_head.bias', 'blocks.0.ln1.weight', 'blocks.0.ln2.bias', 'final_norm.weight', 'blocks.0.attention.key_bias', 'blocks.0.attention.output_bias', 'blocks.0.ffn.b1', 'blocks.0.ffn.b2']) expect(referenceDecays(n), n).toBe(false);
  });
});
