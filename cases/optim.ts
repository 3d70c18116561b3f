// Correctness cases for the optimizer and the loss (src/optim/adamw.ts, src/ops/cross-entropy.ts), runnable on any
// WebGPU device (Node/Dawn through test/optim.test.ts, headless Chrome through the harness): no Node-only APIs.
// Every GPU result is compared element by element with float64 (src/reference/adamw.ts, language-model.ts)
// against a bound derived from the f32 arithmetic of the kernels, stated next to each check.
import type { CaseResult } from './scan.js';
import { AdamW, planAdamW, type AdamWOptions, type AdamWStepStatus } from '../src/optim/adamw.js';
import { CrossEntropyOp, checkTargets } from '../src/ops/cross-entropy.js';
import { referenceAdamWState, referenceAdamWStep, referenceClipGradNorm, type ReferenceAdamWState } from '../src/reference/adamw.js';
import { referenceCrossEntropy } from '../src/reference/language-model.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../src/core/buffers.js';
import type { NamedParameter, Trainable } from '../src/nn/parameters.js';
import { mulberry32, normal } from './random.js';

/** Unit roundoff of f32. */
export const u = 2 ** -24;

/** Parameter shapes of a small model: 2-D and 3-D (decayed), 1-D (not), one of 20800 elements (two norm
 * workgroups), one empty. */
export const optimShapes: Record<string, number[]> = {
  'blocks.0.attention.query': [7, 5],
  'blocks.0.attention.bias': [5],
  'blocks.0.ffn.w1': [3, 4, 2],
  'final_norm.weight': [1000],
  token_embedding: [130, 70],
  'lm_head.weight': [160, 130],
  'empty.weight': [0, 4],
};

/** A Trainable over uploaded f32 tensors; counts encodeRefresh calls. */
export class TestModule implements Trainable {
  refreshes = 0;
  readonly list: NamedParameter[];
  constructor(device: GPUDevice, readonly initial: Record<string, Float32Array>, readonly shapes: Record<string, number[]>) {
    this.list = Object.entries(shapes).map(([name, shape]) => ({ name, shape, buffer: uploadFloat32(device, initial[name]!, name) }));
  }
  parameters(): NamedParameter[] {
    return this.list;
  }
  encodeRefresh(): void {
    this.refreshes++;
  }
  destroy(): void {
    for (const p of this.list) p.buffer.destroy();
  }
}

