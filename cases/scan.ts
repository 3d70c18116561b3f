// Correctness cases shared by both runtimes: the Node tests (Dawn) and the headless-Chrome harness run this same
// list, and each case compares a kernel with the float64 CPU reference (src/reference.ts).
//
// Tolerance: max |gpu - ref| <= 1e-4 * max|v|. Every output is a convex combination of values, so max|v| is its
// scale; float32 carries ~6e-8 relative error per operation, and the longest chain of combines (a carry walked
// over 4096 tiles of a 2^20-token sequence) stays below 1e-4 even in the worst case of errors that all align.
import { PrefixScan, kernelConfig, prefixAttention, prefixAttentionLast, type ScanSchedule } from '../src/ops/attention/scan.js';
import { kernelProgram } from '../src/core/kernel.js';
import { createBindGroup } from '../src/core/program.js';
import * as wgsl from '../src/core/shader-sources.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../src/core/buffers.js';
import { combineReference, referenceRecurrence, type ReferenceState } from '../src/reference/scan.js';
import { makeScores, makeValues, mulberry32, normal, type ScorePattern } from './random.js';
import combineTriplesSource from './shaders/combine_triples.wgsl?raw';
import { runLayerCases } from './layer.js';

export interface CaseResult {
  kernel: string;
  shape: string;
  maxAbsError: number;
  /** max |gpu - ref| / max|v|: the error relative to the scale of the outputs. */
  maxRelError: number;
  /** The pass threshold on maxAbsError. */
  tolerance: number;
  /** Wall time of the GPU call, including upload and readback. */
  ms: number;
  pass: boolean;
  error?: string;
}

/** Runs one case into `results` (and `onResult`): its check's figures, or a failed result holding the error it threw. */
export type Attempt = (kernel: string, shape: string, f: () => Promise<Omit<CaseResult, 'kernel' | 'shape'>>) => Promise<void>;

export function caseAttempt(results: CaseResult[], onResult?: (r: CaseResult) => void): Attempt {
  return async (kernel, shape, f) => {
    let r: CaseResult;
    try {
      r = { kernel, shape, ...(await f()) };
    } catch (error) {
      r = { kernel, shape, maxAbsError: NaN, maxRelError: NaN, tolerance: 0, ms: 0, pass: false, error: String((error as Error)?.stack ?? error) };
    }
    results.push(r);
    onResult?.(r);
  };
}

export interface CaseOptions {
  quick?: boolean;
  filter?: string;
}

export const RELATIVE_TOLERANCE = 1e-4;

export interface ScanCase {
  kernel: 'workgroup-scan' | 'cross-workgroup-scan' | 'many-to-many' | 'many-to-one';
  batch: number;
  length: number;
  headDim: number;
  pattern: ScorePattern;
  magnitude: number;
  schedule: 'auto' | ScanSchedule;
  tilesPerChunk?: number;
  quick?: boolean;
}

