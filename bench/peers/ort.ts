// The peers in the bench (issue 11): onnxruntime-web running the same math as aaren-webgpu, each peer's output
// checked against the float64 reference before it is timed. Browser only (bench/page.ts): ORT's WebGPU EP needs
// navigator.gpu, and its files are served by the bench's esbuild server (bench/chrome.mjs), never fetched.
//
// Bundles (onnxruntime-web 1.30.0):
//  - WebGPU: `ort.webgpu.min.mjs` (the `onnxruntime-web/webgpu` entry), which runs the native C++ WebGPU EP compiled
//    to wasm (ort-wasm-simd-threaded.asyncify.wasm) with its new WGSL kernels. The default entry (`ort.min.mjs`,
//    JSEP) runs the older JS kernels, whose MultiHeadAttention ignores `unidirectional`.
//  - wasm: `ort.wasm.min.mjs` (the `onnxruntime-web/wasm` entry, plain SIMD wasm CPU EP), one thread (the page is not
//    cross-origin isolated).
// Subgroups are hidden from ORT: its subgroup attention assumes a subgroup size that SwiftShader (size 4) does not
// have and returns wrong results there. ORT gets a GPUDevice of its own made without the `subgroups` feature
// (env.webgpu.device), and navigator.gpu.requestAdapter is wrapped so that any adapter ORT asks for lacks it too.
//
// Timing: wall clock from the call to the GPU queue's completion, for ORT (session.run with GPU-resident inputs and
// outputs, then onSubmittedWorkDone) and for aaren-webgpu alike (submit, then onSubmittedWorkDone); median of reps.
import type * as Ort from 'onnxruntime-web';
import { PrefixScan } from '../../src/ops/attention/scan.js';
import { AarenModel, type AarenModelConfig, type AarenBlockWeights } from '../../src/nn/model.js';
import { MatmulOp } from '../../src/ops/matmul.js';
import { referenceRecurrence } from '../../src/reference/scan.js';
import { referenceModel } from '../../src/reference/layer.js';
import { uploadFloat32, createStorageBuffer, submitAndRead } from '../../src/core/buffers.js';
import { randomFloats, type Mode } from '../bench.js';
import { aarenModelGraph, attentionGraph, matmulGraph } from './onnx-graph.js';

export interface PeerRow {
  /** 'aaren' (ours), 'ort-webgpu' or 'ort-wasm'. */
  peer: string;
  level: 'attention' | 'model' | 'matmul';
  /** e.g. 'B1 H8 N4096 D64', 'B16 N64', '1024x256x1024'. */
  shape: string;
  medianMs: number;
  minMs: number;
  maxMs: number;
  reps: number;
  /** max |peer - float64 reference| / max |reference|, checked before timing (NaN for matmul vs ours: see check). */
  relError: number;
  /** matmul only. */
  gflops?: number;
}

export interface PeerSummary {
  /** ORT WebGPU MultiHeadAttention time / aaren-webgpu prefix scan time, B1 H8 D64 N4096. */
  ortWebgpuOverAarenAttention4096: number;
  /** ORT wasm MultiHeadAttention time / aaren-webgpu prefix scan time, B1 H8 D64 N1024. */
  ortWasmOverAarenAttention1024: number;
  /** ORT WebGPU model time / AarenModel time: the smaller (worse for us) of B16xN64 and B1xN1024. */
  ortWebgpuOverAarenModel: number;
  /** aaren-webgpu MatmulOp GFLOP/s / ORT WebGPU MatMul GFLOP/s, 1024x256x1024. */
  matmulVsOrtWebgpu: number;
}

export interface PeersReport {
  ortVersion: string;
  webgpuBundle: string;
  wasmBundle: string;
  subgroupsHidden: boolean;
  /** Features of the device ORT's WebGPU EP ran on. */
  ortDeviceFeatures: string[];
  timing: string;
  rows: PeerRow[];
  notes: string[];
  /** Peer runs that failed or did not match the reference (those are not timed). */
  errors: string[];
  seconds: number;
}

