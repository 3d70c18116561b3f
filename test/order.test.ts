// The order-aware layer as a user meets it: the language model's defaults (recency decay with half-lives spread
// from 1 to 64 tokens, a zero-initialised causal convolution), the paper's plain layer on request, safetensors
// round trips with and without the new tensors (older files load as plain layers), and bad decay / conv weights
// refused with the argument named, before any GPU work. The numbers (forward, step, backward vs float64) are in
// cases/layer.ts, cases/model-backward.ts and cases/scan-backward.ts.
import { describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { AarenLanguageModel, DECAY_HALF_LIVES, initialDecay } from '../src/nn/language-model.js';
import { AarenLayer, softplus } from '../src/nn/layer.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { randomArray, randomLayerConfig, seeded } from '../cases/layer.js';

const device = await dawnDevice();
const small = { vocabSize: 9, layers: 2, dModel: 8, heads: 4, headDim: 4, dFF: 16, seed: 3 };

describe('AarenLanguageModel: order by default', () => {
  test('create adds decay (half-lives 1..64, geometric) and a zero conv to every layer; the plain layer on request', async () => {
    const lm = await AarenLanguageModel.create(device, small);
    const plain = await AarenLanguageModel.create(device, { ...small, recencyDecay: false, convolution: false });
    try {
      expect(lm.config.recencyDecay).toBe(true);
      expect(lm.config.convolution).toBe(true);
      const file = readSafetensors(await lm.toSafetensors());
      for (const l of [0, 1]) {
        const theta = file.tensors.get(`blocks.${l}.attention.decay`)!;
        expect(theta.shape).toEqual([4]);
        const halfLives = Array.from(theta.data, (t) => Math.LN2 / softplus(t));
        expect(halfLives[0]).toBeCloseTo(DECAY_HALF_LIVES[0], 4);
        expect(halfLives[3]).toBeCloseTo(DECAY_HALF_LIVES[1], 2);
        expect(halfLives[1]! / halfLives[0]!).toBeCloseTo(halfLives[2]! / halfLives[1]!, 3); // geometric
        const conv = file.tensors.get(`blocks.${l}.attention.conv`)!;
        expect(conv.shape).toEqual([8, 4]);
        expect(conv.data.every((c) => c === 0)).toBe(true);
      }
      expect(Array.from(initialDecay(4))).toEqual(Array.from(file.tensors.get('blocks.0.attention.decay')!.data));
      // The plain model draws the same random weights (the new tensors take no draws) and has neither tensor.
      const plainFile = readSafetensors(await plain.toSafetensors());
      expect([...plainFile.tensors.keys()].some((k) => k.endsWith('.decay') || k.endsWith('.conv'))).toBe(false);
      expect(Array.from(plainFile.tensors.get('blocks.1.attention.query')!.data)).toEqual(Array.from(file.tensors.get('blocks.1.attention.query')!.data));
      // The order-aware model's output differs (decay acts from the first step).
      const tokens = Uint32Array.from({ length: 12 }, (_, i) => (i * 5) % 9);
      const a = await lm.forward(tokens, { batch: 1, length: 12 });
      const b = await plain.forward(tokens, { batch: 1, length: 12 });
      expect(Math.max(...a.map((x, i) => Math.abs(x - b[i]!)))).toBeGreaterThan(1e-6);
    } finally {
      lm.destroy();
      plain.destroy();
    }
  });

  test('safetensors: decay and conv round-trip; a file without them loads as the plain model', async () => {
    const lm = await AarenLanguageModel.create(device, small);
    try {
      const bytes = await lm.toSafetensors();
      const again = await AarenLanguageModel.fromSafetensors(device, bytes);
      const file = readSafetensors(bytes);
      const tensors = Object.fromEntries([...file.tensors].filter(([name]) => !name.endsWith('.decay') && !name.endsWith('.conv')).map(([name, t]) => [name, { shape: t.shape, data: t.data }]));
      const old = await AarenLanguageModel.fromSafetensors(device, writeSafetensors(tensors, file.metadata));
      try {
        expect(again.config.recencyDecay && again.config.convolution).toBe(true);
        expect(old.config.recencyDecay || old.config.convolution).toBe(false);
        const tokens = Uint32Array.of(1, 2, 3, 4, 5);
        expect(Array.from(await again.forward(tokens, { batch: 1, length: 5 }))).toEqual(Array.from(await lm.forward(tokens, { batch: 1, length: 5 })));
      } finally {
        again.destroy();
        old.destroy();
      }
    } finally {
      lm.destroy();
    }
  });

  test('wrong decay / conv tensors in a file are refused, naming the tensor', async () => {
    const lm = await AarenLanguageModel.create(device, small);
    const file = readSafetensors(await lm.toSafetensors());
    lm.destroy();
    const withTensor = (name: string, shape: number[], data: Float32Array) => {
      const tensors = Object.fromEntries([...file.tensors].map(([n, t]) => [n, { shape: t.shape, data: t.data }]));
      tensors[name] = { shape, data };
      return writeSafetensors(tensors, file.metadata);
    };
    await expect(AarenLanguageModel.fromSafetensors(device, withTensor('blocks.0.attention.decay', [2, 2], new Float32Array(4)))).rejects.toThrow(/blocks\.0\.attention\.decay has shape \[2, 2\]/);
    await expect(AarenLanguageModel.fromSafetensors(device, withTensor('blocks.1.attention.conv', [8, 3], new Float32Array(24)))).rejects.toThrow(/blocks\.1\.attention\.conv has shape \[8, 3\]/);
    await expect(AarenLanguageModel.fromSafetensors(device, withTensor('blocks.0.attention.decay', [3], new Float32Array(3)))).rejects.toThrow(/decay/);
  });
});

describe('AarenLayer: bad order weights', () => {
  test('decay and conv of the wrong size or not finite are refused before any GPU work', async () => {
    const config = randomLayerConfig({ dModel: 6, heads: 2, headDim: 4 }, seeded(5));
    await expect(AarenLayer.create(device, { ...config, weights: { ...config.weights, decay: new Float32Array(3) } })).rejects.toThrow(/config\.weights\.decay/);
    await expect(AarenLayer.create(device, { ...config, weights: { ...config.weights, decay: Float32Array.of(0, NaN) } })).rejects.toThrow(/config\.weights\.decay\[1\] is NaN/);
    await expect(AarenLayer.create(device, { ...config, weights: { ...config.weights, conv: new Float32Array(23) } })).rejects.toThrow(/config\.weights\.conv/);
    await expect(AarenLayer.create(device, { ...config, weights: { ...config.weights, conv: Float32Array.from({ length: 24 }, (_, i) => (i === 7 ? Infinity : 0)) } })).rejects.toThrow(/config\.weights\.conv\[7\]/);
    // The next valid call works, and the conv history is kept in the state: the last 3 inputs.
    const layer = await AarenLayer.create(device, { ...config, weights: { ...config.weights, decay: Float32Array.of(-1, 2), conv: randomArray(24, seeded(6), 0.5) } });
    try {
      const state = layer.createState(1);
      const x = randomArray(5 * 6, seeded(7));
      await layer.forward(x, { batch: 1, length: 5 }, state);
      expect(Array.from(await layer.readHistory(state))).toEqual(Array.from(x.subarray(2 * 6)));
      state.destroy();
    } finally {
      layer.destroy();
    }
  });
});
