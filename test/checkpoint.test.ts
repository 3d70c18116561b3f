// Training checkpoints (src/optim/checkpoint.ts) on Dawn (SwiftShader): a run interrupted by a checkpoint and
// continued from it gives the same losses, weights and moments, bit for bit, as the uninterrupted run (the language
// model, and an AarenModel trained with its own loss); AdamW's exportState / importState on any Trainable; hostile
// checkpoints refused with an error naming the problem before any GPU work.
import { afterAll, describe, expect, test } from 'vitest';
import { dawnDevice, newDawnDevice } from './dawn.js';
import { spyOnDevice } from './gpu-spy.js';
import { AarenLanguageModel, initialLanguageModelWeights, type AarenLanguageModelConfig } from '../src/nn/language-model.js';
import { AarenModel } from '../src/nn/model.js';
import { AdamW, type AdamWOptions, type AdamWState } from '../src/optim/adamw.js';
import { CHECKPOINT_KEYS, parseCheckpoint } from '../src/optim/checkpoint.js';
import { readSafetensors, writeSafetensors } from '../src/io/safetensors.js';
import { mulberry32, normal } from '../src/core/random.js';
import { uploadFloat32 } from '../src/core/buffers.js';
import { DEFAULT_TRAIN_CONFIG, trainCharModel, type TrainConfig } from '../harness/train/loop.js';
import { SeededRandom, textFingerprint } from '../harness/train/checkpoint.js';
import { TestModule, count, makeGradients, makeParameters, optimShapes } from '../cases/optim.js';

const device = await dawnDevice();
const spy = spyOnDevice(device);
afterAll(() => spy.restore());

// dModel 64: SwiftShader compiles this model's pipelines faster than smaller ones (test/train.test.ts).
const LM: AarenLanguageModelConfig = { vocabSize: 11, layers: 1, dModel: 64, heads: 4, headDim: 16, dFF: 128, seed: 7 };
const OPTIONS: AdamWOptions = { lr: 2e-2, weightDecay: 0.1, clipGradNorm: 0.5 };
const SHAPE = { batch: 2, length: 8 };

function batchOf(step: number): { tokens: Uint32Array; targets: Uint32Array } {
  const random = mulberry32(100 + step);
  const n = SHAPE.batch * SHAPE.length;
  return { tokens: Uint32Array.from({ length: n }, () => Math.floor(random() * LM.vocabSize)), targets: Uint32Array.from({ length: n }, () => Math.floor(random() * LM.vocabSize)) };
}
const lrOf = (step: number) => 2e-2 * (1 - step / 10);

const bits = (a: Float32Array) => new Uint32Array(a.buffer, a.byteOffset, a.length);
function expectSameBits(a: Record<string, Float32Array>, b: Record<string, Float32Array>, what: string) {
  expect(Object.keys(b)).toEqual(Object.keys(a));
  for (const name of Object.keys(a)) expect(bits(b[name]!), `${what} ${name}`).toEqual(bits(a[name]!));
}
const momentsOf = (s: AdamWState, key: 'expAvg' | 'expAvgSq') => Object.fromEntries(Object.entries(s.moments).map(([n, m]) => [n, m[key]]));

async function trainLm(lm: AarenLanguageModel, optimizer: AdamW, from: number, to: number): Promise<number[]> {
  const losses: number[] = [];
  for (let step = from; step < to; step++) {
    optimizer.lr = lrOf(step);
    const { tokens, targets } = batchOf(step);
    losses.push(await lm.trainStep(tokens, targets, SHAPE, optimizer));
  }
  return losses;
}

/** An LM checkpoint after `steps` steps (for the refusal tests). */
async function lmCheckpoint(steps: number, config = LM): Promise<Uint8Array> {
  const lm = await AarenLanguageModel.create(device, config);
  const optimizer = await AdamW.create(device, lm, OPTIONS);
  try {
    await trainLm(lm, optimizer, 0, steps);
    return await lm.toCheckpoint(optimizer, { position: String(steps) });
  } finally {
    optimizer.destroy();
    lm.destroy();
  }
}

/** The same file with tensors changed / added / removed and metadata changed. */
function edit(bytes: Uint8Array, change: (tensors: Record<string, { shape: number[]; data: Float32Array }>, metadata: Record<string, string>) => void): Uint8Array {
  const file = readSafetensors(bytes);
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of file.tensors) tensors[name] = { shape: [...t.shape], data: t.data.slice() };
  const metadata = { ...file.metadata };
  change(tensors, metadata);
  return writeSafetensors(tensors, metadata);
}

