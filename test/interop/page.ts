// Browser side of test/interop.test.ts (issue 18): onnxruntime-web 1.30 and TF.js 4.22 sharing one GPUDevice with
// PrefixScan and AarenLayer, buffers passed both ways with no readback between the libraries; and the mistakes a
// caller can make, each of which must give an error from aaren-webgpu before any work. The page only measures and
// collects (errors, rel. errors, messages); the test judges. Recipes: docs/interop.md.
import type * as Ort from 'onnxruntime-web';
import * as tf from '@tensorflow/tfjs-core';
import { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { AarenLayer, type AarenLayerConfig, PrefixScan, checkBuffersOnDevice, checkSameDevice, requestAarenDevice } from '../../src/index.js';
import { matmulReference, referenceLayer, referenceRecurrence } from '../../src/reference.js';
import { GraphBuilder } from '../../bench/peers/onnx-graph.js';

/** A checked result: max |got - want| against `tolerance` (absolute), or an error a call threw. */
export interface InteropResult {
  name: string;
  maxAbsError?: number;
  tolerance?: number;
  /** The error thrown: its class and message. */
  error?: { name: string; message: string };
  /** After an expected error: the same valid call again, checked against the reference. */
  after?: { maxAbsError: number; tolerance: number };
  /** Anything else the test asserts on. */
  info?: Record<string, unknown>;
}

declare global {
  interface Window {
    __interop: { done: boolean; error?: string; results: InteropResult[]; gpuErrors: string[] };
  }
}

window.__interop = { done: false, results: [], gpuErrors: [] };
const results = window.__interop.results;
const logEl = document.getElementById('log')!;
const log = (line: string) => { logEl.textContent = logEl.textContent === 'loading…' ? line : `${logEl.textContent}\n${line}`; };

// Tolerance: the ones the shared cases use for the same ops, relative to the float64 result's scale
// (cases/scan.ts: 1e-4 x max |v| for the scan, whose outputs are convex combinations of the values;
// cases/layer.ts: 1e-4 x max |reference| for the layer). The inputs here come from f32 matmuls of at most 8 terms
// in ORT or TF.js (each within ~8 x 6e-8 of the sum of |terms|), three orders of magnitude under that, and the
// references start from the float64 inputs, so a stage that read the wrong or stale data cannot pass.
const RELATIVE_TOLERANCE = 1e-4;

/** Deterministic floats in [-1, 1) (xorshift). */
function randomFloats(count: number, seed: number, scale = 1): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  return Float32Array.from({ length: count }, () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return scale * (x / 2147483648 - 1);
  });
}

/** The scale of a matmul's f32 error: max over outputs of sum |a w| + |bias| (a dot product's error bound). The
 * last stage (ORT's or TF's matmul of our output) inherits our 1e-4 relative error through it. */
function matmulScale(a: ArrayLike<number>, w: ArrayLike<number>, rows: number, k: number, n: number, bias?: ArrayLike<number>): number {
  let scale = 0;
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let acc = bias ? Math.abs(bias[j]!) : 0;
      for (let l = 0; l < k; l++) acc += Math.abs(a[r * k + l]! * w[l * n + j]!);
      scale = Math.max(scale, acc);
    }
  }
  return scale;
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]!));
  return m;
}

function compare(got: ArrayLike<number>, want: ArrayLike<number>, scale: number): { maxAbsError: number; tolerance: number } {
  let err = got.length === want.length ? 0 : Infinity;
  for (let i = 0; i < want.length && err !== Infinity; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    err = Number.isNaN(d) ? Infinity : Math.max(err, d);
  }
  return { maxAbsError: err, tolerance: RELATIVE_TOLERANCE * Math.max(scale, 1e-30) };
}

