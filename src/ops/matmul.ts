// Dense products of the Aaren layer and model, forward and backward, recorded into a caller's compute pass:
//   result = [result +] act(op(a) @ op(weight) [+ bias]) [+ residual]
// with op() an optional transpose of either operand (X^T dY for weight gradients, dY W^T for input gradients) and
// act() none, GELU, or the GELU backward (multiply by GELU'(preActivation)). `planMatmul` is the pure planning
// function (spec and device limits in, one dispatch out); MatmulOp compiles it and owns its uniform.
//
// Three kernels, chosen per product and adapter (matmulVariant):
// - matvec (m <= MATVEC_ROWS, every adapter): one invocation per output column, no workgroup memory.
// - blocked (CPU adapters: SwiftShader, llvmpipe, WARP): barrier-free register blocking, each invocation an
//   32 x 16 block of the result in 32 named mat4x4 accumulators from vec4 loads (matmul_blocked.wgsl). On SwiftShader the cost is about
//   (storage loads per multiply-add) / 0.5e9 + 1 / 4.5e9 seconds per multiply-add, and barriers are expensive, so
//   big register blocks win: 1024x256x1024 runs at 4-5 GFLOP/s here against 0.3 for the tiled kernel
//   (16 x 16 blocks: ~4; arrays of accumulators instead of named matrices: 0.2-1.2, SwiftShader spills them).
// - tiled (GPUs): workgroup-memory tiles (matmul.wgsl), where shared memory and barriers are cheap.
// All three sum each element's k products one at a time in increasing k, so every result (the transposed-a weight
// gradient, a reduction over batch x length, included) has the same bits on every run: no atomics anywhere.
import { type Dispatch, PreparedPlan } from '../core/kernel.js';
import type { WgslPart } from '../core/compose.js';
import { isCpuAdapter } from '../core/device.js';
import * as wgsl from '../core/shader-sources.js';
import type { PlanLimits } from './attention/scan.js';

const MM_WORK = 4;
/** Up to this many rows (tokens), a product runs on the barrier-free matvec kernel instead of the tiled one. */
export const MATVEC_ROWS = 4;
const MATVEC_WORKGROUP = 64;
/** The blocked kernel's register block of the result (matmul_blocked.wgsl): rows x columns. */
const BLOCK_ROWS = 32;
const BLOCK_COLS = 16;
/** Invocations per workgroup of the blocked kernel, whatever the shape: SwiftShader runs a workgroup on one core
 * and 4 invocations side by side in SIMD lanes, so 4 fill the lanes and still spread a small product (a 64 x 64
 * weight gradient has 8 blocks) over the cores. */
const BLOCK_WORKGROUP = 4;

/** Side of the square matmul tile: 16, or less when n or k is smaller (idle invocations cost time on CPU adapters). */
export function matmulTile(n: number, k: number): number {
  let tile = 4;
  while (tile < 16 && tile < Math.min(n, k)) tile *= 2;
  return tile;
}

/** Rows of the left operand as written by the fused scan: [batch, heads, length, headDim] (see matmul_load_heads.wgsl). */
export interface HeadMajor {
  length: number;
  heads: number;
  headDim: number;
}

export interface MatmulSpec {
  /** The product is [m, k] @ [k, n] -> [m, n]. */
  m: number;
  n: number;
  k: number;
  bias: boolean;
  residual: boolean;
  /** GELU (exact erf form) after the bias. */
  gelu: boolean;
  /** The left operand is head-major scan output instead of row-major [m, k]. */
  headMajor?: HeadMajor;
  /** `a` is given as [k, m] row-major and the product is a^T @ weight (dW = X^T dY, reducing over the k = batch x
   * length rows of X and dY). */
  transposeA?: boolean;
  /** `weight` is given as [n, k] row-major and the product is a @ weight^T: for a forward `x @ W` with W stored
   * [dIn, dOut], dX = dY W^T is this with the same W buffer, n = dIn, k = dOut. */
  transposeB?: boolean;
  /** result += the product (with its epilogue) instead of result = it: sums the gradients of a weight used at
   * several places, or of an activation read by several branches. Deterministic: each element is read and written
   * by one invocation. */
  accumulate?: boolean;
  /** Also write the value before GELU (after the bias) to `preActivation` [m, n], for the GELU backward. Needs gelu. */
  savePreActivation?: boolean;
  /** The epilogue multiplies by GELU'(preActivation) instead of applying GELU: dPre = (dY W^T) * GELU'(pre) in one
   * pass. Excludes gelu; `preActivation` [m, n] is read. */
  geluBackward?: boolean;
}

