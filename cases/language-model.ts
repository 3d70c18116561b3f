// Correctness cases of AarenLanguageModel, runnable on any WebGPU device (Dawn through vitest, headless Chrome
// through the harness), against the float64 references of src/reference/language-model.ts and adamw.ts (the LM
// backward reference is checked by central finite differences in test/reference-backward.test.ts):
// - forward: logits vs referenceLmForward, within 1e-4 of max|logit| (compare());
// - step: the logits of one step per token equal the parallel forward's, within 1e-4 of max|logit|;
// - backward: the loss within 1e-5 relative, every gradient within 1e-4 * max|g| of its tensor (tensorError; the
//   same bound and reasons as the model backward, cases/model-backward.ts);
// - trainStep: per step, the loss it returns has the bits of backward's loss (the same passes, no atomics), and
//   the parameters after it equal a float64 torch.optim.AdamW step (clip_grad_norm_, weight decay on 2-D tensors,
//   bias correction) from the GPU's parameters before it, fed the GPU's gradients scaled by the status word's clip
//   factor, within 4 u |p| + (2k + 12) u |update| at step k (cases/optim.ts runAdamW derives this bound).
import type { CaseResult } from './scan.js';
import { compare } from './layer.js';
import { mulberry32, normal } from './random.js';
import { tensorError, type TensorError } from './model-backward.js';
import { AarenLanguageModel, initialLanguageModelWeights, type AarenLanguageModelConfig } from '../src/nn/language-model.js';
import { AdamW, ADAMW_STATUS_FLOATS, type AdamWOptions } from '../src/optim/adamw.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { submitAndRead } from '../src/core/buffers.js';
import { referenceLmBackward, referenceLmForward } from '../src/reference/language-model.js';
import { referenceAdamWState, referenceAdamWStep, referenceDecays } from '../src/reference/adamw.js';

const u = 2 ** -24;
export const LM_TOLERANCE = 1e-4;
export const LM_LOSS_TOLERANCE = 1e-5;

export type LmShape = Omit<AarenLanguageModelConfig, 'seed'> & { batch: number; length: number };

export const QUICK_LM: LmShape = { vocabSize: 13, layers: 2, dModel: 12, heads: 2, headDim: 6, dFF: 20, batch: 2, length: 9 };

/** A model with random weights of a larger spread than create's (matrices N(0, 0.3^2), LayerNorm and bias
 * parameters away from 1 and 0), so that every term of the gradients matters. */
export async function randomLanguageModel(device: GPUDevice, shape: LmShape, seed: number): Promise<AarenLanguageModel> {
  const random = mulberry32(seed);
  const tensors = initialLanguageModelWeights({ ...shape, seed });
  for (const [name, t] of Object.entries(tensors)) {
    const base = name.endsWith('norm.weight') || /ln[12]\.weight$/.test(name) ? 1 : 0;
    const spread = t.shape.length >= 2 ? 0.3 : 0.2;
    for (let i = 0; i < t.data.length; i++) t.data[i] = base + spread * normal(random);
  }
  return AarenLanguageModel.fromSafetensors(device, writeSafetensors(tensors), { schedule: shape.schedule });
}

/** Tokens and next-token targets [batch, length]: every id drawn uniformly (some ids may not occur). */
export function randomTokens(shape: LmShape, seed: number): { tokens: Uint32Array; targets: Uint32Array } {
  const random = mulberry32(seed);
  const n = shape.batch * shape.length;
  const draw = () => Uint32Array.from({ length: n }, () => Math.floor(random() * shape.vocabSize));
  return { tokens: draw(), targets: draw() };
}

function describe(s: LmShape): string {
  return `vocab=${s.vocabSize} layers=${s.layers} dModel=${s.dModel} heads=${s.heads} d=${s.headDim} dFF=${s.dFF} b=${s.batch} n=${s.length}`;
}

/** Forward vs float64, and step (one token at a time from an empty state) vs forward. */
export async function runLmForwardCase(device: GPUDevice, shape: LmShape, seed: number): Promise<{ forward: ReturnType<typeof compare>; step: ReturnType<typeof compare> }> {
  const lm = await randomLanguageModel(device, shape, seed);
  try {
    const { tokens } = randomTokens(shape, seed + 1);
    const logits = await lm.forward(tokens, shape);
    const weights = await lm.readWeights();
    const ref = referenceLmForward({ ...lm.config }, weights, tokens, shape);
    const { vocabSize: vocab, batch, length } = shape;
    const state = lm.createState(batch);
    const stepped = new Float32Array(logits.length);
    try {
      for (let i = 0; i < length; i++) {
        const column = Uint32Array.from({ length: batch }, (_, b) => tokens[b * length + i]!);
        const out = await lm.step(state, column);
        for (let b = 0; b < batch; b++) stepped.set(out.subarray(b * vocab, (b + 1) * vocab), (b * length + i) * vocab);
      }
    } finally {
      state.destroy();
    }
    return { forward: compare(logits, ref), step: compare(stepped, logits) };
  } finally {
    lm.destroy();
  }
}

