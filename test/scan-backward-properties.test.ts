// Property tests of the scan's backward (fast-check, seeded, bounded runs; a failure prints the shrunk
// counterexample and the seed), on Dawn against the float64 reference (src/reference/scan-backward.ts):
//  - arbitrary batch, length, headDim, score spread (1 to 1e30, with ties), masked tokens (none, random, a prefix,
//    all), schedule, chunking, initial state and gradient of the final state: within 1e-4 * max|ref grad|
//    (cases/scan-backward.ts says why), and sum_i ds_i = -dm0 (0 without an initial state) when no gradient
//    arrives through the final state; masked tokens get exactly 0 and nothing is NaN;
//  - split anywhere: two blocks, the state handed forward and its gradient handed back, within the same bound;
//  - a NaN or +Infinity anywhere in gradOutput is refused with its index.
import { expect } from 'vitest';
import { test } from '@fast-check/vitest';
import fc from 'fast-check';
import { dawnDevice } from './dawn.js';
import { mulberry32, normal } from '../cases/random.js';
import { prefixAttentionBackward } from '../src/ops/attention/backward.js';
import { prefixAttentionLast } from '../src/ops/attention/scan.js';
import type { ScanState } from '../src/ops/attention/state.js';
import { referenceScanBackward } from '../src/reference/scan-backward.js';
import { BACKWARD_RELATIVE_TOLERANCE } from '../cases/scan-backward.js';

const device = await dawnDevice();

const maxAbs = (x: ArrayLike<number>) => { let m = 0; for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!)); return m; };
const maxDiff = (x: ArrayLike<number>, y: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    m = Math.max(m, Number.isNaN(d) ? Infinity : d);
  }
  return m;
};
const flat = (s?: { m: ArrayLike<number>; u: ArrayLike<number>; w: ArrayLike<number> }) => (s ? [...Array.from(s.m), ...Array.from(s.u), ...Array.from(s.w)] : []);

const spreads = [1, 30, 1e4, 1e30] as const;
const masks = ['none', 'random', 'prefix', 'all'] as const;
const problemArb = fc.record({
  batch: fc.integer({ min: 1, max: 3 }),
  length: fc.oneof(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 41, max: 700 })),
  headDim: fc.constantFrom(1, 3, 4, 8, 17), // few kernel variants: each compiles for ~1 s on SwiftShader
  spread: fc.constantFrom(...spreads),
  mask: fc.constantFrom(...masks),
  schedule: fc.constantFrom('recurrent', 'sequential', 'parallel', 'auto'),
  tilesPerChunk: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
  initial: fc.boolean(),
  gradFinal: fc.boolean(),
  seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
});
type ProblemSpec = typeof problemArb extends fc.Arbitrary<infer T> ? T : never;

function build(p: ProblemSpec) {
  const random = mulberry32(p.seed);
  const { batch, length, headDim } = p;
  // Scores of the given spread; with 1e30, two tied levels (weights that only (m, u) can keep).
  const score = () => (p.spread === 1e30 ? (random() < 0.4 ? 1e30 : random() < 0.5 ? 5e29 : -1e30 * random()) : p.spread * normal(random));
  const scores = Float32Array.from({ length: batch * length }, (_, r) => {
    const i = r % length;
    const masked = p.mask === 'all' || (p.mask === 'random' && random() < 0.3) || (p.mask === 'prefix' && i < length / 3);
    return masked ? -Infinity : score();
  });
  const values = Float32Array.from({ length: batch * length * headDim }, () => 2 * random() - 1);
  const gradOutput = Float32Array.from({ length: batch * length * headDim }, () => 2 * random() - 1);
  const state = (mScale: number): ScanState => ({
    batch, headDim,
    m: Float32Array.from({ length: batch }, () => mScale * normal(random)),
    u: Float32Array.from({ length: batch }, () => 0.5 + random()),
    w: Float32Array.from({ length: batch * headDim }, () => normal(random)),
  });
  const initialState = p.initial ? state(p.spread) : undefined;
  const gradFinalState = p.gradFinal ? state(1) : undefined;
  return { input: { scores, values, gradOutput, batch, length, headDim }, initialState, gradFinalState };
}

