// Correctness cases for the dense kernels (src/ops/matmul.ts, layer-norm.ts, elementwise.ts), forward and backward,
// runnable on any WebGPU device (Node/Dawn through test/dense.test.ts, headless Chrome through the harness): no
// Node-only APIs here. Every GPU result is compared element by element with a float64 reference against a bound
// derived from the f32 arithmetic of the kernel (see `u` below), not one relative tolerance for all.
import { caseAttempt, type CaseResult } from './scan.js';
import { MatmulOp, type MatmulSpec } from '../src/ops/matmul.js';
import { LayerNormBackwardOp, LayerNormOp } from '../src/ops/layer-norm.js';
import { ColumnSumOp, GeluBackwardOp } from '../src/ops/elementwise.js';
import { geluReference, layerNormReference } from '../src/reference/layer.js';
import { geluDerivative, layerNormBackward } from '../src/reference/layer-backward.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../src/core/buffers.js';
import { mulberry32 } from './random.js';

/** Unit roundoff of f32. A sum of n products accumulated one at a time in f32 (with or without FMA) is within
 * gamma_n * sum |terms| ~ n * u * sum |terms| of the exact sum (Higham, Accuracy and Stability, 3.1); the bounds
 * below are that with a factor 2 margin and a few extra roundings for the epilogue. */
export const u = 2 ** -24;
/** GELU's erf approximation (Abramowitz-Stegun 7.1.26, |error| < 1.5e-7): |error of GELU(x)| <= 0.5 |x| 1.5e-7,
 * and of GELU'(x) <= 1.5e-7 / 2 + its own roundings; 2e-7 (1 + |x|) covers both. */
const GELU_APPROX = 2e-7;
/** max |GELU'(x)| (at x ~ 1.4). */
const GELU_SLOPE = 1.13;

function uniform(seed: number): (n: number, scale?: number) => Float32Array {
  const random = mulberry32(seed);
  return (n, scale = 1) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
}

/** The element with the largest error / bound decides: pass when every |gpu - ref| <= bound. */
export function checkBounded(gpu: ArrayLike<number>, ref: ArrayLike<number>, bound: ArrayLike<number>): Omit<CaseResult, 'kernel' | 'shape' | 'ms'> {
  let worst = -1;
  let ratio = 0;
  let maxRef = 0;
  let finite = gpu.length === ref.length;
  for (let i = 0; i < ref.length; i++) {
    if (!Number.isFinite(gpu[i]!)) finite = false;
    maxRef = Math.max(maxRef, Math.abs(ref[i]!));
    const r = Math.abs(gpu[i]! - ref[i]!) / bound[i]!;
    if (!(r <= ratio)) {
      ratio = r;
      worst = i;
    }
  }
  const maxAbsError = worst < 0 ? 0 : Math.abs(gpu[worst]! - ref[worst]!);
  return { maxAbsError, maxRelError: maxAbsError / Math.max(maxRef, 1e-30), tolerance: worst < 0 ? 0 : bound[worst]!, pass: finite && ratio <= 1 };
}

/** Worse of two checks. */
function both(a: ReturnType<typeof checkBounded>, b: ReturnType<typeof checkBounded>): ReturnType<typeof checkBounded> {
  if (!a.pass || !b.pass) return !a.pass ? a : b;
  return a.maxAbsError / Math.max(a.tolerance, 1e-30) >= b.maxAbsError / Math.max(b.tolerance, 1e-30) ? a : b;
}


/** Runs `record` in one pass over freshly uploaded inputs and reads back the named outputs. */
export async function runOnce(
  device: GPUDevice, inputs: Record<string, Float32Array>, outputs: Record<string, number>,
  record: (pass: GPUComputePassEncoder, buffers: Record<string, GPUBuffer>) => void,
): Promise<{ out: Record<string, Float32Array>; ms: number }> {
  const made: GPUBuffer[] = [];
  try {
    const buffers: Record<string, GPUBuffer> = {};
    for (const [name, data] of Object.entries(inputs)) made.push((buffers[name] = uploadFloat32(device, data)));
    for (const [name, floats] of Object.entries(outputs)) if (!buffers[name]) made.push((buffers[name] = createStorageBuffer(device, floats * 4)));
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    record(pass, buffers);
    pass.end();
    const t0 = performance.now();
    const names = Object.keys(outputs);
    const read = await submitAndRead(device, encoder, names.map((n) => ({ buffer: buffers[n]!, floats: outputs[n]! })));
    return { out: Object.fromEntries(names.map((n, i) => [n, read[i]!])), ms: performance.now() - t0 };
  } finally {
    for (const b of made) b.destroy();
  }
}

