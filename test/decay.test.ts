// Recency decay in the log-sum-exp scan (lse_combine.wgsl): token i weighs exp(s_i - lambda (k - i)) at output k,
// one rate per sequence. Every schedule against the float64 quadratic form (each output from scratch), a rate of 0
// against the plain scan bit for bit, a sequence cut anywhere and continued from its state, and bad rates refused.
//
// Tolerance: 1e-5 * max|v| + 1e-5 * max|o_ref|. Each output is a convex combination of values; the kernels' bounds
// (recurrent_lse_scan.wgsl, workgroup_scan.wgsl) are a few hundred eps * max|v| at these lengths (2^-24 * 300 ~
// 2e-5 would be the worst case of a single running sum; the two-level sums keep it near (R + n / R) eps), and
// decay adds eps * (|s| + lambda * distance) to each weight's exponent: under 1e-5 here (scores |s| < 40).
import { describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { makeScores, makeValues } from '../cases/random.js';
import { prefixAttention, prefixAttentionLast } from '../src/ops/attention/scan.js';
import { SCAN_SCHEDULES } from '../src/scan/skeleton.js';
import { referenceQuadratic } from '../src/reference/scan.js';

const device = await dawnDevice();

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
}
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, x) => Math.max(m, Math.abs(x)), 0);

const RATES = [0, 0.05, Math.LN2, 3]; // none, half-life ~14 tokens, 1 token, a fraction of one
const SHAPES = [
  { length: 300, headDim: 4, pattern: 'normal1' },
  { length: 131, headDim: 6, pattern: 'masked-runs' },
  { length: 70, headDim: 20, pattern: 'rising' },
  { length: 90, headDim: 16, pattern: 'normal30' },
] as const;

describe.each(SCAN_SCHEDULES)('decay, %s schedule', (schedule) => {
  const options = { schedule, tilesPerChunk: 1 } as const; // parallel: several chunks even at these lengths
  test.each(SHAPES.map((s) => [`${s.pattern} length ${s.length} headDim ${s.headDim}`, s] as const))('%s: every output against float64', async (_name, shape) => {
    const batch = RATES.length;
    const input = { batch, length: shape.length, headDim: shape.headDim, scores: makeScores(shape.pattern, batch, shape.length, 5), values: makeValues(batch * shape.length * shape.headDim, 1, 6) };
    const got = await prefixAttention(device, input, { ...options, decay: RATES });
    const want = referenceQuadratic(input, RATES);
    const tolerance = 1e-5 * maxAbs(input.values) + 1e-5 * maxAbs(want);
    expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(tolerance);
    // Decay changes the outputs (the test can fail): without it they differ by far more than the tolerance.
    expect(maxAbsDiff(got, referenceQuadratic(input))).toBeGreaterThan(100 * tolerance);
  });

  test('a rate of 0 is the plain scan, bit for bit', async () => {
    const input = { batch: 2, length: 200, headDim: 8, scores: makeScores('normal30', 2, 200, 7), values: makeValues(2 * 200 * 8, 1, 8) };
    const plain = await prefixAttention(device, input, options);
    const zero = await prefixAttention(device, input, { ...options, decay: [0, 0] });
    expect(Buffer.from(zero.buffer).equals(Buffer.from(plain.buffer))).toBe(true);
  });

  test('cut anywhere: the state handed on decays by the tokens that follow', async () => {
    const length = 120;
    const headDim = 8;
    const batch = RATES.length;
    const scores = makeScores('normal1', batch, length, 9);
    const values = makeValues(batch * length * headDim, 1, 10);
    const whole = referenceQuadratic({ batch, length, headDim, scores, values }, RATES);
    const part = (from: number, to: number) => {
      const n = to - from;
      const s = new Float32Array(batch * n);
      const v = new Float32Array(batch * n * headDim);
      for (let b = 0; b < batch; b++) {
        s.set(scores.subarray(b * length + from, b * length + to), b * n);
        v.set(values.subarray((b * length + from) * headDim, (b * length + to) * headDim), b * n * headDim);
      }
      return { batch, length: n, headDim, scores: s, values: v };
    };
    for (const cut of [1, 37, 119]) {
      const head = await prefixAttentionLast(device, part(0, cut), { ...options, decay: RATES });
      const tail = await prefixAttention(device, part(cut, length), { ...options, decay: RATES, initialState: head.state });
      const want = part(cut, length);
      for (let b = 0; b < batch; b++) {
        for (let k = 0; k < length - cut; k++) {
          for (let c = 0; c < headDim; c++) want.values[(b * (length - cut) + k) * headDim + c] = whole[(b * length + cut + k) * headDim + c]!;
        }
        // The last output of the head, too (outputs 'last').
        const lastRow = (b * length + cut - 1) * headDim;
        expect(maxAbsDiff(head.output.subarray(b * headDim, (b + 1) * headDim), whole.subarray(lastRow, lastRow + headDim))).toBeLessThanOrEqual(2e-5);
      }
      expect(maxAbsDiff(tail, want.values), `cut at ${cut}`).toBeLessThanOrEqual(2e-5);
    }
  });
});

test('bad decay rates are refused before any GPU work, naming the argument', async () => {
  const input = { batch: 2, length: 3, headDim: 4, scores: new Float32Array(6), values: new Float32Array(24) };
  await expect(prefixAttention(device, input, { decay: [0.1, -1] })).rejects.toThrow(RangeError);
  await expect(prefixAttention(device, input, { decay: [0.1, -1] })).rejects.toThrow(/options\.decay\[1\] is -1/);
  await expect(prefixAttention(device, input, { decay: [NaN, 0] })).rejects.toThrow(/options\.decay\[0\] is NaN/);
  await expect(prefixAttention(device, input, { decay: [Infinity, 0] })).rejects.toThrow(/options\.decay\[0\]/);
  await expect(prefixAttention(device, input, { decay: [0.1] })).rejects.toThrow(/options\.decay has 1 rates; it needs one per sequence \(2\)/);
  await expect(prefixAttention(device, input, { decay: 'x' as unknown as number[] })).rejects.toThrow(TypeError);
  // The next valid call works.
  expect((await prefixAttention(device, input, { decay: [0.1, 0] })).length).toBe(24);
});