export interface MatmulBuffers {
  a: GPUBuffer;
  weight: GPUBuffer;
  bias?: GPUBuffer;
  residual?: GPUBuffer;
  /** Written with savePreActivation, read with geluBackward. */
  preActivation?: GPUBuffer;
  result: GPUBuffer;
}

export type MatmulSlot = keyof MatmulBuffers;

export type MatmulVariant = 'matvec' | 'blocked' | 'tiled';

/** The kernel a product runs on: matvec for m <= MATVEC_ROWS, else blocked on CPU adapters and tiled on GPUs. */
export function matmulVariant(spec: Pick<MatmulSpec, 'm'>, cpu: boolean): MatmulVariant {
  if (spec.m <= MATVEC_ROWS) return 'matvec';
  return cpu ? 'blocked' : 'tiled';
}

function checkSpec(spec: MatmulSpec): void {
  for (const name of ['m', 'n', 'k'] as const) {
    const v = spec[name];
    if (!Number.isInteger(v) || v < 0) throw new RangeError(`matmul spec.${name} must be a non-negative integer, got ${v}`);
  }
  if (spec.headMajor && spec.transposeA) throw new TypeError('matmul spec: headMajor and transposeA exclude each other');
  if (spec.gelu && spec.geluBackward) throw new TypeError('matmul spec: gelu and geluBackward exclude each other');
  if (spec.savePreActivation && !spec.gelu) throw new TypeError('matmul spec.savePreActivation needs gelu');
}

/** The scalar source of a (load_a) and of b (load_b), for the tiled and matvec kernels and unaligned blocks. */
function scalarSources(spec: MatmulSpec): { a: WgslPart; b: WgslPart } {
  return {
    a: spec.headMajor ? wgsl.matmulLoadHeads : spec.transposeA ? wgsl.matmulLoadCols : wgsl.matmulLoadRows,
    b: spec.transposeB ? wgsl.matmulWeightCols : wgsl.matmulWeightRows,
  };
}

/** tile_a and tile_b of the blocked kernel: vec4 loads where the stored rows are a multiple of 4 long, else the
 * scalar sources. */
function tileParts(spec: MatmulSpec): WgslPart[] {
  const scalar = scalarSources(spec);
  const a = spec.headMajor
    ? [scalar.a, wgsl.matmulTileAScalar]
    : spec.transposeA
      ? (spec.m % 4 === 0 ? [wgsl.matmulTileACols] : [scalar.a, wgsl.matmulTileAScalar])
      : (spec.k % 4 === 0 ? [wgsl.matmulTileARows] : [scalar.a, wgsl.matmulTileAScalar]);
  const b = spec.transposeB
    ? (spec.k % 4 === 0 ? [wgsl.matmulTileBCols] : [scalar.b, wgsl.matmulTileBScalar])
    : (spec.n % 4 === 0 ? [wgsl.matmulTileBRows] : [scalar.b, wgsl.matmulTileBScalar]);
  return [...a, ...b];
}

