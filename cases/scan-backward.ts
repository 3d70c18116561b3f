// Correctness cases of the backward of the scan (src/ops/attention/backward.ts) against the float64 reference
// (src/reference/scan-backward.ts), shared by the Node tests (test/scan-backward.test.ts) and, through
// runScanBackwardCases, the headless-Chrome harness.
//
// Tolerance: max |gpu - ref| <= 1e-4 * max|ref grad| over dScores, dValues and the initial state's gradient. Every
// gradient is a sum over later positions of terms p_{k,i} g_k (times values) with p <= 1, computed by a chain of f32
// combines whose factors e^{l} are <= 1 (no growth): each term carries ~1e-7 relative error per combine it passes
// and the scan's tree / runs bound the chain at a few hundred combines (recurrent runs of 256, Blelloch tiles, chunk
// levels), so the worst aligned error stays orders below 1e-4 of the largest gradient, the forward's own bound.
// The decay rate's gradient, sum_i i ds_i plus end terms, is judged against its own scale sum_i i |ds_i| + |ends|
// with the same 1e-4: each ds_i is within that relative error, and the f32 sum adds (N / 64 + 7) eps
// (decay_grad.wgsl).
import { backwardInPieces } from '../src/ops/attention/backward.js';
import type { ScanSchedule } from '../src/scan/skeleton.js';
import type { ScanState } from '../src/ops/attention/state.js';
import { referenceScanBackward } from '../src/reference/scan-backward.js';
import { makeScores, makeValues, mulberry32, normal, type ScorePattern } from './random.js';
import type { CaseResult } from './scan.js';

export const BACKWARD_RELATIVE_TOLERANCE = 1e-4;

export type BackwardPattern = ScorePattern | 'e30' | 'masked-all';

export interface ScanBackwardCase {
  batch: number;
  length: number;
  headDim: number;
  pattern: BackwardPattern;
  schedule: ScanSchedule;
  initialState?: boolean;
  gradFinalState?: boolean;
  tilesPerChunk?: number;
  /** Run in pieces within this many bytes per buffer (an artificially small limit: cuts along the length). */
  pieceBytes?: number;
  /** Recency decay: rates cycling through DECAY_RATES, one per sequence. */
  decay?: boolean;
}

/** Half-life ~14 tokens, 1 token, none, a fraction of a token. */
export const DECAY_RATES = [0.05, Math.LN2, 0, 2.5];

export function backwardCaseName(c: ScanBackwardCase): string {
  return `${c.schedule} b${c.batch} n${c.length} d${c.headDim} ${c.pattern}${c.initialState ? ' +init' : ''}${c.gradFinalState ? ' +gradFinal' : ''}${c.tilesPerChunk ? ` tpc${c.tilesPerChunk}` : ''}${c.pieceBytes ? ` pieces<=${c.pieceBytes}B` : ''}${c.decay ? ' +decay' : ''}`;
}

function scoresOf(pattern: BackwardPattern, batch: number, length: number, seed: number): Float32Array {
  if (pattern === 'masked-all') return new Float32Array(batch * length).fill(-Infinity);
  if (pattern === 'e30') {
    // Scores ~1e30 with ties (two levels): e^{s} and m + log u are useless in f32 here; (m, u) are exact.
    const random = mulberry32(seed);
    return Float32Array.from({ length: batch * length }, () => (random() < 0.5 ? 1e30 : random() < 0.5 ? 5e29 : -1e30 * random()));
  }
  return makeScores(pattern, batch, length, seed);
}

function randomState(batch: number, headDim: number, seed: number, scale = 1): ScanState {
  const random = mulberry32(seed);
  return {
    batch, headDim,
    m: Float32Array.from({ length: batch }, () => scale * normal(random)),
    u: Float32Array.from({ length: batch }, () => 0.5 + random()),
    w: Float32Array.from({ length: batch * headDim }, () => normal(random)),
  };
}

export interface BackwardCaseResult extends CaseResult {
  /** Worst error of each gradient relative to max|ref grad|. */
  errors: { gradScores: number; gradValues: number; gradInitialState?: number; gradDecay?: number; output: number };
  /** |sum ds + dm0| / max|ref grad| on the GPU result (only without gradFinalState). */
  invariant?: number;
}

const maxAbs = (x: ArrayLike<number>) => { let m = 0; for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!)); return m; };
const maxDiff = (x: ArrayLike<number>, y: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const d = Math.abs(x[i]! - y[i]!);
    m = Math.max(m, Number.isNaN(d) ? Infinity : d);
  }
  return m;
};

/** The worst |gpu - ref| of the rates' gradients, each relative to its scale sum_i i |ds_i| + |ref - sum_i i ds_i|. */
function decayError(gpu: ArrayLike<number>, ref: ArrayLike<number>, refScores: ArrayLike<number>, length: number): number {
  let worst = 0;
  for (let b = 0; b < ref.length; b++) {
    let weighted = 0;
    let abs = 0;
    for (let i = 0; i < length; i++) {
      weighted += i * refScores[b * length + i]!;
      abs += i * Math.abs(refScores[b * length + i]!);
    }
    const scale = Math.max(abs + Math.abs(ref[b]! - weighted), 1e-30);
    const d = Math.abs(gpu[b]! - ref[b]!);
    worst = Math.max(worst, Number.isNaN(d) ? Infinity : d / scale);
  }
  return worst;
}

