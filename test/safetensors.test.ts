// The safetensors reader/writer: byte layout, dtypes, malformed files, and the model round trip
// (the round trip through AarenModel also runs in the shared cases, 'aaren-model-safetensors').
import { describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js'; // first: installs the WebGPU globals other modules read at load
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { AarenModel, modelFromSafetensors, modelToSafetensors } from '../src/nn/model.js';
import { compare, randomArray, randomModelConfig, seeded } from '../cases/layer.js';

/** A file in the format's own terms: u64 header length, JSON header, raw little-endian data. */
function handMade(header: object, data: Uint8Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  test('writes the documented layout and reads it back', () => {
    const a = Float32Array.from([1, -2.5, 3.25, 1e-30, -0, 7]);
    const b = Float32Array.from([42]);
    const bytes = writeSafetensors({ 'x.a': { shape: [2, 3], data: a }, b: { shape: [], data: b } }, { note: 'hi' });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const n = Number(view.getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header['x.a']).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    expect(header.b).toEqual({ dtype: 'F32', shape: [], data_offsets: [24, 28] });
    expect(header.__metadata__).toEqual({ note: 'hi' });
    expect(view.getFloat32(8 + n + 8, true)).toBe(3.25);
    const file = readSafetensors(bytes);
    expect(file.metadata).toEqual({ note: 'hi' });
    expect(file.tensors.get('x.a')!.shape).toEqual([2, 3]);
    expect(Array.from(file.tensors.get('x.a')!.data)).toEqual(Array.from(a));
    expect(Array.from(file.tensors.get('b')!.data)).toEqual([42]);
    expect(readSafetensors(bytes.buffer.slice(0) as ArrayBuffer).tensors.size).toBe(2);
  });

  test('reads F16, BF16 and F64 tensors (as PyTorch writes them) into float32', () => {
    const data = new Uint8Array(2 * 3 + 2 * 2 + 8 * 2);
    const v = new DataView(data.buffer);
    [0x3c00, 0xc000, 0x3555].forEach((h, i) => v.setUint16(2 * i, h, true)); // 1, -2, 0.333 in f16
    [0x3f80, 0xc0a0].forEach((h, i) => v.setUint16(6 + 2 * i, h, true)); // 1, -5 in bf16
    v.setFloat64(10, Math.PI, true);
    v.setFloat64(18, -1e-3, true);
    const file = readSafetensors(handMade({
      h: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
      bf: { dtype: 'BF16', shape: [2], data_offsets: [6, 10] },
      d: { dtype: 'F64', shape: [2, 1], data_offsets: [10, 26] },
    }, data));
    expect(Array.from(file.tensors.get('h')!.data)).toEqual([1, -2, Math.fround(0.333251953125)]);
    expect(Array.from(file.tensors.get('bf')!.data)).toEqual([1, -5]);
    expect(Array.from(file.tensors.get('d')!.data)).toEqual([Math.fround(Math.PI), Math.fround(-1e-3)]);
  });

  test('malformed files throw, naming the problem', () => {
    const ok = { t: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    expect(() => readSafetensors(new Uint8Array(4))).toThrow(RangeError);
    expect(() => readSafetensors('nope' as never)).toThrow(TypeError);
    const long = handMade(ok, new Uint8Array(8));
    new DataView(long.buffer).setBigUint64(0, 10n ** 9n, true);
    expect(() => readSafetensors(long)).toThrow(/header length/);
    expect(() => readSafetensors(handMade(ok, new Uint8Array(4)))).toThrow(/tensor t: data_offsets \[0, 8\] outside/);
    expect(() => readSafetensors(handMade({ t: { ...ok.t, shape: [3] } }, new Uint8Array(8)))).toThrow(/tensor t: 8 bytes for shape \[3\]/);
    expect(() => readSafetensors(handMade({ t: { ...ok.t, dtype: 'I64' } }, new Uint8Array(8)))).toThrow(/tensor t: dtype I64/);
    expect(() => readSafetensors(handMade({ t: { ...ok.t, data_offsets: [0] } }, new Uint8Array(8)))).toThrow(/data_offsets/);
    const bad = new Uint8Array(12);
    new DataView(bad.buffer).setBigUint64(0, 4n, true);
    bad.set([123, 34, 120, 58], 8); // '{"x:'
    expect(() => readSafetensors(bad)).toThrow(/not JSON/);
    expect(() => modelFromSafetensors(writeSafetensors({ t: { shape: [1], data: new Float32Array(1) } }))).toThrow(/blocks\.0\.attention\.query/);
    expect(() => writeSafetensors({ t: { shape: [2, 2], data: new Float32Array(3) } })).toThrow(/tensors\.t/);
  });

  test('a model saved with modelToSafetensors loads with the same weights and outputs', async () => {
    const config = { ...randomModelConfig({ layers: 2, dModel: 7, heads: 2, headDim: 5, dFF: 9, biases: true }, seeded(31)), scale: 0.3, eps: 1e-4 };
    const bytes = modelToSafetensors(config);
    const loaded = modelFromSafetensors(bytes);
    expect(loaded).toMatchObject({ layers: 2, dModel: 7, heads: 2, headDim: 5, dFF: 9, scale: 0.3, eps: 1e-4 });
    expect(loaded.weights).toEqual(config.weights);
    // Without the optional biases the loader leaves them out.
    const plain = randomModelConfig({ layers: 1, dModel: 4, heads: 1, headDim: 4, dFF: 4 }, seeded(1));
    expect(modelFromSafetensors(modelToSafetensors(plain)).weights.blocks[0]!.attention.keyBias).toBeUndefined();

    const device = await dawnDevice();
    const x = randomArray(2 * 11 * 7, seeded(32));
    const inMemory = await AarenModel.create(device, config);
    const fromFile = await AarenModel.fromSafetensors(device, bytes);
    try {
      const a = await inMemory.forward(x, { batch: 2, length: 11 });
      const b = await fromFile.forward(x, { batch: 2, length: 11 });
      expect(Array.from(b)).toEqual(Array.from(a)); // same weights, same kernels: bit-identical
      expect(compare(b, a).pass).toBe(true);
    } finally {
      inMemory.destroy();
      fromFile.destroy();
    }
  }, 60_000);
});