export type MatmulLayout = 'NN' | 'NT' | 'TN';

/** The products a layer's forward and backward run, with the epilogue each uses in training:
 * NN (x @ W): bias, GELU, residual, saved pre-activation; NT (dY @ W^T): fused GELU backward, accumulated into an
 * existing gradient; TN (X^T @ dY): accumulated into an existing weight gradient. */
export function denseMatmulSpec(layout: MatmulLayout, m: number, n: number, k: number): MatmulSpec {
  if (layout === 'NN') return { m, n, k, bias: true, residual: true, gelu: true, savePreActivation: true };
  if (layout === 'NT') return { m, n, k, bias: false, residual: false, gelu: false, transposeB: true, geluBackward: true, accumulate: true };
  return { m, n, k, bias: false, residual: false, gelu: false, transposeA: true, accumulate: true };
}

/** One product vs float64 with per-element bounds. Returns the GPU result too (determinism checks). */
export async function checkMatmul(device: GPUDevice, spec: MatmulSpec, cpu: boolean, seed: number, limits?: GPUSupportedLimits): Promise<Omit<CaseResult, 'kernel' | 'shape'> & { result: Float32Array }> {
  const { m, n, k } = spec;
  const rand = uniform(seed);
  const a = rand(m * k, 2); // stored [k, m] when transposeA
  const w = rand(k * n); // stored [n, k] when transposeB
  const bias = rand(n);
  const residual = rand(m * n);
  const old = rand(m * n);
  const pre = rand(m * n, 3);
  const at = (i: number, l: number) => (spec.transposeA ? a[l * m + i]! : a[i * k + l]!);
  const wt = (l: number, j: number) => (spec.transposeB ? w[j * k + l]! : w[l * n + j]!);
  const ref = new Float64Array(m * n);
  const refPre = new Float64Array(m * n);
  const bound = new Float64Array(m * n);
  const boundPre = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      let mag = 0;
      for (let l = 0; l < k; l++) {
        acc += at(i, l) * wt(l, j);
        mag += Math.abs(at(i, l) * wt(l, j));
      }
      const e = i * n + j;
      if (spec.bias) {
        acc += bias[j]!;
        mag += Math.abs(bias[j]!);
      }
      refPre[e] = acc;
      boundPre[e] = 2 * (k + 2) * u * mag + 1e-30;
      let y = acc;
      let err = 2 * (k + 4) * u * mag;
      if (spec.gelu) {
        y = geluReference(acc);
        err = err * GELU_SLOPE + GELU_APPROX * (1 + Math.abs(acc)) + 2 * u * Math.abs(y);
      } else if (spec.geluBackward) {
        const d = geluDerivative(pre[e]!);
        y = acc * d;
        err = err * Math.abs(d) + GELU_APPROX * (1 + Math.abs(pre[e]!)) * Math.abs(acc) + 2 * u * Math.abs(y);
      }
      if (spec.residual) y += residual[e]!;
      if (spec.accumulate) y += old[e]!;
      ref[e] = y;
      bound[e] = err + 4 * u * (Math.abs(y) + (spec.residual ? Math.abs(residual[e]!) : 0) + (spec.accumulate ? Math.abs(old[e]!) : 0)) + 1e-30;
    }
  }
  const op = await MatmulOp.create(device, spec, cpu, limits);
  try {
    const usesPre = spec.savePreActivation || spec.geluBackward;
    const inputs: Record<string, Float32Array> = { a, weight: w, result: spec.accumulate ? old : new Float32Array(m * n) };
    if (spec.bias) inputs.bias = bias;
    if (spec.residual) inputs.residual = residual;
    if (spec.geluBackward) inputs.preActivation = pre;
    const outputs: Record<string, number> = { result: m * n };
    if (spec.savePreActivation) outputs.preActivation = m * n;
    const { out, ms } = await runOnce(device, inputs, outputs, (pass, b) => op.encode(pass, {
      a: b.a!, weight: b.weight!, result: b.result!, bias: b.bias, residual: b.residual, preActivation: usesPre ? b.preActivation : undefined,
    }));
    let check = checkBounded(out.result!, ref, bound);
    if (spec.savePreActivation) check = both(check, checkBounded(out.preActivation!, refPre, boundPre));
    return { ...check, ms, result: out.result! };
  } finally {
    op.destroy();
  }
}