export function count(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Gradients for step `k`: N(0, 1) times a scale per tensor (so that clipping has work to do). */
export function makeGradients(shapes: Record<string, number[]>, seed: number): Record<string, Float32Array> {
  const random = mulberry32(seed);
  return Object.fromEntries(Object.entries(shapes).map(([name, shape], i) => {
    const scale = [0.01, 1, 3, 0.1, 0.03, 1][i % 6]!;
    return [name, Float32Array.from({ length: count(shape) }, () => scale * normal(random))];
  }));
}

export function makeParameters(shapes: Record<string, number[]>, seed: number): Record<string, Float32Array> {
  const random = mulberry32(seed);
  return Object.fromEntries(Object.entries(shapes).map(([name, shape]) => [name, Float32Array.from({ length: count(shape) }, () => normal(random))]));
}

export async function readBuffers(device: GPUDevice, buffers: { buffer: GPUBuffer; floats: number }[]): Promise<Float32Array[]> {
  return submitAndRead(device, device.createCommandEncoder(), buffers);
}

export interface AdamWRun {
  result: Omit<CaseResult, 'kernel' | 'shape'>;
  statuses: AdamWStepStatus[];
  /** The largest relative error of the status word's gradient norm against float64 (0 without clipping). */
  normError: number;
  /** Parameters, m and v after the last step, by name. */
  params: Record<string, Float32Array>;
  m: Record<string, Float32Array>;
  v: Record<string, Float32Array>;
}

/**
 * Relative error bound of the GPU's total gradient norm for these shapes (from the plan: T = the most elements
 * one invocation of grad_norm_partials adds, P = the partials grad_norm_finish merges). Per added element the
 * scaled sum of squares takes up to 7 roundings (the ratio, its square, the addition, and a rescale of the running
 * sum by (old / new scale)^2 when the scale grows), each merge of two partials up to 4, and there are
 * ceil(P / 256) + 8 merges on the way to the total; the norm is scale * sqrt(ssq): half the relative error + 2 u.
 */
export function normErrorBound(shapes: readonly (readonly number[])[]): number {
  const plan = planAdamW(shapes, { clipGradNorm: 1 }, { limits: { maxComputeWorkgroupsPerDimension: 65535 } as GPUSupportedLimits, cpu: false });
  let terms = 0;
  let partials = 0;
  for (const d of plan.dispatches) {
    if (d.kernel.parts.at(-1)!.name === 'optim/grad_norm_partials') terms = Math.max(terms, Math.ceil((d.params.count as number) / (d.workgroups[0] * 64)));
    if (d.kernel.parts.at(-1)!.name === 'optim/grad_norm_finish') partials = d.params.partial_count as number;
  }
  return ((7 * terms + 4 * (Math.ceil(partials / 256) + 8)) / 2 + 2) * u;
}

/**
 * `steps` AdamW steps on the GPU and in float64 from the same f32 start and f32 gradients, with `lrAt(k)` the
 * learning rate of step k (set through `optimizer.lr`). Clipping is checked in two parts: the status word's norm
 * and factor against float64 within normErrorBound (+ 2 u for the division), and the update against a float64
 * step fed the gradients the GPU actually used, fl(g * clipScale) (one f32 product, as in adamw_update.wgsl),
 * so that the norm's larger error does not hide errors of the update. The bound per element is accumulated step
 * by step:
 *   4 u |p|             (decay, the update's addition and a margin)
 * + (2k + 12) u |d_k|   (d_k the step's Adam update in float64: its f32 roundings, about 8 u, plus the relative
 *                        error m and v carry from the k - 1 earlier steps, 2 u per step each)
 */
export async function runAdamW(
  device: GPUDevice, options: AdamWOptions, steps: number, lrAt: (k: number) => number, seed: number, shapes = optimShapes,
): Promise<AdamWRun> {
  const initial = makeParameters(shapes, seed);
  const module = new TestModule(device, initial, shapes);
  const optimizer = await AdamW.create(device, module, options);
  const grads: GPUBuffer[] = [];
  try {
    const ref: Record<string, Float64Array> = Object.fromEntries(Object.entries(initial).map(([n, p]) => [n, Float64Array.from(p)]));
    const state: ReferenceAdamWState = referenceAdamWState();
    const bound: Record<string, Float64Array> = Object.fromEntries(Object.entries(initial).map(([n, p]) => [n, new Float64Array(p.length)]));
    const decays = (name: string) => shapes[name]!.length >= 2;
    const statuses: AdamWStepStatus[] = [];
    const normBound = normErrorBound(Object.values(shapes));
    let clipOk = true;
    let normError = 0;
    for (let k = 1; k <= steps; k++) {
      optimizer.lr = lrAt(k);
      const g = makeGradients(shapes, seed + 100 * k);
      const buffers = Object.fromEntries(Object.entries(g).map(([n, data]) => {
        const b = uploadFloat32(device, data);
        grads.push(b);
        return [n, b];
      }));
      const status = await optimizer.step(buffers);
      statuses.push(status);
      let used = g;
      if (options.clipGradNorm !== undefined) {
        const exact = referenceClipGradNorm(g, options.clipGradNorm);
        normError = Math.max(normError, Math.abs(status.gradNorm - exact.totalNorm) / exact.totalNorm);
        if (!(Math.abs(status.gradNorm - exact.totalNorm) <= normBound * exact.totalNorm)) clipOk = false;
        if (!(Math.abs(status.clipScale - exact.scale) <= (normBound + 2 * u) * exact.scale)) clipOk = false;
        used = Object.fromEntries(Object.entries(g).map(([n, d]) => [n, d.map((x) => Math.fround(x * status.clipScale))]));
      } else if (status.clipScale !== 1) clipOk = false;
      const before = Object.fromEntries(Object.entries(ref).map(([n, p]) => [n, Float64Array.from(p)]));
      const lr = lrAt(k);
      referenceAdamWStep(ref, used, state, { lr, betas: [...(options.betas ?? [0.9, 0.999])] as [number, number], eps: options.eps ?? 1e-8, weightDecay: options.weightDecay ?? 0.01 }, decays);
      for (const [n, p] of Object.entries(ref)) {
        const decay = decays(n) ? 1 - lr * (options.weightDecay ?? 0.01) : 1;
        const b = bound[n]!;
        for (let i = 0; i < p.length; i++) {
          const d = Math.abs(p[i]! - before[n]![i]! * decay);
          b[i] = b[i]! + 4 * u * Math.abs(before[n]![i]!) + (2 * k + 12) * u * d;
        }
      }
    }
    const names = Object.keys(shapes);
    const read = await readBuffers(device, names.flatMap((n, i) => {
      const floats = count(shapes[n]!);
      const s = optimizer.stateBuffers(n);
      return [{ buffer: module.list[i]!.buffer, floats }, { buffer: s.m, floats }, { buffer: s.v, floats }];
    }));
    const params: Record<string, Float32Array> = {};
    const m: Record<string, Float32Array> = {};
    const v: Record<string, Float32Array> = {};
    names.forEach((n, i) => {
      params[n] = read[3 * i]!;
      m[n] = read[3 * i + 1]!;
      v[n] = read[3 * i + 2]!;
    });
    let worst = 0;
    let maxAbsError = 0;
    let tolerance = 0;
    let maxRelError = 0;
    let finite = true;
    for (const n of names) {
      const gpu = params[n]!;
      for (let i = 0; i < gpu.length; i++) {
        if (!Number.isFinite(gpu[i]!)) finite = false;
        const e = Math.abs(gpu[i]! - ref[n]![i]!);
        const r = e / Math.max(bound[n]![i]!, 1e-30);
        maxRelError = Math.max(maxRelError, e / Math.max(Math.abs(ref[n]![i]!), 1e-30));
        if (r > worst) {
          worst = r;
          maxAbsError = e;
          tolerance = bound[n]![i]!;
        }
      }
    }
    const pass = finite && clipOk && worst <= 1 && optimizer.stepCount === steps && statuses.every((s) => s.applied) && module.refreshes === steps;
    return { result: { maxAbsError, maxRelError, tolerance, ms: 0, pass }, statuses, normError, params, m, v };
  } finally {
    optimizer.destroy();
    module.destroy();
    for (const b of grads) b.destroy();
  }
}

/** Logits [rows, vocab]: spread * N(0, 1) per element (spread 1e4: exp would overflow without the row max). */
export function makeLogits(rows: number, vocab: number, spread: number, seed: number): { logits: Float32Array; targets: Uint32Array } {
  const random = mulberry32(seed);
  const logits = Float32Array.from({ length: rows * vocab }, () => spread * normal(random));
  const targets = Uint32Array.from({ length: rows }, () => Math.floor(random() * vocab));
  return { logits, targets };
}

export async function runCrossEntropyOnce(device: GPUDevice, logits: Float32Array, targets: Uint32Array, vocab: number, cpu?: boolean): Promise<{ loss: number; gradLogits: Float32Array }> {
  checkTargets('targets', targets, vocab);
  const rows = targets.length;
  const op = await CrossEntropyOp.create(device, rows, vocab, cpu === undefined ? {} : { cpu });
  const made: GPUBuffer[] = [];
  try {
    const logitsBuffer = uploadFloat32(device, logits);
    const targetsBuffer = createStorageBuffer(device, rows * 4);
    if (rows > 0) device.queue.writeBuffer(targetsBuffer, 0, targets as Uint32Array<ArrayBuffer>);
    const gradLogits = createStorageBuffer(device, rows * vocab * 4);
    const loss = createStorageBuffer(device, 4);
    made.push(logitsBuffer, targetsBuffer, gradLogits, loss);
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    op.encode(pass, { logits: logitsBuffer, targets: targetsBuffer, gradLogits, loss });
    pass.end();
    const [l, g] = await submitAndRead(device, encoder, [{ buffer: loss, floats: 1 }, { buffer: gradLogits, floats: rows * vocab }]);
    return { loss: l![0]!, gradLogits: g! };
  } finally {
    op.destroy();
    for (const b of made) b.destroy();
  }
}

/**
 * Cross-entropy vs float64, with bounds computed from the data (u = 2^-24). WGSL's exp is within 3 + 2|x| ULP
 * (<= (6 + 4|x|) u relative) and log within 2^-21 absolute on [0.5, 2], 3 ULP elsewhere; x = logit - max is
 * rounded too (u |x|), so e_j = exp(x_j) is within (6 + 5|x_j|) u e_j.
 * - The sum of exps S >= 1 is within relS = (64 + ceil(vocab / 64) + 2) u (runs of 64 terms folded into the
 *   total, Higham 3.1; the workgroup kernel's ceil(vocab / 64) + 6 terms are fewer) + sum_j (6 + 5|x_j|) u e_j / S
 *   of exact.
 * - p_j = e_j * fl(1 / S) within p_j (relS + (6 + 5|x_j|) u + 2 u); gradLogits = (p - [j = t]) * fl(1 / rows)
 *   adds 3 u |p - [j = t]|: bound (that) / rows.
 * - A row loss (max - x_t) + log S within 2 u |max - x_t| + relS + 2^-21 + 6 u log S + u (row loss); the mean
 *   adds (rows / 256 + 9) u of the mean (all terms >= 0).
 * Both bounds are doubled as margin. WGSL lets a GPU flush subnormal results to zero, so gradLogits also get
 * FLUSH = 2^-125 absolute (twice the smallest normal f32).
 */
export async function checkCrossEntropy(device: GPUDevice, rows: number, vocab: number, spread: number, seed: number, cpu?: boolean): Promise<Omit<CaseResult, 'kernel' | 'shape'> & { lossError: number; lossBound: number; gradLogits: Float32Array; loss: number }> {
  const { logits, targets } = makeLogits(rows, vocab, spread, seed);
  const t0 = performance.now();
  const gpu = await runCrossEntropyOnce(device, logits, targets, vocab, cpu);
  const ms = performance.now() - t0;
  const ref = referenceCrossEntropy(logits, targets, vocab);
  let worst = 0;
  let maxAbsError = 0;
  let tolerance = 0;
  let maxRef = 0;
  let finite = Number.isFinite(gpu.loss);
  let rowBounds = 0;
  for (let r = 0; r < rows; r++) {
    const x = (j: number) => logits[r * vocab + j]!;
    let max = -Infinity;
    for (let j = 0; j < vocab; j++) max = Math.max(max, x(j));
    let s = 0;
    let expError = 0;
    for (let j = 0; j < vocab; j++) {
      const e = Math.exp(x(j) - max);
      s += e;
      expError += (6 + 5 * Math.abs(x(j) - max)) * u * e;
    }
    const relS = (64 + Math.ceil(vocab / 64) + 2) * u + expError / s;
    const rowLoss = max - x(targets[r]!) + Math.log(s);
    rowBounds += 2 * u * Math.abs(max - x(targets[r]!)) + relS + 2 ** -21 + 6 * u * Math.log(s) + u * rowLoss;
    for (let j = 0; j < vocab; j++) {
      const i = r * vocab + j;
      const p = Math.exp(x(j) - max) / s;
      const bound = (2 * (p * (relS + (8 + 5 * Math.abs(x(j) - max)) * u) + 3 * u * Math.abs(p - (j === targets[r] ? 1 : 0)))) / rows + FLUSH;
      const e = Math.abs(gpu.gradLogits[i]! - ref.gradLogits[i]!);
      if (!Number.isFinite(gpu.gradLogits[i]!)) finite = false;
      maxRef = Math.max(maxRef, Math.abs(ref.gradLogits[i]!));
      if (!(e / bound <= worst)) {
        worst = e / bound;
        maxAbsError = e;
        tolerance = bound;
      }
    }
  }
  const lossBound = 2 * (rowBounds / Math.max(rows, 1) + (rows / 256 + 9) * u * ref.loss);
  const lossError = Math.abs(gpu.loss - ref.loss);
  const pass = finite && worst <= 1 && lossError <= lossBound;
  return { maxAbsError, maxRelError: maxAbsError / Math.max(maxRef, 1e-30), tolerance, ms, pass, lossError, lossBound, gradLogits: gpu.gradLogits, loss: gpu.loss };
}

const FLUSH = 2 ** -125;

/** The quick cases for the Chrome suite: AdamW with and without clipping, and the cross-entropy at a few shapes. */
export async function runOptimCases(device: GPUDevice): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const attempt = async (kernel: string, shape: string, f: () => Promise<Omit<CaseResult, 'kernel' | 'shape'>>) => {
    try {
      results.push({ kernel, shape, ...(await f()) });
    } catch (error) {
      results.push({ kernel, shape, maxAbsError: NaN, maxRelError: NaN, tolerance: 0, ms: 0, pass: false, error: String(error) });
    }
  };
  const timed = async (f: () => Promise<AdamWRun>) => {
    const t0 = performance.now();
    const run = await f();
    return { ...run.result, ms: performance.now() - t0 };
  };
  await attempt('adamw', '5 steps, lr changes, no clipping', () => timed(() => runAdamW(device, { lr: 1e-2 }, 5, (k) => (k < 3 ? 1e-2 : 3e-3), 1)));
  await attempt('adamw', '5 steps, clipGradNorm 1, betas (0.8, 0.99), eps 1e-6, wd 0.1', () =>
    timed(() => runAdamW(device, { lr: 5e-3, betas: [0.8, 0.99], eps: 1e-6, weightDecay: 0.1, clipGradNorm: 1 }, 5, () => 5e-3, 2)));
  for (const [rows, vocab, spread, cpu] of [[65, 300, 1, true], [65, 300, 1, false], [33, 70, 1e4, false], [1, 1, 3, undefined]] as const) {
    await attempt('cross-entropy', `rows ${rows} vocab ${vocab} spread ${spread}${cpu === undefined ? '' : cpu ? ' per-row kernel' : ' workgroup kernel'}`, async () => {
      const { lossError, lossBound, gradLogits: _g, loss: _l, ...r } = await checkCrossEntropy(device, rows, vocab, spread, rows * 1000 + vocab, cpu);
      return { ...r, error: r.pass ? undefined : `loss |err| ${lossError} (bound ${lossBound})` };
    });
  }
  return results;
}
