// The backward of the scan on Dawn (Node) against the float64 reference (src/reference/scan-backward.ts) on every
// schedule: tolerance max |gpu - ref| <= 1e-4 * max|ref grad| (cases/scan-backward.ts says why it suffices).
import { describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { backwardCaseName, runScanBackwardCase, runScanBackwardCases, BACKWARD_RELATIVE_TOLERANCE, type ScanBackwardCase } from '../cases/scan-backward.js';
import { prefixAttentionBackward, planPrefixScanBackward } from '../src/ops/attention/backward.js';

const device = await dawnDevice();

const cases: ScanBackwardCase[] = [];
for (const schedule of ['recurrent', 'sequential', 'parallel'] as const) {
  const tpc = schedule === 'parallel' ? { tilesPerChunk: 1 } : {};
  for (const length of [1, 2, 255, 256, 257, 1000]) cases.push({ batch: 2, length, headDim: 4, pattern: 'normal1', schedule, ...tpc });
  for (const headDim of [1, 3, 16, 17, 64]) cases.push({ batch: 2, length: 300, headDim, pattern: 'normal30', schedule, ...tpc });
  cases.push({ batch: 2, length: 600, headDim: 4, pattern: 'huge', schedule, ...tpc });
  cases.push({ batch: 2, length: 600, headDim: 5, pattern: 'e30', schedule, ...tpc });
  cases.push({ batch: 2, length: 300, headDim: 4, pattern: 'masked-runs', schedule, ...tpc });
  cases.push({ batch: 3, length: 300, headDim: 4, pattern: 'masked-prefix', schedule, initialState: true, ...tpc });
  cases.push({ batch: 2, length: 300, headDim: 17, pattern: 'normal1', schedule, initialState: true, gradFinalState: true, ...tpc });
  cases.push({ batch: 2, length: 300, headDim: 36, pattern: 'normal1', schedule, initialState: true, gradFinalState: true, ...tpc }); // 3 blocks: 4 lanes a block in the recurrent kernel, 3 in the others
  cases.push({ batch: 2, length: 300, headDim: 4, pattern: 'e30', schedule, initialState: true, gradFinalState: true, ...tpc });
  cases.push({ batch: 2, length: 300, headDim: 4, pattern: 'masked-all', schedule, gradFinalState: true, ...tpc });
  cases.push({ batch: 2, length: 300, headDim: 4, pattern: 'masked-all', schedule, initialState: true, gradFinalState: true, ...tpc });
  // Recency decay, one rate per sequence (0 among them): the rates' gradients too.
  cases.push({ batch: 4, length: 257, headDim: 4, pattern: 'normal1', schedule, decay: true, ...tpc });
  cases.push({ batch: 4, length: 300, headDim: 36, pattern: 'normal30', schedule, decay: true, ...tpc });
  cases.push({ batch: 4, length: 300, headDim: 17, pattern: 'masked-runs', schedule, initialState: true, gradFinalState: true, decay: true, ...tpc });
  cases.push({ batch: 4, length: 300, headDim: 4, pattern: 'rising', schedule, initialState: true, gradFinalState: true, decay: true, ...tpc });
  cases.push({ batch: 4, length: 1000, headDim: 4, pattern: 'masked-prefix', schedule, initialState: true, gradFinalState: true, decay: true, pieceBytes: 8192, ...tpc });
}

describe('GPU backward vs float64 reference', () => {
  test.each(cases.map((c, i) => [backwardCaseName(c), c, 4000 + 13 * i] as const))('%s', async (_name, c, seed) => {
    const r = await runScanBackwardCase(device, c, seed);
    console.log(`${r.shape}: worst ${r.maxRelError.toExponential(2)} of max|grad| (${JSON.stringify(r.errors)}), ${r.ms.toFixed(0)} ms`);
    expect(r.maxRelError).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
    expect(r.errors.output).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
    if (r.invariant !== undefined) expect(r.invariant, 'sum ds = -dm0').toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
  });
});

test('long: 2^16 tokens, headDim 4, recurrent', async () => {
  const r = await runScanBackwardCase(device, { batch: 1, length: 1 << 16, headDim: 4, pattern: 'normal1', schedule: 'recurrent' }, 77);
  console.log(`${r.shape}: worst ${r.maxRelError.toExponential(2)}, ${r.ms.toFixed(0)} ms`);
  expect(r.maxRelError).toBeLessThanOrEqual(BACKWARD_RELATIVE_TOLERANCE);
});

test('masked tokens get zero gradients; a fully masked sequence gives zeros, never NaN', async () => {
  const scores = new Float32Array([-Infinity, 0.5, -Infinity, 1, -Infinity, -Infinity, -Infinity, -Infinity]);
  const values = Float32Array.from({ length: 16 }, (_, i) => i / 7 - 1);
  const gradOutput = Float32Array.from({ length: 16 }, (_, i) => Math.sin(i));
  const r = await prefixAttentionBackward(device, { scores, values, gradOutput, batch: 2, length: 4, headDim: 2 });
  for (const i of [0, 2, 4, 5, 6, 7]) {
    expect(Math.abs(r.gradScores[i]!)).toBe(0); // 0 or -0 (pi = 0 times a negative a)
    expect(Math.abs(r.gradValues[2 * i]!)).toBe(0);
    expect(Math.abs(r.gradValues[2 * i + 1]!)).toBe(0);
  }
  expect([...r.gradScores, ...r.gradValues].every(Number.isFinite)).toBe(true);
});

test('argument checks: gradOutput NaN / +Infinity refused with its index, before any GPU work', async () => {
  const ok = { scores: new Float32Array(4), values: new Float32Array(8), gradOutput: new Float32Array(8), batch: 2, length: 2, headDim: 2 };
  await expect(prefixAttentionBackward(device, { ...ok, gradOutput: Float32Array.from([0, 0, 0, NaN, 0, 0, 0, 0]) })).rejects.toThrow(/input\.gradOutput\[3\] is NaN/);
  await expect(prefixAttentionBackward(device, { ...ok, gradOutput: Float32Array.from([0, 0, 0, 0, 0, Infinity, 0, 0]) })).rejects.toThrow(/input\.gradOutput\[5\] is Infinity/);
  await expect(prefixAttentionBackward(device, { ...ok, gradOutput: new Float32Array(7) })).rejects.toThrow(/input\.gradOutput/);
  await expect(prefixAttentionBackward(device, { ...ok, scores: Float32Array.from([0, NaN, 0, 0]) })).rejects.toThrow(RangeError);
  await expect(prefixAttentionBackward(device, ok, { schedule: 'fast' as never })).rejects.toThrow(/options\.schedule/);
});

test('plan: every schedule is one reverse scan between grad_carry + grad_terms and grad_finish (recurrent: its own kernel)', () => {
  const dev = { limits: device.limits, cpu: true };
  const names = (p: ReturnType<typeof planPrefixScanBackward>) => p.dispatches.map((d) => d.kernel.parts.at(-1)!.name);
  expect(names(planPrefixScanBackward({ batch: 2, length: 1000, headDim: 4 }, { schedule: 'recurrent' }, dev))).toEqual(['ops/attention/grad_carry', 'ops/attention/grad_terms', 'ops/attention/recurrent_lse_backward_scan', 'ops/attention/grad_finish']);
  expect(names(planPrefixScanBackward({ batch: 2, length: 1000, headDim: 64 }, { schedule: 'sequential' }, dev))).toEqual(['ops/attention/grad_carry', 'ops/attention/grad_terms', 'scan/chunk_scan', 'ops/attention/sum_partials', 'ops/attention/grad_finish']);
  expect(names(planPrefixScanBackward({ batch: 2, length: 1000, headDim: 4 }, { schedule: 'parallel', tilesPerChunk: 1 }, dev))).toContain('scan/chunk_reduce');
});

test('headless-Chrome cases run on Dawn too', async () => {
  const results = await runScanBackwardCases(device);
  for (const r of results) expect(r.pass, `${r.shape}: ${r.error ?? r.maxRelError}`).toBe(true);
});
