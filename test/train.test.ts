// `npm run train`'s shared loop (harness/train/loop.ts) in Node/Dawn on a tiny model and a repetitive text: the
// vocabulary, the batches, the schedule, a falling loss, the loss curve and weights that reload and sample the same.
import { describe, expect, it } from 'vitest';
import { dawnDevice } from './dawn.js';
import { AarenLanguageModel } from '../src/nn/language-model.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { mulberry32 } from '../src/core/random.js';
import { DEFAULT_TRAIN_CONFIG, buildVocab, learningRate, sampleWindows, trainCharModel, vocabOf, type TrainConfig } from '../harness/train/loop.js';
import { lossCurveSvg } from '../harness/train/svg.js';

describe('character vocabulary', () => {
  it('is the sorted distinct code points and round-trips the text (astral characters are one token)', () => {
    const text = 'héllo wörld 😀\nhello🙂';
    const vocab = buildVocab(text);
    expect(vocab.chars).toEqual(['\n', ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w', 'é', 'ö', '😀', '🙂']);
    const ids = vocab.encode(text);
    expect(ids.length).toBe([...text].length);
    expect(vocab.decode(ids)).toBe(text);
    expect(vocabOf(vocab.chars).decode(ids)).toBe(text);
    expect(() => vocab.encode('x')).toThrow(/"x" \(U\+0078\) is not in the vocabulary/);
  });
});

describe('batches and schedule', () => {
  it('draws windows whose targets are the next characters', () => {
    const ids = Uint32Array.from({ length: 50 }, (_, i) => i);
    const { tokens, targets } = sampleWindows(ids, 3, 7, mulberry32(5));
    for (let b = 0; b < 3; b++) {
      const start = tokens[b * 7]!;
      expect(Array.from(tokens.subarray(b * 7, b * 7 + 7))).toEqual(Array.from({ length: 7 }, (_, i) => start + i));
      expect(Array.from(targets.subarray(b * 7, b * 7 + 7))).toEqual(Array.from({ length: 7 }, (_, i) => start + i + 1));
    }
    expect(() => sampleWindows(ids.subarray(0, 7), 1, 7, mulberry32(0))).toThrow(/need at least 8/);
  });

  it('warms up linearly to lr, then decays by a cosine to lr * minLrRatio at the last step', () => {
    const c = { lr: 1, warmup: 4, minLrRatio: 0.1, steps: 13 };
    expect([0, 1, 2, 3].map((s) => learningRate(c, s))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(learningRate(c, 4)).toBe(1);
    expect(learningRate(c, 8)).toBeCloseTo(0.55, 12);
    expect(learningRate(c, 12)).toBeCloseTo(0.1, 12);
  });
});

describe('loss curve SVG', () => {
  it('draws one vertex per step, breaking the line at a non-finite loss', () => {
    const svg = lossCurveSvg([4, 3, 2.5, 2, 1.8], 'a & b');
    const d = /<path class="loss" d="([^"]*)"/.exec(svg)?.[1] ?? '';
    expect(d.match(/[ML]/g)).toEqual(['M', 'L', 'L', 'L', 'L']);
    const ys = [...d.matchAll(/[ML][\d.]+,([\d.]+)/g)].map((m) => Number(m[1]));
    for (let i = 1; i < ys.length; i++) expect(ys[i]!).toBeGreaterThan(ys[i - 1]!); // falling loss: lower on the chart
    expect(svg).toContain('a &amp; b');
    const broken = /<path class="loss" d="([^"]*)"/.exec(lossCurveSvg([3, NaN, 2]))?.[1] ?? '';
    expect(broken.match(/[ML]/g)).toEqual(['M', 'M']);
  });
});

describe('trainCharModel (Dawn)', () => {
  it('learns a repetitive text, and its safetensors reload with the vocabulary and sample the same', async () => {
    const device = await dawnDevice();
    const text = 'the cat sat on the mat. '.repeat(20);
    const config: TrainConfig = {
      ...DEFAULT_TRAIN_CONFIG,
      // dModel 64 rather than smaller: SwiftShader compiles this model's pipelines 2-3x faster (measured).
      model: { layers: 1, dModel: 64, heads: 4, headDim: 16, dFF: 128 },
      steps: 40, batch: 4, length: 16, lr: 2e-2, warmup: 4, seed: 3,
      sample: { prompt: 'the ', maxTokens: 24, temperature: 0.5, topK: 3 },
    };
    const progress: number[] = [];
    let streamed = '';
    const result = await trainCharModel(device, text, config, {
      progressEvery: 10,
      onProgress: (p) => progress.push(p.step),
      onSampleText: (t) => (streamed += t),
    });
    expect(progress).toEqual([1, 10, 20, 30, 40]);
    expect(result.losses).toHaveLength(40);
    for (const loss of result.losses) expect(Number.isFinite(loss)).toBe(true);
    const vocabSize = new Set(text).size;
    expect(result.losses[0]!).toBeCloseTo(Math.log(vocabSize), 1); // small initial logits: about uniform
    const last = result.losses.slice(-5).reduce((a, b) => a + b, 0) / 5;
    expect(last).toBeLessThan(0.5 * result.losses[0]!);
    expect(result.tokensPerSecond).toBeGreaterThan(0);
    expect(streamed).toBe(result.prompt + result.sample);
    expect([...result.sample]).toHaveLength(24);

    const file = readSafetensors(result.safetensors);
    expect(JSON.parse(file.metadata.vocab!)).toEqual(result.vocab);
    expect(JSON.parse(file.metadata.training!).steps).toBe(40);
    const vocab = vocabOf(JSON.parse(file.metadata.vocab!) as string[]);
    const reloaded = await AarenLanguageModel.fromSafetensors(device, result.safetensors);
    try {
      expect(reloaded.config.vocabSize).toBe(vocabSize);
      const again = await reloaded.generate(vocab.encode(result.prompt), { ...config.sample, seed: config.seed });
      expect(vocab.decode(again)).toBe(result.sample);
    } finally {
      reloaded.destroy();
    }
  });
});
