// Correctness cases for the causal depthwise convolution (src/ops/conv.ts), forward (with and without a history,
// with the next history) and backward (dx, dc, overwritten and accumulated), each vs the float64 reference
// (src/reference/conv.ts, itself checked against finite differences in test/conv.test.ts), plus block-wise
// forwards that carry the history, which must give the bits of one pass. Runnable on any WebGPU device (Node/Dawn
// through test/conv.test.ts, headless Chrome through the harness): no Node-only APIs here.
//
// Bounds per element (u = 2^-24, gamma_n ~ n u, Higham 3.1, with a factor 2 margin as cases/dense.ts):
//   y, dx:   each output is 4 products and 4 additions, so |err| <= gamma_5 M with M = |x_t| + sum_j |c_j x_{t-j}|
//            (dx: |dy_t| + sum_j |c_j dy_{t+j}|): bound 2 * 5 u M (+ 2 u (|result| + |old|) when accumulating);
//   history: a copy, exact;
//   dc:      partial sums of chunkRows products, then the chunks in order: |err| <= gamma_{chunkRows + chunks}
//            sum_{b,t} |dy x_{t-j}|: bound 2 (chunkRows + chunks + 2) u sum|terms| (+ 2 u (|dc| + |old|) accumulating).
import { caseAttempt, type CaseResult } from './scan.js';
import { checkBounded, runOnce, u } from './dense.js';
import { mulberry32 } from './random.js';
import { ConvBackwardOp, ConvOp, CONV_HISTORY_ROWS, CONV_TAPS, convChunkRows, type ConvShape } from '../src/ops/conv.js';
import { referenceConvBackward, referenceConvForward, referenceConvNextHistory } from '../src/reference/conv.js';

type Check = Omit<CaseResult, 'kernel' | 'shape'>;
type Bounded = ReturnType<typeof checkBounded>;

function uniform(seed: number): (n: number, scale?: number) => Float32Array {
  const random = mulberry32(seed);
  return (n, scale = 1) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
}

/** Worse of several checks (the first failing one, else the largest error / bound). */
function worst(checks: Bounded[]): Bounded {
  const failed = checks.find((c) => !c.pass);
  if (failed) return failed;
  return checks.reduce((a, b) => (a.maxAbsError / Math.max(a.tolerance, 1e-30) >= b.maxAbsError / Math.max(b.tolerance, 1e-30) ? a : b));
}

/** x at (b, t, d), t >= -3, from x or the history (0 without). */
function inputAt(s: ConvShape, x: Float32Array, history: Float32Array | undefined, b: number, t: number, d: number): number {
  if (t >= 0) return x[(b * s.length + t) * s.dModel + d]!;
  return history ? history[(b * CONV_HISTORY_ROWS + CONV_HISTORY_ROWS + t) * s.dModel + d]! : 0;
}

export interface ConvData {
  x: Float32Array;
  weight: Float32Array;
  history?: Float32Array;
}

export function convData(s: ConvShape, withHistory: boolean, seed: number): ConvData {
  const rand = uniform(seed);
  const x = rand(s.batch * s.length * s.dModel, 2);
  const weight = rand(s.dModel * CONV_TAPS);
  return withHistory ? { x, weight, history: rand(s.batch * CONV_HISTORY_ROWS * s.dModel, 2) } : { x, weight };
}

/** Runs the forward op once and reads result and next history. */
export async function runConvForward(device: GPUDevice, s: ConvShape, data: ConvData): Promise<{ result: Float32Array; nextHistory: Float32Array; ms: number }> {
  const op = await ConvOp.create(device, s);
  try {
    const rows = s.batch * s.length * s.dModel;
    const inputs: Record<string, Float32Array> = { x: data.x, weight: data.weight };
    if (data.history) inputs.history = data.history;
    const { out, ms } = await runOnce(device, inputs, { result: rows, nextHistory: s.batch * CONV_HISTORY_ROWS * s.dModel }, (pass, b) => op.encode(pass, {
      x: b.x!, weight: b.weight!, result: b.result!, history: b.history, nextHistory: b.nextHistory!,
    }));
    return { result: out.result!, nextHistory: out.nextHistory!, ms };
  } finally {
    op.destroy();
  }
}

