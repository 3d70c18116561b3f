// Correctness cases for the Aaren layer and model, runnable on any WebGPU device (Node/Dawn through vitest,
// headless Chrome through the harness): no Node-only APIs here. Each case compares the GPU result with the
// float64 reference of src/layer-reference.ts; tolerance 1e-4 relative to max |reference output|.
import { caseAttempt, type Attempt, type CaseResult } from './scan.js';
import { AarenLayer, type AarenLayerConfig, type AarenLayerWeights } from '../src/nn/layer.js';
import { AarenModel, type AarenModelConfig, modelToSafetensors } from '../src/nn/model.js';
import { geluReference, layerNormReference, matmulReference, referenceLayer, referenceModel } from '../src/reference/layer.js';
import { MatmulOp } from '../src/ops/matmul.js';
import { LayerNormOp } from '../src/ops/layer-norm.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../src/core/buffers.js';
import { mulberry32 } from './random.js';

export const RELATIVE_TOLERANCE = 1e-4;

/** Tracks the buffers a device creates and which of them are destroyed. */
export function trackBuffers(device: GPUDevice): { live: Set<GPUBuffer>; restore(): void } {
  const live = new Set<GPUBuffer>();
  const original = device.createBuffer;
  device.createBuffer = function (descriptor: GPUBufferDescriptor) {
    const buffer = original.call(device, descriptor);
    live.add(buffer);
    const destroy = buffer.destroy;
    buffer.destroy = function () {
      live.delete(buffer);
      return destroy.call(buffer);
    };
    return buffer;
  };
  return { live, restore: () => { device.createBuffer = original; } };
}


/** Deterministic uniform [-1, 1) generator (test/random.ts's mulberry32, rescaled). */
export function seeded(seed: number): () => number {
  const random = mulberry32(seed);
  return () => random() * 2 - 1;
}

export function randomArray(n: number, rand: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => rand() * scale);
}

export interface LayerShape {
  batch: number;
  length: number;
  dModel: number;
  heads: number;
  headDim: number;
  biases?: boolean;
  /** Learned recency decay: theta per head in [-3, 1) (rates softplus(theta) in about [0.05, 1.3]). */
  decay?: boolean;
  /** Causal depthwise convolution of the input, weights in [-0.5, 0.5). */
  conv?: boolean;
  /** Also run the tiled schedules (sequential, parallel), whose kernels take seconds to compile on SwiftShader. */
  tiled?: boolean;
}

export function randomLayerConfig(shape: Omit<LayerShape, 'batch' | 'length'>, rand: () => number): AarenLayerConfig {
  const { dModel, heads, headDim } = shape;
  const hd = heads * headDim;
  // Uniform [-1, 1) scaled for unit-variance projections; the query is scaled up so that scores spread over
  // several units and the softmax weights are far from uniform (a scan bug cannot hide behind averaging).
  const weights: AarenLayerWeights = {
    query: randomArray(hd, rand, 3 * Math.sqrt(3)),
    key: randomArray(dModel * hd, rand, Math.sqrt(3 / dModel)),
    value: randomArray(dModel * hd, rand, Math.sqrt(3 / dModel)),
    output: randomArray(hd * dModel, rand, Math.sqrt(3 / hd)),
  };
  if (shape.biases) {
    weights.keyBias = randomArray(hd, rand, 0.5);
    weights.valueBias = randomArray(hd, rand, 0.5);
    weights.outputBias = randomArray(dModel, rand, 0.5);
  }
  if (shape.decay) weights.decay = Float32Array.from(randomArray(heads, rand, 2), (t) => t - 1);
  if (shape.conv) weights.conv = randomArray(dModel * 4, rand, 0.5);
  return { dModel, heads, headDim, weights };
}

export function compare(gpu: ArrayLike<number>, ref: ArrayLike<number>): { maxAbsError: number; maxRelError: number; tolerance: number; pass: boolean } {
  let maxAbs = 0;
  let maxRef = 0;
  let bad = gpu.length !== ref.length;
  for (let i = 0; i < ref.length; i++) {
    const g = gpu[i]!;
    if (!Number.isFinite(g)) bad = true;
    maxAbs = Math.max(maxAbs, Math.abs(g - ref[i]!));
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
  }
  const tolerance = RELATIVE_TOLERANCE * Math.max(maxRef, 1e-30);
  return { maxAbsError: maxAbs, maxRelError: maxAbs / Math.max(maxRef, 1e-30), tolerance, pass: !bad && maxAbs <= tolerance };
}