describe('AarenLanguageModel checkpoints', () => {
  test('resume = uninterrupted, bit for bit: losses, weights, moments, step count, and the forward (refreshed fused projections)', async () => {
    const total = 6;
    const cut = 3;
    const probe = batchOf(99).tokens;

    const lm = await AarenLanguageModel.create(device, LM);
    const optimizer = await AdamW.create(device, lm, OPTIONS);
    const straight = await trainLm(lm, optimizer, 0, cut);
    const logitsAtCut = await lm.forward(probe, SHAPE); // inference reads the fused projections: refreshed by each step
    straight.push(...(await trainLm(lm, optimizer, cut, total)));
    const straightWeights = await lm.readWeights();
    const straightState = await optimizer.exportState();
    const straightLogits = await lm.forward(probe, SHAPE);
    optimizer.destroy();
    lm.destroy();

    const first = await AarenLanguageModel.create(device, LM);
    const firstOptimizer = await AdamW.create(device, first, OPTIONS);
    const before = await trainLm(first, firstOptimizer, 0, cut);
    const metadata = { 'loader.position': String(cut), 'loader.seed': '100', note: 'héllo' };
    const bytes = await first.toCheckpoint(firstOptimizer, metadata);
    const params = first.parameters().map((p) => p.name);
    firstOptimizer.destroy();
    first.destroy();

    // The file: the weights under their usual names, both moments of every parameter, step and options.
    const file = readSafetensors(bytes);
    expect([...file.tensors.keys()].sort()).toEqual([...params, ...params.map((n) => `exp_avg.${n}`), ...params.map((n) => `exp_avg_sq.${n}`)].sort());
    expect(file.metadata).toMatchObject({ ...metadata, format: 'aaren-webgpu', checkpoint: '1', 'checkpoint.model': 'AarenLanguageModel', optimizer: 'AdamW', 'optimizer.step': String(cut) });
    expect(JSON.parse(file.metadata['optimizer.options']!)).toEqual({ lr: lrOf(cut - 1), betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1, clipGradNorm: 0.5 });
    // Loadable as plain weights too.
    const plain = await AarenLanguageModel.fromSafetensors(device, bytes);
    expect(plain.parameters().map((p) => p.name)).toEqual(params);
    plain.destroy();

    const resumed = await AarenLanguageModel.fromCheckpoint(device, bytes);
    try {
      expect(resumed.metadata).toEqual(metadata);
      expect(resumed.optimizer.stepCount).toBe(cut);
      expect(resumed.optimizer.module).toBe(resumed.model);
      // fromCheckpoint refreshed them on the GPU (load computes them on the host, in float64: other bits).
      expect(bits(await resumed.model.forward(probe, SHAPE))).toEqual(bits(logitsAtCut));
      const after = await trainLm(resumed.model, resumed.optimizer, cut, total);
      expect([...before, ...after]).toEqual(straight); // toEqual on numbers: Object.is, so bit for bit
      expectSameBits(straightWeights, await resumed.model.readWeights(), 'weight');
      const state = await resumed.optimizer.exportState();
      expect(state.step).toBe(total);
      expectSameBits(momentsOf(straightState, 'expAvg'), momentsOf(state, 'expAvg'), 'exp_avg');
      expectSameBits(momentsOf(straightState, 'expAvgSq'), momentsOf(state, 'expAvgSq'), 'exp_avg_sq');
      expect(bits(await resumed.model.forward(probe, SHAPE))).toEqual(bits(straightLogits));
      console.log(`resume after ${cut} of ${total} steps: losses ${straight.map((l) => l.toFixed(4)).join(' ')} identical; ${bytes.byteLength} bytes`);
    } finally {
      resumed.optimizer.destroy();
      resumed.model.destroy();
    }
  });

  test('hostile checkpoints are refused on the host, naming the problem, with no GPU work', async () => {
    const good = await lmCheckpoint(1);
    const otherModel = await (async () => {
      const model = await AarenModel.fromSafetensors(device, writeSafetensors(initialLanguageModelWeights(LM)));
      const optimizer = await AdamW.create(device, model, OPTIONS);
      try {
        return await model.toCheckpoint(optimizer);
      } finally {
        optimizer.destroy();
        model.destroy();
      }
    })();
    const cases: [string, Uint8Array, RegExp][] = [
      ['truncated', good.subarray(0, good.byteLength - 100), /outside the \d+ data bytes/],
      ['truncated header', good.subarray(0, 20), /header length \d+ does not fit/],
      ['plain weights', edit(good, (_, m) => delete m.checkpoint), /plain weights/],
      ['another model', otherModel, /checkpoint of an AarenModel, not of an AarenLanguageModel/],
      // LM has the recency decay (recencyDecay defaults to true): without its weight, its moments belong to no parameter.
      ['moment of a missing parameter', edit(good, (t) => {
        expect(t['exp_avg.blocks.0.attention.decay']?.shape).toEqual([4]);
        delete t['blocks.0.attention.decay'];
      }), /exp_avg\.blocks\.0\.attention\.decay is a moment of parameter blocks\.0\.attention\.decay, which the checkpoint does not have/],
      ['moment of a parameter of a layer it does not have', edit(good, (t) => {
        t['exp_avg.blocks.1.attention.decay'] = { shape: [4], data: new Float32Array(4) };
        t['exp_avg_sq.blocks.1.attention.decay'] = { shape: [4], data: new Float32Array(4) };
      }), /exp_avg\.blocks\.1\.attention\.decay is a moment of parameter blocks\.1\.attention\.decay, which the checkpoint does not have/],
      ['moment of the wrong shape', edit(good, (t) => (t['exp_avg.lm_head.bias'] = { shape: [12], data: new Float32Array(12) })), /exp_avg\.lm_head\.bias has shape \[12\], but parameter lm_head\.bias has shape \[11\]/],
      ['missing moment', edit(good, (t) => delete t['exp_avg_sq.final_norm.bias']), /parameter final_norm\.bias has no tensor exp_avg_sq\.final_norm\.bias/],
      ['NaN moment', edit(good, (t) => (t['exp_avg.blocks.0.ffn.w1']!.data[5] = NaN)), /checkpoint: state\.moments\['blocks\.0\.ffn\.w1'\]\.expAvg\[5\] is NaN/],
      ['negative exp_avg_sq', edit(good, (t) => (t['exp_avg_sq.token_embedding']!.data[3] = -1)), /moments\['token_embedding'\]\.expAvgSq\[3\] is -1/],
      ['bad step', edit(good, (_, m) => (m['optimizer.step'] = '-2')), /optimizer\.step must be a non-negative integer, got "-2"/],
      ['bad options', edit(good, (_, m) => (m['optimizer.options'] = JSON.stringify({ lr: 1, betas: [0.9, 1.5] }))), /checkpoint: optimizer\.options\.betas\[1\] must be in \[0, 1\)/],
      ['wrong weight shape', edit(good, (t) => {
        t['blocks.0.ffn.b1'] = { shape: [127], data: new Float32Array(127) };
        t['exp_avg.blocks.0.ffn.b1'] = { shape: [127], data: new Float32Array(127) };
        t['exp_avg_sq.blocks.0.ffn.b1'] = { shape: [127], data: new Float32Array(127) };
      }), /config\.weights\.blocks\[0\]\.ffn\.b1 must have 128 elements/],
      ['NaN weight', edit(good, (t) => (t['lm_head.weight']!.data[0] = NaN)), /lm_head\.weight\[0\] is NaN/],
    ];
    for (const [what, bytes, message] of cases) {
      const before = spy.snapshot();
      await expect(AarenLanguageModel.fromCheckpoint(device, bytes), what).rejects.toThrow(message);
      expect(spy.snapshot(), what).toEqual(before);
    }
    expect(() => parseCheckpoint(good, 'AarenModel')).toThrow(/checkpoint of an AarenLanguageModel, not of an AarenModel/);
  });

  test('toCheckpoint refuses reserved metadata keys, non-strings and a foreign optimizer', async () => {
    const lm = await AarenLanguageModel.create(device, LM);
    const optimizer = await AdamW.create(device, lm, OPTIONS);
    const other = await AarenLanguageModel.create(device, LM);
    const foreign = await AdamW.create(device, other, OPTIONS);
    try {
      for (const key of CHECKPOINT_KEYS) await expect(lm.toCheckpoint(optimizer, { [key]: 'x' }), key).rejects.toThrow(new RegExp(`metadata\\['${key.replace('.', '\\.')}'\\]: the checkpoint writes that key itself`));
      await expect(lm.toCheckpoint(optimizer, { n: 3 as unknown as string })).rejects.toThrow(/metadata\['n'\] must be a string/);
      await expect(lm.toCheckpoint(foreign)).rejects.toThrow(/optimizer must be an AdamW created for this AarenLanguageModel/);
    } finally {
      foreign.destroy();
      other.destroy();
      optimizer.destroy();
      lm.destroy();
    }
  });
});

