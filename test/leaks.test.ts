// No leaks: device.createBuffer is wrapped to count live buffers (made and not yet destroyed). A thousand typed
// calls on tiny inputs, over every schedule and both entry points, refused calls and GPU errors among them,
// end with as many live buffers as they started with; PrefixScan.destroy releases every buffer it made.
import { afterAll, expect, test } from 'vitest';
import { dawnDevice, newDawnDevice } from './dawn.js';
import { spyOnDevice } from './gpu-spy.js';
import { makeScores, makeValues } from '../cases/random.js';
import { PrefixScan, prefixAttention, prefixAttentionLast } from '../src/ops/attention/scan.js';
import { referenceRecurrence } from '../src/reference/scan.js';
import { createStorageBuffer } from '../src/core/buffers.js';
import { stateBytes } from '../src/ops/attention/state.js';

const device = await dawnDevice();
const spy = spyOnDevice(device);
afterAll(() => spy.restore());

const CALLS = 1000;

test(`${CALLS} typed calls (both entry points, every schedule, refusals and GPU errors among them) leave no live buffer`, async () => {
  const schedules = [{ schedule: 'sequential' }, { schedule: 'parallel', tilesPerChunk: 1 }, { schedule: 'auto' }] as const;
  const input = (i: number) => {
    const batch = 1 + (i % 3);
    const length = 1 + ((7 * i) % 40);
    const headDim = 1 + (i % 5);
    return { batch, length, headDim, scores: makeScores('normal30', batch, length, i), values: makeValues(batch * length * headDim, 1, i + 1) };
  };
  // Warm the pipeline cache first, so that the baseline is taken after the bounded caches are filled.
  for (let i = 0; i < 15; i++) {
    await prefixAttention(device, input(i), schedules[i % 3]);
    await prefixAttentionLast(device, input(i), schedules[i % 3]);
  }
  const baseline = spy.live.size;
  const made = spy.buffersCreated;
  let worst = 0;
  for (let i = 0; i < CALLS; i++) {
    const x = input(i);
    const options = schedules[i % 3];
    if (i % 100 === 17) {
      // A refused call: no buffer made.
      x.scores[0] = NaN;
      await expect(prefixAttention(device, x, options)).rejects.toThrow(RangeError);
    } else if (i % 100 === 53) {
      // A WebGPU validation error inside the call: its buffers are released all the same.
      spy.onCreate = (buffer, descriptor) => {
        if (descriptor.label === 'aaren scores') buffer.destroy();
      };
      await expect(prefixAttention(device, x, options)).rejects.toThrow(/WebGPU validation error/);
      spy.onCreate = undefined;
    } else if (i % 2 === 0) {
      const out = await prefixAttention(device, x, options);
      if (i % 50 === 0) {
        const ref = referenceRecurrence(x).outputs;
        for (let k = 0; k < out.length; k++) worst = Math.max(worst, Math.abs(out[k]! - ref[k]!));
      }
    } else {
      await prefixAttentionLast(device, x, options);
    }
  }
  expect(spy.buffersCreated - made).toBeGreaterThan(4 * CALLS); // they did make buffers
  expect(spy.live.size).toBe(baseline);
  expect(worst).toBeLessThanOrEqual(1e-4);
});

test('PrefixScan.destroy releases every buffer it made (all shapes of the step graph)', async () => {
  const shapes = [
    [{ batch: 2, length: 1000, headDim: 5 }, { schedule: 'parallel', tilesPerChunk: 1 }], // recursing over chunk totals
    [{ batch: 2, length: 1000, headDim: 5 }, { schedule: 'sequential' }],
    [{ batch: 2, length: 1000, headDim: 5 }, { schedule: 'auto' }],
    [{ batch: 3, length: 700, headDim: 40 }, { schedule: 'parallel', tilesPerChunk: 1, outputs: 'last' }],
    [{ batch: 3, length: 700, headDim: 40 }, { schedule: 'sequential', outputs: 'last' }],
    [{ batch: 0, length: 10, headDim: 4 }, {}],
  ] as const;
  for (const [shape, options] of shapes) {
    const baseline = spy.live.size;
    const scan = await PrefixScan.create(device, shape, options);
    const { batch, length, headDim } = shape;
    const buffers = {
      scores: createStorageBuffer(device, batch * length * 4),
      values: createStorageBuffer(device, batch * length * headDim * 4),
      output: createStorageBuffer(device, scan.outputFloats * 4),
      initialState: createStorageBuffer(device, stateBytes(batch, headDim)),
      finalState: createStorageBuffer(device, stateBytes(batch, headDim)),
    };
    // Encode with and without the optional states: each combination makes its own uniform buffers.
    for (const withStates of [true, false, true]) {
      const encoder = device.createCommandEncoder();
      const { initialState, finalState, ...rest } = buffers;
      scan.encode(encoder, withStates || scan.outputs === 'last' ? { ...rest, initialState: withStates ? initialState : undefined, finalState } : rest);
      device.queue.submit([encoder.finish()]);
    }
    await device.queue.onSubmittedWorkDone();
    for (const b of Object.values(buffers)) b.destroy();
    // The scan's own scratch, unused-binding stand-ins and uniforms; an empty scan has no dispatch and makes none.
    if (batch * length > 0) expect(spy.live.size).toBeGreaterThan(baseline);
    else expect(spy.live.size).toBe(baseline);
    scan.destroy();
    expect(spy.live.size, `${JSON.stringify(shape)} ${JSON.stringify(options)}`).toBe(baseline);
  }
});

test('a pipeline that fails to compile inside PrefixScan.create leaves no live buffer', async () => {
  // A device of its own: its pipeline cache is empty whatever other test files in this process compiled (the
  // files share processes and the shared device, vitest.config.ts), so every pipeline of the create is compiled.
  const fresh = await newDawnDevice();
  const freshSpy = spyOnDevice(fresh);
  fresh.createComputePipelineAsync = () => Promise.reject(new Error('simulated compile failure'));
  try {
    await expect(PrefixScan.create(fresh, { batch: 2, length: 5000, headDim: 11 }, { schedule: 'parallel', tilesPerChunk: 1 }))
      .rejects.toThrow(/simulated compile failure/);
    expect(freshSpy.live.size).toBe(0);
  } finally {
    freshSpy.restore();
    fresh.destroy();
  }
});
