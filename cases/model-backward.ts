// Correctness cases of AarenLayer.backward and AarenModel.backward, runnable on any WebGPU device (Dawn through
// vitest, headless Chrome through the harness): each compares the output, dLoss/dx and every gradient with the
// float64 references of src/reference/layer-backward.ts (finite-difference checked in
// test/reference-backward.test.ts), which match PyTorch autograd of the same layer and model.
//
// Tolerance: every tensor within 1e-4 * max|g| of that tensor. The GPU sums in float32 in a fixed order; the longest
// sums are the weight gradients' reductions over batch x length (<= 900 rows here) and the scan's, each term
// carrying ~6e-8 relative error, so the worst case is ~1e-5 of the summed magnitudes; measured errors are
// 1e-7 to 1e-5 of max|g|.
// One exception: the key bias's gradient is exactly 0 without an initial state (softmax is shift invariant: the
// score gradients of one sequence sum to 0, and dKeyBias_h = scale query_h sum ds), so the GPU returns float32
// rounding noise around 0; its error is measured against the key weight's gradient, the same terms weighted by x.
import type { CaseResult } from './scan.js';
import { AarenLayer, type AarenLayerConfig } from '../src/nn/layer.js';
import { AarenModel } from '../src/nn/model.js';
import { referenceLayerBackward, referenceModelBackward } from '../src/reference/layer-backward.js';
import type { ReferenceLayerState } from '../src/reference/layer.js';
import { randomArray, randomLayerConfig, randomModelConfig, seeded, type LayerShape } from './layer.js';

export const BACKWARD_TOLERANCE = 1e-4;

export interface TensorError {
  name: string;
  maxAbsError: number;
  /** maxAbsError / scale (scale: max|reference| of the tensor, see the key-bias exception above). */
  relError: number;
}

