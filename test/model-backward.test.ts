// AarenLayer.backward and AarenModel.backward on Dawn (SwiftShader) against the float64 references of
// src/reference/layer-backward.ts: every tensor within 1e-4 * max|g| of that tensor (cases/model-backward.ts
// states why, and the key bias's exception). Also: determinism, refusals before GPU work, no leaked buffer, the
// trainer's gradients equal to the typed backward's, encodeRefresh, the 8-storage-buffer limit of every kernel's plan
// (the Chrome suite runs these cases on a device with that limit, test/browser.test.ts).
import { afterEach, describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { AarenLayer, runTrainer } from '../src/nn/layer.js';
import type { PlanTrainer } from '../src/nn/trainer.js';
import { referenceLayerBackward, referenceModelBackward } from '../src/reference/layer-backward.js';
import { AarenModel } from '../src/nn/model.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../src/core/buffers.js';
import { planLayerBackward, planLayerRefresh, planLayerTrainForward, type LayerTrainDims } from '../src/nn/layer-backward.js';
import { planModelBackward, planModelTrainForward } from '../src/nn/model-backward.js';
import { randomArray, randomLayerConfig, randomModelConfig, seeded, trackBuffers } from '../cases/layer.js';
import {
  backwardCaseResult, describeBackwardShape,
  layerErrors, modelErrors, runLayerBackwardCase, runModelBackwardCase, type LayerBackwardShape, type ModelBackwardShape,
} from '../cases/model-backward.js';

const LAYER_CASES: LayerBackwardShape[] = [
  { batch: 1, length: 1, dModel: 5, heads: 1, headDim: 8, schedule: 'recurrent' },
  { batch: 3, length: 2, dModel: 4, heads: 2, headDim: 3, biases: true, schedule: 'recurrent' },
  { batch: 2, length: 37, dModel: 7, heads: 3, headDim: 6, biases: true, schedule: 'recurrent' },
  { batch: 2, length: 37, dModel: 7, heads: 3, headDim: 6, biases: true, schedule: 'recurrent', state: 5 },
  // headDim 33: three channel blocks (the scan backward's ds partials), f32 rows; every schedule; length 300 > one tile.
  { batch: 3, length: 300, dModel: 13, heads: 2, headDim: 33, biases: true, schedule: 'recurrent' },
  { batch: 3, length: 300, dModel: 13, heads: 2, headDim: 33, biases: true, schedule: 'sequential' },
  { batch: 3, length: 300, dModel: 13, heads: 2, headDim: 33, biases: true, schedule: 'parallel' },
  { batch: 2, length: 290, dModel: 13, heads: 2, headDim: 33, schedule: 'parallel', state: 7 },
  { batch: 1, length: 64, dModel: 9, heads: 2, headDim: 20, schedule: 'sequential', state: 3 },
  // Recency decay (theta per head, d theta) on every schedule, with a constant state too.
  { batch: 2, length: 37, dModel: 7, heads: 4, headDim: 6, biases: true, decay: true, schedule: 'recurrent' },
  { batch: 2, length: 37, dModel: 7, heads: 4, headDim: 6, conv: true, schedule: 'recurrent', state: 4 },
  { batch: 2, length: 300, dModel: 9, heads: 2, headDim: 20, decay: true, conv: true, schedule: 'sequential' },
  { batch: 2, length: 290, dModel: 9, heads: 2, headDim: 20, decay: true, conv: true, schedule: 'parallel', state: 7 },
];

const MODEL_CASES: ModelBackwardShape[] = [
  { batch: 1, length: 1, dModel: 6, heads: 1, headDim: 8, layers: 1, dFF: 10 },
  { batch: 2, length: 45, dModel: 11, heads: 2, headDim: 8, layers: 2, dFF: 21, biases: true },
  { batch: 3, length: 120, dModel: 12, heads: 3, headDim: 6, layers: 2, dFF: 24, schedule: 'parallel' },
  { batch: 2, length: 50, dModel: 12, heads: 4, headDim: 8, layers: 2, dFF: 24, biases: true, decay: true, conv: true },
];

function check(kernel: string, shape: string, r: { errors: { name: string; relError: number }[]; ms: number }) {
  const result = backwardCaseResult(kernel, shape, r.errors as never, r.ms);
  console.log(`${kernel} ${result.shape} rel ${result.maxRelError.toExponential(2)} ${r.ms.toFixed(0)} ms`);
  expect(result.pass, `${kernel} ${shape}: ${result.error}`).toBe(true);
}

describe('AarenLayer.backward / AarenModel.backward', () => {
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
  });

  test('every kernel binds at most 8 storage buffers (WebGPU default maxStorageBuffersPerShaderStage)', async () => {
    const device = await dawnDevice();
    for (const cpu of [true, false]) {
      const limits = { limits: device.limits, cpu };
      for (const headDim of [6, 8, 33]) {
        const dims: LayerTrainDims = { dModel: 7, heads: 2, headDim, scale: 0.3, keyBias: true, valueBias: true, outputBias: true, decay: true, conv: true };
        const plans = [planLayerRefresh(dims, limits)];
        for (const schedule of ['recurrent', 'sequential', 'parallel'] as const) {
          plans.push(planLayerTrainForward(dims, 2, 600, schedule, true, limits) as never, planLayerBackward(dims, 2, 600, schedule, true, limits) as never);
          const model = { layers: 2, dModel: 7, dFF: 9, eps: 1e-5, layer: [dims, dims] };
          plans.push(planModelTrainForward(model, 2, 600, schedule, limits) as never, planModelBackward(model, 2, 600, schedule, limits) as never);
        }
        for (const plan of plans) {
          for (const d of plan.dispatches) {
            const storage = Object.keys(d.buffers).length;
            expect(storage, d.kernel.parts.map((p) => p.name).join('+')).toBeLessThanOrEqual(8);
          }
        }
      }
    }
  });

  test('layer backward vs float64 reference: every schedule, biases, constant state, headDim 1..33', async () => {
    const device = await dawnDevice();
    for (const [i, shape] of LAYER_CASES.entries()) {
      check(`layer-backward-${shape.schedule}`, describeBackwardShape(shape), await runLayerBackwardCase(device, shape, 100 + i));
    }
  }, 600_000);

  test('model backward vs float64 reference', async () => {
    const device = await dawnDevice();
    for (const [i, shape] of MODEL_CASES.entries()) {
      check('model-backward', describeBackwardShape(shape), await runModelBackwardCase(device, shape, 200 + i));
    }
  }, 600_000);

  test('the GPU kernel family (tiled matmuls, workgroup LayerNorm, auto schedule: parallel) on SwiftShader too', async () => {
    const device = await dawnDevice();
    type Private = { trainer(batch: number, length: number, cpu: boolean): Promise<PlanTrainer> };
    const rand = seeded(71);
    const shape = { batch: 2, length: 40, dModel: 10, heads: 2, headDim: 12, layers: 2, dFF: 19, biases: true };
    const config = randomModelConfig(shape, rand);
    const n = shape.batch * shape.length * shape.dModel;
    const x = randomArray(n, rand);
    const dy = randomArray(n, rand);
    const model = await AarenModel.create(device, config);
    const layer = await AarenLayer.create(device, { dModel: 10, heads: 2, headDim: 12, weights: config.weights.blocks[0]!.attention });
    try {
      const got = await runTrainer(device, 'test', () => (model as unknown as Private).trainer(shape.batch, shape.length, false), x, dy, {});
      check('model-backward-gpu-family', describeBackwardShape(shape), { errors: modelErrors(got, referenceModelBackward(config, config.weights, x, dy, shape)), ms: 0 });
      const l = await runTrainer(device, 'test', () => (layer as unknown as Private).trainer(shape.batch, shape.length, false), x, dy, {});
      const camel: Record<string, string> = { key_bias: 'keyBias', value_bias: 'valueBias', output_bias: 'outputBias' };
      const gradients = Object.fromEntries(Object.entries(l.gradients).map(([k, v]) => [camel[k] ?? k, v]));
      const ref = referenceLayerBackward({ dModel: 10, heads: 2, headDim: 12 }, config.weights.blocks[0]!.attention, x, dy, shape);
      check('layer-backward-gpu-family', describeBackwardShape(shape), { errors: layerErrors({ ...l, gradients } as never, ref, false), ms: 0 });
    } finally {
      model.destroy();
      layer.destroy();
    }
  }, 600_000);
});