/** backward (loss and every gradient) vs referenceLmBackward. */
export async function runLmBackwardCase(device: GPUDevice, shape: LmShape, seed: number): Promise<{ errors: TensorError[]; lossError: number }> {
  const lm = await randomLanguageModel(device, shape, seed);
  try {
    const { tokens, targets } = randomTokens(shape, seed + 1);
    const got = await lm.backward(tokens, targets, shape);
    const weights = await lm.readWeights();
    const ref = referenceLmBackward({ ...lm.config }, weights, tokens, targets, shape);
    const errors: TensorError[] = [];
    for (const [name, r] of Object.entries(ref.gradients)) errors.push(tensorError(name, got.gradients[name], r));
    for (const name of Object.keys(got.gradients)) if (!(name in ref.gradients)) errors.push({ name: `${name} (unexpected)`, maxAbsError: Infinity, relError: Infinity });
    const lossDiff = Math.abs(got.loss - ref.loss);
    return { errors, lossError: lossDiff === 0 ? 0 : lossDiff / Math.abs(ref.loss) };
  } finally {
    lm.destroy();
  }
}

export interface LmTrainRun {
  losses: number[];
  /** Worst |gpu - float64| / bound over every parameter and step (<= 1 passes). */
  worst: number;
  /** The loss trainStep returned equals backward's, bit for bit, at every step. */
  sameLoss: boolean;
}

/** `steps` trainSteps, each checked against a float64 AdamW step (see the header). */
export async function runLmTrainCase(device: GPUDevice, shape: LmShape, options: AdamWOptions, steps: number, seed: number): Promise<LmTrainRun> {
  const lm = await randomLanguageModel(device, shape, seed);
  const optimizer = await AdamW.create(device, lm, options);
  try {
    const { tokens, targets } = randomTokens(shape, seed + 1);
    const state = referenceAdamWState();
    const losses: number[] = [];
    let worst = 0;
    let sameLoss = true;
    for (let k = 1; k <= steps; k++) {
      const before = await lm.readWeights();
      const { loss, gradients } = await lm.backward(tokens, targets, shape);
      const trained = await lm.trainStep(tokens, targets, shape, optimizer);
      losses.push(trained);
      if (!Object.is(trained, loss)) sameLoss = false;
      const after = await lm.readWeights();
      const [status] = await submitAndRead(device, device.createCommandEncoder(), [{ buffer: optimizer.statusBuffer, floats: ADAMW_STATUS_FLOATS }]);
      const clip = status![2]!;
      const used = Object.fromEntries(Object.entries(gradients).map(([n, g]) => [n, g.map((x) => Math.fround(x * clip))]));
      const ref = Object.fromEntries(Object.entries(before).map(([n, p]) => [n, Float64Array.from(p)]));
      const lr = options.lr;
      const weightDecay = options.weightDecay ?? 0.01;
      referenceAdamWStep(ref, used, state, { lr, betas: [...(options.betas ?? [0.9, 0.999])] as [number, number], eps: options.eps ?? 1e-8, weightDecay }, referenceDecays);
      for (const [n, p] of Object.entries(ref)) {
        const decay = referenceDecays(n) ? 1 - lr * weightDecay : 1;
        for (let i = 0; i < p.length; i++) {
          const d = Math.abs(p[i]! - before[n]![i]! * decay);
          const bound = 4 * u * Math.abs(before[n]![i]!) + (2 * k + 12) * u * d + 1e-30;
          const e = Math.abs(after[n]![i]! - p[i]!);
          worst = Math.max(worst, Number.isNaN(e) ? Infinity : e / bound);
        }
      }
    }
    return { losses, worst, sameLoss };
  } finally {
    optimizer.destroy();
    lm.destroy();
  }
}

/** The quick cases, one CaseResult each (kernel 'aaren-lm-*'). */
export async function runLanguageModelCases(device: GPUDevice): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const shape = describe(QUICK_LM);
  const attempt = async (kernel: string, tolerance: number, f: () => Promise<Omit<CaseResult, 'kernel' | 'shape' | 'tolerance'>>) => {
    const start = performance.now();
    try {
      results.push({ kernel, shape, tolerance, ...(await f()), ms: performance.now() - start });
    } catch (error) {
      results.push({ kernel, shape, maxAbsError: NaN, maxRelError: NaN, tolerance, ms: 0, pass: false, error: String((error as Error)?.stack ?? error) });
    }
  };
  await attempt('aaren-lm-forward-step', LM_TOLERANCE, async () => {
    const r = await runLmForwardCase(device, QUICK_LM, 700);
    return { maxAbsError: Math.max(r.forward.maxAbsError, r.step.maxAbsError), maxRelError: Math.max(r.forward.maxRelError, r.step.maxRelError), pass: r.forward.pass && r.step.pass, ms: 0 };
  });
  await attempt('aaren-lm-backward', LM_TOLERANCE, async () => {
    const { errors, lossError } = await runLmBackwardCase(device, QUICK_LM, 710);
    const worst = errors.reduce((a, b) => (b.relError > a.relError || Number.isNaN(b.relError) ? b : a));
    const bad = errors.filter((e) => !(e.relError <= LM_TOLERANCE)).map((e) => `${e.name}: ${e.relError.toExponential(2)}`);
    if (!(lossError <= LM_LOSS_TOLERANCE)) bad.push(`loss: ${lossError.toExponential(2)}`);
    return { maxAbsError: worst.maxAbsError, maxRelError: worst.relError, pass: bad.length === 0, ms: 0, error: bad.length ? bad.join(', ') : undefined };
  });
  await attempt('aaren-lm-train-step-adamw', 1, async () => {
    const r = await runLmTrainCase(device, QUICK_LM, { lr: 1e-2, weightDecay: 0.1, clipGradNorm: 0.5 }, 3, 720);
    return { maxAbsError: r.worst, maxRelError: r.worst, pass: r.worst <= 1 && r.sameLoss, ms: 0, error: r.sameLoss ? undefined : 'trainStep loss differs from backward loss' };
  });
  return results;
}