export async function runScanBackwardCase(device: GPUDevice, c: ScanBackwardCase, seed: number): Promise<BackwardCaseResult> {
  const { batch, length, headDim } = c;
  const scores = scoresOf(c.pattern, batch, length, seed);
  const values = makeValues(batch * length * headDim, 1, seed + 1);
  const gradOutput = makeValues(batch * length * headDim, 1, seed + 2);
  const initialState = c.initialState ? randomState(batch, headDim, seed + 3, c.pattern === 'e30' ? 1e30 : c.pattern === 'huge' ? 1e4 : 1) : undefined;
  const gradFinalState = c.gradFinalState ? randomState(batch, headDim, seed + 4) : undefined;
  const decay = c.decay ? Float32Array.from({ length: batch }, (_, b) => DECAY_RATES[b % DECAY_RATES.length]!) : undefined;
  const start = performance.now();
  const gpu = await backwardInPieces(device, { scores, values, gradOutput, batch, length, headDim },
    { schedule: c.schedule, initialState, gradFinalState, tilesPerChunk: c.tilesPerChunk, decay },
    c.pieceBytes ? { bytes: c.pieceBytes, name: 'test limit' } : undefined);
  const ms = performance.now() - start;
  const ref = referenceScanBackward({ scores, values, gradOutput, batch, length, headDim }, { initialState, gradFinalState, decay });
  const refInit = ref.gradInitialState ? [...ref.gradInitialState.m, ...ref.gradInitialState.u, ...ref.gradInitialState.w] : [];
  const gpuInit = gpu.gradInitialState ? [...gpu.gradInitialState.m, ...gpu.gradInitialState.u, ...gpu.gradInitialState.w] : [];
  const scale = Math.max(maxAbs(ref.gradScores), maxAbs(ref.gradValues), maxAbs(refInit), 1e-30);
  const errors = {
    gradScores: maxDiff(gpu.gradScores, ref.gradScores) / scale,
    gradValues: maxDiff(gpu.gradValues, ref.gradValues) / scale,
    output: maxDiff(gpu.output, ref.output) / Math.max(maxAbs(values), 1e-30),
    ...(ref.gradInitialState ? { gradInitialState: maxDiff(gpuInit, refInit) / scale } : {}),
    ...(ref.gradDecay ? { gradDecay: decayError(gpu.gradDecay!, ref.gradDecay, ref.gradScores, length) } : {}),
  };
  let invariant: number | undefined;
  if (!c.gradFinalState) {
    let sum = 0;
    for (let b = 0; b < batch; b++) {
      let s = 0;
      for (let i = 0; i < length; i++) s += gpu.gradScores[b * length + i]!;
      s += gpu.gradInitialState ? gpu.gradInitialState.m[b]! : 0;
      sum = Math.max(sum, Math.abs(s));
    }
    invariant = sum / scale;
  }
  const worst = Math.max(errors.gradScores, errors.gradValues, errors.gradInitialState ?? 0, errors.gradDecay ?? 0);
  const tolerance = BACKWARD_RELATIVE_TOLERANCE * scale;
  return {
    kernel: 'scan-backward', shape: backwardCaseName(c), maxAbsError: worst * scale, maxRelError: worst, tolerance, ms,
    pass: worst <= BACKWARD_RELATIVE_TOLERANCE && errors.output <= BACKWARD_RELATIVE_TOLERANCE,
    errors, invariant,
  };
}

/** A few backward cases for the headless-Chrome harness (CaseResult shaped as cases/scan.ts's). */
export async function runScanBackwardCases(device: GPUDevice): Promise<CaseResult[]> {
  const cases: ScanBackwardCase[] = [
    { batch: 2, length: 257, headDim: 4, pattern: 'normal1', schedule: 'recurrent' },
    { batch: 2, length: 257, headDim: 17, pattern: 'masked-prefix', schedule: 'sequential', initialState: true },
    { batch: 2, length: 1000, headDim: 4, pattern: 'huge', schedule: 'parallel', tilesPerChunk: 1, gradFinalState: true },
    { batch: 2, length: 300, headDim: 3, pattern: 'e30', schedule: 'recurrent', initialState: true, gradFinalState: true },
    { batch: 2, length: 1000, headDim: 4, pattern: 'masked-prefix', schedule: 'recurrent', initialState: true, gradFinalState: true, pieceBytes: 8192 },
    { batch: 4, length: 300, headDim: 20, pattern: 'normal1', schedule: 'recurrent', decay: true },
    { batch: 4, length: 300, headDim: 17, pattern: 'masked-runs', schedule: 'sequential', initialState: true, gradFinalState: true, decay: true },
    { batch: 4, length: 1000, headDim: 4, pattern: 'normal30', schedule: 'parallel', tilesPerChunk: 1, initialState: true, gradFinalState: true, decay: true },
  ];
  const results: CaseResult[] = [];
  for (const [i, c] of cases.entries()) {
    try {
      const { errors: _e, invariant: _i, ...r } = await runScanBackwardCase(device, c, 9000 + 31 * i);
      results.push(r);
    } catch (error) {
      results.push({ kernel: 'scan-backward', shape: backwardCaseName(c), maxAbsError: NaN, maxRelError: NaN, tolerance: 0, ms: 0, pass: false, error: String(error) });
    }
  }
  return results;
}