export interface PeersOptions {
  mode: Mode;
  progress: (line: string) => void;
  /** URL of onnxruntime-web's dist/ folder as served (ends with '/'). */
  ortBase: string;
}

type OrtModule = typeof Ort;

const TOLERANCE = { attention: 2e-3, model: 5e-3, matmul: 1e-3 };
/** Every subgroup feature ('subgroups', 'subgroup-size-control', 'chromium-experimental-subgroup-matrix', ...): with
 * only 'subgroups' left out, 'subgroup-size-control' still in, ORT's attention was still wrong on SwiftShader (0.2-0.26). */
const hidden = (feature: string) => feature.includes('subgroup');

function stats(ms: number[]): Pick<PeerRow, 'medianMs' | 'minMs' | 'maxMs' | 'reps'> {
  const s = [...ms].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return { medianMs: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2, minMs: s[0]!, maxMs: s[s.length - 1]!, reps: s.length };
}

/** Timed runs (after the checked one, which is also the warm-up): at least one, then more while another fits in
 * `budgetMs` (judged by the last run's time), at most `maxReps`. */
async function timeRuns(budgetMs: number, maxReps: number, run: () => Promise<void>): Promise<number[]> {
  const ms: number[] = [];
  let total = 0;
  do {
    const t0 = performance.now();
    await run();
    ms.push(performance.now() - t0);
    total += ms[ms.length - 1]!;
  } while (ms.length < maxReps && total + ms[ms.length - 1]! <= budgetMs);
  return ms;
}

function relError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i]! - want[i]!);
    diff = Number.isNaN(d) ? Infinity : Math.max(diff, d);
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / scale;
}

