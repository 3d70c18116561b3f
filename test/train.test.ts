// `npm run train`'s shared loop (harness/train/loop.ts) in Node/Dawn on a tiny model and a repetitive text: the
// vocabulary, the batches, the schedule, the train/validation split, the held-out loss and its n-gram baselines
// (harness/train/ngram.ts), a falling loss, the loss curves and weights that reload and sample the same.
import { describe, expect, it } from 'vitest';
import { dawnDevice } from './dawn.js';
import { AarenLanguageModel } from '../src/nn/language-model.js';
import { readSafetensors } from '../src/io/safetensors.js';
import { mulberry32 } from '../src/core/random.js';
import {
  DEFAULT_TRAIN_CONFIG, buildVocab, crossEntropySum, learningRate, sampleWindows, splitIds, trainCharModel, validationWindows, vocabOf, type TrainConfig,
} from '../harness/train/loop.js';
import { fitNgram, ngramCrossEntropy } from '../harness/train/ngram.js';
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

describe('train/validation split', () => {
  it('holds out the last 10% of the characters; the vocabulary covers both parts', () => {
    const text = 'abcdefghij'.repeat(9) + 'XYZ'.repeat(3) + '😀'; // 100 characters, the last 10 only in validation
    const vocab = buildVocab(text);
    const { train, validation } = splitIds(vocab.encode(text), 0.1);
    expect([train.length, validation.length]).toEqual([90, 10]);
    expect(vocab.decode(train)).toBe('abcdefghij'.repeat(9));
    expect(vocab.decode(validation)).toBe('XYZXYZXYZ😀');
    expect(() => splitIds(vocab.encode(text), 0)).toThrow(/fraction/);
  });

  it('training windows never reach a validation character (inputs or targets)', () => {
    const ids = Uint32Array.from({ length: 1000 }, (_, i) => i); // id = position
    const { train } = splitIds(ids, 0.1);
    const random = mulberry32(7);
    let highest = 0;
    for (let draw = 0; draw < 200; draw++) {
      const { tokens, targets } = sampleWindows(train, 16, 64, random);
      highest = Math.max(highest, ...tokens, ...targets);
    }
    expect(highest).toBe(899); // the last training character is reached, none past it
  });

  it('scores fixed windows laid end to end, spread evenly when capped, the same every time', () => {
    expect(validationWindows(100, 16, 64)).toEqual({ starts: [0, 16, 32, 48, 64, 80], length: 16 }); // 6 * 16 targets <= 99
    expect(validationWindows(1000, 10, 4)).toEqual({ starts: [0, 240, 490, 740], length: 10 }); // 99 fit, 4 spread
    expect(validationWindows(1000, 10, 4)).toEqual(validationWindows(1000, 10, 4));
    expect(validationWindows(5, 16, 64)).toEqual({ starts: [0], length: 4 }); // shorter than a window
    expect(() => validationWindows(1, 16, 64)).toThrow(/at least 2/);
  });

  it('cross-entropy from logits is -log softmax at the target, in float64', () => {
    const logits = Float32Array.from([0, 0, 0, 0, 1, 2, 1000, 0, -1000]);
    const sum = crossEntropySum(logits, Uint32Array.from([2, 0, 0]), 3);
    expect(sum).toBeCloseTo(Math.log(3) + Math.log(1 + Math.E + Math.E ** 2) + 0, 12); // the third row: exp(-1000) is 0
  });
});