describe('training contract', () => {
  let restore: (() => void) | undefined;
  afterEach(() => {
    restore?.();
    restore = undefined;
  });

  const modelShape = { batch: 2, length: 9, dModel: 6, heads: 2, headDim: 5, layers: 2, dFF: 7, biases: true };
  const rows = modelShape.batch * modelShape.length * modelShape.dModel;

  test('same input, same bits (layer and model); the trainer gives the typed backward\'s bits; its forward is the inference forward', async () => {
    const device = await dawnDevice();
    const rand = seeded(31);
    const config = randomModelConfig(modelShape, rand);
    const x = randomArray(rows, rand);
    const dy = randomArray(rows, rand);
    const model = await AarenModel.create(device, config);
    const layer = await AarenLayer.create(device, { ...randomLayerConfig({ dModel: 6, heads: 2, headDim: 5, biases: true }, rand) });
    try {
      const shape = { batch: modelShape.batch, length: modelShape.length };
      const a = await model.backward(x, dy, shape);
      const b = await model.backward(x, dy, shape);
      expect(Buffer.from(b.gradInput.buffer).equals(Buffer.from(a.gradInput.buffer))).toBe(true);
      for (const name of Object.keys(a.gradients)) expect(Buffer.from(b.gradients[name]!.buffer).equals(Buffer.from(a.gradients[name]!.buffer)), name).toBe(true);
      const la = await layer.backward(x, dy, shape);
      const lb = await layer.backward(x, dy, shape);
      expect(Buffer.from(lb.gradInput.buffer).equals(Buffer.from(la.gradInput.buffer))).toBe(true);
      for (const [name, g] of Object.entries(la.gradients)) expect(Buffer.from((lb.gradients as unknown as Record<string, Float32Array>)[name]!.buffer).equals(Buffer.from(g.buffer)), name).toBe(true);

      // The GPU-resident trainer: same kernels, same bits; gradients keyed by the parameters' names.
      const trainer = await model.createTrainer(shape.batch, shape.length);
      const xb = uploadFloat32(device, x);
      const dyb = uploadFloat32(device, dy);
      const out = createStorageBuffer(device, x.byteLength);
      const dx = createStorageBuffer(device, x.byteLength);
      try {
        expect(Object.keys(trainer.gradients).sort()).toEqual(model.parameters().map((p) => p.name).sort());
        const encoder = device.createCommandEncoder();
        trainer.encodeForward(encoder, { x: xb, output: out });
        trainer.encodeBackward(encoder, { gradOutput: dyb, gradInput: dx });
        const names = model.parameters().map((p) => ({ name: p.name, floats: p.shape.reduce((s, n) => s * n, 1) }));
        const [y, gx, ...gs] = await submitAndRead(device, encoder, [{ buffer: out, floats: rows }, { buffer: dx, floats: rows }, ...names.map((n) => ({ buffer: trainer.gradients[n.name]!, floats: n.floats }))]);
        expect(Buffer.from(y!.buffer).equals(Buffer.from(a.output.buffer))).toBe(true);
        expect(Buffer.from(gx!.buffer).equals(Buffer.from(a.gradInput.buffer))).toBe(true);
        names.forEach((n, i) => expect(Buffer.from(gs[i]!.buffer).equals(Buffer.from(a.gradients[n.name]!.buffer)), n.name).toBe(true));
        // The training forward (materialised keys and values) against the inference forward (fused): float32
        // sums in another order, so within 1e-5 of max|y|, not bit for bit.
        const inference = await model.forward(x, shape);
        const scale = Math.max(...Array.from(inference, Math.abs));
        for (let i = 0; i < rows; i++) expect(Math.abs(y![i]! - inference[i]!)).toBeLessThanOrEqual(1e-5 * scale);
      } finally {
        trainer.destroy();
        for (const buffer of [xb, dyb, out, dx]) buffer.destroy();
      }
    } finally {
      model.destroy();
      layer.destroy();
    }
  }, 300_000);

  test('parameters(), readWeights() and encodeRefresh: a changed raw weight gives the forward of a fresh model', async () => {
    const device = await dawnDevice();
    const rand = seeded(41);
    const config = randomModelConfig(modelShape, rand);
    const model = await AarenModel.create(device, config);
    const shape = { batch: modelShape.batch, length: modelShape.length };
    const x = randomArray(rows, rand);
    try {
      const params = model.parameters();
      const names = params.map((p) => p.name);
      expect(names).toContain('blocks.1.attention.key_bias');
      expect(names.at(-1)).toBe('final_norm.bias');
      const before = await model.readWeights();
      expect(Array.from(before['blocks.0.attention.key']!)).toEqual(Array.from(config.weights.blocks[0]!.attention.key));
      expect(Array.from(before['blocks.1.ffn.w2']!)).toEqual(Array.from(config.weights.blocks[1]!.ffn.w2));
      // Change every attention weight of block 1 and the query of block 0, as an optimizer would (on the GPU).
      const changed = structuredClone(config);
      const edits: [string, Float32Array][] = [];
      const edit = (name: string, target: Float32Array) => {
        const next = target.map((v) => v * 0.9 + 0.05 * rand());
        target.set(next);
        edits.push([name, next]);
      };
      const att0 = changed.weights.blocks[0]!.attention;
      const att1 = changed.weights.blocks[1]!.attention;
      edit('blocks.0.attention.query', att0.query);
      edit('blocks.1.attention.key', att1.key);
      edit('blocks.1.attention.value', att1.value);
      edit('blocks.1.attention.key_bias', att1.keyBias!);
      edit('blocks.1.attention.value_bias', att1.valueBias!);
      for (const [name, data] of edits) device.queue.writeBuffer(params.find((p) => p.name === name)!.buffer, 0, data as Float32Array<ArrayBuffer>);
      const encoder = device.createCommandEncoder();
      model.encodeRefresh(encoder);
      device.queue.submit([encoder.finish()]);
      const y = await model.forward(x, shape);
      const fresh = await AarenModel.create(device, changed);
      try {
        const ref = await fresh.forward(x, shape);
        // The fresh model folds the query into the key on the host in float64, encodeRefresh on the GPU in float32.
        const scale = Math.max(...Array.from(ref, Math.abs));
        for (let i = 0; i < rows; i++) expect(Math.abs(y[i]! - ref[i]!)).toBeLessThanOrEqual(1e-5 * scale);
      } finally {
        fresh.destroy();
      }
      const after = await model.readWeights();
      for (const [name, data] of edits) expect(Array.from(after[name]!)).toEqual(Array.from(data));
    } finally {
      model.destroy();
    }
  }, 300_000);

  test('model backward with a constant state: the output is the stateful forward\'s, the state is not advanced', async () => {
    const device = await dawnDevice();
    const rand = seeded(51);
    const model = await AarenModel.create(device, { ...randomModelConfig(modelShape, rand), schedule: 'recurrent' });
    const shape = { batch: modelShape.batch, length: modelShape.length };
    const prefix = randomArray(modelShape.batch * 4 * modelShape.dModel, rand);
    const x = randomArray(rows, rand);
    const s1 = model.createState(shape.batch);
    const s2 = model.createState(shape.batch);
    try {
      await model.forward(prefix, { batch: shape.batch, length: 4 }, s1);
      await model.forward(prefix, { batch: shape.batch, length: 4 }, s2);
      const got = await model.backward(x, randomArray(rows, rand), shape, s1);
      expect(s1.tokens).toBe(4);
      const ref = await model.forward(x, shape, s2);
      const scale = Math.max(...Array.from(ref, Math.abs));
      for (let i = 0; i < rows; i++) expect(Math.abs(got.output[i]! - ref[i]!)).toBeLessThanOrEqual(1e-5 * scale);
      // Not advanced: a second backward from s1 gives the same bits.
      const again = await model.backward(x, got.output, shape, s1);
      expect(Buffer.from(again.output.buffer).equals(Buffer.from(got.output.buffer))).toBe(true);
    } finally {
      s1.destroy();
      s2.destroy();
      model.destroy();
    }
  }, 300_000);

  test('bad inputs are refused, naming the argument, before any GPU work; nothing leaks', async () => {
    const device = await dawnDevice();
    const rand = seeded(61);
    const model = await AarenModel.create(device, randomModelConfig(modelShape, rand));
    const layer = await AarenLayer.create(device, randomLayerConfig({ dModel: 6, heads: 2, headDim: 5, biases: true }, rand));
    const other = await AarenLayer.create(device, randomLayerConfig({ dModel: 6, heads: 2, headDim: 5 }, rand));
    const shape = { batch: 2, length: 9 };
    const x = randomArray(rows, rand);
    try {
      const tracked = trackBuffers(device);
      restore = tracked.restore;
      const nan = x.slice();
      nan[3] = NaN;
      const foreign = other.createState(2);
      const small = layer.createState(1);
      const cases: [() => Promise<unknown>, RegExp][] = [
        [() => layer.backward(x.subarray(1), x, shape), /^x must have/],
        [() => layer.backward(x, nan, shape), /^gradOutput\[3\] is NaN/],
        [() => layer.backward(Array.from(x) as never, x, shape), /^x must be a Float32Array/],
        [() => layer.backward(x, x, { batch: 2.5, length: 9 }), /^shape.batch must be an integer/],
        [() => layer.backward(x, x, null as never), /^shape must be an object/],
        [() => layer.backward(x, x, shape, foreign), /^state must be an AarenState/],
        [() => layer.backward(x, x, shape, small), /^state is for batch 1/],
        [() => model.backward(x, x.subarray(2), shape), /^gradOutput must have/],
        [() => model.backward(x, x, { batch: 2, length: -1 }), /^shape.length must be in/],
        [() => model.createTrainer(0, 4), /^batch must be in/],
        [() => layer.createTrainer(1, 0), /^length must be in/],
      ];
      const live = tracked.live.size;
      for (const [call, message] of cases) await expect(call()).rejects.toThrow(message);
      expect(tracked.live.size).toBe(live);
      foreign.destroy();
      small.destroy();
      // A successful call and a trainer leave nothing behind.
      const base = tracked.live.size;
      await model.backward(x, x, shape);
      await layer.backward(x, x, shape);
      const trainer = await layer.createTrainer(2, 9);
      trainer.destroy();
      expect(tracked.live.size).toBe(base);
      const zero = await layer.backward(new Float32Array(0), new Float32Array(0), { batch: 0, length: 4 });
      expect(zero.gradients.keyBias!.length).toBe(10);
    } finally {
      model.destroy();
      layer.destroy();
      other.destroy();
    }
  }, 300_000);
});