/** The adapter with the subgroup features left out of `features` (a proxy; methods run on the real adapter). */
function withoutSubgroups(adapter: GPUAdapter): GPUAdapter {
  const features = new Set([...adapter.features].filter((f) => !hidden(f)));
  return new Proxy(adapter, {
    get(target, prop) {
      if (prop === 'features') return features;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A device for ORT: the adapter's largest limits, its features less the subgroup ones. */
async function ortDevice(): Promise<GPUDevice> {
  const gpu = navigator.gpu;
  const original = gpu.requestAdapter.bind(gpu);
  gpu.requestAdapter = async (options?: GPURequestAdapterOptions) => {
    const adapter = await original(options);
    return adapter && withoutSubgroups(adapter);
  };
  const adapter = await original();
  if (!adapter) throw new Error('no WebGPU adapter for ORT');
  const requiredLimits: Record<string, number> = {};
  for (const name of ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY', 'maxComputeWorkgroupSizeZ', 'maxStorageBuffersPerShaderStage'] as const) {
    requiredLimits[name] = adapter.limits[name];
  }
  const requiredFeatures = [...adapter.features].filter((f) => !hidden(f)) as GPUFeatureName[];
  return adapter.requestDevice({ requiredLimits, requiredFeatures });
}

async function readBuffer(device: GPUDevice, buffer: GPUBuffer, floats: number): Promise<Float32Array> {
  const [out] = await submitAndRead(device, device.createCommandEncoder(), [{ buffer, floats }]);
  return out!;
}

/** Our side of a timed run: encode, submit, wait for the queue. */
async function submitAndWait(device: GPUDevice, encode: (encoder: GPUCommandEncoder) => void): Promise<void> {
  const encoder = device.createCommandEncoder({ label: 'peers bench' });
  encode(encoder);
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
}

/** The model of the bench: AarenModel's shape (2 layers, dModel 256, 4 x 64 heads, dFF 1024), seeded random weights. */
export function benchModelConfig(): AarenModelConfig {
  const layers = 2, dModel = 256, heads = 4, headDim = 64, dFF = 1024;
  const hd = heads * headDim;
  let seed = 100;
  const rand = (n: number, scale: number, offset = 0) => randomFloats(n, seed++).map((v) => offset + v * scale);
  const blocks: AarenBlockWeights[] = [];
  for (let l = 0; l < layers; l++) {
    blocks.push({
      ln1: { weight: rand(dModel, 0.1, 1), bias: rand(dModel, 0.1) },
      attention: {
        query: rand(hd, 2), key: rand(dModel * hd, 1 / Math.sqrt(dModel)), value: rand(dModel * hd, 1 / Math.sqrt(dModel)),
        output: rand(hd * dModel, 1 / Math.sqrt(hd)), keyBias: rand(hd, 0.1), valueBias: rand(hd, 0.1), outputBias: rand(dModel, 0.1),
      },
      ln2: { weight: rand(dModel, 0.1, 1), bias: rand(dModel, 0.1) },
      ffn: { w1: rand(dModel * dFF, 1 / Math.sqrt(dModel)), b1: rand(dFF, 0.1), w2: rand(dFF * dModel, 1 / Math.sqrt(dFF)), b2: rand(dModel, 0.1) },
    });
  }
  return { layers, dModel, heads, headDim, dFF, weights: { blocks, finalNorm: { weight: rand(dModel, 0.1, 1), bias: rand(dModel, 0.1) } } };
}

export async function runPeers(device: GPUDevice, options: PeersOptions): Promise<{ report: PeersReport; summary: Partial<PeerSummary> }> {
  const { mode, progress, ortBase } = options;
  const quick = mode !== 'full';
  // ORT WebGPU attention at N=4096 and the models take seconds per run on CPU adapters: one timed run in quick mode.
  const timed = (run: () => Promise<void>) => timeRuns(quick ? 3000 : 20000, quick ? 5 : 15, run);
  /** Checked run of ours, then timed runs; returns [checked output, times]. */
  const runOurs = async (encode: (encoder: GPUCommandEncoder) => void, output: GPUBuffer, floats: number): Promise<[Float32Array, number[]]> => {
    await submitAndWait(device, encode);
    const got = await readBuffer(device, output, floats);
    return [got, await timed(() => submitAndWait(device, encode))];
  };
  const rows: PeerRow[] = [];
  const errors: string[] = [];
  const notes: string[] = [];
  const started = performance.now();
  const log = (line: string) => progress(`[peers] ${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s  ${line}`);
  const record = (row: PeerRow) => {
    rows.push(row);
    log(`${row.peer.padEnd(10)} ${row.level.padEnd(9)} ${row.shape.padEnd(18)} ${row.medianMs.toFixed(2).padStart(10)} ms ` +
      `(min ${row.minMs.toFixed(2)}, max ${row.maxMs.toFixed(2)}, ${row.reps} reps)  rel. error ${row.relError.toExponential(1)}` +
      `${row.gflops ? `  ${row.gflops.toFixed(2)} GFLOP/s` : ''}`);
    return row;
  };
  /** Runs a peer step; a failure is reported and the step's figures are left out. */
  const attempt = async <T>(what: string, body: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await body();
    } catch (e) {
      const message = `${what}: ${e instanceof Error ? e.message : String(e)}`;
      errors.push(message);
      log(`FAILED ${message}`);
      return undefined;
    }
  };

  log(`loading onnxruntime-web from ${ortBase}`);
  const ortGpu = (await import(/* webpackIgnore: true */ `${ortBase}ort.webgpu.min.mjs`)) as OrtModule;
  const ortWasm = (await import(/* webpackIgnore: true */ `${ortBase}ort.wasm.min.mjs`)) as OrtModule;
  for (const ort of [ortGpu, ortWasm]) {
    ort.env.wasm.numThreads = 1;
    ort.env.wasm.wasmPaths = ortBase;
    ort.env.logLevel = 'error';
  }
  // The native EP takes a device in its options (env.webgpu.device is only set by ORT, after the fact).
  const gpuDevice = await ortDevice();
  const ortVersion = ortGpu.env.versions.web ?? ortGpu.env.versions.common ?? '';

  const gpuSession = (bytes: Uint8Array) => ortGpu.InferenceSession.create(bytes, {
    executionProviders: [{ name: 'webgpu', device: gpuDevice }], preferredOutputLocation: 'gpu-buffer', graphOptimizationLevel: 'all',
  });
  const wasmSession = (bytes: Uint8Array) => ortWasm.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  /** A float32 input tensor resident on ORT's device. */
  const gpuInput = (data: Float32Array, dims: number[], made: GPUBuffer[]) => {
    const buffer = gpuDevice.createBuffer({ size: Math.ceil(data.byteLength / 16) * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
    gpuDevice.queue.writeBuffer(buffer, 0, data.buffer as ArrayBuffer, data.byteOffset, data.byteLength);
    made.push(buffer);
    return ortGpu.Tensor.fromGpuBuffer(buffer as never, { dataType: 'float32', dims });
  };
  /** Checked run (also the warm-up), then `reps` timed runs. Returns the rel. error and times, or throws when wrong. */
  const runOrt = async (session: Ort.InferenceSession, feeds: Record<string, Ort.Tensor>, relErrorOf: (y: Float32Array) => number,
    tolerance: number, onGpu: boolean): Promise<{ relError: number; ms: number[] }> => {
    const outName = session.outputNames[0]!;
    const first = await session.run(feeds);
    const err = relErrorOf((await first[outName]!.getData(true)) as Float32Array);
    if (!(err <= tolerance)) throw new Error(`output differs from the float64 reference: relative error ${err.toExponential(2)} > ${tolerance}`);
    const ms = await timed(async () => {
      const out = await session.run(feeds);
      if (onGpu) await gpuDevice.queue.onSubmittedWorkDone();
      out[outName]!.dispose();
    });
    return { relError: err, ms };
  };

  const summary: Partial<PeerSummary> = {};

  // ---- attention: B1 H8 D64, keys / values [N, H*D], learned query q [H*D] --------------------------------------
  const H = 8, D = 64, scale = 1 / Math.sqrt(D);
  const q = randomFloats(H * D, 901).map((v) => 2 * v);
  const oursAttention = new Map<number, number>();
  const attentionLengths = [1024, 4096];
  const gpuAttention = await attempt('ORT WebGPU attention session', () => gpuSession(attentionGraph(H, D, q, scale)));
  const wasmAttention = await attempt('ORT wasm attention session', () => wasmSession(attentionGraph(H, D, q, scale)));
  for (const N of attentionLengths) {
    const shape = `B1 H${H} N${N} D${D}`;
    const keys = randomFloats(N * H * D, 902 + N);
    const values = randomFloats(N * H * D, 903 + N);
    // Inputs of our prefix scan: scores [H, N] = scale q_h . k_i, values head-major [H, N, D]; the float64 reference.
    const scores64 = new Float64Array(H * N);
    const valuesHeads = new Float32Array(H * N * D);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < N; i++) {
        let s = 0;
        for (let c = 0; c < D; c++) s += q[h * D + c]! * keys[i * H * D + h * D + c]!;
        scores64[h * N + i] = s * scale;
        valuesHeads.set(values.subarray(i * H * D + h * D, i * H * D + (h + 1) * D), (h * N + i) * D);
      }
    }
    const ref = referenceRecurrence({ scores: scores64, values: valuesHeads, batch: H, length: N, headDim: D }).outputs; // [H, N, D]
    const refBsd = new Float64Array(N * H * D); // ORT's layout [N, H*D]
    for (let h = 0; h < H; h++) for (let i = 0; i < N; i++) refBsd.set(ref.subarray((h * N + i) * D, (h * N + i + 1) * D), i * H * D + h * D);

    // Ours.
    await attempt(`aaren attention ${shape}`, async () => {
      const scan = await PrefixScan.create(device, { batch: H, length: N, headDim: D });
      const made = [uploadFloat32(device, Float32Array.from(scores64)), uploadFloat32(device, valuesHeads), createStorageBuffer(device, H * N * D * 4)];
      try {
        const [s, v, o] = made as [GPUBuffer, GPUBuffer, GPUBuffer];
        const [got, ms] = await runOurs((encoder) => scan.encode(encoder, { scores: s, values: v, output: o }), o, H * N * D);
        const err = relError(got, ref);
        oursAttention.set(N, stats(ms).medianMs);
        record({ peer: 'aaren', level: 'attention', shape, ...stats(ms), relError: err });
      } finally {
        scan.destroy();
        for (const b of made) b.destroy();
      }
    });

    // ORT WebGPU.
    if (gpuAttention) {
      await attempt(`ORT WebGPU attention ${shape}`, async () => {
        const made: GPUBuffer[] = [];
        try {
          const feeds = { key: gpuInput(keys, [1, N, H * D], made), value: gpuInput(values, [1, N, H * D], made) };
          const r = await runOrt(gpuAttention, feeds, (y) => relError(y, refBsd), TOLERANCE.attention, true);
          const row = record({ peer: 'ort-webgpu', level: 'attention', shape, ...stats(r.ms), relError: r.relError });
          if (N === 4096 && oursAttention.has(N)) summary.ortWebgpuOverAarenAttention4096 = row.medianMs / oursAttention.get(N)!;
        } finally {
          for (const b of made) b.destroy();
        }
      });
    }
    // ORT wasm at N=1024 only.
    if (wasmAttention && N === 1024) {
      await attempt(`ORT wasm attention ${shape}`, async () => {
        const feeds = { key: new ortWasm.Tensor('float32', keys, [1, N, H * D]), value: new ortWasm.Tensor('float32', values, [1, N, H * D]) };
        const r = await runOrt(wasmAttention, feeds, (y) => relError(y, refBsd), TOLERANCE.attention, false);
        const row = record({ peer: 'ort-wasm', level: 'attention', shape, ...stats(r.ms), relError: r.relError });
        if (oursAttention.has(N)) summary.ortWasmOverAarenAttention1024 = row.medianMs / oursAttention.get(N)!;
      });
    }
  }
  await gpuAttention?.release();
  await wasmAttention?.release();

  // ---- model: the AarenModel and its ONNX graph, same weights -----------------------------------------------------
  const config = benchModelConfig();
  const modelRatios: number[] = [];
  const model = await AarenModel.create(device, config);
  const gpuModel = await attempt('ORT WebGPU model session', () => gpuSession(aarenModelGraph(config)));
  try {
    for (const [batch, length] of [[16, 64], [1, 1024]] as const) {
      const shape = `B${batch} N${length}`;
      const x = randomFloats(batch * length * config.dModel, 950 + length);
      const ref = referenceModel(config, x, batch, length);
      let oursMs: number | undefined;
      await attempt(`aaren model ${shape}`, async () => {
        const made = [uploadFloat32(device, x), createStorageBuffer(device, x.byteLength)];
        try {
          const [xb, yb] = made as [GPUBuffer, GPUBuffer];
          const [got, ms] = await runOurs((encoder) => model.encodeForward(encoder, { x: xb, output: yb }, { batch, length }), yb, x.length);
          const err = relError(got, ref);
          oursMs = record({ peer: 'aaren', level: 'model', shape, ...stats(ms), relError: err }).medianMs;
        } finally {
          model.releasePlans();
          for (const b of made) b.destroy();
        }
      });
      if (gpuModel) {
        await attempt(`ORT WebGPU model ${shape}`, async () => {
          const made: GPUBuffer[] = [];
          try {
            const r = await runOrt(gpuModel, { x: gpuInput(x, [batch, length, config.dModel], made) }, (y) => relError(y, ref), TOLERANCE.model, true);
            const row = record({ peer: 'ort-webgpu', level: 'model', shape, ...stats(r.ms), relError: r.relError });
            if (oursMs !== undefined) modelRatios.push(row.medianMs / oursMs);
          } finally {
            for (const b of made) b.destroy();
          }
        });
      }
    }
  } finally {
    model.destroy();
    await gpuModel?.release();
  }
  if (modelRatios.length === 2) summary.ortWebgpuOverAarenModel = Math.min(...modelRatios);

  // ---- matmul: 1024 x 256 x 1024 -------------------------------------------------------------------------------
  {
    const m = 1024, k = 256, n = 1024;
    const shape = `${m}x${k}x${n}`;
    const flop = 2 * m * n * k;
    const a = randomFloats(m * k, 970);
    const w = randomFloats(k * n, 971);
    // float64 reference on a sample of rows (the full product is 268 M multiply-adds in JS).
    const sampleRows = Array.from({ length: 16 }, (_, i) => Math.floor((i * m) / 16) + (i % 7));
    const check = (y: Float32Array) => {
      let diff = 0;
      let big = 1e-12;
      for (const i of sampleRows) {
        for (let j = 0; j < n; j++) {
          let acc = 0;
          for (let l = 0; l < k; l++) acc += a[i * k + l]! * w[l * n + j]!;
          diff = Math.max(diff, Math.abs(y[i * n + j]! - acc));
          big = Math.max(big, Math.abs(acc));
        }
      }
      return diff / big;
    };
    let oursGflops: number | undefined;
    await attempt(`aaren matmul ${shape}`, async () => {
      const op = await MatmulOp.create(device, { m, n, k, bias: false, residual: false, gelu: false });
      const made = [uploadFloat32(device, a), uploadFloat32(device, w), createStorageBuffer(device, m * n * 4)];
      try {
        const [ab, wb, yb] = made as [GPUBuffer, GPUBuffer, GPUBuffer];
        const [got, ms] = await runOurs((encoder) => {
          const pass = encoder.beginComputePass({ label: 'peers matmul' });
          op.encode(pass, { a: ab, weight: wb, result: yb });
          pass.end();
        }, yb, m * n);
        const err = check(got);
        if (!(err <= TOLERANCE.matmul)) throw new Error(`relative error ${err.toExponential(2)} vs float64`);
        const st = stats(ms);
        oursGflops = flop / (st.medianMs * 1e6);
        record({ peer: 'aaren', level: 'matmul', shape, ...st, relError: err, gflops: oursGflops });
      } finally {
        op.destroy();
        for (const b of made) b.destroy();
      }
    });
    const session = await attempt('ORT WebGPU matmul session', () => gpuSession(matmulGraph(m, k, n, w)));
    if (session) {
      await attempt(`ORT WebGPU matmul ${shape}`, async () => {
        const made: GPUBuffer[] = [];
        try {
          const r = await runOrt(session, { a: gpuInput(a, [m, k], made) }, check, TOLERANCE.matmul, true);
          const err = r.relError;
          const st = stats(r.ms);
          const gflops = flop / (st.medianMs * 1e6);
          record({ peer: 'ort-webgpu', level: 'matmul', shape, ...st, relError: err, gflops });
          if (oursGflops !== undefined) summary.matmulVsOrtWebgpu = oursGflops / gflops;
        } finally {
          for (const b of made) b.destroy();
          await session.release();
        }
      });
    }
  }

  notes.push(
    'Subgroups were hidden from ORT: its WebGPU EP ran on a device of its own made without `subgroups` and ' +
      '`subgroup-size-control` (passed as the EP\'s `device` option; navigator.gpu.requestAdapter was also wrapped to leave ' +
      'them out of adapter.features), because its subgroup attention assumes a subgroup size that SwiftShader (4) does not ' +
      'have: with `subgroup-size-control` left in (with or without `subgroups`) its MultiHeadAttention was wrong here ' +
      '(relative error 0.04 to 0.26 against the float64 reference).',
    'Every peer output was checked against the float64 reference (src/reference) before it was timed; a peer that ' +
      'failed the check is listed under errors and not timed.',
    'Attention: ORT runs com.microsoft MultiHeadAttention (unidirectional=1, the learned query broadcast to every ' +
      'position) on keys and values; aaren-webgpu runs its prefix scan on the scores q.k_i (scale included) and values.',
  );
  return {
    report: {
      ortVersion, webgpuBundle: 'onnxruntime-web/webgpu (dist/ort.webgpu.min.mjs, native WebGPU EP, asyncify wasm)',
      wasmBundle: 'onnxruntime-web/wasm (dist/ort.wasm.min.mjs, 1 thread)', subgroupsHidden: true,
      ortDeviceFeatures: [...gpuDevice.features].sort(),
      timing: 'wall clock, call to queue completion (both sides), median',
      rows, notes, errors, seconds: (performance.now() - started) / 1000,
    },
    summary,
  };
}