/** The scan cases; `tile` is the tile size the kernels use for headDim 1..4 on this device. */
export function scanCases(tile: number): ScanCase[] {
  const c = (kernel: ScanCase['kernel'], batch: number, length: number, headDim: number, pattern: ScorePattern, schedule: ScanCase['schedule'], extra: Partial<ScanCase> = {}): ScanCase =>
    ({ kernel, batch, length, headDim, pattern, magnitude: 1, schedule, ...extra });
  return [
    // One tile: the Blelloch scan alone, at the lengths around its size.
    ...[1, 2, tile - 1, tile].map((n) => c('workgroup-scan', 3, n, 4, 'normal1', 'sequential', { quick: n === tile })),
    c('workgroup-scan', 2, tile, 64, 'masked-runs', 'sequential'),
    // Several tiles per sequence, on both schedules; tilesPerChunk 1 makes the parallel scan recurse.
    ...[tile + 1, 1000, 10007].flatMap((n) => [
      c('cross-workgroup-scan', 2, n, 5, 'normal30', 'recurrent'),
      c('cross-workgroup-scan', 2, n, 5, 'normal30', 'sequential', { quick: n === 1000 }),
      c('cross-workgroup-scan', 2, n, 5, 'normal30', 'parallel', { tilesPerChunk: 1, quick: n === 1000 }),
    ]),
    c('cross-workgroup-scan', 1, 1 << 20, 1, 'normal1', 'recurrent', { quick: true }),
    c('cross-workgroup-scan', 1, 1 << 20, 1, 'normal1', 'sequential', { quick: true }),
    c('cross-workgroup-scan', 1, 1 << 20, 1, 'normal1', 'parallel', { quick: true }),
    c('cross-workgroup-scan', 1, 1 << 20, 1, 'masked-runs', 'parallel', { tilesPerChunk: 1 }),
    c('cross-workgroup-scan', 4, 3 * tile + 7, 16, 'rising', 'auto'),
    // Many-to-many over head sizes, batches and score patterns.
    ...[1, 3, 4, 17, 64, 128, 256].map((d) => c('many-to-many', 2, 333, d, 'normal1', 'sequential', { quick: d === 17 || d === 256 })),
    ...[1, 3, 17, 256].map((d) => c('many-to-many', 2, 333, d, 'normal30', 'parallel', { tilesPerChunk: 1 })),
    ...[1, 3, 17, 256].map((d) => c('many-to-many', 2, 333, d, 'normal30', 'recurrent')),
    c('many-to-many', 64, 256, 128, 'normal1', 'auto', { quick: true }),
    c('many-to-many', 64, 256, 128, 'normal1', 'parallel', { tilesPerChunk: 1 }),
    c('many-to-many', 64, 256, 128, 'normal1', 'sequential'),
    ...(['normal30', 'rising', 'falling', 'masked-runs', 'masked-prefix', 'huge'] as const).flatMap((p) => [
      c('many-to-many', 5, 700, 8, p, 'sequential', { magnitude: 1e4, quick: p === 'masked-prefix' || p === 'huge' }),
      c('many-to-many', 5, 700, 8, p, 'parallel', { magnitude: 1e4, tilesPerChunk: 1, quick: p === 'huge' }),
      c('many-to-many', 5, 700, 8, p, 'recurrent', { magnitude: 1e4, quick: p === 'masked-runs' }),
    ]),
    // Many-to-one, and its state continued by a second call.
    ...(['normal1', 'masked-prefix', 'huge'] as const).map((p) => c('many-to-one', 6, 1500, 12, p, 'sequential', { magnitude: 100, quick: p === 'huge' })),
    c('many-to-one', 6, 1500, 12, 'normal30', 'parallel', { magnitude: 100, tilesPerChunk: 1, quick: true }),
    c('many-to-one', 2, 70000, 64, 'falling', 'auto'),
    c('many-to-one', 3, 2000, 40, 'masked-runs', 'recurrent', { magnitude: 100, quick: true }),
  ];
}

export function caseName(sc: ScanCase): string {
  const chunking = sc.tilesPerChunk ? `/${sc.tilesPerChunk} tile per chunk` : '';
  return `b=${sc.batch} n=${sc.length} d=${sc.headDim} scores=${sc.pattern} |v|<=${sc.magnitude} ${sc.schedule}${chunking}`;
}

function maxAbsDifference(gpu: ArrayLike<number>, ref: ArrayLike<number>, pick: (i: number) => number = (i) => i, count = gpu.length): number {
  let worst = 0;
  for (let i = 0; i < count; i++) {
    const d = Math.abs(gpu[i]! - ref[pick(i)]!);
    worst = d > worst || Number.isNaN(d) ? (Number.isNaN(d) ? Infinity : d) : worst;
  }
  return worst;
}

