// AdamW (with clip_grad_norm_) and the fused cross-entropy on Dawn (SwiftShader), vs float64 with per-element
// bounds derived in cases/optim.ts; determinism (same bits); refused non-finite gradients leave everything as it
// was; argument checks name the argument and do no GPU work; no buffer leaks.
import { afterAll, describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { spyOnDevice } from './gpu-spy.js';
import {
  checkCrossEntropy, count, makeGradients, normErrorBound, makeParameters, optimShapes, readBuffers, runAdamW, runCrossEntropyOnce, runOptimCases, TestModule,
} from '../cases/optim.js';
import { AdamW, ADAMW_STATUS_FLOATS, planAdamW } from '../src/optim/adamw.js';
import { checkTargets, CrossEntropyOp, planCrossEntropy } from '../src/ops/cross-entropy.js';
import { referenceAdamWState, referenceAdamWStep } from '../src/reference/adamw.js';
import { createStorageBuffer, uploadFloat32 } from '../src/core/buffers.js';

const device = await dawnDevice();
const spy = spyOnDevice(device);
afterAll(() => spy.restore());

const limits = { maxComputeWorkgroupsPerDimension: 65535 } as GPUSupportedLimits;

describe('planning (pure)', () => {
  test('AdamW: a norm pass per non-empty tensor, one finish, an update per non-empty tensor; decay on >= 2-D', () => {
    const plan = planAdamW([[7, 5], [5], [0, 4], [100000]], { clipGradNorm: 1 }, { limits, cpu: true });
    const names = plan.dispatches.map((d) => d.kernel.parts.at(-1)!.name);
    expect(names).toEqual(['optim/grad_norm_partials', 'optim/grad_norm_partials', 'optim/grad_norm_partials', 'optim/grad_norm_finish', 'optim/adamw_update', 'optim/adamw_update', 'optim/adamw_update']);
    expect(plan.dispatches.slice(4).map((d) => d.params.decay)).toEqual([1, 0, 0]);
    expect(plan.dispatches[3]!.params).toEqual({ partial_count: 64 + 64 + 7 * 64, clip: 1, max_norm: 1 });
    expect(planAdamW([[1 << 24]], {}, { limits, cpu: false }).dispatches[0]!.workgroups).toEqual([256, 1, 1]);
    for (const d of plan.dispatches) expect(Object.keys(d.buffers).length).toBeLessThanOrEqual(8);
  });

  test('cross-entropy: rows pass then one mean workgroup', () => {
    const plan = planCrossEntropy(100, 300, { limits, cpu: true });
    expect(plan.dispatches.map((d) => d.kernel.parts.at(-1)!.name)).toEqual(['ops/loss/cross_entropy_rows', 'ops/loss/cross_entropy_mean']);
    expect(planCrossEntropy(100, 300, { limits, cpu: false }).dispatches[0]!.kernel.parts.at(-1)!.name).toBe('ops/loss/cross_entropy_workgroup');
    expect(planCrossEntropy(100, 63, { limits, cpu: false }).dispatches[0]!.kernel.parts.at(-1)!.name).toBe('ops/loss/cross_entropy_rows');
    expect(plan.dispatches[1]!.workgroups).toEqual([1, 1, 1]);
    expect(() => planCrossEntropy(10, 0, { limits, cpu: true })).toThrow(/vocab/);
  });
});

describe('AdamW on Dawn vs float64 (torch.optim.AdamW semantics)', () => {
  const report = (label: string, r: { maxAbsError: number; maxRelError: number; tolerance: number }) =>
    console.log(`${label}: |err| ${r.maxAbsError.toExponential(2)} <= ${r.tolerance.toExponential(2)}, max rel ${r.maxRelError.toExponential(2)}`);

  test('6 steps, lr changed between steps, no clipping', async () => {
    const run = await runAdamW(device, { lr: 1e-2 }, 6, (k) => [1e-2, 1e-2, 3e-3, 3e-3, 2e-2, 1e-3][k - 1]!, 11);
    report('no clip', run.result);
    expect(run.result.pass).toBe(true);
    expect(run.statuses.every((s) => s.clipScale === 1)).toBe(true);
  });

  test('clipping active (max 1) with non-default betas, eps and weight decay', async () => {
    const run = await runAdamW(device, { lr: 5e-3, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1, clipGradNorm: 1 }, 6, (k) => (k < 4 ? 5e-3 : 1e-3), 12);
    report('clip active', run.result);
    expect(run.result.pass).toBe(true);
    // runAdamW checked the status word's norm and factor against float64 within normErrorBound.
    expect(run.statuses.every((s) => s.clipScale < 1)).toBe(true);
    console.log(`norm: relative error ${(run.normError / 2 ** -24).toFixed(1)} u, bound ${(normErrorBound(Object.values(optimShapes)) / 2 ** -24).toFixed(0)} u`);
  });

  test('clipping inactive (max 1e6): factor exactly 1', async () => {
    const run = await runAdamW(device, { lr: 1e-3, betas: [0.5, 0.9], eps: 1e-3, weightDecay: 0, clipGradNorm: 1e6 }, 5, () => 1e-3, 13);
    report('clip inactive', run.result);
    expect(run.result.pass).toBe(true);
    expect(run.statuses.every((s) => s.clipScale === 1)).toBe(true);
  });

  test('deterministic: the same run twice gives the same bits (parameters, m, v)', async () => {
    const options = { lr: 1e-2, clipGradNorm: 0.5 };
    const a = await runAdamW(device, options, 3, () => 1e-2, 21);
    const b = await runAdamW(device, options, 3, () => 1e-2, 21);
    for (const n of Object.keys(optimShapes)) {
      expect(new Uint32Array(b.params[n]!.buffer)).toEqual(new Uint32Array(a.params[n]!.buffer));
      expect(new Uint32Array(b.m[n]!.buffer)).toEqual(new Uint32Array(a.m[n]!.buffer));
      expect(new Uint32Array(b.v[n]!.buffer)).toEqual(new Uint32Array(a.v[n]!.buffer));
    }
    expect(b.statuses.map((s) => s.gradNorm)).toEqual(a.statuses.map((s) => s.gradNorm));
  });
});

describe('non-finite gradients', () => {
  async function snapshot(module: TestModule, optimizer: AdamW): Promise<Uint32Array[]> {
    const list = module.list.flatMap((p) => {
      const floats = count(p.shape);
      const s = optimizer.stateBuffers(p.name);
      return [{ buffer: p.buffer, floats }, { buffer: s.m, floats }, { buffer: s.v, floats }];
    });
    return (await readBuffers(device, list)).map((a) => new Uint32Array(a.buffer));
  }

  test.each([['NaN', NaN], ['+Infinity', Infinity], ['-Infinity', -Infinity]])('a %s leaves parameters, m, v and t unchanged; the next valid step works', async (_label, bad) => {
    const shapes = optimShapes;
    const initial = makeParameters(shapes, 31);
    const module = new TestModule(device, initial, shapes);
    const options = { lr: 1e-2, clipGradNorm: 1 };
    const optimizer = await AdamW.create(device, module, options);
    const made: GPUBuffer[] = [];
    const upload = (g: Record<string, Float32Array>) => Object.fromEntries(Object.entries(g).map(([n, d]) => {
      const b = uploadFloat32(device, d);
      made.push(b);
      return [n, b];
    }));
    try {
      const ref = Object.fromEntries(Object.entries(initial).map(([n, p]) => [n, Float64Array.from(p)]));
      const state = referenceAdamWState();
      const refOptions = { lr: 1e-2, betas: [0.9, 0.999] as [number, number], eps: 1e-8, weightDecay: 0.01, clipGradNorm: 1 };
      const decays = (n: string) => shapes[n]!.length >= 2;
      for (let k = 1; k <= 2; k++) {
        const g = makeGradients(shapes, 31 + k);
        expect((await optimizer.step(upload(g))).applied).toBe(true);
        referenceAdamWStep(ref, g, state, refOptions, decays);
      }
      const before = await snapshot(module, optimizer);
      const g = makeGradients(shapes, 40);
      g['final_norm.weight']![777] = bad;
      // Through encodeStep + completeStep, as trainStep uses it.
      const encoder = device.createCommandEncoder();
      optimizer.encodeStep(encoder, upload(g));
      expect(optimizer.pending).toBe(true);
      expect(() => optimizer.encodeStep(device.createCommandEncoder(), upload(g))).toThrow(/pending/);
      const [status] = await (await import('../src/core/buffers.js')).submitAndRead(device, encoder, [{ buffer: optimizer.statusBuffer, floats: ADAMW_STATUS_FLOATS }]);
      const result = optimizer.completeStep(status!);
      expect(result.applied).toBe(false);
      expect(Number.isNaN(result.gradNorm) || result.gradNorm === Infinity).toBe(true);
      if (Number.isNaN(bad)) expect(result.gradNorm).toBeNaN();
      else expect(result.gradNorm).toBe(Infinity);
      expect(optimizer.stepCount).toBe(2);
      expect(await snapshot(module, optimizer)).toEqual(before);
      // step() resolves (does not throw) for a refused step.
      expect((await optimizer.step(upload(g))).applied).toBe(false);
      expect(optimizer.stepCount).toBe(2);
      // The next valid step is step 3, as if the refused ones never happened.
      const next = makeGradients(shapes, 41);
      const s3 = await optimizer.step(upload(next));
      expect(s3).toMatchObject({ applied: true, step: 3 });
      referenceAdamWStep(ref, next, state, refOptions, decays);
      const after = await readBuffers(device, module.list.map((p) => ({ buffer: p.buffer, floats: count(p.shape) })));
      module.list.forEach((p, i) => {
        for (let j = 0; j < after[i]!.length; j++) {
          // 3 steps, bound as in runAdamW: (4 u |p| + (2k + 12 + 600) u |d|) per step <= ~2e-5 |p| + 1e-4 lr, loose.
          expect(Math.abs(after[i]![j]! - ref[p.name]![j]!)).toBeLessThanOrEqual(3 * (4 * 2 ** -24 * Math.abs(ref[p.name]![j]!) + 620 * 2 ** -24 * 1e-2 * 1.5) + 1e-9);
        }
      });
    } finally {
      optimizer.destroy();
      module.destroy();
      for (const b of made) b.destroy();
    }
  });

  test('finite but huge gradients (1e30: squares overflow f32) are applied, and the norm is finite', async () => {
    const shapes = { w: [4, 4], b: [4] };
    const module = new TestModule(device, makeParameters(shapes, 5), shapes);
    const optimizer = await AdamW.create(device, module, { lr: 1e-3, clipGradNorm: 1 });
    const g = { w: uploadFloat32(device, new Float32Array(16).fill(1e30)), b: uploadFloat32(device, new Float32Array(4).fill(-1e30)) };
    try {
      const s = await optimizer.step(g);
      expect(s.applied).toBe(true);
      expect(Math.abs(s.gradNorm - Math.sqrt(20) * 1e30) / (Math.sqrt(20) * 1e30)).toBeLessThan(1e-6);
    } finally {
      optimizer.destroy();
      module.destroy();
      g.w.destroy();
      g.b.destroy();
    }
  });
});

describe('argument checks (before any GPU work) and leaks', () => {
  test('bad options and gradients are refused, naming the argument', async () => {
    const shapes = { w: [3, 2], b: [2] };
    const module = new TestModule(device, makeParameters(shapes, 7), shapes);
    const optimizer = await AdamW.create(device, module, { lr: 1e-3 });
    const g = { w: uploadFloat32(device, new Float32Array(6)), b: uploadFloat32(device, new Float32Array(2)) };
    const small = createStorageBuffer(device, 4); // 16 bytes < 24
    try {
      const before = spy.snapshot();
      await expect(AdamW.create(device, module, { lr: NaN })).rejects.toThrow(/lr/);
      await expect(AdamW.create(device, module, { lr: -1 })).rejects.toThrow(RangeError);
      await expect(AdamW.create(device, module, { lr: 1e-3, betas: [1, 0.999] })).rejects.toThrow(/betas\[0\]/);
      await expect(AdamW.create(device, module, { lr: 1e-3, betas: [0.9, -0.1] })).rejects.toThrow(/betas\[1\]/);
      await expect(AdamW.create(device, module, { lr: 1e-3, eps: -1 })).rejects.toThrow(/eps/);
      await expect(AdamW.create(device, module, { lr: 1e-3, weightDecay: NaN })).rejects.toThrow(/weightDecay/);
      await expect(AdamW.create(device, module, { lr: 1e-3, clipGradNorm: 0 })).rejects.toThrow(/clipGradNorm/);
      expect(() => { optimizer.lr = NaN; }).toThrow(/lr/);
      expect(() => { optimizer.lr = -0.5; }).toThrow(/lr/);
      expect(optimizer.lr).toBe(1e-3);
      const encoder = device.createCommandEncoder();
      expect(() => optimizer.encodeStep(encoder, { w: g.w } as Record<string, GPUBuffer>)).toThrow(/gradients\['b'\] is missing/);
      await expect(optimizer.step({ w: g.w } as Record<string, GPUBuffer>)).rejects.toThrow(TypeError);
      await expect(optimizer.step({ ...g, extra: g.b })).rejects.toThrow(/gradients\['extra'\]/);
      await expect(optimizer.step({ w: small, b: g.b })).rejects.toThrow(/gradients\['w'\].*24 bytes/);
      await expect(optimizer.step({ w: g.w, b: module.list[1]!.buffer })).rejects.toThrow(/gradients\['b'\].*writes/);
      expect(() => checkTargets('targets', [0, 3, 5], 5)).toThrow(/targets\[2\] = 5 is outside \[0, 5\)/);
      expect(() => checkTargets('targets', [0, -1], 5)).toThrow(RangeError);
      const after = spy.snapshot();
      expect(after.buffersCreated).toBe(before.buffersCreated);
      expect(after.submits).toBe(before.submits);
      expect(after.writes).toBe(before.writes);
      expect(after.encoders).toBe(before.encoders + 1); // the test's own
      expect(optimizer.stepCount).toBe(0);
      expect(optimizer.pending).toBe(false);
    } finally {
      optimizer.destroy();
      module.destroy();
      g.w.destroy();
      g.b.destroy();
      small.destroy();
    }
  });

  test('destroy frees every buffer the optimizer and the loss made', async () => {
    const shapes = optimShapes;
    const module = new TestModule(device, makeParameters(shapes, 9), shapes);
    const grads = Object.fromEntries(Object.entries(makeGradients(shapes, 10)).map(([n, d]) => [n, uploadFloat32(device, d)]));
    const live = spy.live.size;
    for (let i = 0; i < 3; i++) {
      const optimizer = await AdamW.create(device, module, { lr: 1e-3, clipGradNorm: 1 });
      await optimizer.step(grads);
      await optimizer.step(grads);
      optimizer.destroy();
      optimizer.destroy(); // idempotent
      expect(() => optimizer.encodeStep(device.createCommandEncoder(), grads)).toThrow(/destroyed/);
      const { logits, targets } = { logits: new Float32Array(12), targets: new Uint32Array([0, 1, 2]) };
      await runCrossEntropyOnce(device, logits, targets, 4);
      expect(spy.live.size).toBe(live);
    }
    module.destroy();
    for (const b of Object.values(grads)) b.destroy();
  });
});

describe('cross-entropy on Dawn vs float64', () => {
  test('vocab 1..300, rows not a multiple of the workgroup, spreads 1 to 1e4, both kernel families', async () => {
    let worstGrad = 0;
    let worstLoss = 0;
    for (const vocab of [1, 2, 63, 64, 65, 300]) {
      for (const rows of [1, 65, 130]) {
        for (const spread of [1, 30, 1e4]) {
          for (const cpu of [true, false]) {
            const r = await checkCrossEntropy(device, rows, vocab, spread, vocab * 7919 + rows * 31 + spread, cpu);
            worstGrad = Math.max(worstGrad, r.maxAbsError / Math.max(r.tolerance, 1e-30));
            worstLoss = Math.max(worstLoss, r.lossError / r.lossBound);
            expect(r.pass, `cpu ${cpu} rows ${rows} vocab ${vocab} spread ${spread}: grad |err| ${r.maxAbsError} (bound ${r.tolerance}), loss |err| ${r.lossError} (bound ${r.lossBound})`).toBe(true);
          }
        }
      }
    }
    console.log(`cross-entropy: worst grad error / bound ${worstGrad.toExponential(2)}, worst loss error / bound ${worstLoss.toExponential(2)}`);
  }, 300_000);

  test('deterministic, and non-finite logits give a NaN loss (both kernel families)', async () => {
    for (const cpu of [true, false]) {
      const a = await checkCrossEntropy(device, 200, 97, 5, 3, cpu);
      const b = await checkCrossEntropy(device, 200, 97, 5, 3, cpu);
      expect(new Uint32Array(b.gradLogits.buffer)).toEqual(new Uint32Array(a.gradLogits.buffer));
      expect(b.loss).toBe(a.loss);
      for (const bad of [NaN, Infinity, -Infinity]) {
        const logits = new Float32Array(3 * 70).fill(0.5);
        logits[77] = bad;
        const r = await runCrossEntropyOnce(device, logits, new Uint32Array([1, 2, 3]), 70, cpu);
        expect(r.loss).toBeNaN();
      }
    }
    const empty = await runCrossEntropyOnce(device, new Float32Array(0), new Uint32Array(0), 5);
    expect(empty.loss).toBe(0);
  });

  test('buffers too small are refused naming them', async () => {
    const op = await CrossEntropyOp.create(device, 4, 10);
    const small = createStorageBuffer(device, 16);
    const big = createStorageBuffer(device, 160);
    try {
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      expect(() => op.encode(pass, { logits: small, targets: small, gradLogits: big, loss: small })).toThrow(/logits/);
      expect(() => op.encode(pass, { logits: big, targets: small, gradLogits: small, loss: small })).toThrow(/gradLogits/);
      pass.end();
    } finally {
      op.destroy();
      small.destroy();
      big.destroy();
    }
  });
});

test('the Chrome suite cases pass on Dawn', async () => {
  const results = await runOptimCases(device);
  for (const r of results) console.log(`${r.kernel} ${r.shape}: |err| ${r.maxAbsError.toExponential(2)} <= ${r.tolerance.toExponential(2)} ${r.error ?? ''}`);
  for (const r of results) expect(r.pass, `${r.kernel} ${r.shape}: ${r.error}`).toBe(true);
});