describe('n-gram baselines (interpolated Witten-Bell)', () => {
  // Training "abcab" over the vocabulary a, b, c, d (d never seen): unigram counts a 2, b 2, c 1 (N 5, 3 types);
  // bigrams ab 2, bc 1, ca 1; trigrams abc, bca, cab once each. p0 = 1/4.
  const train = Uint32Array.from([0, 1, 2, 0, 1]);
  const p1 = { a: (2 + 3 / 4) / 8, b: (2 + 3 / 4) / 8, c: (1 + 3 / 4) / 8, d: (0 + 3 / 4) / 8 }; // 11/32 11/32 7/32 3/32
  it('matches hand-computed probabilities, seen and unseen, and each distribution sums to 1', () => {
    const uni = fitNgram(train, 4, 1);
    const bi = fitNgram(train, 4, 2);
    const tri = fitNgram(train, 4, 3);
    expect(Math.exp(uni.logProb([3], 0))).toBeCloseTo(3 / 32, 14);
    expect(Math.exp(uni.logProb([2], 0))).toBeCloseTo(7 / 32, 14);
    // after a: n(a) 2 with one type (b): (n(a, c) + 1 * p1(c)) / 3
    expect(Math.exp(bi.logProb([0, 1], 1))).toBeCloseTo(25 / 32, 14); // (2 + 11/32) / 3
    expect((2 + p1.b) / 3).toBeCloseTo(25 / 32, 14);
    expect(Math.exp(bi.logProb([0, 0], 1))).toBeCloseTo(p1.a / 3, 14);
    expect(Math.exp(bi.logProb([3, 0], 1))).toBeCloseTo(p1.a, 14); // unseen context d: the unigram
    const pcb = (1 + p1.c) / 2; // c after b: 39/64
    expect(Math.exp(bi.logProb([1, 2], 1))).toBeCloseTo(39 / 64, 14);
    expect(Math.exp(tri.logProb([0, 1, 2], 2))).toBeCloseTo((1 + pcb) / 2, 14); // 103/128
    expect(Math.exp(tri.logProb([3, 1, 2], 2))).toBeCloseTo(pcb, 14); // unseen context db: the bigram
    for (const model of [uni, bi, tri]) {
      for (const ctx of [[0, 1], [1, 2], [3, 3], [2, 0]]) {
        const total = [0, 1, 2, 3].reduce((sum, c) => sum + Math.exp(model.logProb([...ctx, c], 2)), 0);
        expect(total).toBeCloseTo(1, 14);
      }
    }
  });

  it('scores held-out characters in nats per character with the text before them as context', () => {
    const ids = Uint32Array.from([0, 1, 2, 0, 1, 2, 3]); // "abcab" + validation "cd"
    const bi = fitNgram(train, 4, 2);
    const tri = fitNgram(train, 4, 3);
    // bigram: c after b 39/64; d after c: (0 + 1 * 3/32) / 2 = 3/64
    expect(ngramCrossEntropy(bi, ids, [5, 6])).toBeCloseTo(-(Math.log(39 / 64) + Math.log(3 / 64)) / 2, 14);
    // trigram: c after ab 103/128; d after bc: (0 + 1 * 3/64) / 2 = 3/128
    expect(ngramCrossEntropy(tri, ids, [5, 6])).toBeCloseTo(-(Math.log(103 / 128) + Math.log(3 / 128)) / 2, 14);
    expect(() => fitNgram(train, 2, 2)).toThrow(/vocabSize/);
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
    expect(svg).not.toContain('class="validation"');
  });

  it('draws the held-out loss at its steps on the same axes, the baselines as dashed lines, and a legend', () => {
    const losses = [4, 3.5, 3, 2.8, 2.6, 2.5, 2.4, 2.3, 2.2, 2.1];
    const svg = lossCurveSvg(losses, '', {
      validation: [{ step: 5, loss: 2.7 }, { step: 10, loss: 2.3 }],
      baselines: [{ label: 'bigram', loss: 2.45 }, { label: 'trigram', loss: 2.05 }],
    });
    const train = /<path class="loss" d="([^"]*)"/.exec(svg)![1]!;
    const trainXY = [...train.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    const val = /<path class="validation" d="([^"]*)"/.exec(svg)?.[1] ?? '';
    const valXY = [...val.matchAll(/[ML]([\d.]+),([\d.]+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
    expect(valXY).toHaveLength(2);
    // the same axes: x of the training vertices of steps 5 and 10, y of the training loss 2.3 (step 8)
    expect(valXY[0]![0]).toBe(trainXY[4]![0]);
    expect(valXY[1]![0]).toBe(trainXY[9]![0]);
    expect(valXY[1]![1]).toBeCloseTo(trainXY[7]![1], 1); // both are 2.3
    expect(svg.match(/class="validation-point"/g)).toHaveLength(2);
    const dashed = [...svg.matchAll(/<line class="baseline" data-label="([^"]*)"[^>]*y1="([\d.]+)" x2="[\d.]+" y2="([\d.]+)"[^>]*stroke-dasharray/g)];
    expect(dashed.map((m) => m[1])).toEqual(['bigram', 'trigram']);
    for (const m of dashed) expect(m[2]).toBe(m[3]); // horizontal
    expect(Number(dashed[0]![2])).toBeLessThan(Number(dashed[1]![2])); // 2.45 above 2.05
    const legend = [...svg.matchAll(/<text class="legend"[^>]*>([^<]*)</g)].map((m) => m[1]);
    expect(legend).toEqual(['training (batch loss before each step)', 'bigram 2.450', 'trigram 2.050', 'held-out 2.300 at step 10']);
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
      eval: { fraction: 0.1, every: 15, windows: 64 },
    };
    const progress: number[] = [];
    const reported: number[] = [];
    let streamed = '';
    const result = await trainCharModel(device, text, config, {
      progressEvery: 10,
      onProgress: (p) => progress.push(p.step),
      onValidation: (v) => reported.push(v.step),
      onSampleText: (t) => (streamed += t),
    });
    expect(progress).toEqual([1, 10, 20, 30, 40]);
    // held out: the last 48 of 480 characters, scored as 2 windows of 16 (32 characters); every 15 steps and at the end
    expect(result.heldOut).toEqual({ trainChars: 432, validationChars: 48, windows: 2, windowLength: 16, scoredChars: 32 });
    expect(reported).toEqual([15, 30, 40]);
    expect(result.validation.map((v) => v.step)).toEqual([15, 30, 40]);
    for (const v of result.validation) expect(Number.isFinite(v.loss)).toBe(true);
    expect(result.validation.at(-1)!.loss).toBeLessThan(0.5 * Math.log(new Set(text).size)); // the text repeats: it generalizes
    // the n-grams on a text that repeats every 24 characters: a trigram almost always knows the next character
    expect(result.baselines.trigram).toBeLessThan(result.baselines.bigram);
    expect(result.baselines.trigram).toBeLessThan(0.3);
    expect(result.evalSeconds).toBeGreaterThan(0);
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
    const training = JSON.parse(file.metadata.training!);
    expect(training.steps).toBe(40);
    expect(training.validation).toEqual(result.validation);
    expect(training.baselines).toEqual(result.baselines);
    expect(training.heldOut).toEqual(result.heldOut);
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

  it('held-out evaluation leaves training alone: the same seed gives the same training losses with and without it', async () => {
    const device = await dawnDevice();
    const text = 'a quick brown fox jumps over the lazy dog; '.repeat(12);
    const config = (every: number): TrainConfig => ({
      ...DEFAULT_TRAIN_CONFIG,
      model: { layers: 1, dModel: 64, heads: 4, headDim: 16, dFF: 128 },
      steps: 8, batch: 4, length: 16, lr: 2e-2, warmup: 2, seed: 11,
      sample: { prompt: 'a', maxTokens: 1, temperature: 0.5, topK: 3 },
      eval: { fraction: 0.1, every, windows: 64 },
    });
    const often = await trainCharModel(device, text, config(1));
    const once = await trainCharModel(device, text, config(0));
    expect(often.validation.map((v) => v.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(once.validation.map((v) => v.step)).toEqual([8]);
    expect(often.losses).toEqual(once.losses);
    expect(often.validation.at(-1)!.loss).toBe(once.validation[0]!.loss);
    expect(often.sample).toBe(once.sample);
    expect(often.baselines).toEqual(once.baselines);
  });
});