export async function runScanCase(device: GPUDevice, sc: ScanCase, seed: number): Promise<Omit<CaseResult, 'kernel' | 'shape'>> {
  const { batch, length, headDim } = sc;
  const scores = makeScores(sc.pattern, batch, length, seed);
  const values = makeValues(batch * length * headDim, sc.magnitude, seed + 1);
  const input = { scores, values, batch, length, headDim };
  const options = { schedule: sc.schedule, tilesPerChunk: sc.tilesPerChunk };
  const ref = referenceRecurrence(input);
  const tolerance = RELATIVE_TOLERANCE * sc.magnitude;
  const start = performance.now();
  let maxAbsError: number;
  let ms: number;
  if (sc.kernel !== 'many-to-one') {
    const out = await prefixAttention(device, input, options);
    ms = performance.now() - start;
    maxAbsError = maxAbsDifference(out, ref.outputs);
  } else {
    // Split each sequence: the state after the first part, continued over the rest, must give the whole.
    const split = Math.floor(length / 3);
    const part = (from: number, to: number) => ({
      batch, headDim, length: to - from,
      scores: Float32Array.from({ length: batch * (to - from) }, (_, j) => scores[Math.floor(j / (to - from)) * length + from + (j % (to - from))]!),
      values: Float32Array.from({ length: batch * (to - from) * headDim }, (_, j) => {
        const row = Math.floor(j / headDim);
        return values[(Math.floor(row / (to - from)) * length + from + (row % (to - from))) * headDim + (j % headDim)]!;
      }),
    });
    const whole = await prefixAttentionLast(device, input, options);
    ms = performance.now() - start;
    const first = await prefixAttentionLast(device, part(0, split), options);
    const rest = await prefixAttention(device, part(split, length), { ...options, initialState: first.state });
    const lastRow = (b: number) => (b * length + length - 1) * headDim;
    maxAbsError = Math.max(
      maxAbsDifference(whole.output, ref.outputs, (i) => lastRow(Math.floor(i / headDim)) + (i % headDim)),
      maxAbsDifference(rest, ref.outputs, (i) => {
        const row = Math.floor(i / headDim);
        const b = Math.floor(row / (length - split));
        return (b * length + split + (row % (length - split))) * headDim + (i % headDim);
      }),
    );
    // The state itself: m is a maximum (exact), u = sum exp(s - m) and w/u agree with the recurrence.
    for (let b = 0; b < batch; b++) {
      const r = ref.states[b]!;
      const m = whole.state.m[b]!;
      const u = whole.state.u[b]!;
      if (m !== Math.fround(r.m)) maxAbsError = Infinity;
      if (Math.abs(u - r.u) > RELATIVE_TOLERANCE * r.u) maxAbsError = Infinity;
    }
  }
  return { maxAbsError, maxRelError: maxAbsError / sc.magnitude, tolerance, ms, pass: maxAbsError <= tolerance };
}

/**
 * The combine operator on the GPU, on random and extreme triples of states: (a+b)+c and a+(b+c) both match the
 * float64 reference of a+b+c (associativity up to rounding), and a+identity is a, bit for bit.
 */