describe('AarenModel checkpoints (a user\'s own loss)', () => {
  test('resume = uninterrupted, bit for bit, and a language model\'s checkpoint is refused', async () => {
    const { batch, length } = SHAPE;
    const dModel = LM.dModel;
    const source = writeSafetensors(initialLanguageModelWeights(LM), { eps: '1e-5' });
    const data = (step: number) => {
      const random = mulberry32(500 + step);
      const make = () => Float32Array.from({ length: batch * length * dModel }, () => normal(random));
      return { x: make(), gradOutput: make() };
    };
    // The user's loss: sum(output * gradOutput), so dLoss/dOutput = gradOutput.
    const train = async (model: AarenModel, optimizer: AdamW, from: number, to: number) => {
      const trainer = await model.createTrainer(batch, length);
      const buffers: GPUBuffer[] = [];
      try {
        for (let step = from; step < to; step++) {
          const { x, gradOutput } = data(step);
          const [bx, bg] = [uploadFloat32(device, x), uploadFloat32(device, gradOutput)];
          const [out, gin] = [uploadFloat32(device, new Float32Array(x.length)), uploadFloat32(device, new Float32Array(x.length))];
          buffers.push(bx, bg, out, gin);
          const encoder = device.createCommandEncoder();
          trainer.encodeForward(encoder, { x: bx, output: out });
          trainer.encodeBackward(encoder, { gradOutput: bg, gradInput: gin });
          device.queue.submit([encoder.finish()]);
          optimizer.lr = lrOf(step);
          expect((await optimizer.step(trainer.gradients)).applied).toBe(true);
        }
      } finally {
        trainer.destroy();
        for (const b of buffers) b.destroy();
      }
    };
    const probe = data(99).x;

    const model = await AarenModel.fromSafetensors(device, source);
    const optimizer = await AdamW.create(device, model, OPTIONS);
    await train(model, optimizer, 0, 2);
    const outAtCut = await model.forward(probe, SHAPE);
    await train(model, optimizer, 2, 4);
    const straight = await model.readWeights();
    const straightState = await optimizer.exportState();
    const straightOut = await model.forward(probe, SHAPE);
    optimizer.destroy();
    model.destroy();

    const first = await AarenModel.fromSafetensors(device, source);
    const firstOptimizer = await AdamW.create(device, first, OPTIONS);
    await train(first, firstOptimizer, 0, 2);
    const bytes = await first.toCheckpoint(firstOptimizer, { epoch: '0' });
    firstOptimizer.destroy();
    first.destroy();

    await expect(AarenLanguageModel.fromCheckpoint(device, bytes)).rejects.toThrow(/checkpoint of an AarenModel, not of an AarenLanguageModel/);
    const resumed = await AarenModel.fromCheckpoint(device, bytes);
    try {
      expect(resumed.metadata).toEqual({ epoch: '0' });
      expect(bits(await resumed.model.forward(probe, SHAPE))).toEqual(bits(outAtCut));
      await train(resumed.model, resumed.optimizer, 2, 4);
      expectSameBits(straight, await resumed.model.readWeights(), 'weight');
      const state = await resumed.optimizer.exportState();
      expectSameBits(momentsOf(straightState, 'expAvg'), momentsOf(state, 'expAvg'), 'exp_avg');
      expectSameBits(momentsOf(straightState, 'expAvgSq'), momentsOf(state, 'expAvgSq'), 'exp_avg_sq');
      expect(bits(await resumed.model.forward(probe, SHAPE))).toEqual(bits(straightOut));
    } finally {
      resumed.optimizer.destroy();
      resumed.model.destroy();
    }
  });
});

