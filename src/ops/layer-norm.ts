// LayerNorm over the last dimension, forward and backward, recorded into a caller's compute pass.
// Forward: layer_norm.wgsl (a workgroup per row, for GPUs) or layer_norm_rows.wgsl (an invocation per row without
// barriers, for CPU adapters, where the tree reduction's barriers cost most of the time); with `saveStats` it also
// writes each row's mean and rstd = 1/sqrt(var + eps) for the backward, into one `stats` buffer [2, rows]. Backward: the input gradient per row
// (layer_norm_backward.wgsl) and the parameter gradients as a two-pass column reduction (layer_norm_param_grads.wgsl,
// then column_sum.wgsl): a fixed summation order, no atomics, the same bits every run.
import { type Dispatch, type Plan, PreparedPlan } from '../core/kernel.js';
import { isCpuAdapter } from '../core/device.js';
import * as wgsl from '../core/shader-sources.js';
import type { PlanLimits } from './attention/scan.js';
import { columnChunkRows, columnSumDispatch, packFor } from './elementwise.js';

const MAX_LN_THREADS = 64;
const ROW_WORKGROUP = 64;

/** Invocations per LayerNorm row (GPU kernel): 64, or the next power of two at or above a smaller width. */
export function layerNormThreads(width: number): number {
  let threads = 1;
  while (threads < MAX_LN_THREADS && threads < width) threads *= 2;
  return threads;
}

function checkShape(rows: number, width: number): void {
  if (!Number.isInteger(rows) || rows < 0) throw new RangeError(`LayerNorm rows must be a non-negative integer, got ${rows}`);
  if (!Number.isInteger(width) || width < 1) throw new RangeError(`LayerNorm width must be a positive integer, got ${width}`);
}

export type LayerNormSlot = 'x' | 'gamma' | 'beta' | 'result' | 'stats';

export interface LayerNormOptions {
  /** Also write each row's mean and rstd to a `stats` buffer of 2 * rows floats (means, then rstds) for
   * LayerNormBackwardOp. One buffer rather than two: WebGPU refuses one stand-in bound to two writable bindings. */
  saveStats?: boolean;
  /** Kernel family: the barrier-free row kernel for CPU adapters (default: isCpuAdapter(device)). */
  cpu?: boolean;
}

export function planLayerNorm(rows: number, width: number, eps: number, device: PlanLimits, options: Pick<LayerNormOptions, 'saveStats'> = {}): Dispatch<LayerNormSlot> {
  checkShape(rows, width);
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  const stats = options.saveStats ?? false;
  const pack = packFor(width);
  return {
    kernel: device.cpu
      ? { parts: [pack.part, wgsl.layerNormIo, wgsl.layerNormRows], constants: { WORKGROUP_SIZE: ROW_WORKGROUP } }
      : { parts: [pack.part, wgsl.layerNormIo, wgsl.layerNorm], constants: { LN_THREADS: layerNormThreads(width / pack.floats) } },
    params: { rows, width, eps, save_stats: stats ? 1 : 0 },
    buffers: { x: 'x', gamma: 'gamma', beta: 'beta', result: 'result', row_stats: stats ? 'stats' : null },
    workgroups: [Math.min(device.cpu ? Math.ceil(rows / ROW_WORKGROUP) : rows, max), 1, 1],
  };
}

export class LayerNormOp {
  private constructor(readonly rows: number, readonly saveStats: boolean, private readonly prepared: PreparedPlan<LayerNormSlot>) {}

  static async create(device: GPUDevice, rows: number, width: number, eps: number, options: LayerNormOptions = {}): Promise<LayerNormOp> {
    const cpu = options.cpu ?? isCpuAdapter(device);
    const dispatches = rows === 0 ? [] : [planLayerNorm(rows, width, eps, { limits: device.limits, cpu }, options)];
    const prepared = await PreparedPlan.create(device, { dispatches, scratch: {}, optional: [] }, 'aaren layer norm');
    return new LayerNormOp(rows, options.saveStats ?? false, prepared);
  }