export async function checkConvForward(device: GPUDevice, s: ConvShape, withHistory: boolean, seed: number): Promise<Check> {
  const data = convData(s, withHistory, seed);
  const ref = referenceConvForward(s, data.x, data.weight, data.history);
  const bound = new Float64Array(ref.length);
  for (let b = 0; b < s.batch; b++) {
    for (let t = 0; t < s.length; t++) {
      for (let d = 0; d < s.dModel; d++) {
        let mag = Math.abs(inputAt(s, data.x, data.history, b, t, d));
        for (let j = 0; j < CONV_TAPS; j++) mag += Math.abs(data.weight[d * CONV_TAPS + j]! * inputAt(s, data.x, data.history, b, t - j, d));
        bound[(b * s.length + t) * s.dModel + d] = 2 * 5 * u * mag + 1e-30;
      }
    }
  }
  const refHistory = referenceConvNextHistory(s, data.x, data.history);
  const { result, nextHistory, ms } = await runConvForward(device, s, data);
  return { ...worst([checkBounded(result, ref, bound), checkBounded(nextHistory, refHistory, new Float64Array(refHistory.length).fill(1e-30))]), ms };
}

export async function checkConvBackward(device: GPUDevice, s: ConvShape, withHistory: boolean, accumulate: boolean, seed: number): Promise<Check> {
  const data = convData(s, withHistory, seed);
  const rand = uniform(seed + 1);
  const rows = s.batch * s.length * s.dModel;
  const dy = rand(rows);
  const old = { dx: rand(rows), dc: rand(s.dModel * CONV_TAPS) };
  const ref = referenceConvBackward(s, data.x, data.weight, dy, data.history);
  const dx = new Float64Array(rows);
  const dxBound = new Float64Array(rows);
  for (let e = 0; e < rows; e++) {
    const t = Math.floor(e / s.dModel) % s.length;
    const d = e % s.dModel;
    let mag = Math.abs(dy[e]!);
    for (let j = 0; j < CONV_TAPS && t + j < s.length; j++) mag += Math.abs(data.weight[d * CONV_TAPS + j]! * dy[e + j * s.dModel]!);
    dx[e] = ref.gradInput[e]! + (accumulate ? old.dx[e]! : 0);
    dxBound[e] = 2 * 5 * u * mag + (accumulate ? 2 * u * (Math.abs(dx[e]!) + Math.abs(old.dx[e]!)) : 0) + 1e-30;
  }
  const chunkRows = convChunkRows(s, { limits: device.limits, cpu: false });
  const chunks = Math.ceil((s.batch * s.length) / chunkRows);
  const dc = new Float64Array(s.dModel * CONV_TAPS);
  const dcBound = new Float64Array(dc.length);
  for (let d = 0; d < s.dModel; d++) {
    for (let j = 0; j < CONV_TAPS; j++) {
      let mag = 0;
      for (let b = 0; b < s.batch; b++) {
        for (let t = 0; t < s.length; t++) mag += Math.abs(dy[(b * s.length + t) * s.dModel + d]! * inputAt(s, data.x, data.history, b, t - j, d));
      }
      const i = d * CONV_TAPS + j;
      dc[i] = ref.gradWeight[i]! + (accumulate ? old.dc[i]! : 0);
      dcBound[i] = 2 * (chunkRows + chunks + 2) * u * mag + (accumulate ? 2 * u * (Math.abs(dc[i]!) + Math.abs(old.dc[i]!)) : 0) + 1e-30;
    }
  }
  const op = await ConvBackwardOp.create(device, s, { accumulateInput: accumulate, accumulateWeight: accumulate });
  try {
    const inputs: Record<string, Float32Array> = {
      grad: dy, x: data.x, weight: data.weight,
      gradInput: accumulate ? old.dx : new Float32Array(rows), gradWeight: accumulate ? old.dc : new Float32Array(dc.length),
    };
    if (data.history) inputs.history = data.history;
    const { out, ms } = await runOnce(device, inputs, { gradInput: rows, gradWeight: dc.length }, (pass, b) => op.encode(pass, {
      grad: b.grad!, x: b.x!, weight: b.weight!, history: b.history, gradInput: b.gradInput!, gradWeight: b.gradWeight!,
    }));
    return { ...worst([checkBounded(out.gradInput!, dx, dxBound), checkBounded(out.gradWeight!, dc, dcBound)]), ms };
  } finally {
    op.destroy();
  }
}

/** Rows [from, to) of every sequence of x [batch, length, dModel]. */
function slice(s: ConvShape, x: Float32Array, from: number, to: number): Float32Array {
  const out = new Float32Array(s.batch * (to - from) * s.dModel);
  for (let b = 0; b < s.batch; b++) out.set(x.subarray((b * s.length + from) * s.dModel, (b * s.length + to) * s.dModel), b * (to - from) * s.dModel);
  return out;
}

/**
 * One pass over [0, length) vs blocks of the given sizes, each started from the previous block's next history: the
 * outputs and the final history must have the same bits (maxAbsError counts differing bits as |difference|, and
 * any difference fails: tolerance 0).
 */