describe('AdamW exportState / importState on any Trainable', () => {
  const shapes = optimShapes;
  const options: AdamWOptions = { lr: 1e-2, clipGradNorm: 1, weightDecay: 0.05 };

  test('a second optimizer given the first\'s state steps to the same bits; refused states change nothing', async () => {
    const initial = makeParameters(shapes, 31);
    const a = new TestModule(device, initial, shapes);
    const b = new TestModule(device, initial, shapes);
    const optA = await AdamW.create(device, a, options);
    const optB = await AdamW.create(device, b, { ...options, lr: 5 });
    const gradBuffers: GPUBuffer[] = [];
    const gradients = (k: number) => {
      const g = makeGradients(shapes, 40 + k);
      return Object.fromEntries(Object.entries(g).map(([n, data]) => {
        const buffer = uploadFloat32(device, data, `grad ${n}`);
        gradBuffers.push(buffer);
        return [n, buffer];
      }));
    };
    try {
      await optA.step(gradients(0));
      optA.lr = 3e-3;
      await optA.step(gradients(1));
      const saved = await optA.exportState();
      expect(saved.step).toBe(2);
      expect(saved.options).toEqual({ lr: 3e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.05, clipGradNorm: 1 });
      expect(Object.keys(saved.moments)).toEqual(Object.keys(shapes));
      for (const [n, shape] of Object.entries(shapes)) expect(saved.moments[n]!.expAvgSq.length).toBe(count(shape));
      expect(saved.moments['token_embedding']!.expAvg.some((x) => x !== 0)).toBe(true);

      // Refusals: nothing written, nothing changed.
      const clone = (s: AdamWState): AdamWState => ({ step: s.step, options: { ...s.options }, moments: Object.fromEntries(Object.entries(s.moments).map(([n, m]) => [n, { shape: [...m.shape], expAvg: m.expAvg.slice(), expAvgSq: m.expAvgSq.slice() }])) });
      const bad: [string, (s: AdamWState) => void, RegExp][] = [
        ['unknown parameter', (s) => (s.moments['blocks.0.attention.decay'] = { shape: [2], expAvg: new Float32Array(2), expAvgSq: new Float32Array(2) }), /state\.moments\['blocks\.0\.attention\.decay'\]: the module has no parameter/],
        ['missing parameter', (s) => delete s.moments['final_norm.weight'], /state\.moments\['final_norm\.weight'\] is missing/],
        ['wrong shape', (s) => (s.moments['blocks.0.attention.query']!.shape = [5, 7]), /shape is \[5,7\], but parameter blocks\.0\.attention\.query has shape \[7, 5\]/],
        ['short data', (s) => (s.moments['blocks.0.attention.bias']!.expAvg = new Float32Array(4)), /expAvg must have 5 elements/],
        ['infinite', (s) => (s.moments['lm_head.weight']!.expAvgSq[7] = Infinity), /expAvgSq\[7\] is Infinity/],
        ['negative v', (s) => (s.moments['lm_head.weight']!.expAvgSq[2] = -0.5), /expAvgSq\[2\] is -0.5; exp_avg_sq .* must be >= 0/],
        ['bad step', (s) => (s.step = 1.5), /state\.step must be an integer/],
        ['other eps', (s) => (s.options.eps = 1e-6), /state\.options\.eps is 0\.000001 but this optimizer's is 1e-8/],
        ['other clip', (s) => delete s.options.clipGradNorm, /state\.options\.clipGradNorm is undefined but this optimizer's is 1/],
      ];
      const beforeB = await optB.exportState();
      for (const [what, change, message] of bad) {
        const state = clone(saved);
        change(state);
        const snap = spy.snapshot();
        expect(() => optB.importState(state), what).toThrow(message);
        expect(spy.snapshot(), what).toEqual(snap);
      }
      expect(optB.stepCount).toBe(0);
      expect(optB.lr).toBe(5);
      const stillB = await optB.exportState();
      expectSameBits(momentsOf(beforeB, 'expAvg'), momentsOf(stillB, 'expAvg'), 'untouched m');

      optB.importState(saved);
      expect(optB.stepCount).toBe(2);
      expect(optB.lr).toBe(3e-3);
      // The parameters are the module's business: copy A's into B, then step both with the same gradients.
      const encoder = device.createCommandEncoder();
      a.list.forEach((p, i) => encoder.copyBufferToBuffer(p.buffer, 0, b.list[i]!.buffer, 0, p.buffer.size));
      device.queue.submit([encoder.finish()]);
      const g = gradients(2);
      await optA.step(g);
      await optB.step(g);
      const [sa, sb] = [await optA.exportState(), await optB.exportState()];
      expect(sb.step).toBe(3);
      expectSameBits(momentsOf(sa, 'expAvg'), momentsOf(sb, 'expAvg'), 'm');
      expectSameBits(momentsOf(sa, 'expAvgSq'), momentsOf(sb, 'expAvgSq'), 'v');
      const read = async (m: TestModule) => Object.fromEntries(await Promise.all(m.list.map(async (p) => {
        const staging = device.createBuffer({ size: Math.max(16, p.buffer.size), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
        const e = device.createCommandEncoder();
        e.copyBufferToBuffer(p.buffer, 0, staging, 0, p.buffer.size);
        device.queue.submit([e.finish()]);
        await staging.mapAsync(GPUMapMode.READ);
        const out = new Float32Array(staging.getMappedRange().slice(0, count(p.shape) * 4));
        staging.destroy();
        return [p.name, out] as const;
      })));
      expectSameBits(await read(a), await read(b), 'parameter');

      // fromState takes the state's options.
      const c = new TestModule(device, initial, shapes);
      const optC = await AdamW.fromState(device, c, { ...saved, options: { ...saved.options, eps: 1e-6 } });
      expect([optC.eps, optC.clipGradNorm, optC.stepCount, optC.lr]).toEqual([1e-6, 1, 2, 3e-3]);
      optC.destroy();
      c.destroy();
      const snap = spy.snapshot();
      await expect(AdamW.fromState(device, new TestModule(device, makeParameters({ x: [2] }, 1), { x: [2] }), saved)).rejects.toThrow(/state\.moments\['blocks\.0\.attention\.query'\]: the module has no parameter/);
      expect(spy.snapshot().buffersCreated - snap.buffersCreated).toBe(1); // the TestModule's own upload only
    } finally {
      for (const buffer of gradBuffers) buffer.destroy();
      optA.destroy();
      optB.destroy();
      a.destroy();
      b.destroy();
    }
  });
});

describe('npm run train\'s loop: checkpoints, --resume, a lost device (Dawn)', () => {
  const text = 'the cat sat on the mat. '.repeat(20);
  const config: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG,
    model: { layers: 1, dModel: 64, heads: 4, headDim: 16, dFF: 128 },
    steps: 8, batch: 2, length: 8, lr: 2e-2, warmup: 2, seed: 3,
    sample: { prompt: 'the ', maxTokens: 6, temperature: 0.5, topK: 3 },
    // Held-out loss at steps 3 (a checkpoint's step: evaluated before that checkpoint is written), 6 and 8.
    eval: { fraction: 0.1, every: 3, windows: 4 },
  };

  test('the batch generator\'s state and the text fingerprint', () => {
    const a = mulberry32(77);
    const b = new SeededRandom(77);
    for (let i = 0; i < 5; i++) expect(b.next()).toBe(a());
    const c = new SeededRandom(b.state);
    expect(c.next()).toBe(a());
    expect(textFingerprint(Uint32Array.of(1, 2))).not.toBe(textFingerprint(Uint32Array.of(2, 1)));
    expect(textFingerprint(Uint32Array.of(1, 2))).toMatch(/^2:[0-9a-f]{8}$/);
  });

  test('resuming from a checkpoint, and recovering from a destroyed device, give the uninterrupted run\'s losses, held-out losses, weights and sample', async () => {
    const shared = await dawnDevice();
    const checkpoints = new Map<number, Uint8Array>();
    const validations: number[] = [];
    const straight = await trainCharModel(shared, text, config, {
      checkpointEvery: 3,
      onCheckpoint: (bytes, step) => void checkpoints.set(step, bytes),
      onValidation: (v) => validations.push(v.step),
    });
    expect([...checkpoints.keys()]).toEqual([3, 6, 8]);
    expect(validations).toEqual([3, 6, 8]);
    expect(straight.validation.map((v) => v.step)).toEqual([3, 6, 8]);
    for (const v of straight.validation) expect(Number.isFinite(v.loss) && v.loss > 0).toBe(true);
    const meta = readSafetensors(checkpoints.get(3)!).metadata;
    expect(meta['loop.step']).toBe('3');
    expect(JSON.parse(meta['loop.losses']!)).toEqual(straight.losses.slice(0, 3));
    // The held-out evaluation of the checkpoint's own step is in it.
    expect(JSON.parse(meta['loop.validation']!)).toEqual(straight.validation.slice(0, 1));
    expect(JSON.parse(readSafetensors(checkpoints.get(6)!).metadata['loop.validation']!)).toEqual(straight.validation.slice(0, 2));
    expect(meta['optimizer.step']).toBe('3');

    // The step-3 checkpoint's evaluation comes from its metadata; steps 6 and 8 are evaluated again, to the bit.
    const resumedValidations: number[] = [];
    const resumed = await trainCharModel(shared, text, config, { resume: checkpoints.get(3)!, onValidation: (v) => resumedValidations.push(v.step) });
    expect(resumedValidations).toEqual([6, 8]);
    expect(resumed.losses).toEqual(straight.losses);
    expect(resumed.validation).toEqual(straight.validation);
    expect(resumed.safetensors).toEqual(straight.safetensors); // its metadata holds the validation curve too
    expect(resumed.sample).toBe(straight.sample);

    // eval.every only decides when to evaluate: a resume may change it (the training losses stay the same).
    const sparser = await trainCharModel(shared, text, { ...config, eval: { ...config.eval, every: 0 } }, { resume: checkpoints.get(6)! });
    expect(sparser.losses).toEqual(straight.losses);
    expect(sparser.validation).toEqual(straight.validation);

    // Refused: another config (the held-out split or windows too), another text (before any GPU work).
    await expect(trainCharModel(shared, text, { ...config, lr: 1e-2 }, { resume: checkpoints.get(3)! })).rejects.toThrow(/resume: the checkpoint was trained with lr 0\.02, this run has lr 0\.01/);
    await expect(trainCharModel(shared, text, { ...config, eval: { ...config.eval, fraction: 0.2 } }, { resume: checkpoints.get(3)! }))
      .rejects.toThrow(/resume: the checkpoint was trained with eval \{"fraction":0\.1,"windows":4\}, this run has eval \{"fraction":0\.2,"windows":4\}/);
    await expect(trainCharModel(shared, text, { ...config, eval: { ...config.eval, windows: 5 } }, { resume: checkpoints.get(3)! })).rejects.toThrow(/resume: the checkpoint was trained with eval /);
    await expect(trainCharModel(shared, text.replace('cat', 'act'), config, { resume: checkpoints.get(3)! })).rejects.toThrow(/resume: the checkpoint was trained on another text/);
    // loop.validation checked like loop.losses: missing, or a point past the checkpoint's step.
    const withLoopValidation = (value: string | undefined): Uint8Array => {
      const file = readSafetensors(checkpoints.get(3)!);
      const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
      for (const [name, t] of file.tensors) tensors[name] = { shape: t.shape, data: t.data };
      const metadata = { ...file.metadata };
      if (value === undefined) delete metadata['loop.validation'];
      else metadata['loop.validation'] = value;
      return writeSafetensors(tensors, metadata);
    };
    await expect(trainCharModel(shared, text, config, { resume: withLoopValidation(undefined) })).rejects.toThrow(/resume: the checkpoint has no valid "loop.validation" metadata/);
    await expect(trainCharModel(shared, text, config, { resume: withLoopValidation('[{"step":4,"loss":2}]') })).rejects.toThrow(/resume: loop.validation must be a list of \{ step, loss \} at increasing steps in \[1, 3\]/);

    // A device destroyed after step 5: the loop says so, makes a new device, reloads the step-3 checkpoint, goes on.
    const doomed = await newDawnDevice();
    const made: GPUDevice[] = [];
    const log: string[] = [];
    const progress: number[] = [];
    const recovered = await trainCharModel(doomed, text, config, {
      checkpointEvery: 3,
      progressEvery: 1,
      onProgress: (p) => {
        progress.push(p.step);
        if (p.step === 5 && made.length === 0) doomed.destroy();
      },
      createDevice: async () => {
        const device = made.length === 0 ? shared : await newDawnDevice();
        made.push(device);
        return device;
      },
      onLog: (line) => log.push(line),
    });
    expect(log[0]).toMatch(/^device lost at step 6 \(destroyed.*continuing from the last checkpoint/);
    expect(log[1]).toBe('continuing at step 4 on the new device');
    expect(progress).toEqual([1, 2, 3, 4, 5, 4, 5, 6, 7, 8]);
    expect(recovered.losses).toEqual(straight.losses);
    expect(recovered.validation).toEqual(straight.validation);
    expect(recovered.safetensors).toEqual(straight.safetensors);
    expect(recovered.sample).toBe(straight.sample);
  });
});
