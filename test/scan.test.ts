// The scan kernels on Dawn (Node) against the float64 reference: every case of harness/cases.ts, which the
// headless-Chrome run (test/browser.test.ts) repeats in the browser.
import { describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { caseName, runCombineCase, runScanCase, scanCases } from '../cases/scan.js';
import { kernelConfig, PrefixScan } from '../src/ops/attention/scan.js';

const device = await dawnDevice();
const tile = kernelConfig(device.limits, 4).tile;

test('combine: associativity and identity on random and extreme triples', async () => {
  const r = await runCombineCase(device, 7);
  expect(r.maxAbsError).toBeLessThanOrEqual(r.tolerance);
});

describe.each(['workgroup-scan', 'cross-workgroup-scan', 'many-to-many', 'many-to-one'])('%s', (kernel) => {
  const cases = scanCases(tile).filter((c) => c.kernel === kernel);
  test.each(cases.map((c, i) => [caseName(c), c, 1000 + 17 * i] as const))('%s', async (_name, sc, seed) => {
    const r = await runScanCase(device, sc, seed);
    expect(r.maxAbsError, `max |gpu - ref| = ${r.maxAbsError}`).toBeLessThanOrEqual(r.tolerance);
  });
});

test('schedules: auto runs the recurrent schedule on a CPU adapter; others can be forced', async () => {
  const auto = await PrefixScan.create(device, { batch: 1, length: 1 << 16, headDim: 4 });
  const parallel = await PrefixScan.create(device, { batch: 1, length: 1 << 16, headDim: 4 }, { schedule: 'parallel', tilesPerChunk: 1 });
  expect(auto.schedule).toBe('recurrent'); // SwiftShader here
  expect(parallel.schedule).toBe('parallel');
  auto.destroy();
  parallel.destroy();
});