  /** `stats` [2 * rows] is required with saveStats and refused without. */
  encode(pass: GPUComputePassEncoder, buffers: { x: GPUBuffer; gamma: GPUBuffer; beta: GPUBuffer; result: GPUBuffer; stats?: GPUBuffer }): void {
    if (this.saveStats !== (buffers.stats !== undefined)) {
      throw new Error('LayerNormOp.encode: stats is given exactly when the op was created with saveStats');
    }
    this.prepared.encode(pass, buffers);
  }

  destroy(): void {
    this.prepared.destroy();
  }
}

export type LayerNormBackwardSlot = 'grad' | 'x' | 'gamma' | 'stats' | 'gradInput' | 'gradGamma' | 'gradBeta';

export interface LayerNormBackwardOptions {
  /** gradInput += dX (the residual stream's gradient already there) instead of gradInput = dX. */
  accumulateInput?: boolean;
  /** gradGamma += dGamma and gradBeta += dBeta instead of overwriting them. */
  accumulateParams?: boolean;
}

/** dX, then dGamma and dBeta partials per chunk of rows, then the chunks summed (pure). */
export function planLayerNormBackward(rows: number, width: number, options: LayerNormBackwardOptions, device: PlanLimits): Plan<LayerNormBackwardSlot> {
  checkShape(rows, width);
  if (rows === 0) return { dispatches: [], scratch: {}, optional: [] };
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  const chunkRows = columnChunkRows(rows, device);
  const chunks = Math.ceil(rows / chunkRows);
  const pack = packFor(width);
  const groups = Math.ceil(width / pack.floats / ROW_WORKGROUP);
  if (groups > max) throw new RangeError(`LayerNorm width ${width} exceeds the dispatch limit (${max} workgroups per dimension)`);
  const inputs = { grad: 'grad', x: 'x', row_stats: 'stats' } as const;
  const accumulateParams = options.accumulateParams ?? false;
  const backward = [pack.part, wgsl.layerNormBackwardIo];
  return {
    dispatches: [
      {
        kernel: { parts: [...backward, wgsl.layerNormBackward], constants: { WORKGROUP_SIZE: ROW_WORKGROUP, LN_ACCUMULATE: options.accumulateInput ? 1 : 0 } },
        params: { rows, width, chunk_rows: chunkRows },
        buffers: { ...inputs, gamma: 'gamma', result: 'gradInput' },
        workgroups: [Math.min(Math.ceil(rows / ROW_WORKGROUP), max), 1, 1],
      },
      {
        kernel: { parts: [...backward, wgsl.layerNormParamGrads], constants: { WORKGROUP_SIZE: ROW_WORKGROUP } },
        params: { rows, width, chunk_rows: chunkRows },
        buffers: { ...inputs, gamma_partial: { scratch: 'gammaPartial' }, beta_partial: { scratch: 'betaPartial' } },
        workgroups: [groups, chunks, 1],
      },
      columnSumDispatch<LayerNormBackwardSlot>(chunks, width, chunks, accumulateParams, { scratch: 'gammaPartial' }, 'gradGamma', device),
      columnSumDispatch<LayerNormBackwardSlot>(chunks, width, chunks, accumulateParams, { scratch: 'betaPartial' }, 'gradBeta', device),
    ],
    scratch: { gammaPartial: chunks * width * 4, betaPartial: chunks * width * 4 },
    optional: [],
  };
}

/** LayerNorm backward from the forward's input x, gamma and saved per-row stats (LayerNormOp saveStats):
 * gradInput [rows, width], gradGamma [width], gradBeta [width]. */
export class LayerNormBackwardOp {
  private constructor(readonly rows: number, readonly width: number, private readonly prepared: PreparedPlan<LayerNormBackwardSlot>) {}

  static async create(device: GPUDevice, rows: number, width: number, options: LayerNormBackwardOptions = {}): Promise<LayerNormBackwardOp> {
    const plan = planLayerNormBackward(rows, width, options, { limits: device.limits, cpu: isCpuAdapter(device) });
    return new LayerNormBackwardOp(rows, width, await PreparedPlan.create(device, plan, 'aaren layer norm backward'));
  }

  encode(pass: GPUComputePassEncoder, buffers: Record<LayerNormBackwardSlot, GPUBuffer>): void {
    this.prepared.encode(pass, buffers);
  }

  destroy(): void {
    this.prepared.destroy();
  }
}