/** Worst error of each tensor relative to its own max |reference| (`scale` overrides the denominator). */
export function tensorError(name: string, gpu: ArrayLike<number> | undefined, ref: ArrayLike<number>, scale?: number): TensorError {
  if (!gpu || gpu.length !== ref.length) return { name, maxAbsError: Infinity, relError: Infinity };
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(gpu[i]! - ref[i]!);
    maxAbs = Number.isNaN(e) ? Infinity : Math.max(maxAbs, e);
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  const denominator = Math.max(scale ?? maxRef, 1e-30);
  return { name, maxAbsError: maxAbs, relError: maxAbs / denominator };
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

/** Every tensor of a layer backward (output, gradInput, each gradient). */
export function layerErrors(got: Awaited<ReturnType<AarenLayer['backward']>>, ref: ReturnType<typeof referenceLayerBackward>, constantState: boolean): TensorError[] {
  const errors = [tensorError('output', got.output, ref.output), tensorError('gradInput', got.gradInput, ref.gradInput)];
  for (const [name, r] of Object.entries(ref.gradients) as [string, Float64Array][]) {
    const scale = name === 'keyBias' && !constantState ? Math.max(maxAbs(r), maxAbs(ref.gradients.key)) : undefined;
    errors.push(tensorError(name, got.gradients[name as keyof typeof got.gradients], r, scale));
  }
  for (const name of Object.keys(got.gradients)) if (!(name in ref.gradients)) errors.push({ name: `${name} (unexpected)`, maxAbsError: Infinity, relError: Infinity });
  return errors;
}

/** Every tensor of a model backward, gradients by safetensors name. */
export function modelErrors(got: Awaited<ReturnType<AarenModel['backward']>>, ref: ReturnType<typeof referenceModelBackward>): TensorError[] {
  const errors = [tensorError('output', got.output, ref.output), tensorError('gradInput', got.gradInput, ref.gradInput)];
  for (const [name, r] of Object.entries(ref.gradients)) {
    const scale = name.endsWith('attention.key_bias') ? Math.max(maxAbs(r), maxAbs(ref.gradients[name.replace('key_bias', 'key')]!)) : undefined;
    errors.push(tensorError(name, got.gradients[name], r, scale));
  }
  for (const name of Object.keys(got.gradients)) if (!(name in ref.gradients)) errors.push({ name: `${name} (unexpected)`, maxAbsError: Infinity, relError: Infinity });
  return errors;
}

function toResult(kernel: string, shape: string, errors: TensorError[], ms: number): CaseResult {
  const worst = errors.reduce((a, b) => (b.relError > a.relError || Number.isNaN(b.relError) ? b : a));
  const pass = errors.every((e) => e.relError <= BACKWARD_TOLERANCE);
  return {
    kernel, shape: `${shape} worst=${worst.name}`, maxAbsError: worst.maxAbsError, maxRelError: worst.relError, tolerance: BACKWARD_TOLERANCE, ms, pass,
    error: pass ? undefined : errors.filter((e) => !(e.relError <= BACKWARD_TOLERANCE)).map((e) => `${e.name}: ${e.relError.toExponential(2)}`).join(', '),
  };
}

export interface LayerBackwardShape extends LayerShape {
  schedule: 'recurrent' | 'sequential' | 'parallel';
  /** Run with a constant initial state (made by a forward over `state` earlier tokens). */
  state?: number;
}

export interface ModelBackwardShape extends LayerShape {
  layers: number;
  dFF: number;
  schedule?: 'recurrent' | 'sequential' | 'parallel';
}

export function describeBackwardShape(s: LayerShape & { layers?: number; dFF?: number; state?: number; schedule?: string }): string {
  return `b=${s.batch} n=${s.length} dModel=${s.dModel} heads=${s.heads} d=${s.headDim}${s.layers ? ` layers=${s.layers} dFF=${s.dFF}` : ''}${s.biases ? ' bias' : ''}${s.decay ? ' decay' : ''}${s.conv ? ' conv' : ''}${s.state ? ` state=${s.state}` : ''}`;
}

/** One layer case: the GPU backward and the reference on the same random input; `seed` fixes everything. */
export async function runLayerBackwardCase(device: GPUDevice, shape: LayerBackwardShape, seed: number): Promise<{ errors: TensorError[]; ms: number }> {
  const rand = seeded(seed);
  const config: AarenLayerConfig = { ...randomLayerConfig(shape, rand), schedule: shape.schedule };
  const n = shape.batch * shape.length * shape.dModel;
  const x = randomArray(n, rand);
  const dy = randomArray(n, rand);
  const layer = await AarenLayer.create(device, config);
  try {
    let state: ReturnType<AarenLayer['createState']> | undefined;
    let refState: ReferenceLayerState | undefined;
    if (shape.state) {
      state = layer.createState(shape.batch);
      const prefix = randomArray(shape.batch * shape.state * shape.dModel, rand);
      await layer.forward(prefix, { batch: shape.batch, length: shape.state }, state);
      const s = await layer.readState(state);
      refState = Array.from({ length: s.batch }, (_, q) => ({ m: s.m[q]!, u: s.u[q]!, w: Float64Array.from(s.w.subarray(q * s.headDim, (q + 1) * s.headDim)) }));
      if (shape.conv) refState.convHistory = Float64Array.from(await layer.readHistory(state));
    }
    try {
      const start = performance.now();
      const got = await layer.backward(x, dy, shape, state);
      const ms = performance.now() - start;
      const ref = referenceLayerBackward(config, config.weights, x, dy, shape, refState);
      return { errors: layerErrors(got, ref, shape.state !== undefined), ms };
    } finally {
      state?.destroy();
    }
  } finally {
    layer.destroy();
  }
}

export async function runModelBackwardCase(device: GPUDevice, shape: ModelBackwardShape, seed: number): Promise<{ errors: TensorError[]; ms: number }> {
  const rand = seeded(seed);
  const config = { ...randomModelConfig(shape, rand), schedule: shape.schedule };
  const n = shape.batch * shape.length * shape.dModel;
  const x = randomArray(n, rand);
  const dy = randomArray(n, rand);
  const model = await AarenModel.create(device, config);
  try {
    const start = performance.now();
    const got = await model.backward(x, dy, shape);
    const ms = performance.now() - start;
    const ref = referenceModelBackward(config, config.weights, x, dy, shape);
    return { errors: modelErrors(got, ref), ms };
  } finally {
    model.destroy();
  }
}

/** The quick cases (the Chrome suite): a layer on the device's schedule with biases and a constant state, a
 * layer with headDim > 16 and not a multiple of 4, and a two-block model. */
export const QUICK_LAYER_BACKWARD: LayerBackwardShape[] = [
  { batch: 2, length: 37, dModel: 7, heads: 3, headDim: 6, biases: true, schedule: 'recurrent', state: 5 },
  { batch: 1, length: 64, dModel: 9, heads: 2, headDim: 20, schedule: 'sequential' },
  { batch: 2, length: 40, dModel: 9, heads: 4, headDim: 6, biases: true, decay: true, conv: true, schedule: 'recurrent', state: 7 },
];
export const QUICK_MODEL_BACKWARD: ModelBackwardShape[] = [
  { batch: 2, length: 20, dModel: 11, heads: 2, headDim: 8, layers: 2, dFF: 21, biases: true },
  { batch: 2, length: 24, dModel: 12, heads: 4, headDim: 8, layers: 2, dFF: 24, decay: true, conv: true },
];

/** The quick backward cases, one CaseResult each (kernel 'aaren-layer-backward' / 'aaren-model-backward'). */
export async function runModelBackwardCases(device: GPUDevice): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const attempt = async (kernel: string, shape: string, f: () => Promise<{ errors: TensorError[]; ms: number }>) => {
    try {
      const { errors, ms } = await f();
      results.push(toResult(kernel, shape, errors, ms));
    } catch (error) {
      results.push({ kernel, shape, maxAbsError: NaN, maxRelError: NaN, tolerance: BACKWARD_TOLERANCE, ms: 0, pass: false, error: String((error as Error)?.stack ?? error) });
    }
  };
  for (const [i, shape] of QUICK_LAYER_BACKWARD.entries()) {
    await attempt(`aaren-layer-backward-${shape.schedule}`, describeBackwardShape(shape), () => runLayerBackwardCase(device, shape, 500 + i));
  }
  for (const [i, shape] of QUICK_MODEL_BACKWARD.entries()) {
    await attempt('aaren-model-backward', describeBackwardShape(shape), () => runModelBackwardCase(device, shape, 600 + i));
  }
  return results;
}

export { toResult as backwardCaseResult };