export async function runCombineCase(device: GPUDevice, seed: number): Promise<Omit<CaseResult, 'kernel' | 'shape'>> {
  const random = mulberry32(seed);
  const special = [-Infinity, -1e4, 1e4, 0, -1e4 - 0.5, 1e4 + 0.5];
  const states: ReferenceState[] = [];
  const triples = 4096;
  for (let i = 0; i < 3 * triples; i++) {
    // The first 216 triples take every combination of the special scores; the rest are random, some special.
    const [t, position] = [Math.floor(i / 3), i % 3];
    const m = t < 216 ? special[Math.floor(t / 6 ** position) % 6]! : random() < 0.1 ? special[Math.floor(random() * 6)]! : 30 * normal(random);
    const u = m === -Infinity ? 0 : 1 + 9 * random();
    // w = u * (a value in [-100, 100]): a state that some run of tokens could have produced.
    const w = Float64Array.from({ length: 4 }, () => (m === -Infinity ? 0 : u * 100 * (2 * random() - 1)));
    states.push({ m: Math.fround(m), u: Math.fround(u), w: Float64Array.from(w, Math.fround) });
  }
  const flat = new Float32Array(states.length * 6);
  states.forEach((s, i) => flat.set([s.m, s.u, ...s.w], i * 6));
  const program = await kernelProgram(device, { parts: [wgsl.lseCombine, { name: 'cases/combine_triples', code: combineTriplesSource }], constants: { LANES: 1 } });
  const input = uploadFloat32(device, flat, 'combine triples');
  const output = createStorageBuffer(device, flat.byteLength, 'combine results');
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(program.pipeline);
  pass.setBindGroup(0, createBindGroup(device, program, { triples: input, results: output }));
  pass.dispatchWorkgroups(Math.ceil(triples / 64));
  pass.end();
  const start = performance.now();
  const [results] = await submitAndRead(device, encoder, [{ buffer: output, floats: flat.length }]);
  const ms = performance.now() - start;
  input.destroy();
  output.destroy();
  let maxAbsError = 0;
  for (let t = 0; t < triples; t++) {
    const [a, b, c] = [states[3 * t]!, states[3 * t + 1]!, states[3 * t + 2]!];
    const ref = combineReference(combineReference(a, b), c);
    const refOut = Array.from(ref.w, (w) => (ref.u > 0 ? w / ref.u : 0));
    for (let k = 0; k < 2; k++) {
      const g = results!.subarray((3 * t + k) * 6, (3 * t + k + 1) * 6);
      const gm = g[1]! > 0 ? g[0]! : -Infinity;
      if (gm !== Math.fround(ref.m) || Math.abs(g[1]! - ref.u) > 1e-6 * ref.u) maxAbsError = Infinity;
      for (let ch = 0; ch < 4; ch++) {
        const o = g[1]! > 0 ? g[2 + ch]! / g[1]! : g[2 + ch]!;
        const d = Math.abs(o - refOut[ch]!);
        maxAbsError = Number.isNaN(d) ? Infinity : Math.max(maxAbsError, d);
      }
    }
    const withIdentity = results!.subarray((3 * t + 2) * 6, (3 * t + 3) * 6);
    const same = a.u === 0 ? withIdentity[1] === 0 && withIdentity.subarray(2).every((x) => x === 0)
      : withIdentity[0] === a.m && withIdentity[1] === a.u && a.w.every((w, ch) => withIdentity[2 + ch] === w);
    if (!same) maxAbsError = Infinity;
  }
  const tolerance = RELATIVE_TOLERANCE * 100;
  return { maxAbsError, maxRelError: maxAbsError / 100, tolerance, ms, pass: maxAbsError <= tolerance };
}

/** Runs every case (or the quick subset) on `device`, reporting each result as it finishes. */
export async function runCases(device: GPUDevice, options: CaseOptions = {}, onResult?: (r: CaseResult) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const report = (r: CaseResult) => {
    results.push(r);
    onResult?.(r);
  };
  const wanted = (kernel: string, shape: string) => !options.filter || `${kernel} ${shape}`.includes(options.filter);
  const run = async (kernel: string, shape: string, body: () => Promise<Omit<CaseResult, 'kernel' | 'shape'>>) => {
    if (!wanted(kernel, shape)) return;
    try {
      report({ kernel, shape, ...(await body()) });
    } catch (error) {
      report({ kernel, shape, maxAbsError: NaN, maxRelError: NaN, tolerance: 0, ms: 0, pass: false, error: String((error as Error)?.stack ?? error) });
    }
  };
  await run('combine', '4096 random and extreme triples', () => runCombineCase(device, 7));
  const tile = kernelConfig(device.limits, 4).tile;
  let seed = 100;
  for (const sc of scanCases(tile)) {
    seed += 2;
    if (options.quick && !sc.quick) continue;
    await run(sc.kernel, caseName(sc), () => runScanCase(device, sc, seed));
  }
  // The Aaren layer and model (test/layer-cases.ts), after the scan they are built on.
  if (!options.filter || options.filter.startsWith('aaren')) {
    await runLayerCases(device, { quick: options.quick }, (r) => {
      if (wanted(r.kernel, r.shape)) report(r);
    });
  }
  return results;
}
