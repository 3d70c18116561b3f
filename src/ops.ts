// Dense building blocks of the Aaren layer and model, each a composed WGSL kernel recorded into a caller's
// compute pass: the tiled matmul with its fused epilogue (bias, GELU, residual) and LayerNorm. An op owns
// its uniform buffer (the shape is fixed when it is made); destroy() releases it.
import { composeShader } from './compose.js';
import { createBindGroup, createUniformBuffer, getProgram, type Program } from './program.js';
import { wgsl } from './shader-sources.js';

const MM_WORK = 4;
const MAX_LN_THREADS = 64;

/** Side of the square matmul tile: 16, or less when n or k is smaller (idle invocations cost time on CPU adapters). */
export function matmulTile(n: number, k: number): number {
  let tile = 4;
  while (tile < 16 && tile < Math.min(n, k)) tile *= 2;
  return tile;
}

/** Invocations per LayerNorm row: 64, or the next power of two at or above a smaller width. */
export function layerNormThreads(width: number): number {
  let threads = 1;
  while (threads < MAX_LN_THREADS && threads < width) threads *= 2;
  return threads;
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

/** 16-byte stand-ins for bindings a dispatch does not read (the flag in its uniform says so). */
export function createUnusedBuffer(device: GPUDevice): GPUBuffer {
  return device.createBuffer({ label: 'aaren unused binding', size: 16, usage: GPUBufferUsage.STORAGE });
}

export class MatmulOp {
  private constructor(
    private readonly device: GPUDevice,
    readonly spec: Readonly<MatmulSpec>,
    private readonly program: Program,
    private readonly uniform: GPUBuffer,
  ) {}

  /** The compiled kernel for a row-major or head-major left operand and a tile side (cached per device). */
  static program(device: GPUDevice, headMajor: boolean, tile: number): Promise<Program> {
    const source = headMajor ? 'heads' : 'rows';
    return getProgram(device, `aaren/matmul/${source}/tile${tile}x${MM_WORK}`, () =>
      composeShader({ MM_TILE: tile, MM_WORK, MM_ROWS: tile * MM_WORK }, [
        wgsl.matmulParams, headMajor ? wgsl.matmulLoadHeads : wgsl.matmulLoadRows, wgsl.gelu, wgsl.matmul,
      ]));
  }

  /** `program` from MatmulOp.program(device, spec.headMajor !== undefined, matmulTile(spec.n, spec.k)). */
  static create(device: GPUDevice, program: Program, spec: MatmulSpec): MatmulOp {
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const tile = matmulTile(spec.n, spec.k);
    if (!program.key.includes(`/tile${tile}x`)) throw new Error(`MatmulOp.create: program ${program.key} is not for tile ${tile}`);
    if (Math.ceil(spec.m / (tile * MM_WORK)) > maxGroups || Math.ceil(spec.n / tile) > maxGroups) {
      throw new RangeError(`matmul of ${spec.m} x ${spec.n} outputs exceeds the dispatch limit (${maxGroups} workgroups of ${tile * MM_WORK} x ${tile})`);
    }
    const hm = spec.headMajor;
    const uniform = createUniformBuffer(device, program, {
      m: spec.m, n: spec.n, k: spec.k, has_bias: spec.bias ? 1 : 0, has_residual: spec.residual ? 1 : 0,
      activation: spec.gelu ? 1 : 0, seq_length: hm?.length ?? 1, heads: hm?.heads ?? 1, head_dim: hm?.headDim ?? 1,
    });
    return new MatmulOp(device, { ...spec }, program, uniform);
  }

  encode(pass: GPUComputePassEncoder, buffers: MatmulBuffers, unused: GPUBuffer): void {
    const { m, n } = this.spec;
    if (m === 0 || n === 0) return;
    if (this.spec.bias !== (buffers.bias !== undefined) || this.spec.residual !== (buffers.residual !== undefined)) {
      throw new Error('MatmulOp.encode: bias / residual buffers do not match the op');
    }
    pass.setPipeline(this.program.pipeline);
    pass.setBindGroup(0, createBindGroup(this.device, this.program, {
      params: this.uniform, a: buffers.a, weight: buffers.weight, bias: buffers.bias ?? unused,
      residual: buffers.residual ?? unused, result: buffers.result,
    }));
    const tile = matmulTile(n, this.spec.k);
    pass.dispatchWorkgroups(Math.ceil(n / tile), Math.ceil(m / (tile * MM_WORK)));
  }

  destroy(): void {
    this.uniform.destroy();
  }
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
