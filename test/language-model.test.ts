// AarenLanguageModel on Dawn (SwiftShader): forward, step and backward against the float64 references, trainStep
// against a float64 torch.optim.AdamW step (bounds in cases/language-model.ts), determinism, safetensors round
// trip, generate, refusals before any GPU work, no buffer growth over 200 train steps, and a loss that falls on a
// learnable toy sequence.
import { describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { AarenLanguageModel } from '../src/nn/language-model.js';
import { AdamW } from '../src/optim/adamw.js';
import { compare, trackBuffers } from '../cases/layer.js';
import {
  LM_LOSS_TOLERANCE, LM_TOLERANCE, QUICK_LM, randomLanguageModel, randomTokens, runLanguageModelCases, runLmBackwardCase, runLmForwardCase, runLmTrainCase, type LmShape,
} from '../cases/language-model.js';

const SHAPES: LmShape[] = [
  QUICK_LM,
  { vocabSize: 1, layers: 1, dModel: 4, heads: 1, headDim: 4, dFF: 8, batch: 1, length: 1 },
  { vocabSize: 70, layers: 1, dModel: 16, heads: 4, headDim: 4, dFF: 32, batch: 3, length: 40, schedule: 'parallel' },
  { vocabSize: 5, layers: 3, dModel: 7, heads: 2, headDim: 5, dFF: 12, batch: 1, length: 70, schedule: 'sequential' }, // dModel 7: the f32 (not vec4) element path
];

/** The cyclic sequence 0, 1, ..., period - 1, 0, ... as tokens and its next tokens as targets. */
function cyclic(batch: number, length: number, period: number): { tokens: Uint32Array; targets: Uint32Array } {
  const tokens = new Uint32Array(batch * length);
  const targets = new Uint32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < length; i++) {
      tokens[b * length + i] = (b + i) % period;
      targets[b * length + i] = (b + i + 1) % period;
    }
  }
  return { tokens, targets };
}

