// Dense products of the Aaren layer and model, recorded into a caller's compute pass: result = [gelu](a @ weight
// [+ bias]) [+ residual] with the epilogue fused. `planMatmul` is the pure planning function (spec and device
// limits in, one dispatch out); MatmulOp compiles it and owns its uniform.
import { type Dispatch, PreparedPlan } from '../core/kernel.js';
import { wgsl } from '../core/shader-sources.js';
import type { PlanLimits } from './attention/scan.js';

const MM_WORK = 4;
/** Up to this many rows (tokens), a product runs on the barrier-free matvec kernel instead of the tiled one. */
export const MATVEC_ROWS = 4;
const MATVEC_WORKGROUP = 64;

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
  m: number;
  n: number;
  k: number;
  bias: boolean;
  residual: boolean;
  gelu: boolean;
  /** The left operand is head-major scan output instead of row-major [m, k]. */
  headMajor?: HeadMajor;
}

export interface MatmulBuffers {
  a: GPUBuffer;
  weight: GPUBuffer;
  bias?: GPUBuffer;
  residual?: GPUBuffer;
  result: GPUBuffer;
}

export type MatmulSlot = keyof MatmulBuffers;

/** The one dispatch of a product (pure). */
export function planMatmul(spec: MatmulSpec, device: PlanLimits): Dispatch<MatmulSlot> {
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const parts = [wgsl.matmulParams, spec.headMajor ? wgsl.matmulLoadHeads : wgsl.matmulLoadRows, wgsl.gelu, wgsl.matmulOutput];
  const tile = matmulTile(spec.n, spec.k);
  const vector = spec.m <= MATVEC_ROWS;
  const workgroups: [number, number, number] = vector
    ? [Math.ceil(spec.n / MATVEC_WORKGROUP), 1, 1]
    : [Math.ceil(spec.n / tile), Math.ceil(spec.m / (tile * MM_WORK)), 1];
  if (workgroups[0] > maxGroups || workgroups[1] > maxGroups) {
    throw new RangeError(`matmul of ${spec.m} x ${spec.n} outputs exceeds the dispatch limit (${maxGroups} workgroups per dimension)`);
  }
  const hm = spec.headMajor;
  return {
    kernel: vector
      ? { parts: [...parts, wgsl.matvec], constants: { MV_ROWS: MATVEC_ROWS, WORKGROUP_SIZE: MATVEC_WORKGROUP } }
      : { parts: [...parts, wgsl.matmul], constants: { MM_TILE: tile, MM_WORK, MM_ROWS: tile * MM_WORK } },
    params: {
      m: spec.m, n: spec.n, k: spec.k, has_bias: spec.bias ? 1 : 0, has_residual: spec.residual ? 1 : 0,
      activation: spec.gelu ? 1 : 0, seq_length: hm?.length ?? 1, heads: hm?.heads ?? 1, head_dim: hm?.headDim ?? 1,
    },
    buffers: { a: 'a', weight: 'weight', bias: spec.bias ? 'bias' : null, residual: spec.residual ? 'residual' : null, result: 'result' },
    workgroups,
  };
}

export class MatmulOp {
  private constructor(readonly spec: Readonly<MatmulSpec>, private readonly prepared: PreparedPlan<MatmulSlot>) {}

  /** Compiles (or takes from the per-device cache) the kernel for `spec` and makes its uniform. */
  static async create(device: GPUDevice, spec: MatmulSpec, cpu = false): Promise<MatmulOp> {
    const dispatches = spec.m === 0 || spec.n === 0 ? [] : [planMatmul(spec, { limits: device.limits, cpu })];
    return new MatmulOp({ ...spec }, await PreparedPlan.create(device, { dispatches, scratch: {}, optional: [] }, 'aaren matmul'));
  }

  encode(pass: GPUComputePassEncoder, buffers: MatmulBuffers): void {
    if (this.spec.bias !== (buffers.bias !== undefined) || this.spec.residual !== (buffers.residual !== undefined)) {
      throw new Error('MatmulOp.encode: bias / residual buffers do not match the op');
    }
    this.prepared.encode(pass, buffers);
  }

  destroy(): void {
    this.prepared.destroy();
  }
}
