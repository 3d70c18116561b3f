// The microbenchmarks of issue 4, platform-neutral: give it a GPUDevice (Dawn in Node, or a browser's) and it
// times copy / scan / naive / sequential / layer-forward / step / kv-step on GPU-resident buffers and returns the
// report that bench/run.mjs writes (bench/results/latest.{json,md,svg}). Nothing here touches the file system.
//
// Timing: with `timestamp-query`, every repetition is bracketed by two empty compute passes whose timestampWrites
// record the start and the end (so kernels that open their own passes, like PrefixScan.encode and AarenLayer, are
// timed unchanged); all repetitions go in one submission and the query set is resolved once. Without it, each
// repetition is its own submission timed on the host up to queue.onSubmittedWorkDone().
import { type Dispatch, type Kernel, PreparedPlan, kernelProgram } from '../src/core/kernel.js';
import * as wgsl from '../src/core/shader-sources.js';
import { PrefixScan, isCpuAdapter, kernelConfig, prefixAttention, type PrefixScanOptions } from '../src/ops/attention/scan.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../src/core/buffers.js';
import { AarenLayer } from '../src/nn/layer.js';
import { PrefixScanBackward } from '../src/ops/attention/backward.js';
import { emptyState, packState } from '../src/ops/attention/state.js';
import { AarenLanguageModel } from '../src/nn/language-model.js';
import { AdamW } from '../src/optim/adamw.js';
import { mulberry32 } from '../src/core/random.js';
import { DEFAULT_TRAIN_CONFIG } from '../harness/train/loop.js';
import copyWgsl from './shaders/copy.wgsl?raw';
import naiveWgsl from './shaders/naive_attention.wgsl?raw';
import naiveRowsWgsl from './shaders/naive_attention_rows.wgsl?raw';
import naiveIoWgsl from './shaders/naive_attention_io.wgsl?raw';
import sequentialWgsl from './shaders/sequential_recurrence.wgsl?raw';
import kvStepWgsl from './shaders/kv_cache_step.wgsl?raw';
import fmaPeakWgsl from './shaders/fma_peak.wgsl?raw';
import type { PeerSummary, PeersReport } from './peers/ort.js';

export type Mode = 'full' | 'quick' | 'tiny';

export interface AdapterReport {
  vendor: string;
  architecture: string;
  description: string;
  device: string;
  features: string[];
}

export interface ResultRow {
  kernel: string;
  batch: number;
  /** Tokens per sequence; for step and kv-step, P (tokens already seen / cached). */
  length: number;
  headDim: number;
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Bytes of the kernel's compulsory traffic (see BYTES in the markdown) / median time. */
  gbPerSec: number;
  bytes: number;
  reps: number;
}

/** The peer figures (bench/peers/ort.ts) are present only where onnxruntime-web ran (--backend chrome). */
export interface Summary extends Partial<PeerSummary> {
  scanVsCopy: number;
  /** The typed prefixAttention call (checks, upload, scan, readback into a host array) at scanVsCopy's shape against
   * the floor for its bytes: uploading the same inputs, a copy kernel of the values into the output and reading the
   * output back (buffers made and released per call, as the call does); floor time / call time, wall clock. */
  endToEndVsCopy: number;
  /** GPU-resident backward of the scan (PrefixScanBackward) time / forward (PrefixScan) time, scanVsCopy's shape. */
  scanBackwardVsForward: number;
  /** The forward scan with recency decay (a rate per sequence) time / without, scanVsCopy's shape (goal <= 1.1). */
  decayForwardCost: number;
  /** The backward scan with recency decay (and the rates' gradient) time / without, same shape (goal <= 1.1). */
  decayBackwardCost: number;
  /** Tokens per second of AarenLanguageModel.trainStep (forward, loss, backward, AdamW), BenchShapes.train. */
  trainTokensPerSecond: number;
  /** trainStep time / the LM's inference forward time at the same shape (both typed calls, wall clock). */
  trainStepVsForward: number;
  /** The adapter's multiply-add ceiling measured in the same run (bench/shaders/fma_peak.wgsl), GFLOP/s. */
  fmaPeakGflops: number;
  /** Model FLOP utilisation of trainStep, BenchShapes.train: model FLOPs per token (trainFlopsPerToken) x tokens/s
   * / fmaPeakGflops. */
  trainMfu: number;
  /** The same for a larger model (BenchShapes.trainLarge: 4 x dModel 128). */
  trainMfuLarge: number;
  parallelVsNaive: number;
  parallelVsSequential: number;
  stepGrowth: number;
  kvCacheStepVsAaren: number;
  stateBytes: number;
  kvCacheBytes: number;
}

export interface TrainShape {
  model: { vocabSize: number; layers: number; dModel: number; heads: number; headDim: number; dFF: number; recencyDecay?: boolean; convolution?: boolean };
  batch: number;
  length: number;
}

/**
 * Model FLOPs of one training token (forward and backward), the numerator of MFU as PaLM counts it: 6 per parameter
 * that multiplies activations (every parameter but `token_embedding`, a gather), plus the scan's own work, which
 * has no parameter: per layer, head and channel, a rescale and a multiply-add of the state (4 FLOPs) and the
 * score's dot product (2), times 3 for the backward (about twice the forward's arithmetic).
 */
export function trainFlopsPerToken(parameters: readonly { name: string; shape: readonly number[] }[], model: TrainShape['model']): number {
  const counted = parameters.filter((p) => p.name !== 'token_embedding').reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0);
  return 6 * counted + 3 * 6 * model.layers * model.heads * model.headDim;
}

/** The shapes a run measures. */
export interface BenchShapes {
  batch: number;
  headDim: number;
  lengths: number[];
  naiveLengths: number[];
  anchorLength: number;
  naiveAnchorLength: number;
  layer: { dModel: number; heads: number; headDim: number; batch: number; lengths: number[] };
  stepP: number[];
  stepBatch: number;
  /** The language model and batch of the training figures, and the larger model of trainMfuLarge. */
  train: TrainShape;
  trainLarge: TrainShape;
}

