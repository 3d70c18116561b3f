// LayerNorm over the last dimension (shaders/ops/norm/layer_norm.wgsl), recorded into a caller's compute pass.
// The op owns its uniform buffer (the shape is fixed when it is made); destroy() releases it.
import { composeShader } from '../core/compose.js';
import { createBindGroup, createUniformBuffer, getProgram, type Program } from '../core/program.js';
import { wgsl } from '../core/shader-sources.js';

const MAX_LN_THREADS = 64;

/** Invocations per LayerNorm row: 64, or the next power of two at or above a smaller width. */
export function layerNormThreads(width: number): number {
  let threads = 1;
  while (threads < MAX_LN_THREADS && threads < width) threads *= 2;
  return threads;
}

export class LayerNormOp {
  private constructor(
    private readonly device: GPUDevice,
    readonly rows: number,
    private readonly program: Program,
    private readonly uniform: GPUBuffer,
  ) {}

  /** The compiled kernel for rows of `width` (the thread count follows the width; cached per device). */
  static program(device: GPUDevice, width: number): Promise<Program> {
    const threads = layerNormThreads(width);
    return getProgram(device, `aaren/layer_norm/t${threads}`, () => composeShader({ LN_THREADS: threads }, [wgsl.layerNorm]));
  }

  static create(device: GPUDevice, program: Program, rows: number, width: number, eps: number): LayerNormOp {
    const uniform = createUniformBuffer(device, program, { rows, width, eps });
    return new LayerNormOp(device, rows, program, uniform);
  }

  encode(pass: GPUComputePassEncoder, buffers: { x: GPUBuffer; gamma: GPUBuffer; beta: GPUBuffer; result: GPUBuffer }): void {
    if (this.rows === 0) return;
    pass.setPipeline(this.program.pipeline);
    pass.setBindGroup(0, createBindGroup(this.device, this.program, { params: this.uniform, ...buffers }));
    pass.dispatchWorkgroups(Math.min(this.rows, this.device.limits.maxComputeWorkgroupsPerDimension));
  }

  destroy(): void {
    this.uniform.destroy();
  }
}
