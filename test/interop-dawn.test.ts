// The interop helpers (src/core/interop.ts) and requestAarenDevice's interop defaults, in Node (Dawn): every probe
// of checkBuffersOnDevice (a binding for STORAGE buffers, a zero-byte copy or clear for the others) accepts the
// device's own buffers and refuses another device's by name; argument mistakes are TypeErrors before any GPU work;
// nothing leaks from the error scopes, and a valid call afterwards is right. The same helpers with onnxruntime-web and
// TF.js in Chromium: test/interop.test.ts.
import { describe, expect, test } from 'vitest';
import { dawnDevice, newDawnDevice } from './dawn.js';
import { checkBuffersOnDevice, checkSameDevice } from '../src/core/interop.js';
import { INTEROP_FEATURES, requestAarenDevice } from '../src/core/device.js';
import { prefixAttention } from '../src/ops/attention/scan.js';
import { referenceRecurrence } from '../src/reference/scan.js';

const gpu = (globalThis as { __aarenDawnGpu?: GPU }).__aarenDawnGpu!;
const device = await dawnDevice();
const other = await newDawnDevice();
const uncaptured: string[] = [];
device.addEventListener('uncapturederror', (e) => uncaptured.push((e as GPUUncapturedErrorEvent).error.message));

const STORAGE = GPUBufferUsage.STORAGE, COPY_SRC = GPUBufferUsage.COPY_SRC, COPY_DST = GPUBufferUsage.COPY_DST;
const buffer = (on: GPUDevice, usage: number, size = 64) => on.createBuffer({ size, usage });

async function thrown(call: () => unknown): Promise<string> {
  try {
    await call();
  } catch (e) {
    return `${(e as Error).constructor.name}: ${(e as Error).message}`;
  }
  return 'no error';
}

/** A valid call on the device afterwards: right, against the float64 reference (tolerance of cases/scan.ts). */
async function expectCorrect(): Promise<void> {
  const input = { batch: 2, length: 7, headDim: 3, scores: Float32Array.from({ length: 14 }, (_, i) => Math.sin(i)), values: Float32Array.from({ length: 42 }, (_, i) => Math.cos(i)) };
  const ref = referenceRecurrence(input).outputs;
  const got = await prefixAttention(device, input);
  for (let i = 0; i < ref.length; i++) expect(Math.abs(got[i]! - ref[i]!)).toBeLessThanOrEqual(1e-4);
}

describe('requestAarenDevice for a device shared with other libraries', () => {
  test('every numeric limit at the adapter maximum, the interop features the adapter has, and an optional label', async () => {
    const adapter = (await gpu.requestAdapter())!;
    const d = await requestAarenDevice(gpu, { label: 'shared' });
    let compared = 0;
    for (const name in adapter.limits) {
      const value = adapter.limits[name as keyof GPUSupportedLimits];
      if (typeof value !== 'number') continue;
      expect(d.limits[name as keyof GPUSupportedLimits], name).toBe(value);
      compared++;
    }
    expect(compared).toBeGreaterThan(20);
    expect([...d.features].filter((f) => INTEROP_FEATURES.includes(f as GPUFeatureName)).sort())
      .toEqual(INTEROP_FEATURES.filter((f) => adapter.features.has(f)).sort());
    expect(d.features.has('subgroups')).toBe(adapter.features.has('subgroups'));
    expect(d.label).toBe('shared');
    d.destroy();
  });

  test('options.features replaces the list (e.g. subgroups hidden for ORT attention on SwiftShader)', async () => {
    const d = await requestAarenDevice(gpu, { features: ['timestamp-query'] });
    expect(d.features.has('subgroups')).toBe(false);
    expect(d.features.has('timestamp-query')).toBe((await gpu.requestAdapter())!.features.has('timestamp-query'));
    d.destroy();
  });
});

describe('checkSameDevice', () => {
  test('passes for the device itself, refuses another device or a non-device', async () => {
    expect(() => checkSameDevice('their device', device, device)).not.toThrow();
    expect(await thrown(() => checkSameDevice('ort.env.webgpu.device', device, other)))
      .toMatch(/^Error: ort\.env\.webgpu\.device is not the device given to aaren-webgpu \(it is .*GPUDevice.*\): a buffer of one GPUDevice cannot be used on another/);
    expect(await thrown(() => checkSameDevice('ort.env.webgpu.device', device, undefined))).toBe('TypeError: ort.env.webgpu.device must be a GPUDevice, got undefined');
    expect(await thrown(() => checkSameDevice('backend.device', device, {}))).toBe('TypeError: backend.device must be a GPUDevice, got Object');
  });
});