export interface BenchReport {
  adapter: AdapterReport;
  backend: string;
  quick: boolean;
  mode: Mode;
  timing: 'timestamp-query' | 'queue-completion';
  date: string;
  /** The shapes behind the summary figures. */
  config: BenchShapes & { scanSchedule: string };
  results: ResultRow[];
  summary: Summary;
  /** Scan schedules and kernels timed at the anchor size for the scanVsCopy investigation (ms, median). */
  investigation: ResultRow[];
  /** onnxruntime-web on the same math (--backend chrome only; bench/peers). */
  peers?: PeersReport;
  totalSeconds: number;
}

export interface BenchOptions {
  mode?: Mode;
  backend?: string;
  progress?: (line: string) => void;
  /** Also time every scan schedule at the anchor size (default true except in tiny mode). */
  investigate?: boolean;
}

interface Plan extends BenchShapes {
  budgetMs: number;
  minReps: number;
  maxReps: number;
  /** Step after P tokens: write a state equal in size and kind to one after P tokens instead of running the
   * layer over P tokens (the step's cost does not depend on the state's contents; saves minutes on CPU adapters). */
  syntheticPrefill: boolean;
  /** Length at which every scan schedule is timed (investigation). */
  investigateLength: number;
}

export function planFor(mode: Mode): Plan {
  const layer = { dModel: 256, heads: 4, headDim: 64, batch: 8 };
  // `npm run train`'s default model and batch, with a vocabulary of 96 characters.
  const { model, batch, length } = DEFAULT_TRAIN_CONFIG;
  const train = { model: { vocabSize: 96, ...model }, batch, length };
  const trainLarge = { ...train, model: { ...train.model, layers: 4, dModel: 128, heads: 4, headDim: 32, dFF: 256 } };
  if (mode === 'tiny') {
    return {
      train: { model: { ...train.model, layers: 1, dModel: 16, dFF: 32 }, batch: 2, length: 16 },
      trainLarge: { model: { ...train.model, layers: 2, dModel: 32, heads: 2, headDim: 16, dFF: 64 }, batch: 2, length: 16 },
      batch: 2, headDim: 64, lengths: [64, 256], naiveLengths: [64, 256], anchorLength: 256, naiveAnchorLength: 256,
      layer: { ...layer, dModel: 64, heads: 2, headDim: 32, batch: 2, lengths: [64] }, stepP: [16, 64], stepBatch: 1,
      budgetMs: 50, minReps: 2, maxReps: 3, syntheticPrefill: false, investigateLength: 256,
    };
  }
  if (mode === 'quick') {
    return {
      train, trainLarge,
      batch: 8, headDim: 64, lengths: [1024, 4096, 16384], naiveLengths: [256, 1024, 4096], anchorLength: 16384, naiveAnchorLength: 4096,
      layer: { ...layer, batch: 1, lengths: [256, 1024] }, stepP: [256, 1024, 4096, 16384], stepBatch: 1,
      budgetMs: 600, minReps: 3, maxReps: 15, syntheticPrefill: true, investigateLength: 4096,
    };
  }
  return {
    train, trainLarge,
    batch: 8, headDim: 64, lengths: [1024, 4096, 16384, 65536], naiveLengths: [256, 1024, 4096, 16384], anchorLength: 65536, naiveAnchorLength: 4096,
    layer: { ...layer, lengths: [1024, 4096, 16384] }, stepP: [256, 1024, 4096, 16384, 65536], stepBatch: 1,
    budgetMs: 3000, minReps: 5, maxReps: 50, syntheticPrefill: false, investigateLength: 65536,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Timing

interface Timing {
  medianMs: number;
  minMs: number;
  maxMs: number;
  reps: number;
}

function summarize(ms: number[]): Timing {
  const sorted = [...ms].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { medianMs, minMs: sorted[0]!, maxMs: sorted[sorted.length - 1]!, reps: sorted.length };
}

export class Timer {
  readonly timestamps: boolean;
  constructor(readonly device: GPUDevice, private readonly plan: Pick<Plan, 'budgetMs' | 'minReps' | 'maxReps'>) {
    this.timestamps = device.features.has('timestamp-query');
  }

  /** Warms up (one run, also the estimate of how many repetitions fit the budget), then times `reps` runs. */
  async time(encode: (encoder: GPUCommandEncoder) => void, options: { reps?: number; warmup?: boolean } = {}): Promise<Timing> {
    const t0 = performance.now();
    if (options.warmup !== false) await this.submitOnce(encode);
    const estimate = Math.max(0.01, performance.now() - t0);
    const { budgetMs, minReps, maxReps } = this.plan;
    const reps = options.reps ?? Math.max(minReps, Math.min(maxReps, Math.floor(budgetMs / estimate)));
    let ms = this.timestamps ? await this.timeWithQueries(encode, reps) : await this.timeWithQueue(encode, reps);
    // Quantized timestamps (Dawn's default, ~65 us; Chrome's without developer features) can read 0 for a short
    // kernel: time those on the queue instead.
    if (ms.some((x) => !(x > 0))) ms = await this.timeWithQueue(encode, reps);
    return summarize(ms);
  }

  /** Wall-clock time of a typed call (its uploads, submits and readback included): one warm-up call, then as many
   * as fit the budget (estimated from the first timed call). For calls that submit and read back themselves (trainStep), where timestamps cannot wrap them. */
  async timeCalls(call: () => Promise<unknown>): Promise<Timing> {
    await call(); // warm-up: the first call may compile pipelines and allocate, so it is no estimate
    const t0 = performance.now();
    await call();
    const estimate = Math.max(0.01, performance.now() - t0);
    const reps = Math.max(this.plan.minReps, Math.min(this.plan.maxReps, Math.floor(this.plan.budgetMs / estimate)));
    const ms: number[] = [estimate];
    for (let r = 1; r < reps; r++) {
      const start = performance.now();
      await call();
      ms.push(performance.now() - start);
    }
    return summarize(ms);
  }

  private async submitOnce(encode: (encoder: GPUCommandEncoder) => void): Promise<void> {
    const encoder = this.device.createCommandEncoder({ label: 'bench warm-up' });
    encode(encoder);
    this.device.queue.submit([encoder.finish()]);
    await this.device.queue.onSubmittedWorkDone();
  }

  private async timeWithQueue(encode: (encoder: GPUCommandEncoder) => void, reps: number): Promise<number[]> {
    const ms: number[] = [];
    for (let r = 0; r < reps; r++) {
      const encoder = this.device.createCommandEncoder({ label: 'bench rep' });
      encode(encoder);
      const buffer = encoder.finish();
      const start = performance.now();
      this.device.queue.submit([buffer]);
      await this.device.queue.onSubmittedWorkDone();
      ms.push(performance.now() - start);
    }
    return ms;
  }

  private timeWithQueries(encode: (encoder: GPUCommandEncoder) => void, reps: number): Promise<number[]> {
    return timestampPairs(this.device, reps, 'bench timed reps', (encoder, querySet) => {
      for (let r = 0; r < reps; r++) {
        encoder.beginComputePass({ label: 'bench start', timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * r } }).end();
        encode(encoder);
        encoder.beginComputePass({ label: 'bench end', timestampWrites: { querySet, endOfPassWriteIndex: 2 * r + 1 } }).end();
      }
    });
  }
}

/**
 * One submission that `record`s into a query set of 2 * `pairs` timestamps (pair i: indices 2i and 2i + 1), then
 * each pair's end - start in ms (the device needs timestamp-query). Used by Timer and bench/profile.ts.
 */
export async function timestampPairs(device: GPUDevice, pairs: number, label: string,
  record: (encoder: GPUCommandEncoder, querySet: GPUQuerySet) => void): Promise<number[]> {
  const querySet = device.createQuerySet({ type: 'timestamp', count: 2 * pairs });
  const resolve = device.createBuffer({ size: 16 * pairs, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 16 * pairs, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    const encoder = device.createCommandEncoder({ label });
    record(encoder, querySet);
    encoder.resolveQuerySet(querySet, 0, 2 * pairs, resolve, 0);
    encoder.copyBufferToBuffer(resolve, 0, read, 0, 16 * pairs);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const ns = new BigInt64Array(read.getMappedRange().slice(0));
    read.unmap();
    return Array.from({ length: pairs }, (_, i) => Number(ns[2 * i + 1]! - ns[2 * i]!) / 1e6);
  } finally {
    querySet.destroy();
    resolve.destroy();
    read.destroy();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Buffers and bench kernels (bench/shaders), composed with the package's lse_combine where they need the operator.

const STORAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** Deterministic pseudo-random floats in [-1, 1) (xorshift), without filling large arrays slowly. */
export function randomFloats(count: number, seed: number): Float32Array {
  const out = new Float32Array(count);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < count; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x / 2147483648 - 1;
  }
  return out;
}

export class Buffers {
  private readonly made: GPUBuffer[] = [];
  constructor(private readonly device: GPUDevice) {}
  empty(bytes: number, label: string): GPUBuffer {
    const buffer = this.device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage: STORAGE });
    this.made.push(buffer);
    return buffer;
  }
  random(count: number, seed: number, label: string, scale = 1): GPUBuffer {
    const buffer = this.empty(count * 4, label);
    // Upload in slices so that a large buffer never needs one huge host array.
    const slice = 1 << 22;
    for (let start = 0; start < count; start += slice) {
      const data = randomFloats(Math.min(slice, count - start), seed + start);
      if (scale !== 1) for (let i = 0; i < data.length; i++) data[i]! *= scale;
      this.device.queue.writeBuffer(buffer, start * 4, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    }
    return buffer;
  }
  upload(data: Float32Array, label: string): GPUBuffer {
    const buffer = this.empty(data.byteLength, label);
    this.device.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    return buffer;
  }
  release(): void {
    for (const b of this.made.splice(0)) b.destroy();
  }
}

const WG = 64;

// The comparison kernels, described like the package's own (src/core/kernel.ts).
const benchPart = (name: string, code: string) => ({ name: `bench/${name}`, code });
const copyKernel: Kernel = { parts: [benchPart('copy', copyWgsl)], constants: { WORKGROUP_SIZE: 256 } };
const sequentialKernel: Kernel = { parts: [wgsl.lseCombine, benchPart('sequential_recurrence', sequentialWgsl)], constants: { LANES: 1, WORKGROUP_SIZE: WG } };
const FMA_WORKGROUP = 64;
const fmaKernel: Kernel = { parts: [benchPart('fma_peak', fmaPeakWgsl)], constants: { WORKGROUP_SIZE: FMA_WORKGROUP } };
const kvStepKernel = (lanes: number): Kernel => ({ parts: [wgsl.lseCombine, wgsl.workgroupReduce, benchPart('kv_cache_step', kvStepWgsl)], constants: { LANES: lanes, WORKGROUP_SIZE: WG } });

export function naiveKernel(rows: boolean, lanes: number, workgroup = WG): Kernel {
  const io = benchPart('naive_attention_io', naiveIoWgsl);
  return rows
    ? { parts: [io, wgsl.lseCombine, benchPart('naive_attention_rows', naiveRowsWgsl)], constants: { LANES: lanes, WORKGROUP_SIZE: workgroup } }
    : { parts: [io, wgsl.lseCombine, wgsl.workgroupReduce, benchPart('naive_attention', naiveWgsl)], constants: { LANES: lanes, WORKGROUP_SIZE: workgroup } };
}

/** One dispatch over the caller's buffers (every binding a slot of the same name), ready to record. */
export async function prepareDispatch(device: GPUDevice, kernel: Kernel, params: Record<string, number>, bindings: string[], workgroups: [number, number, number]): Promise<PreparedPlan> {
  const dispatch: Dispatch = { kernel, params, buffers: Object.fromEntries(bindings.map((b) => [b, b])), workgroups };
  return PreparedPlan.create(device, { dispatches: [dispatch], scratch: {}, optional: [] }, 'bench');
}

export function dispatch(encoder: GPUCommandEncoder, prepared: PreparedPlan, buffers: Record<string, GPUBuffer>, label: string): void {
  const pass = encoder.beginComputePass({ label });
  prepared.encode(pass, buffers);
  pass.end();
}

/** Scan traffic: scores and values read, outputs written. */
export function scanBytes(batch: number, length: number, headDim: number): number {
  return 4 * batch * length * (1 + 2 * headDim);
}

// ---------------------------------------------------------------------------------------------------------------

export async function runBench(device: GPUDevice, options: BenchOptions = {}): Promise<BenchReport> {
  const mode = options.mode ?? 'full';
  const plan = planFor(mode);
  const progress = options.progress ?? (() => {});
  const started = performance.now();
  const timer = new Timer(device, plan);
  const results: ResultRow[] = [];
  const investigation: ResultRow[] = [];
  const { batch, headDim } = plan;
  const cfg = kernelConfig(device.limits, headDim);

  const P = plan.stepP;
  const total = plan.lengths.length * 3 + plan.naiveLengths.length + plan.layer.lengths.length + 2 * P.length + 4;
  let done = 0;
  const record = (row: Omit<ResultRow, 'gbPerSec'>, into = results) => {
    const full: ResultRow = { ...row, gbPerSec: row.bytes / (row.medianMs * 1e6) };
    into.push(full);
    done += into === results ? 1 : 0;
    const elapsed = ((performance.now() - started) / 1000).toFixed(0);
    progress(`[${into === results ? `${done}/${total}` : 'extra'}] ${elapsed.padStart(4)} s  ${row.kernel.padEnd(16)} batch ${String(row.batch).padStart(2)} ` +
      `${row.kernel.includes('step') ? 'P' : 'L'}=${String(row.length).padEnd(6)} ${row.medianMs.toFixed(3).padStart(10)} ms ` +
      `(min ${row.minMs.toFixed(3)}, max ${row.maxMs.toFixed(3)}, ${row.reps} reps)  ${full.gbPerSec.toFixed(2)} GB/s`);
    return full;
  };

  progress(`compiling kernels (${timer.timestamps ? 'timestamp-query' : 'queue-completion'} timing, mode ${mode})`);
  // Naive attention in the standard form that suits the adapter: on CPU adapters one invocation per query row
  // (textbook two-pass softmax, no barriers), on GPUs one workgroup per query row with an online-softmax reduction.
  const naiveRows = isCpuAdapter(device);
  const naiveLanes = naiveRows ? Math.min(16, headDim / 4) : cfg.lanes;
  const naiveWg = naiveRows ? 16 : WG;
  await Promise.all([copyKernel, naiveKernel(naiveRows, naiveLanes, naiveWg), sequentialKernel].map((k) => kernelProgram(device, k)));

  const buffers = new Buffers(device);
  let scanSchedule = '';
  const scanAt = async (length: number, schedule: PrefixScanOptions['schedule'], into: ResultRow[], name = 'scan', extra: PrefixScanOptions = {}) => {
    const scores = buffers.random(batch * length, 1, 'bench scores', 4);
    const values = buffers.random(batch * length * headDim, 2, 'bench values');
    const output = buffers.empty(batch * length * headDim * 4, 'bench scan output');
    const scan = await PrefixScan.create(device, { batch, length, headDim }, { schedule, ...extra });
    try {
      if (name === 'scan') scanSchedule = scan.schedule;
      const t = await timer.time((encoder) => scan.encode(encoder, { scores, values, output }));
      return record({ kernel: name, batch, length, headDim, ...t, bytes: scanBytes(batch, length, headDim) }, into);
    } finally {
      scan.destroy();
      buffers.release();
    }
  };

  // copy / scan / sequential at each length.
  for (const length of plan.lengths) {
    const bytes = scanBytes(batch, length, headDim);
    const vec4s = Math.ceil(bytes / 2 / 16);
    const src = buffers.random(vec4s * 4, 3, 'bench copy src');
    const dst = buffers.empty(vec4s * 16, 'bench copy dst');
    const groups = Math.ceil(vec4s / 256);
    const groupsX = Math.min(groups, device.limits.maxComputeWorkgroupsPerDimension);
    const copy = await prepareDispatch(device, copyKernel, { count: vec4s, groups_x: groupsX }, ['src', 'dst'], [groupsX, Math.ceil(groups / groupsX), 1]);
    const t = await timer.time((encoder) => dispatch(encoder, copy, { src, dst }, 'bench copy'));
    record({ kernel: 'copy', batch, length, headDim, ...t, bytes: 2 * vec4s * 16 });
    copy.destroy();
    buffers.release();

    await scanAt(length, 'auto', results);

    const scores = buffers.random(batch * length, 1, 'bench scores', 4);
    const values = buffers.random(batch * length * headDim, 2, 'bench values');
    const output = buffers.empty(batch * length * headDim * 4, 'bench sequential output');
    const sequential = await prepareDispatch(device, sequentialKernel, { batch, length, head_dim: headDim }, ['scores', 'values', 'outputs'], [Math.ceil(headDim / WG), batch, 1]);
    const ts = await timer.time((encoder) => dispatch(encoder, sequential, { scores, values, outputs: output }, 'bench sequential'));
    record({ kernel: 'sequential', batch, length, headDim, ...ts, bytes: scanBytes(batch, length, headDim) });
    sequential.destroy();
    buffers.release();
  }

  // naive quadratic attention (same inputs and outputs as the scan).
  let lastNaiveMs = 0;
  let lastNaiveLength = 0;
  for (const length of plan.naiveLengths) {
    const scores = buffers.random(batch * length, 1, 'bench scores', 4);
    const values = buffers.random(batch * length * headDim, 2, 'bench values');
    const output = buffers.empty(batch * length * headDim * 4, 'bench naive output');
    const groups: [number, number, number] = naiveRows ? [Math.ceil(length / naiveWg), Math.ceil(headDim / 4 / naiveLanes), batch] : [length, Math.ceil(headDim / 4 / naiveLanes), batch];
    // Quadratic: when the previous length predicts a run far past the budget, time one run without a warm-up.
    const predicted = lastNaiveMs * (length / Math.max(1, lastNaiveLength)) ** 2;
    const long = lastNaiveMs > 0 && predicted > 8 * plan.budgetMs;
    if (long) progress(`naive L=${length}: about ${(predicted / 1000).toFixed(0)} s per run predicted; one timed run, no warm-up`);
    const naive = await prepareDispatch(device, naiveKernel(naiveRows, naiveLanes, naiveWg), { length, head_dim: headDim }, ['scores', 'values', 'outputs'], groups);
    const t = await timer.time((encoder) => dispatch(encoder, naive, { scores, values, outputs: output }, 'bench naive'), long ? { reps: 1, warmup: false } : {});
    lastNaiveMs = t.medianMs;
    lastNaiveLength = length;
    record({ kernel: 'naive', batch, length, headDim, ...t, bytes: scanBytes(batch, length, headDim) });
    naive.destroy();
    buffers.release();
  }
  // The scan at the naive anchor when the lengths above did not include it.
  if (!plan.lengths.includes(plan.naiveAnchorLength)) await scanAt(plan.naiveAnchorLength, 'auto', results);

  // layer forward and step (src/layer.ts) vs a KV-cache decode step.
  const L = plan.layer;
  const hd = L.heads * L.headDim;
  const weights = {
    query: randomFloats(hd, 11),
    key: randomFloats(L.dModel * hd, 12).map((v) => v / Math.sqrt(L.dModel)),
    value: randomFloats(L.dModel * hd, 13).map((v) => v / Math.sqrt(L.dModel)),
    output: randomFloats(hd * L.dModel, 14).map((v) => v / Math.sqrt(hd)),
  };
  const layer = await AarenLayer.create(device, { dModel: L.dModel, heads: L.heads, headDim: L.headDim, weights });
  const weightBytes = 4 * (L.heads * (L.dModel + 1) * (1 + L.headDim) + hd * L.dModel);
  let stateBytesAt = 0;
  const stepMs = new Map<number, number>();
  const kvMs = new Map<number, number>();
  let kvBytesAt = 0;
  try {
    for (const length of L.lengths) {
      const x = buffers.random(L.batch * length * L.dModel, 21, 'bench layer x');
      const y = buffers.empty(L.batch * length * L.dModel * 4, 'bench layer y');
      const t = await timer.time((encoder) => layer.encodeForward(encoder, { x, output: y }, { batch: L.batch, length }));
      record({ kernel: 'layer-forward', batch: L.batch, length, headDim: L.headDim, ...t, bytes: 2 * 4 * L.batch * length * L.dModel + weightBytes });
      layer.releasePlans();
      buffers.release();
    }

    // Aaren step after P tokens: prefill the state up to each P with encodeForward (block-wise mode), then time steps.
    // Each timed repetition advances the state by one token, so P drifts by the repetitions (tens of tokens).
    const sb = plan.stepBatch;
    const state = layer.createState(sb);
    const xStep = buffers.random(sb * L.dModel, 31, 'bench step x');
    const yStep = buffers.empty(sb * L.dModel * 4, 'bench step y');
    let seen = 0;
    const block = 4096;
    for (const p of P) {
      if (plan.syntheticPrefill) {
        // The state of P tokens with scores ~ N(0, 1)-ish: m about the largest score, u about P * e^-m-ish, w bounded.
        const n = sb * L.heads;
        const st = emptyState(n, L.headDim);
        for (let i = 0; i < n; i++) { st.m[i] = 3; st.u[i] = p * 0.05; }
        st.w.set(randomFloats(n * L.headDim, 60 + p).map((v) => v * p * 0.01));
        const packed = packState(st);
        device.queue.writeBuffer(state.buffer, 0, packed.buffer as ArrayBuffer, 0, packed.byteLength);
        seen = p;
      }
      while (seen < p) {
        const n = Math.min(block, p - seen);
        const xp = buffers.random(sb * n * L.dModel, 40 + seen, 'bench prefill x');
        const yp = buffers.empty(sb * n * L.dModel * 4, 'bench prefill y');
        const encoder = device.createCommandEncoder({ label: 'bench prefill' });
        layer.encodeForward(encoder, { x: xp, output: yp }, { batch: sb, length: n }, state);
        device.queue.submit([encoder.finish()]);
        await device.queue.onSubmittedWorkDone();
        layer.releasePlans();
        xp.destroy();
        yp.destroy();
        seen += n;
      }
      const t = await timer.time((encoder) => layer.encodeStep(encoder, state, { x: xStep, output: yStep }));
      seen = state.tokens;
      stepMs.set(p, t.medianMs);
      stateBytesAt = state.bytes;
      record({ kernel: 'step', batch: sb, length: p, headDim: L.headDim, ...t, bytes: 2 * state.bytes + weightBytes + 2 * 4 * sb * L.dModel });
    }
    state.destroy();
    buffers.release();

    // The attention part of the Aaren step alone (no projections): the scan of one token from a state.
    {
      const n = sb * L.heads;
      const scan = await PrefixScan.create(device, { batch: n, length: 1, headDim: L.headDim });
      const scores = buffers.random(n, 71, 'bench step scores');
      const values = buffers.random(n * L.headDim, 72, 'bench step values');
      const output = buffers.empty(n * L.headDim * 4, 'bench step output');
      const initialState = buffers.empty(scan.stateBytes, 'bench step state');
      const finalState = buffers.empty(scan.stateBytes, 'bench step next state');
      const t = await timer.time((encoder) => {
        scan.encode(encoder, { scores, values, output, initialState, finalState });
        encoder.copyBufferToBuffer(finalState, 0, initialState, 0, scan.stateBytes);
      });
      record({ kernel: 'step-scan', batch: sb, length: P[P.length - 1]!, headDim: L.headDim, ...t, bytes: 2 * scan.stateBytes + 4 * n * (1 + 2 * L.headDim) }, investigation);
      scan.destroy();
      buffers.release();
    }

    // KV-cache decode step over P cached tokens (attention part only: no projections, which favours it).
    const kvLanes = Math.min(16, L.headDim / 4);
    const q = buffers.random(sb * hd, 51, 'bench kv q');
    const out = buffers.empty(sb * hd * 4, 'bench kv out');
    for (const p of P) {
      const keys = buffers.random(sb * p * hd, 52, 'bench kv keys');
      const vals = buffers.random(sb * p * hd, 53, 'bench kv values');
      const blocks = Math.ceil(L.headDim / 4 / kvLanes);
      const kv = await prepareDispatch(device, kvStepKernel(kvLanes), { tokens: p, heads: L.heads, head_dim: L.headDim, scale: 1 / Math.sqrt(L.headDim) }, ['q', 'keys', 'values', 'out'], [blocks, L.heads, sb]);
      // Appending the new token's key and value to the cache is part of a decode step.
      const t = await timer.time((encoder) => {
        encoder.copyBufferToBuffer(q, 0, keys, (sb * p - 1) * hd * 4, hd * 4);
        encoder.copyBufferToBuffer(q, 0, vals, (sb * p - 1) * hd * 4, hd * 4);
        dispatch(encoder, kv, { q, keys, values: vals, out }, 'bench kv step');
      });
      kvMs.set(p, t.medianMs);
      const cacheBytes = 2 * 4 * sb * p * hd;
      kvBytesAt = cacheBytes;
      record({ kernel: 'kv-step', batch: sb, length: p, headDim: L.headDim, ...t, bytes: cacheBytes });
      kv.destroy();
      keys.destroy();
      vals.destroy();
    }
    buffers.release();
  } finally {
    layer.destroy();
    buffers.release();
  }

  // Investigation: every scan schedule at the anchor size (the summary uses 'auto').
  if (options.investigate ?? mode !== 'tiny') {
    const length = plan.investigateLength;
    if (length !== plan.anchorLength) {
      const row = results.find((r) => r.kernel === 'copy' && r.length === length);
      if (row) investigation.push(row);
    }
    for (const schedule of ['recurrent', 'sequential', 'parallel'] as const) {
      try {
        await scanAt(length, schedule, investigation, `scan-${schedule}`);
      } catch (e) {
        progress(`scan-${schedule}: ${(e as Error).message}`);
      }
    }
  }

  // scanBackwardVsForward: the backward (gradients of scores and values from the forward's stats) against the
  // forward, at scanVsCopy's shape: like the decay costs, the two alternate in rounds and each keeps its
  // least-disturbed round (one median of each, one after the other, moved the ratio between 2.96 and 3.81).
  let backwardVsForward = 0;
  let decayForwardCost = 0;
  let decayBackwardCost = 0;
  {
    const length = plan.anchorLength;
    const shape = { batch, length, headDim };
    const rows = batch * length * headDim;
    const b = {
      scores: buffers.random(batch * length, 1, 'bench scores', 4), values: buffers.random(rows, 2, 'bench values'),
      output: buffers.empty(rows * 4, 'bench output'), stats: buffers.empty(batch * length * 8, 'bench stats'),
      gradOutput: buffers.random(rows, 5, 'bench grad output'), gradScores: buffers.empty(batch * length * 4, 'bench grad scores'),
      gradValues: buffers.empty(rows * 4, 'bench grad values'),
    };
    // The same with recency decay: rates spread over [0.01, 1] (their values do not change the work).
    const decay = buffers.upload(Float32Array.from({ length: batch }, (_, i) => 0.01 + i / Math.max(1, batch - 1)), 'bench decay rates');
    const gradDecay = buffers.empty(batch * 4, 'bench grad decay');
    const forward = await PrefixScan.create(device, shape);
    const withStats = await PrefixScan.create(device, shape, { saveStats: true });
    const backward = await PrefixScanBackward.create(device, shape);
    const forwardDecay = await PrefixScan.create(device, shape, { decay: true });
    const withStatsDecay = await PrefixScan.create(device, shape, { saveStats: true, decay: true });
    const backwardDecay = await PrefixScanBackward.create(device, shape, { decay: true });
    try {
      const bytes = { forward: scanBytes(batch, length, headDim), backward: 4 * batch * length * (4 + 4 * headDim) };
      const encoder = device.createCommandEncoder({ label: 'bench forward with stats' });
      withStats.encode(encoder, b);
      device.queue.submit([encoder.finish()]);
      const tf = await timer.time((e) => forward.encode(e, { scores: b.scores, values: b.values, output: b.output }));
      const tb = await timer.time((e) => backward.encode(e, b));
      record({ kernel: 'scan-forward', batch, length, headDim, ...tf, bytes: bytes.forward }, investigation);
      // Backward traffic: scores, stats, values, outputs and gradOutput read; gradScores and gradValues written.
      record({ kernel: 'scan-backward', batch, length, headDim, ...tb, bytes: bytes.backward }, investigation);
      const decayEncoder = device.createCommandEncoder({ label: 'bench forward with stats and decay' });
      withStatsDecay.encode(decayEncoder, { ...b, decay });
      device.queue.submit([decayEncoder.finish()]);
      const tfd = await timer.time((e) => forwardDecay.encode(e, { scores: b.scores, values: b.values, output: b.output, decay }));
      const tbd = await timer.time((e) => backwardDecay.encode(e, { ...b, decay, gradDecay }));
      record({ kernel: 'scan-forward-decay', batch, length, headDim, ...tfd, bytes: bytes.forward }, investigation);
      record({ kernel: 'scan-backward-decay', batch, length, headDim, ...tbd, bytes: bytes.backward }, investigation);
      // The decay's cost: a few repetitions each swing by tens of percent on 2 shared CPU cores, so the two sides
      // alternate in 5 rounds of 5 runs and each side keeps its lowest round median (the least disturbed).
      const plainForward = (e: GPUCommandEncoder) => forward.encode(e, { scores: b.scores, values: b.values, output: b.output });
      const decayForward = (e: GPUCommandEncoder) => forwardDecay.encode(e, { scores: b.scores, values: b.values, output: b.output, decay });
      const best = { forward: tf.medianMs, forwardDecay: tfd.medianMs, backward: tb.medianMs, backwardDecay: tbd.medianMs };
      for (let round = 0; round < 5; round++) {
        best.forward = Math.min(best.forward, (await timer.time(plainForward, { reps: 5 })).medianMs);
        best.forwardDecay = Math.min(best.forwardDecay, (await timer.time(decayForward, { reps: 5 })).medianMs);
        best.backward = Math.min(best.backward, (await timer.time((e) => backward.encode(e, b), { reps: 3 })).medianMs);
        best.backwardDecay = Math.min(best.backwardDecay, (await timer.time((e) => backwardDecay.encode(e, { ...b, decay, gradDecay }), { reps: 3 })).medianMs);
      }
      backwardVsForward = best.backward / best.forward;
      decayForwardCost = best.forwardDecay / best.forward;
      decayBackwardCost = best.backwardDecay / best.backward;
    } finally {
      for (const op of [forward, withStats, backward, forwardDecay, withStatsDecay, backwardDecay]) op.destroy();
      buffers.release();
    }
  }

  // endToEndVsCopy: the typed call against uploading its inputs, copying the values into the output with the copy
  // kernel and reading the output back, per call in fresh buffers as the call does; both on the host's clock, one
  // after the other. What the call adds over that floor: the checks of its arguments, the scan's arithmetic.
  let endToEndVsCopy = 0;
  {
    const length = plan.anchorLength;
    const rows = batch * length * headDim;
    const input = { batch, length, headDim, scores: randomFloats(batch * length, 1).map((x) => 4 * x), values: randomFloats(rows, 2) };
    const vec4s = Math.ceil(rows / 4);
    const groups = Math.ceil(vec4s / 256);
    const groupsX = Math.min(groups, device.limits.maxComputeWorkgroupsPerDimension);
    const copy = await prepareDispatch(device, copyKernel, { count: vec4s, groups_x: groupsX }, ['src', 'dst'], [groupsX, Math.ceil(groups / groupsX), 1]);
    try {
      const floor = await timer.timeCalls(async () => {
        const made = [uploadFloat32(device, input.scores), uploadFloat32(device, input.values), createStorageBuffer(device, rows * 4)] as const;
        try {
          const encoder = device.createCommandEncoder({ label: 'bench upload-copy-read' });
          dispatch(encoder, copy, { src: made[1], dst: made[2] }, 'bench upload-copy-read');
          await submitAndRead(device, encoder, [{ buffer: made[2], floats: rows }]);
        } finally {
          for (const buffer of made) buffer.destroy();
        }
      });
      const call = await timer.timeCalls(() => prefixAttention(device, input));
      record({ kernel: 'upload-copy-read', batch, length, headDim, ...floor, bytes: scanBytes(batch, length, headDim) });
      record({ kernel: 'prefix-attention', batch, length, headDim, ...call, bytes: scanBytes(batch, length, headDim) });
      endToEndVsCopy = floor.medianMs / call.medianMs;
    } finally {
      copy.destroy();
    }
  }

  // The multiply-add ceiling: the register-only kernel, its rounds doubled until a run takes 50 ms or more (on
  // SwiftShader shorter runs measured lower: each invocation's setup and store weigh in). It is timed again beside
  // each training round below, and the best of all its runs is the ceiling.
  const fmaGroups = isCpuAdapter(device) ? 256 : 8192; // a GPU needs hundreds of thousands of invocations to fill
  const fmaOut = buffers.empty(fmaGroups * FMA_WORKGROUP * 16, 'bench fma out');
  let fma: PreparedPlan | undefined;
  let fmaFlops = 0;
  let fmaPeakGflops = 0;
  const timeCeiling = async () => {
    const t = await timer.time((encoder) => dispatch(encoder, fma!, { out: fmaOut }, 'bench fma peak'), { reps: plan.minReps + 2 });
    fmaPeakGflops = Math.max(fmaPeakGflops, fmaFlops / (t.medianMs * 1e6));
    return t;
  };
  for (let iterations = 16; ; iterations *= 2) {
    fma?.destroy();
    fma = await prepareDispatch(device, fmaKernel, { iterations }, ['out'], [fmaGroups, 1, 1]);
    fmaFlops = 2 * 4 * 16 * iterations * fmaGroups * FMA_WORKGROUP;
    const t = await timeCeiling();
    if (t.medianMs >= (mode === 'tiny' ? 5 : 50) || iterations >= 1 << 20) {
      record({ kernel: 'fma-peak', batch: fmaGroups * FMA_WORKGROUP, length: iterations, headDim: 1, ...t, bytes: 0 }, investigation);
      break;
    }
  }

  // Training: AarenLanguageModel.trainStep (embedding, forward, cross-entropy, backward, AdamW: one submit and a
  // 32-byte readback) against the same model's inference forward (logits read back) at the same shape, typed calls
  // timed on the host. GB/s counts the parameters read once (a lower bound on traffic). The ceiling, the forward and
  // the step alternate in TRAIN_ROUNDS rounds, and each keeps its least-disturbed round (the lowest round median, as
  // the decay costs below), so MFU's two sides are measured under the same load: single runs of each, minutes apart
  // on a shared 2-core machine, moved MFU between 0.28 and 0.37. The rounds share 5x the kernels' budget: a step is
  // a few hundred ms on CPU adapters.
  const TRAIN_ROUNDS = 3;
  const trainTimer = new Timer(device, { ...plan, budgetMs: (5 * plan.budgetMs) / TRAIN_ROUNDS });
  const lowest = (a: Timing | undefined, b: Timing) => (a && a.medianMs <= b.medianMs ? a : b);
  const timeTraining = async (T: TrainShape, name: string) => {
    const lm = await AarenLanguageModel.create(device, { ...T.model, seed: 1 });
    const optimizer = await AdamW.create(device, lm, { lr: 1e-3, clipGradNorm: 1 });
    try {
      const random = mulberry32(7);
      const draw = () => Uint32Array.from({ length: T.batch * T.length }, () => Math.floor(random() * T.model.vocabSize));
      const tokens = draw();
      const targets = draw();
      const shape = { batch: T.batch, length: T.length };
      const paramBytes = 4 * lm.parameters().reduce((sum, p) => sum + p.shape.reduce((a, b) => a * b, 1), 0);
      let tf: Timing | undefined;
      let tt: Timing | undefined;
      for (let round = 0; round < TRAIN_ROUNDS; round++) {
        await timeCeiling();
        tf = lowest(tf, await trainTimer.timeCalls(() => lm.forward(tokens, shape)));
        tt = lowest(tt, await trainTimer.timeCalls(() => lm.trainStep(tokens, targets, shape, optimizer)));
      }
      record({ kernel: `${name}-forward`, batch: T.batch, length: T.length, headDim: T.model.headDim, ...tf!, bytes: paramBytes });
      record({ kernel: `${name}-train-step`, batch: T.batch, length: T.length, headDim: T.model.headDim, ...tt!, bytes: paramBytes });
      const tokensPerSecond = (T.batch * T.length) / (tt!.medianMs / 1000);
      return { tokensPerSecond, vsForward: tt!.medianMs / tf!.medianMs, flopsPerSecond: trainFlopsPerToken(lm.parameters(), T.model) * tokensPerSecond };
    } finally {
      optimizer.destroy();
      lm.destroy();
    }
  };
  let train: Awaited<ReturnType<typeof timeTraining>>;
  let trainLarge: Awaited<ReturnType<typeof timeTraining>>;
  try {
    train = await timeTraining(plan.train, 'lm');
    trainLarge = await timeTraining(plan.trainLarge, 'lm-large');
  } finally {
    fma.destroy();
    buffers.release();
  }

  const find = (kernel: string, length: number) => {
    const row = results.find((r) => r.kernel === kernel && r.length === length && (kernel.includes('step') || r.batch === batch));
    if (!row) throw new Error(`bench: no ${kernel} row at length ${length}`);
    return row.medianMs;
  };
  const pFirst = P[0]!;
  const pLast = P[P.length - 1]!;
  const pAnchor = P.includes(16384) ? 16384 : pLast;
  const summary: Summary = {
    scanVsCopy: find('copy', plan.anchorLength) / find('scan', plan.anchorLength),
    endToEndVsCopy,
    scanBackwardVsForward: backwardVsForward,
    decayForwardCost,
    decayBackwardCost,
    trainTokensPerSecond: train.tokensPerSecond,
    trainStepVsForward: train.vsForward,
    fmaPeakGflops,
    trainMfu: train.flopsPerSecond / (fmaPeakGflops * 1e9),
    trainMfuLarge: trainLarge.flopsPerSecond / (fmaPeakGflops * 1e9),
    parallelVsNaive: find('naive', plan.naiveAnchorLength) / find('scan', plan.naiveAnchorLength),
    parallelVsSequential: find('sequential', plan.anchorLength) / find('scan', plan.anchorLength),
    stepGrowth: stepMs.get(pAnchor)! / stepMs.get(pFirst)!,
    kvCacheStepVsAaren: kvMs.get(pAnchor)! / stepMs.get(pAnchor)!,
    stateBytes: stateBytesAt,
    kvCacheBytes: 2 * 4 * plan.stepBatch * pAnchor * hd,
  };
  void kvBytesAt;

  const adapter = adapterReport(device);
  return {
    adapter,
    backend: options.backend ?? 'node',
    quick: mode === 'quick',
    mode,
    timing: timer.timestamps ? 'timestamp-query' : 'queue-completion',
    date: new Date().toISOString(),
    config: {
      batch, headDim, lengths: plan.lengths, naiveLengths: plan.naiveLengths, anchorLength: plan.anchorLength,
      naiveAnchorLength: plan.naiveAnchorLength, layer: L, stepP: P, stepBatch: plan.stepBatch, train: plan.train, trainLarge: plan.trainLarge, scanSchedule,
    },
    results,
    summary,
    investigation,
    totalSeconds: (performance.now() - started) / 1000,
  };
}

export function adapterReport(device: GPUDevice): AdapterReport {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return {
    vendor: info?.vendor ?? '',
    architecture: info?.architecture ?? '',
    description: info?.description ?? '',
    device: info?.device ?? '',
    features: [...device.features].sort(),
  };
}