/** m x k x n: edges (m = 1, n = 1, k = 0, k not a multiple of 4, sizes past one register block / tile) and
 * aligned shapes (vec4 tiles in every layout). m <= 4 runs the matvec kernel. */
export const DENSE_MATMUL_SHAPES: readonly (readonly [number, number, number])[] = [
  [1, 1, 1], [3, 7, 5], [4, 16, 8], [5, 9, 3], [6, 0, 5], [9, 13, 1], [37, 70, 19], [33, 12, 20], [64, 32, 48], [70, 36, 36],
];

export interface DenseCaseOptions {
  /** Kernel families to run: true = the CPU-adapter kernels, false = the GPU kernels. Default both. */
  families?: boolean[];
}

/** Every dense kernel variant vs float64: matmul NN/NT/TN (+ head-major) on both kernel families, LayerNorm forward
 * (both families, with saved stats) and backward, GELU backward, column sums. */
export async function runDenseCases(device: GPUDevice, options: DenseCaseOptions = {}, onResult?: (r: CaseResult) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  const attempt = caseAttempt(results, onResult);
  const families = options.families ?? [true, false];
  for (const cpu of families) {
    const family = cpu ? 'cpu' : 'gpu';
    for (const [index, [m, k, n]] of DENSE_MATMUL_SHAPES.entries()) {
      for (const layout of ['NN', 'NT', 'TN'] as const) {
        await attempt(`matmul-${layout}-${family}`, `m=${m} k=${k} n=${n}`, async () => {
          const { result: _, ...r } = await checkMatmul(device, denseMatmulSpec(layout, m, n, k), cpu, 1000 + index * 3 + layout.length);
          return r;
        });
      }
    }
    // Head-major left operand (the scan's output layout): batch 2, length 9, heads 3 of 4 -> m = 18, k = 12.
    await attempt(`matmul-heads-${family}`, 'b=2 n=9 heads=3 d=4 -> n=10', async () => {
      const { result: _, ...r } = await checkHeadMajor(device, cpu);
      return r;
    });
    for (const [rows, width] of [[1, 1], [3, 5], [2, 4], [70, 131], [130, 64], [9, 260]] as const) {
      await attempt(`layer-norm-${family}`, `rows=${rows} width=${width} saveStats`, () => checkLayerNorm(device, rows, width, cpu));
    }
  }
  for (const [rows, width, accumulate] of [[1, 1, false], [3, 5, true], [2, 4, false], [70, 131, false], [200, 64, true], [9, 260, true]] as const) {
    await attempt('layer-norm-backward', `rows=${rows} width=${width}${accumulate ? ' accumulate' : ''}`, () => checkLayerNormBackward(device, rows, width, accumulate));
  }
  for (const [count, accumulate] of [[1, false], [1000, true]] as const) {
    await attempt('gelu-backward', `count=${count}${accumulate ? ' accumulate' : ''}`, () => checkGeluBackward(device, count, accumulate));
  }
  for (const [rows, cols, accumulate] of [[1, 3, false], [63, 5, true], [200, 70, false], [1000, 9, true], [1, 4, true], [200, 68, true], [1000, 260, false]] as const) {
    await attempt('column-sum', `rows=${rows} cols=${cols}${accumulate ? ' accumulate' : ''}`, () => checkColumnSum(device, rows, cols, accumulate));
  }
  return results;
}

async function checkHeadMajor(device: GPUDevice, cpu: boolean): Promise<Omit<CaseResult, 'kernel' | 'shape'> & { result: Float32Array }> {
  const batch = 2, length = 9, heads = 3, headDim = 4, n = 10;
  const m = batch * length, k = heads * headDim;
  const rand = uniform(77);
  const o = rand(batch * heads * length * headDim); // [batch, heads, length, headDim]
  const w = rand(k * n);
  const ref = new Float64Array(m * n);
  const bound = new Float64Array(m * n);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < length; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0, mag = 0;
        for (let h = 0; h < heads; h++) {
          for (let c = 0; c < headDim; c++) {
            const p = o[((b * heads + h) * length + i) * headDim + c]! * w[(h * headDim + c) * n + j]!;
            acc += p;
            mag += Math.abs(p);
          }
        }
        ref[(b * length + i) * n + j] = acc;
        bound[(b * length + i) * n + j] = 2 * (k + 4) * u * mag + 1e-30;
      }
    }
  }
  const op = await MatmulOp.create(device, { m, n, k, bias: false, residual: false, gelu: false, headMajor: { length, heads, headDim } }, cpu);
  try {
    const { out, ms } = await runOnce(device, { a: o, weight: w }, { result: m * n }, (pass, b) => op.encode(pass, { a: b.a!, weight: b.weight!, result: b.result! }));
    return { ...checkBounded(out.result!, ref, bound), ms, result: out.result! };
  } finally {
    op.destroy();
  }
}