/** Test-side readback (the pipelines themselves never read back between libraries). */
async function readBuffer(device: GPUDevice, buffer: GPUBuffer, floats: number): Promise<Float32Array> {
  const staging = device.createBuffer({ size: Math.max(16, Math.ceil(floats / 4) * 16), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, floats * 4);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const data = new Float32Array(staging.getMappedRange().slice(0, floats * 4));
  staging.destroy();
  return data;
}

/** A buffer of ours that ORT and TF.js accept: ORT binds at least 16 bytes and in multiples of 16, and its own
 * buffers (and TF.js's zeroCopy) want STORAGE | COPY_SRC | COPY_DST. */
function sharedBuffer(device: GPUDevice, floats: number, label: string): GPUBuffer {
  return device.createBuffer({ label, size: Math.max(16, Math.ceil((floats * 4) / 16) * 16), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
}

/** Runs `call`, which must throw; returns the error's class and message (a resolved call is a failure). */
async function expectError(call: () => unknown): Promise<{ name: string; message: string }> {
  try {
    await call();
  } catch (e) {
    return { name: (e as Error).constructor?.name ?? typeof e, message: (e as Error).message ?? String(e) };
  }
  return { name: 'none', message: 'the call did not throw' };
}

// ---- shapes and weights (small: SwiftShader compiles every pipeline on a CPU core) ----------------------------
// Scan: rows = B x N tokens of K input features -> scores [B, N] and values [B, N, D] -> o [B, N, D] -> y [B, N, M].
const B = 2, N = 19, K = 5, D = 6, M = 3, ROWS = B * N;
const scanWeights = { wq: randomFloats(K, 11, 1.5), wv: randomFloats(K * D, 12), bv: randomFloats(D, 13, 0.3), wo: randomFloats(D * M, 14), bo: randomFloats(M, 15, 0.2) };
// Layer: x [B, N2, dModel] = input [B, N2, K] @ we + be -> AarenLayer -> y [B, N2, dModel] -> z = y @ wz.
const N2 = 13, DMODEL = 8, HEADS = 2, HEAD_DIM = 4, ROWS2 = B * N2, HD = HEADS * HEAD_DIM;
const layerInput = { we: randomFloats(K * DMODEL, 21), be: randomFloats(DMODEL, 22, 0.2), wz: randomFloats(DMODEL * M, 23) };
const layerConfig: AarenLayerConfig = {
  dModel: DMODEL, heads: HEADS, headDim: HEAD_DIM,
  weights: {
    query: randomFloats(HD, 31, 2), key: randomFloats(DMODEL * HD, 32, 0.6), value: randomFloats(DMODEL * HD, 33, 0.6),
    output: randomFloats(HD * DMODEL, 34, 0.5), keyBias: randomFloats(HD, 35, 0.2), valueBias: randomFloats(HD, 36, 0.2), outputBias: randomFloats(DMODEL, 37, 0.2),
  },
};

/** The float64 references of both pipelines for an input. */
function scanReference(x: Float32Array) {
  const scores = matmulReference(x, scanWeights.wq, ROWS, K, 1);
  const values = matmulReference(x, scanWeights.wv, ROWS, K, D, scanWeights.bv);
  const o = referenceRecurrence({ scores, values, batch: B, length: N, headDim: D }).outputs;
  return { o, oScale: maxAbs(values), y: matmulReference(o, scanWeights.wo, ROWS, D, M, scanWeights.bo), yScale: matmulScale(o, scanWeights.wo, ROWS, D, M, scanWeights.bo) };
}
function layerReference(input: Float32Array) {
  const x = matmulReference(input, layerInput.we, ROWS2, K, DMODEL, layerInput.be);
  const y = referenceLayer(layerConfig, x, B, N2);
  return { y, yScale: maxAbs(y), z: matmulReference(y, layerInput.wz, ROWS2, DMODEL, M), zScale: matmulScale(y, layerInput.wz, ROWS2, DMODEL, M) };
}

// ---- ONNX graphs: MatMul and Add only (ORT's WebGPU attention is the op that goes wrong on SwiftShader) --------
function scanProducerGraph(): Uint8Array {
  const g = new GraphBuilder();
  g.op('MatMul', ['x', g.constant('wq', [K, 1], scanWeights.wq)], undefined, undefined, 'scores');
  g.op('Add', [g.op('MatMul', ['x', g.constant('wv', [K, D], scanWeights.wv)]), g.constant('bv', [D], scanWeights.bv)], undefined, undefined, 'values');
  return g.build('scan_producer', [{ name: 'x', dims: ['rows', K] }], [{ name: 'scores', dims: ['rows', 1] }, { name: 'values', dims: ['rows', D] }]);
}
function linearGraph(name: string, k: number, n: number, w: Float32Array, bias?: Float32Array): Uint8Array {
  const g = new GraphBuilder();
  const y = g.op('MatMul', ['a', g.constant('w', [k, n], w)], undefined, undefined, bias ? undefined : 'y');
  if (bias) g.op('Add', [y, g.constant('b', [n], bias)], undefined, undefined, 'y');
  return g.build(name, [{ name: 'a', dims: ['rows', k] }], [{ name: 'y', dims: ['rows', n] }]);
}

async function ortCases(device: GPUDevice, ortBase: string): Promise<void> {
  const ort = (await import(/* webpackIgnore: true */ `${ortBase}ort.webgpu.min.mjs`)) as typeof Ort;
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = ortBase;
  ort.env.logLevel = 'error';
  // The caller's device, per session: the `/webgpu` entry's only way (setting ort.env.webgpu.device does nothing).
  const session = (bytes: Uint8Array) => ort.InferenceSession.create(bytes, { executionProviders: [{ name: 'webgpu', device }], preferredOutputLocation: 'gpu-buffer' });
  const producer = await session(scanProducerGraph());
  const consumer = await session(linearGraph('scan_consumer', D, M, scanWeights.wo, scanWeights.bo));
  const x = randomFloats(ROWS * K, 41);
  const ref = scanReference(x);
  const scan = await PrefixScan.create(device, { batch: B, length: N, headDim: D });
  const output = sharedBuffer(device, ROWS * D, 'scan output');

  // ORT -> PrefixScan -> ORT, no readback between them.
  const made = await producer.run({ x: new ort.Tensor('float32', x, [ROWS, K]) });
  const scores = made.scores!, values = made.values!;
  // A session given our device leaves ort.env.webgpu.device unset (ORT sets it only for a device it made itself).
  const envDevice = (await ort.env.webgpu.device) as unknown;
  results.push({ name: 'ort: env.webgpu.device with a caller device', info: { envDevice: envDevice === undefined ? 'undefined' : envDevice === device ? 'ours' : 'another' } });
  const scanOnce = async (target: GPUBuffer) => {
    await checkBuffersOnDevice(device, { 'buffers.scores': scores.gpuBuffer, 'buffers.values': values.gpuBuffer });
    const encoder = device.createCommandEncoder();
    scan.encode(encoder, { scores: scores.gpuBuffer, values: values.gpuBuffer, output: target });
    device.queue.submit([encoder.finish()]);
    return compare(await readBuffer(device, target, ROWS * D), ref.o, ref.oScale);
  };
  const first = await scanOnce(output);
  results.push({ name: 'ort -> PrefixScan', ...first, info: { scoresBytes: scores.gpuBuffer.size, valuesBytes: values.gpuBuffer.size, usage: scores.gpuBuffer.usage } });
  const fed = await consumer.run({ a: ort.Tensor.fromGpuBuffer(output, { dataType: 'float32', dims: [ROWS, D] }) });
  results.push({ name: 'PrefixScan -> ort', ...compare((await fed.y!.getData(true)) as Float32Array, ref.y, ref.yScale) });

  // ORT -> AarenLayer -> ORT.
  const embed = await session(linearGraph('layer_producer', K, DMODEL, layerInput.we, layerInput.be));
  const head = await session(linearGraph('layer_consumer', DMODEL, M, layerInput.wz));
  const layer = await AarenLayer.create(device, layerConfig);
  const input = randomFloats(ROWS2 * K, 42);
  const lref = layerReference(input);
  const xs = (await embed.run({ a: new ort.Tensor('float32', input, [ROWS2, K]) })).y!;
  const layerOut = sharedBuffer(device, ROWS2 * DMODEL, 'layer output');
  await checkBuffersOnDevice(device, { 'buffers.x': xs.gpuBuffer });
  const encoder = device.createCommandEncoder();
  layer.encodeForward(encoder, { x: xs.gpuBuffer, output: layerOut }, { batch: B, length: N2 });
  device.queue.submit([encoder.finish()]);
  results.push({ name: 'ort -> AarenLayer', ...compare(await readBuffer(device, layerOut, ROWS2 * DMODEL), lref.y, lref.yScale) });
  const z = (await head.run({ a: ort.Tensor.fromGpuBuffer(layerOut, { dataType: 'float32', dims: [ROWS2, DMODEL] }) })).y!;
  results.push({ name: 'AarenLayer -> ort', ...compare((await z.getData(true)) as Float32Array, lref.z, lref.zScale) });

  // Mistakes. Each must throw from our side before any work, and the valid call after it must still be right.
  const fresh = sharedBuffer(device, ROWS * D, 'scan output 2');
  // Too small: values of 20 tokens instead of 38. ORT's `/webgpu` entry hands out buffers from size buckets (152
  // bytes of scores come in 256, 912 of values in 2048), so a tensor a few rows short still has a buffer big enough
  // for the shape: only a buffer under the shape's bytes can be refused (docs/interop.md: check the tensor's dims).
  const short = await producer.run({ x: new ort.Tensor('float32', x.subarray(0, 20 * K), [20, K]) });
  results.push({
    name: 'ort: values buffer too small',
    info: { valuesBytes: short.values!.gpuBuffer.size },
    error: await expectError(() => scan.encode(device.createCommandEncoder(), { scores: scores.gpuBuffer, values: short.values!.gpuBuffer, output: fresh })),
    after: await scanOnce(fresh),
  });
  // Without STORAGE: a readback buffer given as the output by mistake.
  const staging = device.createBuffer({ size: ROWS * D * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  results.push({
    name: 'ort: output without STORAGE',
    error: await expectError(() => scan.encode(device.createCommandEncoder(), { scores: scores.gpuBuffer, values: values.gpuBuffer, output: staging })),
    after: await scanOnce(fresh),
  });
  // Our buffer for ORT without the usage ORT's own buffers have (a STORAGE-only buffer cannot be copied out).
  const storageOnly = device.createBuffer({ size: ROWS * D * 4, usage: GPUBufferUsage.STORAGE });
  results.push({
    name: 'ort: buffer for ORT without COPY_SRC | COPY_DST',
    error: await expectError(() => checkBuffersOnDevice(device, { 'ORT input a': storageOnly }, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST)),
    after: await scanOnce(fresh),
  });

  // The default entry (JSEP) ignores the session's device and makes its own: the identity check sees it before
  // any work, and a buffer it made is refused by name.
  const ortDefault = (await import(/* webpackIgnore: true */ `${ortBase}ort.min.mjs`)) as typeof Ort;
  ortDefault.env.wasm.numThreads = 1;
  ortDefault.env.wasm.wasmPaths = ortBase;
  ortDefault.env.logLevel = 'error';
  const jsep = await ortDefault.InferenceSession.create(scanProducerGraph(), { executionProviders: [{ name: 'webgpu', device }], preferredOutputLocation: 'gpu-buffer' });
  results.push({
    name: 'ort default entry: identity check',
    // env.webgpu.device is typed as a Promise; 1.30 stores the device itself there. `await` reads either.
    error: await expectError(async () => checkSameDevice('ort.env.webgpu.device', device, await ortDefault.env.webgpu.device)),
    after: await scanOnce(fresh),
  });
  const foreign = await jsep.run({ x: new ortDefault.Tensor('float32', x, [ROWS, K]) });
  results.push({
    name: 'ort default entry: buffer of another device',
    info: { valuesBytes: foreign.values!.gpuBuffer.size, usage: foreign.values!.gpuBuffer.usage },
    error: await expectError(() => checkBuffersOnDevice(device, { 'buffers.scores': scores.gpuBuffer, 'buffers.values': foreign.values!.gpuBuffer })),
    after: await scanOnce(fresh),
  });

  // What the check prevents: encoded unchecked, the same buffer is a validation error on our device (here caught by a
  // scope; otherwise an uncapturederror event), the command buffer is refused, and the output keeps its old contents.
  const untouched = sharedBuffer(device, ROWS * D, 'scan output 3'); // zeros
  device.pushErrorScope('validation');
  const unchecked = device.createCommandEncoder();
  scan.encode(unchecked, { scores: scores.gpuBuffer, values: foreign.values!.gpuBuffer, output: untouched });
  device.queue.submit([unchecked.finish()]);
  const validation = await device.popErrorScope();
  const left = await readBuffer(device, untouched, ROWS * D);
  results.push({ name: 'ort default entry: unchecked buffer of another device', info: { validation: validation?.message.split('\n')[0] ?? null, outputAllZero: left.every((f) => f === 0) } });

  for (const t of [scores, values, fed.y!, xs, z, short.scores!, short.values!, foreign.scores!, foreign.values!]) t.dispose();
  for (const s of [producer, consumer, embed, head, jsep]) await s.release();
  for (const b of [output, layerOut, fresh, staging, storageOnly, untouched]) b.destroy();
  scan.destroy();
  layer.destroy();
}

/** The GPU buffer of a TF.js tensor (dataToGPU): a copy in TF.js's pool, owned by `tensorRef` (dispose it). */
function toGpu(t: tf.Tensor): { buffer: GPUBuffer; tensorRef: tf.Tensor } {
  const data = t.dataToGPU();
  if (!data.buffer) throw new Error('dataToGPU gave no GPUBuffer: the backend is not webgpu');
  return { buffer: data.buffer, tensorRef: data.tensorRef };
}

async function tfCases(device: GPUDevice): Promise<void> {
  // First TF.js on a device of its own (what importing the backend registers): the mistakes of a second device.
  await tf.setBackend('webgpu');
  const own = tf.backend() as WebGPUBackend;
  const input = randomFloats(ROWS2 * K, 52);
  const lref = layerReference(input);
  const layer = await AarenLayer.create(device, layerConfig);
  const layerOut = sharedBuffer(device, ROWS2 * DMODEL, 'layer output');
  const layerOnce = async (x: GPUBuffer) => {
    await checkBuffersOnDevice(device, { 'buffers.x': x });
    const encoder = device.createCommandEncoder();
    layer.encodeForward(encoder, { x, output: layerOut }, { batch: B, length: N2 });
    device.queue.submit([encoder.finish()]);
    return compare(await readBuffer(device, layerOut, ROWS2 * DMODEL), lref.y, lref.yScale);
  };
  const identity = await expectError(() => checkSameDevice('the TF.js webgpu backend device', device, own.device));
  const theirs = tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(input, [ROWS2, K]), tf.tensor2d(layerInput.we, [K, DMODEL])), tf.tensor1d(layerInput.be)));
  const theirBuffer = toGpu(theirs);
  const foreign = await expectError(() => checkBuffersOnDevice(device, { 'buffers.x': theirBuffer.buffer }));
  theirBuffer.tensorRef.dispose();
  theirs.dispose();
  tf.removeBackend('webgpu');

  // TF.js on our device: a WebGPUBackend registered under 'webgpu' (its kernels are registered under that name).
  tf.registerBackend('webgpu', () => new WebGPUBackend(device, (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo));
  await tf.setBackend('webgpu');
  checkSameDevice('the TF.js webgpu backend device', device, (tf.backend() as WebGPUBackend).device);

  // TF.js -> AarenLayer -> TF.js.
  const xs = tf.tidy(() => tf.add(tf.matMul(tf.tensor2d(input, [ROWS2, K]), tf.tensor2d(layerInput.we, [K, DMODEL])), tf.tensor1d(layerInput.be)));
  const xGpu = toGpu(xs);
  results.push({ name: 'tf -> AarenLayer', ...(await layerOnce(xGpu.buffer)), info: { xBytes: xGpu.buffer.size, usage: xGpu.buffer.usage } });
  const yTf = tf.tensor({ buffer: layerOut, zeroCopy: true }, [ROWS2, DMODEL], 'float32');
  const z = tf.matMul(yTf, tf.tensor2d(layerInput.wz, [DMODEL, M]));
  results.push({ name: 'AarenLayer -> tf', ...compare(await z.data(), lref.z, lref.zScale) });
  results.push({ name: 'tf: identity check of its own device', error: identity, after: await layerOnce(xGpu.buffer) });
  results.push({ name: 'tf: buffer of another device', error: foreign, after: await layerOnce(xGpu.buffer) });

  // TF.js -> PrefixScan -> TF.js.
  const x = randomFloats(ROWS * K, 51);
  const ref = scanReference(x);
  const scan = await PrefixScan.create(device, { batch: B, length: N, headDim: D });
  const output = sharedBuffer(device, ROWS * D, 'scan output');
  const [scores, values] = tf.tidy(() => {
    const xt = tf.tensor2d(x, [ROWS, K]);
    return [tf.matMul(xt, tf.tensor2d(scanWeights.wq, [K, 1])), tf.add(tf.matMul(xt, tf.tensor2d(scanWeights.wv, [K, D])), tf.tensor1d(scanWeights.bv))];
  });
  const s = toGpu(scores!), v = toGpu(values!);
  await checkBuffersOnDevice(device, { 'buffers.scores': s.buffer, 'buffers.values': v.buffer });
  const encoder = device.createCommandEncoder();
  scan.encode(encoder, { scores: s.buffer, values: v.buffer, output });
  device.queue.submit([encoder.finish()]);
  results.push({ name: 'tf -> PrefixScan', ...compare(await readBuffer(device, output, ROWS * D), ref.o, ref.oScale) });
  const oTf = tf.tensor({ buffer: output, zeroCopy: true }, [ROWS, D], 'float32');
  const y = tf.tidy(() => tf.add(tf.matMul(oTf, tf.tensor2d(scanWeights.wo, [D, M])), tf.tensor1d(scanWeights.bo)));
  results.push({ name: 'PrefixScan -> tf', ...compare(await y.data(), ref.y, ref.yScale) });

  // Too small: x of one feature fewer per token.
  const narrow = tf.tidy(() => tf.matMul(tf.tensor2d(input, [ROWS2, K]), tf.tensor2d(layerInput.we.subarray(0, K * (DMODEL - 1)), [K, DMODEL - 1])));
  const narrowGpu = toGpu(narrow);
  results.push({
    name: 'tf: x buffer too small',
    error: await expectError(() => layer.encodeForward(device.createCommandEncoder(), { x: narrowGpu.buffer, output: layerOut }, { batch: B, length: N2 })),
    after: await layerOnce(xGpu.buffer),
  });
  // A buffer of ours for a zeroCopy tensor needs STORAGE | COPY_SRC (TF.js copies out of it); checked before TF sees it.
  const noCopy = device.createBuffer({ size: ROWS * D * 4, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
  results.push({
    name: 'tf: zeroCopy buffer without COPY_SRC',
    error: await expectError(() => checkBuffersOnDevice(device, { 'zeroCopy buffer': noCopy }, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC)),
    after: await layerOnce(xGpu.buffer),
  });

  for (const g of [xGpu, s, v, narrowGpu]) g.tensorRef.dispose();
  for (const t of [xs, yTf, z, scores!, values!, oTf, y, narrow]) t.dispose();
  for (const b of [layerOut, output, noCopy]) b.destroy();
  scan.destroy();
  layer.destroy();
}

async function main(): Promise<void> {
  const params = new URLSearchParams(location.search);
  const device = await requestAarenDevice(navigator.gpu, { label: 'aaren' });
  device.addEventListener('uncapturederror', (e) => window.__interop.gpuErrors.push((e as GPUUncapturedErrorEvent).error.message));
  const adapter = (await navigator.gpu.requestAdapter())!;
  const limits = (l: GPUSupportedLimits) => Object.fromEntries(Object.keys(Object.getPrototypeOf(l) as object).filter((k) => typeof l[k as keyof GPUSupportedLimits] === 'number').map((k) => [k, l[k as keyof GPUSupportedLimits]]));
  results.push({ name: 'device', info: { features: [...device.features].sort(), adapterFeatures: [...adapter.features].sort(), limits: limits(device.limits), adapterLimits: limits(adapter.limits) } });
  const only = params.get('only');
  if (only !== 'tf') await ortCases(device, params.get('ortBase')!);
  log('ort done');
  if (only !== 'ort') await tfCases(device);
  log('tf done');
}

main().then(
  () => { window.__interop.done = true; },
  (e: unknown) => { window.__interop.error = String((e as Error)?.stack ?? e); window.__interop.done = true; },
);