function describeShape(s: LayerShape): string {
  return `b=${s.batch} n=${s.length} dModel=${s.dModel} heads=${s.heads} d=${s.headDim}${s.biases ? ' bias' : ''}${s.decay ? ' decay' : ''}${s.conv ? ' conv' : ''}`;
}

export const LAYER_SHAPES: LayerShape[] = [
  { batch: 1, length: 1, dModel: 5, heads: 1, headDim: 8 },
  { batch: 2, length: 37, dModel: 7, heads: 3, headDim: 16, biases: true },
  { batch: 8, length: 50, dModel: 10, heads: 4, headDim: 8 },
  { batch: 3, length: 300, dModel: 13, heads: 2, headDim: 33, tiled: true },
  { batch: 2, length: 700, dModel: 6, heads: 1, headDim: 128, biases: true, tiled: true },
  { batch: 1, length: 3000, dModel: 9, heads: 2, headDim: 12 },
  { batch: 2, length: 90, dModel: 7, heads: 4, headDim: 20, biases: true, decay: true, conv: true, tiled: true },
  { batch: 3, length: 40, dModel: 6, heads: 2, headDim: 8, conv: true },
];

export const MODEL_SHAPES: (LayerShape & { layers: number; dFF: number })[] = [
  { batch: 1, length: 1, dModel: 6, heads: 1, headDim: 8, layers: 1, dFF: 10 },
  { batch: 2, length: 45, dModel: 11, heads: 2, headDim: 8, layers: 2, dFF: 21, biases: true },
  { batch: 3, length: 400, dModel: 18, heads: 3, headDim: 16, layers: 2, dFF: 40 },
  { batch: 2, length: 70, dModel: 12, heads: 4, headDim: 8, layers: 2, dFF: 24, decay: true, conv: true },
];

export function randomModelConfig(shape: Omit<LayerShape, 'batch' | 'length'> & { layers: number; dFF: number }, rand: () => number): AarenModelConfig {
  const { dModel, dFF } = shape;
  const norm = () => ({ weight: Float32Array.from({ length: dModel }, () => 1 + 0.3 * rand()), bias: randomArray(dModel, rand, 0.2) });
  return {
    layers: shape.layers, dModel, heads: shape.heads, headDim: shape.headDim, dFF,
    weights: {
      blocks: Array.from({ length: shape.layers }, () => ({
        ln1: norm(),
        attention: randomLayerConfig(shape, rand).weights,
        ln2: norm(),
        ffn: { w1: randomArray(dModel * dFF, rand, Math.sqrt(6 / dModel)), b1: randomArray(dFF, rand, 0.3), w2: randomArray(dFF * dModel, rand, Math.sqrt(3 / dFF)), b2: randomArray(dModel, rand, 0.3) },
      })),
      finalNorm: norm(),
    },
  };
}

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await f();
  return [value, performance.now() - t0];
}

/** Splits `length` into uneven chunks (some of length 1, one empty). */
export function unevenChunks(length: number): number[] {
  const chunks: number[] = [];
  const pattern = [5, 1, 0, 17, 2, 40];
  let left = length;
  for (let i = 0; left > 0; i++) {
    const c = Math.min(left, pattern[i % pattern.length]!);
    chunks.push(c);
    left -= c;
  }
  return chunks;
}

function sliceRows(x: Float32Array, batch: number, length: number, width: number, start: number, count: number): Float32Array {
  const out = new Float32Array(batch * count * width);
  for (let b = 0; b < batch; b++) out.set(x.subarray((b * length + start) * width, (b * length + start + count) * width), b * count * width);
  return out;
}

function placeRows(into: Float32Array, part: Float32Array, batch: number, length: number, width: number, start: number, count: number): void {
  for (let b = 0; b < batch; b++) into.set(part.subarray(b * count * width, (b + 1) * count * width), (b * length + start) * width);
}

interface Runner {
  forward(x: Float32Array, shape: { batch: number; length: number }, state?: never): Promise<Float32Array>;
  createState(batch: number): { destroy(): void };
  step(state: never, x: Float32Array): Promise<Float32Array>;
}

/** Outputs of step() token by token, and of forward() over uneven blocks with a state, for the same input. */
async function recurrentModes(net: Runner, x: Float32Array, batch: number, length: number, dModel: number): Promise<{ steps: Float32Array; blocks: Float32Array }> {
  const steps = new Float32Array(x.length);
  const s1 = net.createState(batch);
  try {
    for (let i = 0; i < length; i++) placeRows(steps, await net.step(s1 as never, sliceRows(x, batch, length, dModel, i, 1)), batch, length, dModel, i, 1);
  } finally {
    s1.destroy();
  }
  const blocks = new Float32Array(x.length);
  const s2 = net.createState(batch);
  try {
    let start = 0;
    for (const count of unevenChunks(length)) {
      const y = await net.forward(sliceRows(x, batch, length, dModel, start, count), { batch, length: count }, s2 as never);
      placeRows(blocks, y, batch, length, dModel, start, count);
      start += count;
    }
  } finally {
    s2.destroy();
  }
  return { steps, blocks };
}

