// Causal depthwise convolution of width 4 with a residual, forward and backward side by side (shaders/ops/conv/),
// recorded into a caller's compute pass. On x [batch, length, dModel] f32 with weights c [dModel, 4] (c[d * 4 + j]):
//   forward   y[b, t, d]  = x[b, t, d] + sum_{j=0..3} c[d, j] x[b, t - j, d]            (conv_forward)
//             nextHistory = the last 3 rows of (history ++ x) per sequence                (conv_next_history)
//   backward  dx[b, t, d] = dy[b, t, d] + sum_{j, t + j < length} c[d, j] dy[b, t + j, d] (conv_input_grad)
//             dc[d, j]    = sum_{b, t} dy[b, t, d] x[b, t - j, d]                         (conv_weight_grad_partials,
//                           then column_sum: two fixed-order passes, no atomics, the same bits every run)
// Inputs before t = 0 come from the optional history [batch, 3, dModel] (row 2 is t = -1, row 0 is t = -3), or are
// 0 without one. Zero weights make the forward the identity, bit for bit. A sequence run block by block, each
// block given the previous block's nextHistory, gives the bits of one pass over the whole (every output is the same
// expression of the same values). The history's own gradient is not formed: training runs whole sequences.
//
// Error bounds (u = 2^-24, Higham 3.1), measured in test/conv.test.ts and cases/conv.ts:
//   y, dx: |err| <= gamma_5 (|x_t| + sum_j |c_j x_{t-j}|) (each output: 4 products, 4 additions);
//   dc:    |err| <= gamma_{chunkRows + chunks} sum_{b,t} |dy x_{t-j}| (chunkRows = 64 rows per partial sum, then
//          the chunks in order), e.g. ~320 u sum|terms| at batch * length = 16384.
// Schedules (measured on SwiftShader, 2 shared cores, batch 16 x length 1024): the forward and dx walk runs of 64
// time steps per (sequence, channel) with the window in registers (dModel 64: ~33 / ~55 ms; an invocation per
// output took 110-350 ms). dc: partials over 64-row chunks then column sums (dModel 64: ~99 ms, 256: ~336 ms)
// beat one invocation per channel over all rows (~116 / ~410 ms), and keep a GPU busy where dModel alone would
// fill one workgroup.
// Float64 reference: src/reference/conv.ts.
import { type Dispatch, type Plan, PreparedPlan } from '../core/kernel.js';
import { isCpuAdapter } from '../core/device.js';
import * as wgsl from '../core/shader-sources.js';
import { bufferLimit, checkBufferSizes, checkFinite, checkFloat32Array, checkInteger, checkObject, checkStorageBuffer } from '../core/validate.js';
import type { PlanLimits } from './attention/scan.js';
import { columnChunkRows, columnSumDispatch } from './elementwise.js';

/** Taps per channel: c[d, 0..3] weighs x at t, t - 1, t - 2, t - 3. */
export const CONV_TAPS = 4;
/** Rows of history per sequence: the inputs at t = -3, -2, -1. */
export const CONV_HISTORY_ROWS = CONV_TAPS - 1;

const WORKGROUP = 64;
/** Time steps one invocation of the forward or dx walks, carrying the window of 3 in registers. Any value gives
 * the same bits; 64 leaves batch * ceil(length / 64) * dModel invocations, enough to fill a GPU at training sizes. */
export const CONV_RUN_ROWS = 64;

export interface ConvShape {
  batch: number;
  length: number;
  dModel: number;
}

/** Forward slots: x [batch, length, dModel], weight [dModel, 4], result [batch, length, dModel] (overwritten),
 * history [batch, 3, dModel] (optional: zeros stand in), nextHistory [batch, 3, dModel] (optional: written when
 * bound). result must not be x, nor nextHistory history (one buffer read and written by a dispatch). */
export type ConvSlot = 'x' | 'weight' | 'history' | 'result' | 'nextHistory';