/** The one dispatch of a product (pure). */
export function planMatmul(spec: MatmulSpec, device: PlanLimits): Dispatch<MatmulSlot> {
  checkSpec(spec);
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const variant = matmulVariant(spec, device.cpu);
  const epilogue = [wgsl.gelu, wgsl.matmulOutput];
  // The epilogue's specialising constants (matmul_output.wgsl says why they are not uniform fields).
  const flags = {
    MM_BIAS: spec.bias ? 1 : 0, MM_RESIDUAL: spec.residual ? 1 : 0, MM_ACCUMULATE: spec.accumulate ? 1 : 0,
    MM_SAVE_PRE: spec.savePreActivation ? 1 : 0, MM_ACTIVATION: spec.gelu ? 1 : spec.geluBackward ? 2 : 0,
  };
  const scalar = scalarSources(spec);
  let kernel: Dispatch['kernel'];
  let workgroups: [number, number, number];
  if (variant === 'matvec') {
    kernel = { parts: [wgsl.matmulParams, scalar.a, scalar.b, ...epilogue, wgsl.matvec], constants: { ...flags, MV_ROWS: MATVEC_ROWS, WORKGROUP_SIZE: MATVEC_WORKGROUP } };
    workgroups = [Math.ceil(spec.n / MATVEC_WORKGROUP), 1, 1];
  } else if (variant === 'blocked') {
    const groups = Math.ceil((Math.ceil(spec.n / BLOCK_COLS) * Math.ceil(spec.m / BLOCK_ROWS)) / BLOCK_WORKGROUP);
    kernel = { parts: [wgsl.matmulParams, ...tileParts(spec), ...epilogue, wgsl.matmulBlocked], constants: { ...flags, WORKGROUP_SIZE: BLOCK_WORKGROUP } };
    workgroups = [Math.min(groups, maxGroups), Math.ceil(groups / maxGroups), 1];
  } else {
    const tile = matmulTile(spec.n, spec.k);
    kernel = { parts: [wgsl.matmulParams, scalar.a, scalar.b, ...epilogue, wgsl.matmul], constants: { ...flags, MM_TILE: tile, MM_WORK, MM_ROWS: tile * MM_WORK } };
    workgroups = [Math.ceil(spec.n / tile), Math.ceil(spec.m / (tile * MM_WORK)), 1];
  }
  if (workgroups[0] > maxGroups || workgroups[1] > maxGroups) {
    throw new RangeError(`matmul of ${spec.m} x ${spec.n} outputs exceeds the dispatch limit (${maxGroups} workgroups per dimension)`);
  }
  const hm = spec.headMajor;
  const pre = spec.savePreActivation || spec.geluBackward;
  return {
    kernel,
    params: {
      m: spec.m, n: spec.n, k: spec.k, seq_length: hm?.length ?? 1, heads: hm?.heads ?? 1, head_dim: hm?.headDim ?? 1,
    },
    buffers: {
      a: 'a', weight: 'weight', bias: spec.bias ? 'bias' : null, residual: spec.residual ? 'residual' : null,
      pre_activation: pre ? 'preActivation' : null, result: 'result',
    },
    workgroups,
  };
}

export class MatmulOp {
  private constructor(readonly spec: Readonly<MatmulSpec>, readonly variant: MatmulVariant, private readonly prepared: PreparedPlan<MatmulSlot>) {}

  /** Compiles (or takes from the per-device cache) the kernel for `spec` and makes its uniform. `cpu` picks the
   * kernel family (default: isCpuAdapter(device)); tests pass both to check both. `limits` defaults to the
   * device's; a test passes a lower maxComputeWorkgroupsPerDimension to run the blocked kernel's second grid
   * dimension on a small product. */
  static async create(device: GPUDevice, spec: MatmulSpec, cpu: boolean = isCpuAdapter(device), limits: PlanLimits['limits'] = device.limits): Promise<MatmulOp> {
    checkSpec(spec);
    const dispatches = spec.m === 0 || spec.n === 0 ? [] : [planMatmul(spec, { limits, cpu })];
    const prepared = await PreparedPlan.create(device, { dispatches, scratch: {}, optional: [] }, 'aaren matmul');
    return new MatmulOp({ ...spec }, matmulVariant(spec, cpu), prepared);
  }

  encode(pass: GPUComputePassEncoder, buffers: MatmulBuffers): void {
    const spec = this.spec;
    if (spec.bias !== (buffers.bias !== undefined) || spec.residual !== (buffers.residual !== undefined)) {
      throw new Error('MatmulOp.encode: bias / residual buffers do not match the op');
    }
    if (Boolean(spec.savePreActivation || spec.geluBackward) !== (buffers.preActivation !== undefined)) {
      throw new Error('MatmulOp.encode: preActivation is given exactly when the op saves or reads it (savePreActivation, geluBackward)');
    }
    this.prepared.encode(pass, buffers);
  }

  destroy(): void {
    this.prepared.destroy();
  }
}