async function checkLayerNorm(device: GPUDevice, rows: number, width: number, cpu: boolean): Promise<Omit<CaseResult, 'kernel' | 'shape'>> {
  const rand = uniform(rows * 7 + width);
  const x = rand(rows * width, 2).map((v) => v + 3); // offset mean: tests the centring
  const gamma = rand(width);
  const beta = rand(width);
  const ref = layerNormReference(x, rows, width, gamma, beta, 1e-5);
  const stats = layerNormBackward(x, new Float64Array(rows * width), rows, width, gamma, 1e-5);
  // Sums of `width` terms in f32 for the mean and variance (relative error <= 2 (width + 4) u each, the rstd half
  // of the variance's), then (x - mean) loses u |x| / |x - mean| of its relative precision.
  const bound = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < width; j++) {
      const e = r * width + j;
      const xhat = (x[e]! - stats.mean[r]!) * stats.rstd[r]!;
      bound[e] = 4 * (width + 4) * u * (Math.abs(xhat * gamma[j]!) + Math.abs(beta[j]!)) + 4 * u * Math.abs(x[e]!) * stats.rstd[r]! * Math.abs(gamma[j]!) + 1e-30;
    }
  }
  const statsRef = new Float64Array(2 * rows);
  const statsBound = new Float64Array(2 * rows);
  for (let r = 0; r < rows; r++) {
    statsRef[r] = stats.mean[r]!;
    statsRef[rows + r] = stats.rstd[r]!;
    statsBound[r] = 2 * (width + 2) * u * 5 + 1e-30; // |x| <= 5
    statsBound[rows + r] = 4 * (width + 4) * u * stats.rstd[r]! * (1 + 5 * stats.rstd[r]!);
  }
  const op = await LayerNormOp.create(device, rows, width, 1e-5, { saveStats: true, cpu });
  try {
    const { out, ms } = await runOnce(device, { x, gamma, beta }, { result: rows * width, stats: 2 * rows }, (pass, b) => op.encode(pass, {
      x: b.x!, gamma: b.gamma!, beta: b.beta!, result: b.result!, stats: b.stats!,
    }));
    return { ...both(checkBounded(out.result!, ref, bound), checkBounded(out.stats!, statsRef, statsBound)), ms };
  } finally {
    op.destroy();
  }
}