/** Backward slots: grad = dy and the forward's x, weight, history (optional), gradInput = dx [batch, length, dModel]
 * and gradWeight = dc [dModel, 4], overwritten or accumulated (ConvBackwardOptions). */
export type ConvBackwardSlot = 'grad' | 'x' | 'weight' | 'history' | 'gradInput' | 'gradWeight';

export interface ConvBackwardOptions {
  /** gradInput += dx (a residual stream's gradient already there) instead of gradInput = dx. */
  accumulateInput?: boolean;
  /** gradWeight += dc instead of gradWeight = dc. */
  accumulateWeight?: boolean;
}

/** Checks a shape (integers >= 1, every element index below 2^32, length below 2^31); RangeError/TypeError name the field. */
export function checkConvShape(shape: ConvShape, name = 'shape'): ConvShape {
  checkObject<ConvShape>(name, shape, '{ batch, length, dModel }');
  const batch = checkInteger(`${name}.batch`, shape.batch, 1);
  const length = checkInteger(`${name}.length`, shape.length, 1, 2 ** 31 - 1);
  const dModel = checkInteger(`${name}.dModel`, shape.dModel, 1);
  if (batch * length * dModel * 4 > 2 ** 32 - 1 || batch * CONV_HISTORY_ROWS * dModel * 4 > 2 ** 32 - 1) {
    throw new RangeError(`${name}: batch * length * dModel = ${batch * length * dModel} floats is past what one binding can hold (2^32 bytes)`);
  }
  return { batch, length, dModel };
}

/** Host check of weights before upload: a Float32Array of dModel * 4 finite floats ([dModel, 4] row-major). */
export function checkConvWeights(name: string, weights: unknown, dModel: number): Float32Array {
  const w = checkFloat32Array(name, weights, dModel * CONV_TAPS, `[dModel, ${CONV_TAPS}] = [${dModel}, ${CONV_TAPS}]`);
  checkFinite(name, w);
  return w;
}

const groups = (count: number, device: PlanLimits): [number, number, number] =>
  [Math.max(1, Math.min(Math.ceil(count / WORKGROUP), device.limits.maxComputeWorkgroupsPerDimension)), 1, 1];

/** Invocations of the forward and of dx: one per (sequence, run of CONV_RUN_ROWS steps, channel). */
const runs = (s: ConvShape) => s.batch * Math.ceil(s.length / CONV_RUN_ROWS) * s.dModel;

/** Uniform values every conv kernel shares (ConvParams in conv_params.wgsl). */
function convParams(shape: ConvShape) {
  return { batch: shape.batch, length: shape.length, d_model: shape.dModel, write_history: 0, chunk_rows: 0, accumulate: 0 };
}

/** The forward (pure): the convolution, then the next history (a no-op dispatch when nextHistory is not bound). */
export function planConvForward(shape: ConvShape, device: PlanLimits): Plan<ConvSlot> {
  const s = checkConvShape(shape);
  const input = [wgsl.convParams, wgsl.convInput];
  const common = { ...convParams(s), chunk_rows: CONV_RUN_ROWS, has_history: { ifBound: 'history' as const } };
  const inputs = { x: 'x', history: 'history' } as const;
  return {
    dispatches: [
      {
        kernel: { parts: [...input, wgsl.convForward], constants: { WORKGROUP_SIZE: WORKGROUP } },
        params: common,
        buffers: { ...inputs, weight: 'weight', result: 'result' },
        workgroups: groups(runs(s), device),
      },
      {
        kernel: { parts: [...input, wgsl.convNextHistory], constants: { WORKGROUP_SIZE: WORKGROUP } },
        params: { ...common, write_history: { ifBound: 'nextHistory' } },
        buffers: { ...inputs, next_history: 'nextHistory' },
        workgroups: groups(s.batch * CONV_HISTORY_ROWS * s.dModel, device),
      },
    ],
    scratch: {},
    optional: ['history', 'nextHistory'],
  };
}