describe('checkBuffersOnDevice', () => {
  test('every probe: the device\'s own buffers pass, another device\'s are refused by name', async () => {
    const kinds = { storage: STORAGE, 'copy-src': COPY_SRC, 'copy-dst': COPY_DST } as const;
    for (const [kind, usage] of Object.entries(kinds)) {
      await expect(checkBuffersOnDevice(device, { [`ours ${kind}`]: buffer(device, usage) }, usage)).resolves.toBeUndefined();
      const message = await thrown(() => checkBuffersOnDevice(device, { mine: buffer(device, usage), [`buffers.${kind}`]: buffer(other, usage) }, usage));
      expect(message, kind).toMatch(new RegExp(`^Error: buffers\\.${kind} cannot be used on device: it belongs to another GPUDevice \\(WebGPU: .*associated with`));
    }
    // A STORAGE buffer under 4 bytes cannot be bound: it is checked by a copy instead.
    await expect(checkBuffersOnDevice(device, { tiny: buffer(device, STORAGE | COPY_SRC, 2) })).resolves.toBeUndefined();
    expect(await thrown(() => checkBuffersOnDevice(device, { tiny: buffer(other, STORAGE | COPY_SRC, 2) }))).toMatch(/^Error: tiny cannot be used on device/);
    expect(uncaptured).toEqual([]);
    await expectCorrect();
  });

  test('argument mistakes are TypeErrors before any GPU work; undefined entries are skipped', async () => {
    let scopes = 0;
    const push = device.pushErrorScope.bind(device);
    device.pushErrorScope = (filter) => (scopes++, push(filter));
    try {
      expect(await thrown(() => checkBuffersOnDevice(device, { 'buffers.x': new Float32Array(4) as unknown as GPUBuffer }))).toBe('TypeError: buffers.x must be a GPUBuffer, got Float32Array');
      expect(await thrown(() => checkBuffersOnDevice(device, { 'buffers.x': buffer(device, COPY_DST) })))
        .toBe('TypeError: buffers.x must have GPUBufferUsage STORAGE; it has COPY_DST');
      expect(await thrown(() => checkBuffersOnDevice(device, { zeroCopy: buffer(device, STORAGE | COPY_DST) }, STORAGE | COPY_SRC)))
        .toBe('TypeError: zeroCopy must have GPUBufferUsage COPY_SRC | STORAGE; it has COPY_DST | STORAGE');
      expect(await thrown(() => checkBuffersOnDevice(device, { index: buffer(device, GPUBufferUsage.INDEX) }, GPUBufferUsage.INDEX)))
        .toBe('TypeError: index has none of STORAGE, COPY_SRC, COPY_DST (it has INDEX), so its device cannot be checked');
      expect(await thrown(() => checkBuffersOnDevice(device, null as unknown as Record<string, GPUBuffer>))).toMatch(/^TypeError: buffers must be an object/);
      expect(scopes).toBe(0);
      await expect(checkBuffersOnDevice(device, { residual: undefined })).resolves.toBeUndefined();
      expect(scopes).toBe(0);
    } finally {
      device.pushErrorScope = push;
    }
  });

  test('a buffer that passed is not probed again (each run\'s buffers can be checked for free)', async () => {
    const b = buffer(device, STORAGE);
    let scopes = 0;
    const push = device.pushErrorScope.bind(device);
    device.pushErrorScope = (filter) => (scopes++, push(filter));
    try {
      await checkBuffersOnDevice(device, { b });
      expect(scopes).toBe(1);
      await checkBuffersOnDevice(device, { again: b });
      expect(scopes).toBe(1);
      // Known for this device only: on another device the same buffer is probed (and refused).
      expect(await thrown(() => checkBuffersOnDevice(other, { b }))).toMatch(/^Error: b cannot be used on device/);
    } finally {
      device.pushErrorScope = push;
    }
  });

  test('a destroyed buffer of the device passes (WebGPU reports it at submit); a lost device is refused', async () => {
    const b = buffer(device, STORAGE);
    b.destroy();
    await expect(checkBuffersOnDevice(device, { b })).resolves.toBeUndefined();
    const lost = await newDawnDevice();
    lost.destroy();
    expect(await thrown(() => checkBuffersOnDevice(lost, { b: buffer(device, STORAGE) }))).toMatch(/^Error: aaren-webgpu: device is lost/);
    expect(uncaptured).toEqual([]);
    await expectCorrect();
  });
});