export async function checkConvBlocks(device: GPUDevice, s: ConvShape, blocks: readonly number[], withHistory: boolean, seed: number): Promise<Check> {
  if (blocks.reduce((a, b) => a + b, 0) !== s.length) throw new Error(`blocks ${blocks.join('+')} do not sum to length ${s.length}`);
  const data = convData(s, withHistory, seed);
  const t0 = performance.now();
  const whole = await runConvForward(device, s, data);
  const pieces = new Float32Array(whole.result.length);
  let history = data.history;
  let from = 0;
  for (const n of blocks) {
    const bs = { ...s, length: n };
    const block = await runConvForward(device, bs, { x: slice(s, data.x, from, from + n), weight: data.weight, history });
    for (let b = 0; b < s.batch; b++) pieces.set(block.result.subarray(b * n * s.dModel, (b + 1) * n * s.dModel), (b * s.length + from) * s.dModel);
    history = block.nextHistory;
    from += n;
  }
  let maxAbsError = 0;
  let same = true;
  const compare = (a: Float32Array, b: Float32Array) => {
    const ab = new Uint32Array(a.buffer, a.byteOffset, a.length);
    const bb = new Uint32Array(b.buffer, b.byteOffset, b.length);
    for (let i = 0; i < a.length; i++) {
      if (ab[i] !== bb[i]) {
        same = false;
        maxAbsError = Math.max(maxAbsError, Math.abs(a[i]! - b[i]!) || Infinity);
      }
    }
  };
  compare(pieces, whole.result);
  compare(history!, whole.nextHistory);
  let maxRef = 0;
  for (const v of whole.result) maxRef = Math.max(maxRef, Math.abs(v));
  return { maxAbsError, maxRelError: maxAbsError / Math.max(maxRef, 1e-30), tolerance: 0, ms: performance.now() - t0, pass: same };
}

/** The shapes the brief names: dModel not a multiple of 4 (6, 36) and 64; lengths 1, 2, 3, 5, 64; batch 1 and 3. */
export const CONV_DMODELS = [6, 36, 64] as const;
export const CONV_LENGTHS = [1, 2, 3, 5, 64] as const;
export const CONV_BATCHES = [1, 3] as const;

export interface ConvCaseOptions {
  quick?: boolean;
}

/** Forward and backward at every shape, with and without a history (quick: one dModel and fewer lengths), the
 * backward accumulating on alternate shapes, dc over many chunks, and block-wise forwards vs one pass. */
export async function runConvCases(device: GPUDevice, options: ConvCaseOptions = {}, onResult?: (r: CaseResult) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const attempt = caseAttempt(results, onResult);
  const dModels = options.quick ? [36] : CONV_DMODELS;
  const lengths = options.quick ? [1, 3, 64] : CONV_LENGTHS;
  let seed = 500;
  let index = 0;
  for (const dModel of dModels) {
    for (const length of lengths) {
      for (const batch of CONV_BATCHES) {
        for (const withHistory of [false, true]) {
          const s = { batch, length, dModel };
          const name = `b=${batch} n=${length} d=${dModel}${withHistory ? ' history' : ''}`;
          seed += 2;
          const accumulate = Math.floor(index++ / 2) % 2 === 1; // each history setting with and without
          await attempt('conv-forward', name, () => checkConvForward(device, s, withHistory, seed));
          await attempt('conv-backward', `${name}${accumulate ? ' accumulate' : ''}`, () => checkConvBackward(device, s, withHistory, accumulate, seed + 1));
        }
      }
    }
  }
  // Sequences of several runs of CONV_RUN_ROWS steps (forward, dx) and dc over many chunks of 64 rows (the two-pass sum).
  await attempt('conv-forward', 'b=3 n=700 d=5 history', () => checkConvForward(device, { batch: 3, length: 700, dModel: 5 }, true, 40));
  await attempt('conv-backward', 'b=3 n=700 d=5 history accumulate', () => checkConvBackward(device, { batch: 3, length: 700, dModel: 5 }, true, true, 41));
  const blockCases: [number, number, number[], boolean][] = [
    [3, 36, [1, 63], false], [3, 36, [37, 27], true], [3, 6, [2, 1, 1, 3, 5, 52], true], [1, 64, Array<number>(64).fill(1), true], [2, 6, [70, 1, 129], true],
  ];
  for (const [batch, dModel, blocks, withHistory] of options.quick ? blockCases.slice(2, 3) : blockCases) {
    const length = blocks.reduce((a, b) => a + b, 0);
    const s = { batch, length, dModel };
    await attempt('conv-blocks', `b=${batch} n=${length} d=${dModel} as ${blocks.length > 8 ? `${blocks.length} x 1` : blocks.join('+')}${withHistory ? ' history' : ''}`,
      () => checkConvBlocks(device, s, blocks, withHistory, 900 + dModel));
  }
  return results;
}