/** Rows (b, t) per partial sum of dc: 64 (columnChunkRows), more where the chunks would pass the dispatch limit. */
export function convChunkRows(shape: ConvShape, device: PlanLimits): number {
  return columnChunkRows(shape.batch * shape.length, device);
}

/** The backward (pure): dx, then dc as partials per chunk of rows summed in order (one dispatch when one chunk). */
export function planConvBackward(shape: ConvShape, options: ConvBackwardOptions, device: PlanLimits): Plan<ConvBackwardSlot> {
  const s = checkConvShape(shape);
  checkObject('options', options, '{ accumulateInput?, accumulateWeight? }');
  const rows = s.batch * s.length;
  const chunkRows = convChunkRows(s, device);
  const chunks = Math.ceil(rows / chunkRows);
  const accumulateWeight = options.accumulateWeight ?? false;
  const common = { ...convParams(s), has_history: { ifBound: 'history' as const } };
  const partials: Dispatch<ConvBackwardSlot> = {
    kernel: { parts: [wgsl.convParams, wgsl.convInput, wgsl.convWeightGradPartials], constants: { WORKGROUP_SIZE: WORKGROUP } },
    params: { ...common, chunk_rows: chunkRows, accumulate: chunks === 1 && accumulateWeight ? 1 : 0 },
    buffers: { x: 'x', history: 'history', grad: 'grad', partial: chunks === 1 ? 'gradWeight' : { scratch: 'partial' } },
    workgroups: groups(chunks * s.dModel, device),
  };
  const inputGrad: Dispatch<ConvBackwardSlot> = {
    kernel: { parts: [wgsl.convParams, wgsl.convInputGrad], constants: { WORKGROUP_SIZE: WORKGROUP, CONV_ACCUMULATE: options.accumulateInput ? 1 : 0 } },
    params: { ...convParams(s), has_history: 0, chunk_rows: CONV_RUN_ROWS }, // the uniform's accumulate stays 0: CONV_ACCUMULATE says it
    buffers: { grad: 'grad', weight: 'weight', result: 'gradInput' },
    workgroups: groups(runs(s), device),
  };
  if (chunks === 1) return { dispatches: [inputGrad, partials], scratch: {}, optional: ['history'] };
  const cols = s.dModel * CONV_TAPS;
  return {
    dispatches: [inputGrad, partials, columnSumDispatch<ConvBackwardSlot>(chunks, cols, chunks, accumulateWeight, { scratch: 'partial' }, 'gradWeight', device)],
    scratch: { partial: chunks * cols * 4 },
    optional: ['history'],
  };
}

export interface ConvBuffers {
  x: GPUBuffer;
  weight: GPUBuffer;
  result: GPUBuffer;
  history?: GPUBuffer;
  nextHistory?: GPUBuffer;
}

export interface ConvBackwardBuffers {
  grad: GPUBuffer;
  x: GPUBuffer;
  weight: GPUBuffer;
  history?: GPUBuffer;
  gradInput: GPUBuffer;
  gradWeight: GPUBuffer;
}

/** Byte sizes of a shape's buffers. */
function convBytes(s: ConvShape) {
  return { rows: s.batch * s.length * s.dModel * 4, weight: s.dModel * CONV_TAPS * 4, history: s.batch * CONV_HISTORY_ROWS * s.dModel * 4 };
}

function checkDistinct(a: [string, GPUBuffer | undefined], b: [string, GPUBuffer | undefined]): void {
  if (a[1] !== undefined && a[1] === b[1]) throw new RangeError(`${a[0]} must not be ${b[0]} (a dispatch cannot read and write one buffer)`);
}

/** The forward conv as an op: checks its buffers, records into the caller's pass. */
export class ConvOp {
  private constructor(readonly shape: ConvShape, private readonly prepared: PreparedPlan<ConvSlot>) {}