async function checkLayerNormBackward(device: GPUDevice, rows: number, width: number, accumulate: boolean): Promise<Omit<CaseResult, 'kernel' | 'shape'>> {
  const rand = uniform(rows * 13 + width);
  const x = rand(rows * width, 2).map((v) => v + 1);
  const gamma = rand(width);
  const dy = rand(rows * width);
  const old = { dx: rand(rows * width), dg: rand(width), db: rand(width) };
  const ref = layerNormBackward(x, dy, rows, width, gamma, 1e-5);
  const stats = new Float32Array(2 * rows);
  stats.set(ref.mean, 0);
  stats.set(ref.rstd, rows);
  // dX: every term of rstd (g - mean(g) - xhat mean(g xhat)) is at most S = rstd max|g| (1 + max|xhat|)^2, each
  // formed with at most width + 8 roundings (the row sums), and xhat carries u |x| rstd from (x - mean).
  const dx = new Float64Array(rows * width);
  const dxBound = new Float64Array(rows * width);
  for (let r = 0; r < rows; r++) {
    let maxG = 0, maxXhat = 0, maxX = 0;
    for (let j = 0; j < width; j++) {
      maxG = Math.max(maxG, Math.abs(dy[r * width + j]! * gamma[j]!));
      maxXhat = Math.max(maxXhat, Math.abs((x[r * width + j]! - ref.mean[r]!) * ref.rstd[r]!));
      maxX = Math.max(maxX, Math.abs(x[r * width + j]!));
    }
    const s = ref.rstd[r]! * maxG * (1 + maxXhat) ** 2;
    for (let j = 0; j < width; j++) {
      const e = r * width + j;
      dx[e] = ref.gradInput[e]! + (accumulate ? old.dx[e]! : 0);
      dxBound[e] = 4 * (width + 8) * u * s * (1 + maxX * ref.rstd[r]!) + 4 * u * Math.abs(dx[e]!) + 1e-30;
    }
  }
  const dg = new Float64Array(width), db = new Float64Array(width), dgBound = new Float64Array(width), dbBound = new Float64Array(width);
  for (let j = 0; j < width; j++) {
    let magG = 0, magB = 0;
    for (let r = 0; r < rows; r++) {
      const g = Math.abs(dy[r * width + j]!);
      magG += g * (Math.abs((x[r * width + j]! - ref.mean[r]!) * ref.rstd[r]!) + Math.abs(x[r * width + j]!) * ref.rstd[r]!);
      magB += g;
    }
    dg[j] = ref.gradWeight[j]! + (accumulate ? old.dg[j]! : 0);
    db[j] = ref.gradBias[j]! + (accumulate ? old.db[j]! : 0);
    dgBound[j] = 4 * (rows + 8) * u * magG + 4 * u * Math.abs(dg[j]!) + 1e-30;
    dbBound[j] = 4 * (rows + 8) * u * magB + 4 * u * Math.abs(db[j]!) + 1e-30;
  }
  const op = await LayerNormBackwardOp.create(device, rows, width, { accumulateInput: accumulate, accumulateParams: accumulate });
  try {
    const inputs = {
      grad: dy, x, gamma, stats,
      gradInput: accumulate ? old.dx : new Float32Array(rows * width), gradGamma: accumulate ? old.dg : new Float32Array(width), gradBeta: accumulate ? old.db : new Float32Array(width),
    };
    const { out, ms } = await runOnce(device, inputs, { gradInput: rows * width, gradGamma: width, gradBeta: width }, (pass, b) => op.encode(pass, {
      grad: b.grad!, x: b.x!, gamma: b.gamma!, stats: b.stats!, gradInput: b.gradInput!, gradGamma: b.gradGamma!, gradBeta: b.gradBeta!,
    }));
    return { ...both(both(checkBounded(out.gradInput!, dx, dxBound), checkBounded(out.gradGamma!, dg, dgBound)), checkBounded(out.gradBeta!, db, dbBound)), ms };
  } finally {
    op.destroy();
  }
}

async function checkGeluBackward(device: GPUDevice, count: number, accumulate: boolean): Promise<Omit<CaseResult, 'kernel' | 'shape'>> {
  const rand = uniform(count + 5);
  const grad = rand(count);
  const pre = rand(count, 4);
  const old = rand(count);
  const ref = new Float64Array(count);
  const bound = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    ref[i] = grad[i]! * geluDerivative(pre[i]!) + (accumulate ? old[i]! : 0);
    bound[i] = GELU_APPROX * (1 + Math.abs(pre[i]!)) * Math.abs(grad[i]!) + 8 * u * (Math.abs(ref[i]!) + Math.abs(old[i]!)) + 1e-30;
  }
  const op = await GeluBackwardOp.create(device, count, { accumulate });
  try {
    const { out, ms } = await runOnce(device, { grad, preActivation: pre, result: accumulate ? old : new Float32Array(count) }, { result: count }, (pass, b) => op.encode(pass, {
      grad: b.grad!, preActivation: b.preActivation!, result: b.result!,
    }));
    return { ...checkBounded(out.result!, ref, bound), ms };
  } finally {
    op.destroy();
  }
}

async function checkColumnSum(device: GPUDevice, rows: number, cols: number, accumulate: boolean): Promise<Omit<CaseResult, 'kernel' | 'shape'>> {
  const rand = uniform(rows * 3 + cols);
  const x = rand(rows * cols);
  const old = rand(cols);
  const ref = new Float64Array(cols);
  const bound = new Float64Array(cols);
  for (let j = 0; j < cols; j++) {
    let s = accumulate ? old[j]! : 0, mag = Math.abs(s);
    for (let r = 0; r < rows; r++) {
      s += x[r * cols + j]!;
      mag += Math.abs(x[r * cols + j]!);
    }
    ref[j] = s;
    bound[j] = 2 * (rows + 4) * u * mag + 1e-30;
  }
  const op = await ColumnSumOp.create(device, rows, cols, { accumulate });
  try {
    const { out, ms } = await runOnce(device, { x, result: accumulate ? old : new Float32Array(cols) }, { result: cols }, (pass, b) => op.encode(pass, { x: b.x!, result: b.result! }));
    return { ...checkBounded(out.result!, ref, bound), ms };
  } finally {
    op.destroy();
  }
}
