// LayerNorm over the last dimension (shaders/ops/norm/layer_norm.wgsl), recorded into a caller's compute pass.
// `planLayerNorm` is the pure planning function; LayerNormOp compiles it and owns its uniform.
import { type Dispatch, PreparedPlan } from '../core/kernel.js';
import { wgsl } from '../core/shader-sources.js';
import type { PlanLimits } from './attention/scan.js';

const MAX_LN_THREADS = 64;

/** Invocations per LayerNorm row: 64, or the next power of two at or above a smaller width. */
export function layerNormThreads(width: number): number {
  let threads = 1;
  while (threads < MAX_LN_THREADS && threads < width) threads *= 2;
  return threads;
}

export type LayerNormSlot = 'x' | 'gamma' | 'beta' | 'result';

export function planLayerNorm(rows: number, width: number, eps: number, device: PlanLimits): Dispatch<LayerNormSlot> {
  return {
    kernel: { parts: [wgsl.layerNorm], constants: { LN_THREADS: layerNormThreads(width) } },
    params: { rows, width, eps },
    buffers: { x: 'x', gamma: 'gamma', beta: 'beta', result: 'result' },
    workgroups: [Math.min(rows, device.limits.maxComputeWorkgroupsPerDimension), 1, 1],
  };
}

export class LayerNormOp {
  private constructor(readonly rows: number, private readonly prepared: PreparedPlan<LayerNormSlot>) {}

  static async create(device: GPUDevice, rows: number, width: number, eps: number): Promise<LayerNormOp> {
    const dispatches = rows === 0 ? [] : [planLayerNorm(rows, width, eps, { limits: device.limits, cpu: false })];
    return new LayerNormOp(rows, await PreparedPlan.create(device, { dispatches, scratch: {}, optional: [] }, 'aaren layer norm'));
  }

  encode(pass: GPUComputePassEncoder, buffers: Record<LayerNormSlot, GPUBuffer>): void {
    this.prepared.encode(pass, buffers);
  }

  destroy(): void {
    this.prepared.destroy();
  }
}