export interface LayerCaseOptions {
  quick?: boolean;
  /** Run only the layer or only the model cases (default both). */
  only?: 'layer' | 'model';
}

export async function runLayerCases(device: GPUDevice, options: LayerCaseOptions = {}, onResult?: (r: CaseResult) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const attempt = caseAttempt(results, onResult);

  if (options.only !== 'model') await layerCases(device, options, attempt);
  if (options.only !== 'layer') await modelCases(device, options, attempt);
  return results;
}


async function layerCases(device: GPUDevice, options: LayerCaseOptions, attempt: Attempt): Promise<void> {
  const layerShapes = options.quick ? LAYER_SHAPES.filter((s) => s.length <= 300) : LAYER_SHAPES;
  for (const [index, shape] of layerShapes.entries()) {
    const rand = seeded(100 + index);
    const config = randomLayerConfig(shape, rand);
    const x = randomArray(shape.batch * shape.length * shape.dModel, rand);
    // The quick run: only the schedule the device would pick.
    // The tiled schedules on the shapes marked for them: several channel blocks, 3 and 4 lanes, f32 and vec4 rows,
    // two and three chunks ('parallel' falls back to 'sequential' below two tiles of 256 tokens).
    const schedules = options.quick ? (['auto'] as const) : shape.tiled ? (['recurrent', 'sequential', 'parallel'] as const) : (['recurrent'] as const);
    for (const schedule of schedules) {
      await attempt(`aaren-layer-${schedule}`, describeShape(shape), async () => {
        const layer = await AarenLayer.create(device, { ...config, schedule });
        try {
          const [y, ms] = await timed(() => layer.forward(x, shape));
          return { ...compare(y, referenceLayer(config, x, shape.batch, shape.length)), ms };
        } finally {
          layer.destroy();
        }
      });
    }
  }

  // step and block-wise forward: both against the reference, so a mode agreeing with a wrong forward fails too.
  // The kernel variant of the tiled case dModel 13 x 2 heads of 33 (compiled once; see test/layer.test.ts too).
  // With decay and conv: the state carries the aged maxima and the convolution's last inputs across blocks.
  const modeShape: LayerShape = { batch: 3, length: 64, dModel: 13, heads: 2, headDim: 33, biases: true, decay: true, conv: true };
  {
    const rand = seeded(7);
    const config = randomLayerConfig(modeShape, rand);
    const x = randomArray(modeShape.batch * modeShape.length * modeShape.dModel, rand);
    const ref = referenceLayer(config, x, modeShape.batch, modeShape.length);
    let modes: { steps: Float32Array; blocks: Float32Array } | undefined;
    let ms = 0;
    await attempt('aaren-layer-step', describeShape(modeShape), async () => {
      // 'sequential' for the multi-token blocks, so that the workgroup scan's carry-in and final state are
      // exercised here; step() and 1-token blocks use the recurrent kernel (and the state tests use 'auto').
      const layer = await AarenLayer.create(device, { ...config, schedule: 'sequential' });
      try {
        [modes, ms] = await timed(() => recurrentModes(layer as unknown as Runner, x, modeShape.batch, modeShape.length, modeShape.dModel));
        return { ...compare(modes.steps, ref), ms };
      } finally {
        layer.destroy();
      }
    });
    await attempt('aaren-layer-blocks', `${describeShape(modeShape)} chunks=${unevenChunks(modeShape.length).join(',')}`, async () => {
      if (!modes) throw new Error('step case failed');
      return { ...compare(modes.blocks, ref), ms };
    });
  }
}