describe('AarenLanguageModel', () => {
  test('forward vs float64 reference, and step equals forward', async () => {
    const device = await dawnDevice();
    for (const [i, shape] of SHAPES.entries()) {
      const r = await runLmForwardCase(device, shape, 800 + i);
      console.log(`lm forward ${JSON.stringify(shape)}: ${r.forward.maxRelError.toExponential(2)}, step vs forward ${r.step.maxRelError.toExponential(2)}`);
      expect(r.forward.pass, `forward ${r.forward.maxRelError}`).toBe(true);
      expect(r.step.pass, `step ${r.step.maxRelError}`).toBe(true);
    }
  });

  test('loss and every gradient vs float64 reference', async () => {
    const device = await dawnDevice();
    for (const [i, shape] of SHAPES.entries()) {
      const { errors, lossError } = await runLmBackwardCase(device, shape, 900 + i);
      const worst = errors.reduce((a, b) => (b.relError > a.relError ? b : a));
      console.log(`lm backward ${JSON.stringify(shape)}: loss ${lossError.toExponential(2)}, worst ${worst.name} ${worst.relError.toExponential(2)}`);
      expect(lossError).toBeLessThanOrEqual(LM_LOSS_TOLERANCE);
      expect(errors.length).toBe(5 + 14 * shape.layers); // token_embedding, 14 per block (decay and conv by default), final norm (2), head (2)
      for (const e of errors) expect(e.relError, e.name).toBeLessThanOrEqual(LM_TOLERANCE);
    }
  });

  test('trainStep = float64 AdamW (clipping, weight decay, bias correction) on its own gradients, for 3 steps', async () => {
    const device = await dawnDevice();
    for (const options of [{ lr: 1e-2, weightDecay: 0.1, clipGradNorm: 0.5 }, { lr: 3e-3, betas: [0.8, 0.99] as [number, number], eps: 1e-6 }]) {
      const r = await runLmTrainCase(device, QUICK_LM, options, 3, 1000);
      console.log(`lm trainStep ${JSON.stringify(options)}: losses ${r.losses.map((l) => l.toFixed(4)).join(' ')}, worst error / bound ${r.worst.toExponential(2)}`);
      expect(r.sameLoss).toBe(true);
      expect(r.worst).toBeLessThanOrEqual(1);
    }
  });

  test('deterministic: the same seed and data give the same bits', async () => {
    const device = await dawnDevice();
    const config = { vocabSize: 9, layers: 2, dModel: 8, heads: 2, headDim: 4, dFF: 16, seed: 5 };
    const { tokens, targets } = randomTokens({ ...QUICK_LM, vocabSize: 9 }, 3);
    const run = async () => {
      const lm = await AarenLanguageModel.create(device, config);
      const opt = await AdamW.create(device, lm, { lr: 1e-2, clipGradNorm: 1 });
      try {
        const losses = [];
        for (let s = 0; s < 3; s++) losses.push(await lm.trainStep(tokens, targets, QUICK_LM, opt));
        return { losses, weights: await lm.readWeights() };
      } finally {
        opt.destroy();
        lm.destroy();
      }
    };
    const a = await run();
    const b = await run();
    expect(b.losses).toEqual(a.losses);
    for (const [name, w] of Object.entries(a.weights)) expect(Buffer.from(b.weights[name]!.buffer).equals(Buffer.from(w.buffer)), name).toBe(true);
    // create is deterministic and documented: a different seed gives other weights, the same one the same.
    const c = await AarenLanguageModel.create(device, { ...config, seed: 6 });
    const d = await AarenLanguageModel.create(device, config);
    try {
      const wc = await c.readWeights();
      const wd = await d.readWeights();
      expect(Array.from(wc.token_embedding!)).not.toEqual(Array.from(wd.token_embedding!));
      expect(wd['blocks.0.ln1.weight']!.every((x) => x === 1)).toBe(true);
      expect(wd['lm_head.bias']!.every((x) => x === 0)).toBe(true);
    } finally {
      c.destroy();
      d.destroy();
    }
  });

  test('safetensors round trip, block-wise forward with a state, and generate streams with step (greedy = argmax of forward)', async () => {
    const device = await dawnDevice();
    const lm = await randomLanguageModel(device, QUICK_LM, 77);
    const bytes = await lm.toSafetensors();
    const copy = await AarenLanguageModel.fromSafetensors(device, bytes);
    try {
      const { tokens } = randomTokens(QUICK_LM, 78);
      expect(Array.from(await copy.forward(tokens, QUICK_LM))).toEqual(Array.from(await lm.forward(tokens, QUICK_LM)));
      // Block-wise: the first 4 tokens, then the other 5 continuing the state, give the one-pass logits.
      const whole = await lm.forward(tokens.slice(0, 9), { batch: 1, length: 9 });
      const state = lm.createState(1);
      const head = await lm.forward(tokens.slice(0, 4), { batch: 1, length: 4 }, state);
      const tail = await lm.forward(tokens.slice(4, 9), { batch: 1, length: 5 }, state);
      state.destroy();
      expect(compare(Float32Array.from([...head, ...tail]), whole).pass).toBe(true);
      const prompt = tokens.slice(0, 4);
      const seen: number[] = [];
      const greedy = await lm.generate(prompt, { maxTokens: 5, temperature: 0, seed: 1, onToken: (t) => seen.push(t) });
      expect(Array.from(greedy)).toEqual(seen);
      // Greedy generation is the argmax of the parallel forward over the prompt and what was generated so far.
      const all = Uint32Array.from([...prompt, ...greedy]);
      const logits = await lm.forward(all, { batch: 1, length: all.length });
      const vocab = QUICK_LM.vocabSize;
      for (let i = 0; i < greedy.length; i++) {
        const row = logits.subarray((prompt.length - 1 + i) * vocab, (prompt.length + i) * vocab);
        expect(greedy[i]).toBe(row.indexOf(Math.max(...row)));
      }
      const sampled = await lm.generate(prompt, { maxTokens: 20, temperature: 1, topK: 3, seed: 9 });
      expect(Array.from(await lm.generate(prompt, { maxTokens: 20, temperature: 1, topK: 3, seed: 9 }))).toEqual(Array.from(sampled));
      expect(sampled.every((t) => t < vocab)).toBe(true);
    } finally {
      copy.destroy();
      lm.destroy();
    }
  });

  test('bad input is refused naming the argument, before any GPU work, and nothing is updated', async () => {
    const device = await dawnDevice();
    const lm = await randomLanguageModel(device, QUICK_LM, 90);
    const other = await randomLanguageModel(device, QUICK_LM, 91);
    const opt = await AdamW.create(device, lm, { lr: 1e-2 });
    const otherOpt = await AdamW.create(device, other, { lr: 1e-2 });
    try {
      const { tokens, targets } = randomTokens(QUICK_LM, 92);
      const before = await lm.readWeights();
      const bad = tokens.slice();
      bad[5] = QUICK_LM.vocabSize;
      await expect(lm.trainStep(bad, targets, QUICK_LM, opt)).rejects.toThrow(/tokens\[5\] = 13 is outside \[0, 13\)/);
      await expect(lm.trainStep(tokens, bad, QUICK_LM, opt)).rejects.toThrow(/targets\[5\]/);
      await expect(lm.trainStep(tokens.slice(1), targets, QUICK_LM, opt)).rejects.toThrow(RangeError);
      await expect(lm.trainStep(tokens, targets, { batch: 2, length: 9.5 }, opt)).rejects.toThrow(/shape.length/);
      await expect(lm.trainStep(tokens, targets, QUICK_LM, otherOpt)).rejects.toThrow(TypeError);
      await expect(lm.forward(bad, QUICK_LM)).rejects.toThrow(/tokens\[5\]/);
      await expect(lm.generate(Uint32Array.of(), { maxTokens: 3, temperature: 1, seed: 1 })).rejects.toThrow(/prompt/);
      await expect(lm.generate(Uint32Array.of(1), { maxTokens: 3, temperature: -1, seed: 1 })).rejects.toThrow(/temperature/);
      await expect(AarenLanguageModel.create(device, { ...QUICK_LM, vocabSize: 0 })).rejects.toThrow(/config.vocabSize/);
      // A NaN in a parameter makes the loss and gradients NaN: refused, nothing updated, t unchanged.
      const bytes = await lm.toSafetensors();
      const poisoned = await AarenLanguageModel.fromSafetensors(device, bytes);
      const poisonedOpt = await AdamW.create(device, poisoned, { lr: 1e-2 });
      try {
        const params = poisoned.parameters();
        const head = params.find((p) => p.name === 'lm_head.weight')!;
        device.queue.writeBuffer(head.buffer, 0, Float32Array.of(Infinity));
        const kept = await poisoned.readWeights();
        await expect(poisoned.trainStep(tokens, targets, QUICK_LM, poisonedOpt)).rejects.toThrow(/loss is NaN/);
        expect(poisonedOpt.stepCount).toBe(0);
        const after = await poisoned.readWeights();
        for (const [name, w] of Object.entries(kept)) expect(Array.from(after[name]!), name).toEqual(Array.from(w));
      } finally {
        poisonedOpt.destroy();
        poisoned.destroy();
      }
      expect(opt.stepCount).toBe(0);
      const unchanged = await lm.readWeights();
      for (const [name, w] of Object.entries(before)) expect(Array.from(unchanged[name]!), name).toEqual(Array.from(w));
      // The next valid call works.
      expect(Number.isFinite(await lm.trainStep(tokens, targets, QUICK_LM, opt))).toBe(true);
      expect(opt.stepCount).toBe(1);
    } finally {
      opt.destroy();
      otherOpt.destroy();
      other.destroy();
      lm.destroy();
    }
  });

  test('no buffer growth over 200 train steps; destroy releases everything', async () => {
    const device = await dawnDevice();
    const tracker = trackBuffers(device);
    try {
      const shape = { batch: 2, length: 8 };
      const lm = await AarenLanguageModel.create(device, { vocabSize: 6, layers: 1, dModel: 8, heads: 2, headDim: 4, dFF: 8, seed: 1 });
      const opt = await AdamW.create(device, lm, { lr: 1e-2 });
      const { tokens, targets } = cyclic(2, 8, 6);
      await lm.trainStep(tokens, targets, shape, opt);
      const live = tracker.live.size;
      for (let s = 1; s < 200; s++) await lm.trainStep(tokens, targets, shape, opt);
      expect(tracker.live.size).toBe(live);
      opt.destroy();
      lm.destroy();
      expect(tracker.live.size).toBe(0);
    } finally {
      tracker.restore();
    }
  });

  test('the loss falls on a learnable toy sequence (a cycle of 7 tokens)', async () => {
    const device = await dawnDevice();
    const lm = await AarenLanguageModel.create(device, { vocabSize: 7, layers: 1, dModel: 16, heads: 2, headDim: 8, dFF: 32, seed: 3 });
    const opt = await AdamW.create(device, lm, { lr: 1e-2, clipGradNorm: 1 });
    try {
      const { tokens, targets } = cyclic(4, 16, 7);
      const losses: number[] = [];
      for (let s = 0; s < 60; s++) losses.push(await lm.trainStep(tokens, targets, { batch: 4, length: 16 }, opt));
      console.log(`toy cycle: loss ${losses[0]!.toFixed(3)} -> ${losses.at(-1)!.toFixed(3)} (ln 7 = ${Math.log(7).toFixed(3)})`);
      expect(losses[0]!).toBeGreaterThan(0.9 * Math.log(7));
      expect(losses.at(-1)!).toBeLessThan(0.2 * losses[0]!);
    } finally {
      opt.destroy();
      lm.destroy();
    }
  });

  test('the quick cases (the Chrome suite) pass', async () => {
    const device = await dawnDevice();
    const results = await runLanguageModelCases(device);
    for (const r of results) expect(r.pass, `${r.kernel}: ${r.error ?? ''}`).toBe(true);
  });
});
