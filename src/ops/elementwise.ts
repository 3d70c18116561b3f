// Small dense kernels of the backward pass, recorded into a caller's compute pass: the GELU backward
// (shaders/ops/elementwise/gelu_backward.wgsl) and deterministic column sums (column_sum.wgsl: bias gradients,
// dBias = sum over rows of dY), and packFor, the element type of the kernels that walk rows. Pure planning functions;
// the classes hold a PreparedPlan.
import { type Dispatch, type Plan, PreparedPlan } from '../core/kernel.js';
import * as wgsl from '../core/shader-sources.js';
import type { WgslPart } from '../core/compose.js';
import type { PlanLimits } from './attention/scan.js';

const ELEMENTWISE_WORKGROUP = 64;
const COLUMN_WORKGROUP = 64;
/** Rows one invocation of the column sum's first pass adds up (the second pass adds the chunks). */
export const COLUMN_CHUNK_ROWS = 64;

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
}

export type GeluBackwardSlot = 'grad' | 'preActivation' | 'result';

/** result = [result +] grad * GELU'(preActivation), elementwise over `count` floats (pure). */
export function planGeluBackward(count: number, options: { accumulate?: boolean }, device: PlanLimits): Dispatch<GeluBackwardSlot> {
  checkCount('count', count);
  return {
    kernel: { parts: [wgsl.gelu, wgsl.geluBackward], constants: { WORKGROUP_SIZE: ELEMENTWISE_WORKGROUP } },
    params: { count, accumulate: options.accumulate ? 1 : 0 },
    buffers: { grad: 'grad', pre_activation: 'preActivation', result: 'result' },
    workgroups: [Math.min(Math.ceil(count / ELEMENTWISE_WORKGROUP), device.limits.maxComputeWorkgroupsPerDimension), 1, 1],
  };
}

/** The GELU backward: dPre = dY * GELU'(pre), with pre the forward's saved pre-activation (MatmulSpec.savePreActivation).
 * MatmulSpec.geluBackward fuses the same into the dY W^T product that produces dY. */
export class GeluBackwardOp {
  private constructor(readonly count: number, private readonly prepared: PreparedPlan<GeluBackwardSlot>) {}

  static async create(device: GPUDevice, count: number, options: { accumulate?: boolean } = {}): Promise<GeluBackwardOp> {
    const dispatches = count === 0 ? [] : [planGeluBackward(count, options, { limits: device.limits, cpu: false })];
    return new GeluBackwardOp(count, await PreparedPlan.create(device, { dispatches, scratch: {}, optional: [] }, 'aaren gelu backward'));
  }

  encode(pass: GPUComputePassEncoder, buffers: Record<GeluBackwardSlot, GPUBuffer>): void {
    this.prepared.encode(pass, buffers);
  }

  destroy(): void {
    this.prepared.destroy();
  }
}

/** The element type (shaders/ops/elementwise/pack_*.wgsl) of the kernels that walk rows or slices of `width`
 * floats (LayerNorm, column sums, AdamW, permute_heads, key_grads, embedding_gather): vec4 where the width allows
 * (pack_vec4.wgsl says why), else f32; and how many floats one element holds. */
export function packFor(width: number): { part: WgslPart; floats: number } {
  return width % 4 === 0 ? { part: wgsl.packVec4, floats: 4 } : { part: wgsl.packF32, floats: 1 };
}

/** One column-sum dispatch: chunks of `chunkRows` rows of `x` [rows, cols] into [ceil(rows / chunkRows), cols]. */
export function columnSumDispatch<S extends string>(
  rows: number, cols: number, chunkRows: number, accumulate: boolean, x: S | { scratch: string }, result: S | { scratch: string }, device: PlanLimits,
): Dispatch<S> {
  const chunks = Math.max(1, Math.ceil(rows / chunkRows));
  const pack = packFor(cols);
  const groups = Math.ceil(cols / pack.floats / COLUMN_WORKGROUP);
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  if (groups > max || chunks > max) throw new RangeError(`column sum of ${rows} x ${cols} exceeds the dispatch limit (${max} workgroups per dimension)`);
  return {
    kernel: { parts: [pack.part, wgsl.columnSum], constants: { WORKGROUP_SIZE: COLUMN_WORKGROUP } },
    params: { rows, cols, chunk_rows: chunkRows, accumulate: accumulate ? 1 : 0 },
    buffers: { x, result },
    workgroups: [groups, chunks, 1],
  };
}

/** Rows per chunk of a two-pass column sum: COLUMN_CHUNK_ROWS, more where the chunks would pass the dispatch limit. */
export function columnChunkRows(rows: number, device: PlanLimits): number {
  return Math.max(COLUMN_CHUNK_ROWS, Math.ceil(rows / device.limits.maxComputeWorkgroupsPerDimension));
}

export type ColumnSumSlot = 'x' | 'result';

/** result [cols] = [result +] sum over rows of x [rows, cols], in a fixed order (pure): one dispatch when the rows
 * fit one chunk, else chunks into a scratch and the chunks into the result. */
export function planColumnSum(rows: number, cols: number, options: { accumulate?: boolean }, device: PlanLimits): Plan<ColumnSumSlot> {
  checkCount('rows', rows);
  checkCount('cols', cols);
  if (cols === 0) return { dispatches: [], scratch: {}, optional: [] };
  const accumulate = options.accumulate ?? false;
  const chunkRows = columnChunkRows(rows, device);
  if (rows <= chunkRows) return { dispatches: [columnSumDispatch(rows, cols, Math.max(rows, 1), accumulate, 'x', 'result', device)], scratch: {}, optional: [] };
  const chunks = Math.ceil(rows / chunkRows);
  const partial = { scratch: 'partial' };
  return {
    dispatches: [
      columnSumDispatch<ColumnSumSlot>(rows, cols, chunkRows, false, 'x', partial, device),
      columnSumDispatch<ColumnSumSlot>(chunks, cols, chunks, accumulate, partial, 'result', device),
    ],
    scratch: { partial: chunks * cols * 4 },
    optional: [],
  };
}

/** Deterministic column sums (bias gradients): result [cols] = [result +] sum_r x[r, :]. */
export class ColumnSumOp {
  private constructor(readonly rows: number, readonly cols: number, private readonly prepared: PreparedPlan<ColumnSumSlot>) {}

  static async create(device: GPUDevice, rows: number, cols: number, options: { accumulate?: boolean } = {}): Promise<ColumnSumOp> {
    const plan = planColumnSum(rows, cols, options, { limits: device.limits, cpu: false });
    return new ColumnSumOp(rows, cols, await PreparedPlan.create(device, plan, 'aaren column sum'));
  }

  encode(pass: GPUComputePassEncoder, buffers: Record<ColumnSumSlot, GPUBuffer>): void {
    this.prepared.encode(pass, buffers);
  }

  destroy(): void {
    this.prepared.destroy();
  }
}