/** The model's dense kernels alone, on sizes that are not multiples of the tiles. */
async function opCases(device: GPUDevice, attempt: Attempt): Promise<void> {
  // m <= MATVEC_ROWS runs the matvec kernel, larger m the tiled one.
  for (const [m, k, n] of [[1, 1, 1], [3, 70, 130], [4, 37, 19], [70, 37, 19], [130, 8, 33], [9, 6, 3]] as const) {
    await attempt('matmul-bias-gelu-residual', `m=${m} k=${k} n=${n}`, async () => {
      const rand = seeded(m * 31 + k);
      const a = randomArray(m * k, rand, 2);
      const w = randomArray(k * n, rand);
      const bias = randomArray(n, rand);
      const residual = randomArray(m * n, rand);
      const made: GPUBuffer[] = [];
      const up = (x: Float32Array) => (made.push(uploadFloat32(device, x)), made[made.length - 1]!);
      const op = await MatmulOp.create(device, { m, n, k, bias: true, residual: true, gelu: true });
      try {
        const result = createStorageBuffer(device, m * n * 4);
        made.push(result);
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        op.encode(pass, { a: up(a), weight: up(w), bias: up(bias), residual: up(residual), result });
        pass.end();
        const t0 = performance.now();
        const [y] = await submitAndRead(device, encoder, [{ buffer: result, floats: m * n }]);
        const ref = matmulReference(a, w, m, k, n, bias).map((v, i) => geluReference(v) + residual[i]!);
        return { ...compare(y!, ref), ms: performance.now() - t0 };
      } finally {
        op.destroy();
        for (const b of made) b.destroy();
      }
    });
  }
  for (const [rows, width] of [[1, 1], [3, 5], [70, 131], [5, 40]] as const) {
    await attempt('layer-norm', `rows=${rows} width=${width}`, async () => {
      const rand = seeded(rows * 7 + width);
      const x = Float32Array.from({ length: rows * width }, () => 3 + rand() * 2); // offset mean: tests the centring
      const gamma = randomArray(width, rand);
      const beta = randomArray(width, rand);
      const made: GPUBuffer[] = [];
      const up = (v: Float32Array) => (made.push(uploadFloat32(device, v)), made[made.length - 1]!);
      const op = await LayerNormOp.create(device, rows, width, 1e-5);
      try {
        const result = createStorageBuffer(device, rows * width * 4);
        made.push(result);
        const encoder = device.createCommandEncoder();
        const pass = encoder.beginComputePass();
        op.encode(pass, { x: up(x), gamma: up(gamma), beta: up(beta), result });
        pass.end();
        const t0 = performance.now();
        const [y] = await submitAndRead(device, encoder, [{ buffer: result, floats: rows * width }]);
        return { ...compare(y!, layerNormReference(x, rows, width, gamma, beta, 1e-5)), ms: performance.now() - t0 };
      } finally {
        op.destroy();
        for (const b of made) b.destroy();
      }
    });
  }
}

async function modelCases(device: GPUDevice, options: LayerCaseOptions, attempt: Attempt): Promise<void> {
  await opCases(device, attempt);
  const modelShapes = options.quick ? MODEL_SHAPES.slice(0, 2) : MODEL_SHAPES;
  for (const [index, shape] of modelShapes.entries()) {
    const rand = seeded(300 + index);
    const config = randomModelConfig(shape, rand);
    const x = randomArray(shape.batch * shape.length * shape.dModel, rand);
    const name = `${describeShape(shape)} layers=${shape.layers} dFF=${shape.dFF}`;
    await attempt('aaren-model', name, async () => {
      const model = await AarenModel.create(device, config);
      try {
        const [y, ms] = await timed(() => model.forward(x, shape));
        return { ...compare(y, referenceModel(config, x, shape.batch, shape.length)), ms };
      } finally {
        model.destroy();
      }
    });
  }

  {
    const shape = { batch: 2, length: 30, dModel: 9, heads: 2, headDim: 8, layers: 2, dFF: 16, biases: true };
    const rand = seeded(77);
    const config = randomModelConfig(shape, rand);
    const x = randomArray(shape.batch * shape.length * shape.dModel, rand);
    const ref = referenceModel(config, x, shape.batch, shape.length);
    let modes: { steps: Float32Array; blocks: Float32Array } | undefined;
    let ms = 0;
    const name = `${describeShape(shape)} layers=${shape.layers} dFF=${shape.dFF}`;
    await attempt('aaren-model-step', name, async () => {
      const model = await AarenModel.create(device, config);
      try {
        [modes, ms] = await timed(() => recurrentModes(model as unknown as Runner, x, shape.batch, shape.length, shape.dModel));
        return { ...compare(modes.steps, ref), ms };
      } finally {
        model.destroy();
      }
    });
    await attempt('aaren-model-blocks', `${name} chunks=${unevenChunks(shape.length).join(',')}`, async () => {
      if (!modes) throw new Error('step case failed');
      return { ...compare(modes.blocks, ref), ms };
    });
    await attempt('aaren-model-safetensors', name, async () => {
      const file = modelToSafetensors(config);
      const [y, ms2] = await timed(async () => {
        const model = await AarenModel.fromSafetensors(device, file);
        try {
          return await model.forward(x, shape);
        } finally {
          model.destroy();
        }
      });
      return { ...compare(y, ref), ms: ms2 };
    });
  }
}
