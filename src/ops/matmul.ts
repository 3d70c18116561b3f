// Dense building blocks of the Aaren layer and model, each a composed WGSL kernel recorded into a caller's
// compute pass: the tiled matmul with its fused epilogue (bias, GELU, residual). An op owns
// its uniform buffer (the shape is fixed when it is made); destroy() releases it.
import { composeShader } from '../core/compose.js';
import { createBindGroup, createUniformBuffer, getProgram, type Program } from '../core/program.js';
import { wgsl } from '../core/shader-sources.js';

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

/** 16-byte stand-ins for bindings a dispatch does not read (the flag in its uniform says so). */
export function createUnusedBuffer(device: GPUDevice): GPUBuffer {
  return device.createBuffer({ label: 'aaren unused binding', size: 16, usage: GPUBufferUsage.STORAGE });
}

/** The two kernels of one product shape: tiled for many rows, matvec for at most MATVEC_ROWS. */
export interface MatmulPrograms {
  tiled: Program;
  vector: Program;
}

export class MatmulOp {
  private constructor(
    private readonly device: GPUDevice,
    readonly spec: Readonly<MatmulSpec>,
    private readonly program: Program,
    private readonly uniform: GPUBuffer,
    private readonly workgroups: [number, number],
  ) {}

  /** The compiled kernels for a row-major or head-major left operand and an [n, k] weight (cached per device). */
  static async programs(device: GPUDevice, headMajor: boolean, n: number, k: number): Promise<MatmulPrograms> {
    const source = headMajor ? 'heads' : 'rows';
    const parts = [wgsl.matmulParams, headMajor ? wgsl.matmulLoadHeads : wgsl.matmulLoadRows, wgsl.gelu, wgsl.matmulOutput];
    const tile = matmulTile(n, k);
    const [tiled, vector] = await Promise.all([
      getProgram(device, `aaren/matmul/${source}/tile${tile}x${MM_WORK}`, () =>
        composeShader({ MM_TILE: tile, MM_WORK, MM_ROWS: tile * MM_WORK }, [...parts, wgsl.matmul])),
      getProgram(device, `aaren/matvec/${source}/rows${MATVEC_ROWS}`, () =>
        composeShader({ MV_ROWS: MATVEC_ROWS, WORKGROUP_SIZE: MATVEC_WORKGROUP }, [...parts, wgsl.matvec])),
    ]);
    return { tiled, vector };
  }

  /** `programs` from MatmulOp.programs(device, spec.headMajor !== undefined, spec.n, spec.k). */
  static create(device: GPUDevice, programs: MatmulPrograms, spec: MatmulSpec): MatmulOp {
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const tile = matmulTile(spec.n, spec.k);
    if (!programs.tiled.key.includes(`/tile${tile}x`)) throw new Error(`MatmulOp.create: program ${programs.tiled.key} is not for tile ${tile}`);
    const vector = spec.m <= MATVEC_ROWS;
    const workgroups: [number, number] = vector
      ? [Math.ceil(spec.n / MATVEC_WORKGROUP), 1]
      : [Math.ceil(spec.n / tile), Math.ceil(spec.m / (tile * MM_WORK))];
    if (workgroups[0] > maxGroups || workgroups[1] > maxGroups) {
      throw new RangeError(`matmul of ${spec.m} x ${spec.n} outputs exceeds the dispatch limit (${maxGroups} workgroups per dimension)`);
    }
    const hm = spec.headMajor;
    const program = vector ? programs.vector : programs.tiled;
    const uniform = createUniformBuffer(device, program, {
      m: spec.m, n: spec.n, k: spec.k, has_bias: spec.bias ? 1 : 0, has_residual: spec.residual ? 1 : 0,
      activation: spec.gelu ? 1 : 0, seq_length: hm?.length ?? 1, heads: hm?.heads ?? 1, head_dim: hm?.headDim ?? 1,
    });
    return new MatmulOp(device, { ...spec }, program, uniform, workgroups);
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
    pass.dispatchWorkgroups(...this.workgroups);
  }

  destroy(): void {
    this.uniform.destroy();
  }
}