  static async create(device: GPUDevice, shape: ConvShape): Promise<ConvOp> {
    const s = checkConvShape(shape);
    const bytes = convBytes(s);
    checkBufferSizes(`conv of ${s.batch} x ${s.length} x ${s.dModel}`, { x: bytes.rows, history: bytes.history }, bufferLimit(device.limits));
    const plan = planConvForward(s, { limits: device.limits, cpu: isCpuAdapter(device) });
    return new ConvOp(s, await PreparedPlan.create(device, plan, 'aaren conv'));
  }

  encode(pass: GPUComputePassEncoder, buffers: ConvBuffers): void {
    checkObject('buffers', buffers, '{ x, weight, result, history?, nextHistory? }');
    const bytes = convBytes(this.shape);
    checkStorageBuffer('buffers.x', buffers.x, bytes.rows);
    checkStorageBuffer('buffers.weight', buffers.weight, bytes.weight);
    checkStorageBuffer('buffers.result', buffers.result, bytes.rows);
    if (buffers.history !== undefined) checkStorageBuffer('buffers.history', buffers.history, bytes.history);
    if (buffers.nextHistory !== undefined) checkStorageBuffer('buffers.nextHistory', buffers.nextHistory, bytes.history);
    const written: [string, GPUBuffer | undefined][] = [['buffers.result', buffers.result], ['buffers.nextHistory', buffers.nextHistory]];
    const read: [string, GPUBuffer | undefined][] = [['buffers.x', buffers.x], ['buffers.weight', buffers.weight], ['buffers.history', buffers.history]];
    for (const w of written) for (const r of read) checkDistinct(w, r);
    checkDistinct(written[0]!, written[1]!);
    this.prepared.encode(pass, buffers);
  }

  destroy(): void {
    this.prepared.destroy();
  }
}

/** The backward conv as an op: dx into gradInput and dc into gradWeight (overwritten or accumulated). */
export class ConvBackwardOp {
  private constructor(readonly shape: ConvShape, private readonly prepared: PreparedPlan<ConvBackwardSlot>) {}

  static async create(device: GPUDevice, shape: ConvShape, options: ConvBackwardOptions = {}): Promise<ConvBackwardOp> {
    const s = checkConvShape(shape);
    const bytes = convBytes(s);
    checkBufferSizes(`conv backward of ${s.batch} x ${s.length} x ${s.dModel}`, { grad: bytes.rows, history: bytes.history }, bufferLimit(device.limits));
    const plan = planConvBackward(s, options, { limits: device.limits, cpu: isCpuAdapter(device) });
    return new ConvBackwardOp(s, await PreparedPlan.create(device, plan, 'aaren conv backward'));
  }

  encode(pass: GPUComputePassEncoder, buffers: ConvBackwardBuffers): void {
    checkObject('buffers', buffers, '{ grad, x, weight, history?, gradInput, gradWeight }');
    const bytes = convBytes(this.shape);
    checkStorageBuffer('buffers.grad', buffers.grad, bytes.rows);
    checkStorageBuffer('buffers.x', buffers.x, bytes.rows);
    checkStorageBuffer('buffers.weight', buffers.weight, bytes.weight);
    if (buffers.history !== undefined) checkStorageBuffer('buffers.history', buffers.history, bytes.history);
    checkStorageBuffer('buffers.gradInput', buffers.gradInput, bytes.rows);
    checkStorageBuffer('buffers.gradWeight', buffers.gradWeight, bytes.weight);
    const written: [string, GPUBuffer | undefined][] = [['buffers.gradInput', buffers.gradInput], ['buffers.gradWeight', buffers.gradWeight]];
    const read: [string, GPUBuffer | undefined][] = [['buffers.grad', buffers.grad], ['buffers.x', buffers.x], ['buffers.weight', buffers.weight], ['buffers.history', buffers.history]];
    for (const w of written) for (const r of read) checkDistinct(w, r);
    checkDistinct(written[0]!, written[1]!);
    this.prepared.encode(pass, buffers);
  }

  destroy(): void {
    this.prepared.destroy();
  }
}
