// The backward of the scan, block-wise (Dawn, Node):
//  - split-anywhere: the backward of two blocks, the forward state handed over (prefixAttentionLast) and the
//    gradient of that state handed back (gradInitialState of the second block as gradFinalState of the first),
//    equals the backward of one pass, for split points 0, 1, tile edges, N-1 and N, on every schedule;
//  - pieces past the buffer limits (backwardInPieces with an artificially small limit): groups of whole sequences,
//    and one sequence cut along its length (forward left to right, backward right to left);
//  - long sequences and extreme spreads against the float64 reference.
// Tolerances: 1e-4 * max|ref grad| (cases/scan-backward.ts says why) up to 2^16 tokens, 1e-3 at 2^20 (the issue's
// bounds); the two-block result is held to the same bound against the reference as the one pass is (each is a
// different f32 rounding of the same sum).
import { describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { backwardInPieces, prefixAttentionBackward, type PrefixAttentionBackwardResult } from '../src/ops/attention/backward.js';
import { prefixAttentionLast } from '../src/ops/attention/scan.js';
import { emptyState, type ScanState } from '../src/ops/attention/state.js';
import { referenceScanBackward } from '../src/reference/scan-backward.js';
import { runScanBackwardCase, BACKWARD_RELATIVE_TOLERANCE, type ScanBackwardCase } from '../cases/scan-backward.js';
import { makeScores, makeValues, mulberry32, normal, type ScorePattern } from '../cases/random.js';
import { SCAN_SCHEDULES } from '../src/scan/skeleton.js';
import { trackBuffers } from '../cases/layer.js';

const device = await dawnDevice();

function randomState(batch: number, headDim: number, seed: number): ScanState {
  const random = mulberry32(seed);
  return {
    batch, headDim,
    m: Float32Array.from({ length: batch }, () => normal(random)),
    u: Float32Array.from({ length: batch }, () => 0.5 + random()),
    w: Float32Array.from({ length: batch * headDim }, () => normal(random)),
  };
}

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

interface Problem {
  batch: number; length: number; headDim: number;
  scores: Float32Array; values: Float32Array; gradOutput: Float32Array;
  initialState?: ScanState; gradFinalState?: ScanState;
}

function problem(batch: number, length: number, headDim: number, pattern: ScorePattern, seed: number, ends: { initial?: boolean; gradFinal?: boolean } = {}): Problem {
  return {
    batch, length, headDim,
    scores: makeScores(pattern, batch, length, seed),
    values: makeValues(batch * length * headDim, 1, seed + 1),
    gradOutput: makeValues(batch * length * headDim, 1, seed + 2),
    initialState: ends.initial ? randomState(batch, headDim, seed + 3) : undefined,
    gradFinalState: ends.gradFinal ? randomState(batch, headDim, seed + 4) : undefined,
  };
}

/** Worst error of a GPU result against the float64 reference, relative to max|ref grad|. */
function errorOf(p: Problem, gpu: PrefixAttentionBackwardResult): number {
  const ref = referenceScanBackward(p, { initialState: p.initialState, gradFinalState: p.gradFinalState });
  const scale = Math.max(maxAbs(ref.gradScores), maxAbs(ref.gradValues), maxAbs(flat(ref.gradInitialState)), 1e-30);
  expect(maxDiff(gpu.output, ref.output)).toBeLessThanOrEqual(1e-4 * Math.max(maxAbs(p.values), 1e-30));
  expect(gpu.gradInitialState === undefined).toBe(ref.gradInitialState === undefined);
  return Math.max(maxDiff(gpu.gradScores, ref.gradScores), maxDiff(gpu.gradValues, ref.gradValues), maxDiff(flat(gpu.gradInitialState), flat(ref.gradInitialState))) / scale;
}

/** Positions [from, to) of every sequence. */
function cut(x: Float32Array, batch: number, length: number, width: number, from: number, to: number): Float32Array {
  const out = new Float32Array(batch * (to - from) * width);
  for (let b = 0; b < batch; b++) out.set(x.subarray((b * length + from) * width, (b * length + to) * width), b * (to - from) * width);
  return out;
}

/** The backward of p as two blocks [0, k) and [k, N): state handed forward, its gradient handed back. */
async function twoBlocks(p: Problem, k: number, schedule: (typeof SCAN_SCHEDULES)[number]): Promise<PrefixAttentionBackwardResult> {
  const { batch, length, headDim } = p;
  const block = (from: number, to: number) => ({
    batch, length: to - from, headDim,
    scores: cut(p.scores, batch, length, 1, from, to), values: cut(p.values, batch, length, headDim, from, to), gradOutput: cut(p.gradOutput, batch, length, headDim, from, to),
  });
  const a = block(0, k);
  const b = block(k, length);
  const handed = (await prefixAttentionLast(device, a, { initialState: p.initialState, schedule })).state;
  const rb = await prefixAttentionBackward(device, b, { initialState: handed, gradFinalState: p.gradFinalState, schedule });
  expect(rb.gradInitialState).toBeDefined();
  const ra = await prefixAttentionBackward(device, a, { initialState: p.initialState, gradFinalState: rb.gradInitialState, schedule });
  const join = (x: Float32Array, y: Float32Array, width: number) => {
    const out = new Float32Array(batch * length * width);
    for (let s = 0; s < batch; s++) {
      out.set(x.subarray(s * k * width, (s + 1) * k * width), s * length * width);
      out.set(y.subarray(s * (length - k) * width, (s + 1) * (length - k) * width), (s * length + k) * width);
    }
    return out;
  };
  return {
    output: join(ra.output, rb.output, headDim), gradScores: join(ra.gradScores, rb.gradScores, 1), gradValues: join(ra.gradValues, rb.gradValues, headDim),
    ...(ra.gradInitialState ? { gradInitialState: ra.gradInitialState } : {}),
  };
}

describe('split anywhere: two blocks with the state handed over and its gradient handed back equal one pass', () => {
  const length = 600;
  const splits = [0, 1, 255, 256, 257, 599, 600, 431];
  for (const schedule of SCAN_SCHEDULES) {
    for (const [name, pattern, ends] of [
      ['N(0,1), initial state, gradFinalState', 'normal1', { initial: true, gradFinal: true }],
      ['masked prefix, no state', 'masked-prefix', {}],
      ['spread 1e4, gradFinalState', 'huge', { gradFinal: true }],
    ] as const) {
      test(`${schedule}: ${name}`, async () => {
        const p = problem(2, length, 5, pattern, 300 + name.length, ends);
        const one = await prefixAttentionBackward(device, p, { initialState: p.initialState, gradFinalState: p.gradFinalState, schedule });
        const oneError = errorOf(p, one);
        let worst = 0;
        for (const k of splits) {
          const two = await twoBlocks(p, k, schedule);
          const e = errorOf(p, two);
          worst = Math.max(worst, e);
          expect(e, `split at ${k}`).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
        }
        console.log(`${schedule} ${name}: one pass ${oneError.toExponential(2)}, two blocks worst ${worst.toExponential(2)} of max|grad|`);
        expect(oneError).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
      });
    }
  }

  test('an all-masked first block passes the gradient of an empty state: zeros there, the second block as one pass', async () => {
    const p = problem(1, 50, 3, 'normal1', 77);
    p.scores.fill(-Infinity, 0, 20);
    const two = await twoBlocks(p, 20, 'recurrent');
    expect(errorOf(p, two)).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
    expect(two.gradScores.subarray(0, 20).every((x) => x === 0)).toBe(true);
    expect([...two.gradScores, ...two.gradValues].every(Number.isFinite)).toBe(true);
  });
});

describe('pieces past the buffer limit (artificially small limits)', () => {
  for (const schedule of SCAN_SCHEDULES) {
    test(`${schedule}: one sequence cut along its length, with initial state and gradFinalState`, async () => {
      const p = problem(3, 1000, 4, 'masked-prefix', 900, { initial: true, gradFinal: true });
      // ~36 bytes a token at headDim 4 (two row readbacks and the scores): 8 KiB holds ~220 tokens, so 5 pieces.
      const limit = { bytes: 8192, name: 'testLimit' };
      const r = await backwardInPieces(device, p, { initialState: p.initialState, gradFinalState: p.gradFinalState, schedule }, limit);
      const e = errorOf(p, r);
      console.log(`${schedule} pieces along the length: ${e.toExponential(2)} of max|grad|`);
      expect(e).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
    });
  }

  test('groups of whole sequences (batch split), no state', async () => {
    const p = problem(7, 300, 8, 'normal30', 910);
    const limit = { bytes: 3 * 300 * 8 * 4 * 2 + 3 * 300 * 4 + 4096, name: 'testLimit' }; // about 3 sequences a piece
    const e = errorOf(p, await backwardInPieces(device, p, {}, limit));
    expect(e).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
  });

  test('pieces release every buffer they make (a refused call makes none)', async () => {
    const p = problem(2, 500, 4, 'normal1', 915, { initial: true, gradFinal: true });
    const tracker = trackBuffers(device);
    try {
      await backwardInPieces(device, p, { initialState: p.initialState, gradFinalState: p.gradFinalState }, { bytes: 8192, name: 'testLimit' });
      await expect(backwardInPieces(device, p, {}, { bytes: 64, name: 'testLimit' })).rejects.toThrow(RangeError);
      expect(tracker.live.size).toBe(0);
    } finally {
      tracker.restore();
    }
  });

  test('a limit below one token is refused with a RangeError naming it', async () => {
    const p = problem(1, 10, 64, 'normal1', 920);
    await expect(backwardInPieces(device, p, {}, { bytes: 256, name: 'testLimit' })).rejects.toThrow(/testLimit \(256 bytes\)/);
  });

  test('pieces at 2^16 tokens (d 4, 16 pieces) stay within the bound', async () => {
    const p = problem(1, 1 << 16, 4, 'normal1', 930, { gradFinal: true });
    const r = await backwardInPieces(device, p, { gradFinalState: p.gradFinalState }, { bytes: 1 << 17, name: 'testLimit' });
    const e = errorOf(p, r);
    console.log(`2^16 tokens in pieces: ${e.toExponential(2)} of max|grad|`);
    expect(e).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
  });
});

describe('long sequences and extreme spreads vs the float64 reference', () => {
  const long: [ScanBackwardCase, number][] = [
    [{ batch: 1, length: 1 << 16, headDim: 4, pattern: 'huge', schedule: 'recurrent' }, BACKWARD_RELATIVE_TOLERANCE],
    [{ batch: 1, length: 1 << 16, headDim: 4, pattern: 'e30', schedule: 'recurrent', initialState: true, gradFinalState: true }, BACKWARD_RELATIVE_TOLERANCE],
    [{ batch: 1, length: 1 << 16, headDim: 4, pattern: 'masked-prefix', schedule: 'parallel' }, BACKWARD_RELATIVE_TOLERANCE],
    [{ batch: 1, length: 1 << 16, headDim: 64, pattern: 'normal1', schedule: 'recurrent' }, BACKWARD_RELATIVE_TOLERANCE],
    [{ batch: 1, length: 1 << 20, headDim: 1, pattern: 'normal1', schedule: 'recurrent' }, 1e-3],
    [{ batch: 1, length: 1 << 20, headDim: 4, pattern: 'e30', schedule: 'recurrent' }, 1e-3],
  ];
  for (const [c, tolerance] of long) {
    test(`${c.pattern} n${c.length} d${c.headDim} ${c.schedule}`, async () => {
      const r = await runScanBackwardCase(device, c, 5000 + c.length % 97);
      console.log(`ACCURACY ${r.shape}: worst ${r.maxRelError.toExponential(2)} of max|grad| (${JSON.stringify(r.errors)}), ${r.ms.toFixed(0)} ms`);
      expect(r.maxRelError).toBeLessThanOrEqual(tolerance);
      if (r.invariant !== undefined) expect(r.invariant).toBeLessThanOrEqual(tolerance);
    }, 120_000);
  }
});

test('gradOutput NaN / +Infinity refused with its index before any GPU work (pieces path too)', async () => {
  const p = problem(1, 8, 2, 'normal1', 940);
  p.gradOutput[11] = NaN;
  await expect(backwardInPieces(device, p, {}, { bytes: 64, name: 'x' })).rejects.toThrow(/input\.gradOutput\[11\] is NaN/);
  p.gradOutput[11] = 0;
  p.gradOutput[3] = Infinity;
  await expect(prefixAttentionBackward(device, p)).rejects.toThrow(/input\.gradOutput\[3\] is Infinity/);
  expect(emptyState(1, 2).u[0]).toBe(0);
});
