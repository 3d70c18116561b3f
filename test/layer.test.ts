// The Aaren layer on Dawn (SwiftShader): the shared cases of test/layer-cases.ts plus Node-side checks of the
// state contract, the GPU-resident forms, validation and buffer ownership.
import { afterEach, describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { AarenLayer, type AarenLayerConfig } from '../src/nn/layer.js';
import { referenceLayer, referenceLayerState } from '../src/reference/layer.js';
import { stateBytes } from '../src/ops/attention/state.js';
import { compare, randomArray, randomLayerConfig, runLayerCases, seeded, trackBuffers } from '../cases/layer.js';
import { submitAndRead, uploadFloat32, createStorageBuffer } from '../src/core/buffers.js';

/** dModel 13, 2 heads of 33: the kernel variant of a tiled shared case, reused so that SwiftShader compiles it once. */
const D = 13;
const HD = 33;
const mid = (schedule: 'recurrent' | 'sequential' | 'parallel'): AarenLayerConfig => ({
  ...randomLayerConfig({ dModel: D, heads: 2, headDim: HD, biases: true }, seeded(12)),
  schedule,
});

const small = (schedule?: 'recurrent' | 'sequential' | 'parallel'): AarenLayerConfig => ({
  ...randomLayerConfig({ dModel: 5, heads: 2, headDim: 8, biases: true }, seeded(11)),
  schedule,
});

describe('AarenLayer', () => {
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
  });

  test('forward, step and block-wise forward vs float64 reference', async () => {
    const device = await dawnDevice();
    const results = await runLayerCases(device, { only: 'layer' });
    for (const r of results) console.log(`${r.kernel} ${r.shape} rel ${r.maxRelError.toExponential(2)} ${r.ms.toFixed(0)} ms`);
    for (const r of results) expect(r.pass, `${r.kernel} ${r.shape}: ${r.error ?? `max abs ${r.maxAbsError} > ${r.tolerance}`}`).toBe(true);
    expect(results.length).toBeGreaterThanOrEqual(12);
  }, 300_000);

  test('state bytes are the same after 10 and after 100,000 tokens, and the state stays exact', async () => {
    const device = await dawnDevice();
    const config = randomLayerConfig({ dModel: 3, heads: 1, headDim: 8 }, seeded(5));
    const layer = await AarenLayer.create(device, config);
    const state = layer.createState(1);
    const rand = seeded(6);
    try {
      const refState = referenceLayerState(1, 1, 8);
      const first = randomArray(10 * 3, rand);
      for (let i = 0; i < 10; i++) await layer.step(state, first.subarray(i * 3, i * 3 + 3));
      referenceLayer(config, first, 1, 10, refState);
      const after10 = { bytes: state.bytes, buffer: state.buffer.size, buffer0: state.buffer };
      expect(state.tokens).toBe(10);

      const n = 100_000;
      const x = randomArray(n * 3, rand);
      const y = await layer.forward(x, { batch: 1, length: n }, state);
      const ref = referenceLayer(config, x, 1, n, refState);
      const tail = await layer.step(state, x.subarray(0, 3));
      const refTail = referenceLayer(config, x.subarray(0, 3), 1, 1, refState);
      expect(state.tokens).toBe(n + 11);
      expect(state.bytes).toBe(after10.bytes);
      expect(state.buffer.size).toBe(after10.buffer);
      expect(state.buffer).toBe(after10.buffer0);
      expect(state.buffer.size).toBe(stateBytes(1, 8)); // (m, u, w) of one head: 16 + 32 bytes
      expect(compare(y, ref).pass).toBe(true);
      expect(compare(tail, refTail).pass).toBe(true);
      // The state itself: m exactly tracks the running max (a max of f32 scores: only score rounding differs);
      // w / u is a softmax average, compared relative to max |w / u| like the outputs.
      const gpu = await layer.readState(state);
      const r = refState[0]!;
      expect(Math.abs(gpu.m[0]! - r.m)).toBeLessThan(1e-5 * Math.max(1, Math.abs(r.m)));
      const o = Array.from(r.w, (w) => w / r.u);
      expect(compare(Array.from(gpu.w, (w) => w / gpu.u[0]!), o).pass).toBe(true);
    } finally {
      state.destroy();
      layer.destroy();
    }
  }, 60_000);

  test('every schedule continues a state across long uneven blocks (multi-chunk parallel scan included)', async () => {
    const device = await dawnDevice();
    const config = mid('recurrent'); // its schedule is replaced below
    const batch = 2;
    const lengths = [600, 1, 0, 1300, 37];
    const total = lengths.reduce((a, b) => a + b, 0);
    const x = randomArray(batch * total * D, seeded(42));
    const refState = referenceLayerState(batch, 2, HD);
    const ref = referenceLayer(config, x, batch, total, refState);
    for (const schedule of ['recurrent', 'sequential', 'parallel'] as const) {
      const layer = await AarenLayer.create(device, { ...config, schedule });
      const state = layer.createState(batch);
      try {
        const y = new Float32Array(x.length);
        let start = 0;
        for (const count of lengths) {
          const part = new Float32Array(batch * count * D);
          for (let b = 0; b < batch; b++) part.set(x.subarray((b * total + start) * D, (b * total + start + count) * D), b * count * D);
          const out = await layer.forward(part, { batch, length: count }, state);
          for (let b = 0; b < batch; b++) y.set(out.subarray(b * count * D, (b + 1) * count * D), (b * total + start) * D);
          start += count;
        }
        const c = compare(y, ref);
        expect(c.pass, `${schedule}: max rel ${c.maxRelError}`).toBe(true);
        const gpu = await layer.readState(state);
        refState.forEach((r, i) => {
          expect(Math.abs(gpu.m[i]! - r.m), schedule).toBeLessThan(1e-5 * Math.max(1, Math.abs(r.m)));
          expect(Math.abs(gpu.u[i]! - r.u), schedule).toBeLessThan(1e-5 * r.u);
        });
      } finally {
        state.destroy();
        layer.destroy();
      }
    }
  }, 60_000);

  test('GPU-resident encodeForward / encodeStep match the typed-array forms', async () => {
    const device = await dawnDevice();
    for (const schedule of ['recurrent', 'sequential', 'parallel'] as const) {
      const config = mid(schedule);
      const layer = await AarenLayer.create(device, config);
      const batch = 2;
      const length = 300; // two tiles: the parallel schedule runs as such
      const x = randomArray(batch * length * D, seeded(3));
      const state = layer.createState(batch);
      const made: GPUBuffer[] = [];
      try {
        const expected = await layer.forward(x, { batch, length });
        const xb = uploadFloat32(device, x);
        const yb = createStorageBuffer(device, x.byteLength);
        const residual = uploadFloat32(device, x);
        const stepIn = uploadFloat32(device, x.subarray(0, batch * D));
        const stepOut = createStorageBuffer(device, batch * D * 4);
        made.push(xb, yb, residual, stepIn, stepOut);
        let encoder = device.createCommandEncoder();
        layer.encodeForward(encoder, { x: xb, output: yb }, { batch, length });
        const [y] = await submitAndRead(device, encoder, [{ buffer: yb, floats: x.length }]);
        expect(compare(y!, expected).pass).toBe(true);
        encoder = device.createCommandEncoder();
        layer.encodeForward(encoder, { x: xb, output: yb, residual }, { batch, length }, state);
        layer.encodeStep(encoder, state, { x: stepIn, output: stepOut });
        const [yr, ys] = await submitAndRead(device, encoder, [{ buffer: yb, floats: x.length }, { buffer: stepOut, floats: batch * D }]);
        expect(compare(yr!, expected.map((v, i) => v + x[i]!)).pass).toBe(true);
        // The step continues the sequence: token `length` of each batch row, the same as a forward over length + 1.
        const longer = new Float32Array(batch * (length + 1) * D);
        for (let b = 0; b < batch; b++) {
          longer.set(x.subarray(b * length * D, (b + 1) * length * D), b * (length + 1) * D);
          longer.set(x.subarray(b * D, b * D + D), (b * (length + 1) + length) * D);
        }
        const refState = referenceLayerState(batch, 2, HD);
        const ref = referenceLayer(config, longer, batch, length + 1, refState);
        const refLast = new Float64Array(batch * D);
        for (let b = 0; b < batch; b++) refLast.set(ref.subarray((b * (length + 1) + length) * D, (b * (length + 1) + length + 1) * D), b * D);
        expect(compare(ys!, refLast).pass).toBe(true);
        // The state's m includes the key bias term (which cancels in every output: softmax is shift-invariant).
        const gpuState = await layer.readState(state);
        refState.forEach((r, i) => {
          expect(Math.abs(gpuState.m[i]! - r.m)).toBeLessThan(1e-5 * Math.max(1, Math.abs(r.m)));
          expect(Math.abs(gpuState.u[i]! - r.u)).toBeLessThan(1e-5 * r.u);
        });
      } finally {
        for (const b of made) b.destroy();
        state.destroy();
        layer.destroy();
      }
    }
  }, 60_000);

  test('invalid arguments throw a RangeError / TypeError naming them, before any GPU work', async () => {
    const device = await dawnDevice();
    const good = small();
    const bad = (patch: Partial<AarenLayerConfig>) => AarenLayer.create(device, { ...good, ...patch } as AarenLayerConfig);
    await expect(bad({ dModel: 0 })).rejects.toThrow(RangeError);
    await expect(bad({ dModel: 2.5 })).rejects.toThrow(/config\.dModel/);
    await expect(bad({ heads: -1 })).rejects.toThrow(/config\.heads/);
    await expect(bad({ headDim: 'x' as never })).rejects.toThrow(TypeError);
    await expect(bad({ scale: NaN })).rejects.toThrow(/config\.scale/);
    await expect(bad({ weights: { ...good.weights, key: new Float32Array(3) } })).rejects.toThrow(/config\.weights\.key/);
    await expect(bad({ weights: { ...good.weights, query: [1, 2] as never } })).rejects.toThrow(TypeError);
    await expect(bad({ weights: { ...good.weights, outputBias: new Float32Array(4) } })).rejects.toThrow(/config\.weights\.outputBias/);
    await expect(bad({ weights: { ...good.weights, value: good.weights.value.map((v, i) => (i === 3 ? NaN : v)) } })).rejects.toThrow(/config\.weights\.value\[3\]/);
    await expect(bad({ schedule: 'fast' as never })).rejects.toThrow(/config\.schedule/);

    const layer = await AarenLayer.create(device, good);
    const other = await AarenLayer.create(device, good);
    const tracker = trackBuffers(device);
    restore = tracker.restore;
    try {
      const state = layer.createState(2);
      const foreign = other.createState(2);
      const created = tracker.live.size;
      await expect(layer.forward(new Float32Array(9), { batch: 1, length: 2 })).rejects.toThrow(/^x must have 10 elements/);
      await expect(layer.forward(new Float64Array(10) as never, { batch: 1, length: 2 })).rejects.toThrow(TypeError);
      await expect(layer.forward(new Float32Array(10), { batch: 1, length: -2 })).rejects.toThrow(/shape\.length/);
      await expect(layer.forward(new Float32Array(10), { batch: 1.5, length: 2 })).rejects.toThrow(/shape\.batch/);
      await expect(layer.forward(new Float32Array(10).fill(Infinity), { batch: 1, length: 2 })).rejects.toThrow(/x\[0\]/);
      await expect(layer.forward(new Float32Array(10), { batch: 1, length: 2 }, state)).rejects.toThrow(/state is for batch 2/);
      await expect(layer.forward(new Float32Array(20), { batch: 2, length: 2 }, foreign)).rejects.toThrow(/state must be an AarenState made by this layer/);
      await expect(layer.step(state, new Float32Array(5))).rejects.toThrow(/^x must have 10 elements/);
      await expect(layer.step({} as never, new Float32Array(10))).rejects.toThrow(TypeError);
      expect(() => layer.createState(0)).toThrow(/batch/);
      const encoder = device.createCommandEncoder();
      expect(() => layer.encodeForward(encoder, { x: 3 as never, output: 4 as never }, { batch: 1, length: 1 })).toThrow(/buffers\.x must be a GPUBuffer/);
      expect(tracker.live.size).toBe(created); // nothing was allocated by the rejected calls
      expect(await layer.forward(new Float32Array(0), { batch: 0, length: 3 })).toHaveLength(0);
      state.destroy();
      await expect(layer.step(state, new Float32Array(10))).rejects.toThrow(/state was destroyed/);
      foreign.destroy();
    } finally {
      layer.destroy();
      other.destroy();
    }
    await expect(layer.forward(new Float32Array(5), { batch: 1, length: 1 })).rejects.toThrow(/destroyed/);
  }, 60_000);

  test('no buffer leaks: temporaries are destroyed, destroy() releases the rest', async () => {
    const device = await dawnDevice();
    const tracker = trackBuffers(device);
    restore = tracker.restore;
    for (const schedule of ['recurrent', 'sequential', 'parallel'] as const) {
      const layer = await AarenLayer.create(device, mid(schedule));
      const owned = tracker.live.size;
      expect(owned).toBeGreaterThan(0);
      const x = randomArray(2 * 300 * D, seeded(1));
      await layer.forward(x, { batch: 2, length: 300 });
      expect(tracker.live.size).toBe(owned); // forward keeps nothing
      const state = layer.createState(2);
      await layer.forward(x, { batch: 2, length: 300 }, state);
      await layer.step(state, x.subarray(0, 2 * D));
      const afterFirstStep = tracker.live.size;
      await layer.step(state, x.subarray(2 * D, 4 * D));
      expect(tracker.live.size).toBe(afterFirstStep); // each step reuses the cached one-token plan
      state.destroy();
      layer.destroy();
      expect(tracker.live.size).toBe(0);
    }
  }, 60_000);
});