test.prop([problemArb], { numRuns: 30, seed: 20261125 })('GPU backward vs float64 reference on arbitrary problems, sum ds = -dm0', async (p) => {
  const { input, initialState, gradFinalState } = build(p);
  const gpu = await prefixAttentionBackward(device, input, { initialState, gradFinalState, schedule: p.schedule, tilesPerChunk: p.tilesPerChunk });
  const ref = referenceScanBackward(input, { initialState, gradFinalState });
  const scale = Math.max(maxAbs(ref.gradScores), maxAbs(ref.gradValues), maxAbs(flat(ref.gradInitialState)), 1e-30);
  const all = [...gpu.gradScores, ...gpu.gradValues, ...flat(gpu.gradInitialState), ...gpu.output];
  expect(all.every(Number.isFinite)).toBe(true);
  expect(maxDiff(gpu.gradScores, ref.gradScores) / scale).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
  expect(maxDiff(gpu.gradValues, ref.gradValues) / scale).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
  expect(maxDiff(flat(gpu.gradInitialState), flat(ref.gradInitialState)) / scale).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
  for (let r = 0; r < input.scores.length; r++) {
    if (input.scores[r] === -Infinity) {
      expect(Math.abs(gpu.gradScores[r]!)).toBe(0);
      for (let c = 0; c < input.headDim; c++) expect(Math.abs(gpu.gradValues[r * input.headDim + c]!)).toBe(0);
    }
  }
  if (!gradFinalState) {
    for (let b = 0; b < input.batch; b++) {
      let sum = gpu.gradInitialState ? gpu.gradInitialState.m[b]! : 0;
      for (let i = 0; i < input.length; i++) sum += gpu.gradScores[b * input.length + i]!;
      expect(Math.abs(sum) / scale, `sequence ${b}: sum ds + dm0`).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
    }
  }
}, 300_000);

test.prop([problemArb, fc.double({ min: 0, max: 1, noNaN: true })], { numRuns: 20, seed: 20261126 })('split anywhere: two blocks equal one pass', async (p, at) => {
  const { input, initialState, gradFinalState } = build({ ...p, batch: 1 });
  const { length, headDim } = input;
  const k = Math.round(at * length);
  const schedule = p.schedule;
  const block = (from: number, to: number) => ({
    batch: 1, length: to - from, headDim,
    scores: input.scores.slice(from, to), values: input.values.slice(from * headDim, to * headDim), gradOutput: input.gradOutput.slice(from * headDim, to * headDim),
  });
  const [a, b] = [block(0, k), block(k, length)];
  const handed = (await prefixAttentionLast(device, a, { initialState, schedule })).state;
  const rb = await prefixAttentionBackward(device, b, { initialState: handed, gradFinalState, schedule });
  const ra = await prefixAttentionBackward(device, a, { initialState, gradFinalState: rb.gradInitialState, schedule });
  const ref = referenceScanBackward(input, { initialState, gradFinalState });
  const scale = Math.max(maxAbs(ref.gradScores), maxAbs(ref.gradValues), maxAbs(flat(ref.gradInitialState)), 1e-30);
  expect(maxDiff([...ra.gradScores, ...rb.gradScores], ref.gradScores) / scale).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
  expect(maxDiff([...ra.gradValues, ...rb.gradValues], ref.gradValues) / scale).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
  expect(maxDiff(flat(ra.gradInitialState), flat(ref.gradInitialState)) / scale).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
}, 300_000);

test.prop([fc.integer({ min: 1, max: 50 }), fc.integer({ min: 1, max: 5 }), fc.nat(), fc.constantFrom(NaN, Infinity)], { numRuns: 30, seed: 20261127 })(
  'gradOutput NaN / +Infinity refused with its index', async (length, headDim, where, bad) => {
    const n = length * headDim;
    const gradOutput = new Float32Array(n);
    const index = where % n;
    gradOutput[index] = bad;
    const input = { scores: new Float32Array(length), values: new Float32Array(n), gradOutput, batch: 1, length, headDim };
    await expect(prefixAttentionBackward(device, input)).rejects.toThrow(new RegExp(`input\\.gradOutput\\[${index}\\] is ${Number.isNaN(bad) ? 'NaN' : 'Infinity'}`));
  });
