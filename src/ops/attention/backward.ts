// The backward of the log-sum-exp prefix scan as ONE reverse scan over the generic skeleton (src/scan/skeleton.ts),
// GPU-resident (the caller's buffers and encoder, no readback) and as a typed-array call. The math is that of
// src/reference/scan-backward.ts: with the forward's (m_i, u_i) per position (PrefixScan option saveStats),
//   c_i = (a_i, b_i) = (g_i, g_i . o_i) + lambda_i c_{i+1},   lambda_i = (u_i / u_{i+1}) e^{m_i - m_{i+1}},
//   dv_i = pi_i a_i,   ds_i = pi_i (v_i . a_i - b_i),   pi_i = e^{s_i - m_i} / u_i,
// scanned right to left with the operator of shaders/ops/attention/lse_backward.wgsl (elements (log lambda_i, x_i)).
//
// Passes: grad_carry (the final state's gradient, folded into the last position, as the scan's carry), grad_terms
// (per position (l_i, D_i, pi_i) from stats, scores, outputs and gradOutput, once: the tree scans then bind 7 storage
// buffers, within WebGPU's default limit of 8 per stage, and no channel block rereads whole rows for D), the scan,
// sum_partials when headDim > 16 (several channel blocks: each block writes its share of ds = pi (v . a) over its
// channels, minus pi b in block 0, to a scratch [blocks, batch, length] and a tiny kernel adds the shares: v . a
// needs every channel and a workgroup owns one block), and grad_finish (the max's share of the final-state gradient
// to the first argmax token or m0, and the initial state's gradient from c_1, the scan's total).
//
// The scan: on the sequential and parallel schedules the skeleton's, right to left through the element source's and
// sink's index mapping. On the recurrent schedule recurrent_lse_backward_scan.wgsl, the same operator inlined with
// mat4x4 lanes (as the forward runs recurrent_lse_scan.wgsl). It also reads o (8 storage buffers) and forms D per
// channel block: each block carries its own share of b (b is linear in D), writes pi (v . a - b) over its channels
// as its share of ds, and its share of b at the first position after the ds shares, which sum_partials adds into
// the scan's total. grad_terms then leaves D out (DOT_IN_SCAN): reading whole rows of g and o, one invocation a row,
// was most of the backward's time on SwiftShader.
import { instantiate } from '../../core/compose.js';
import { type Dispatch, type Kernel, type Plan, PreparedPlan } from '../../core/kernel.js';
import * as wgsl from '../../core/shader-sources.js';
import { bufferBytes, createStorageBuffer, submitAndRead, uploadFloat32 } from '../../core/buffers.js';
import { bufferLimit, checkBufferSizes, checkFinite, checkFloat32Array, checkInteger, checkObject, checkOneOf, checkStorageBuffer } from '../../core/validate.js';
import { checkDevice, checkLiveDevice, isCpuAdapter, runGpuCall } from '../../core/device.js';
import { cutIntoPieces, type Piece } from '../../core/pieces.js';
import {
  RECURRENT_RUN_LENGTH, RECURRENT_WORKGROUP, SCAN_SCHEDULES, chooseSchedule, kernelConfig, planScan, stateAccess,
  type ChunkOptions, type KernelConfig, type ScanOperator, type ScanSchedule,
} from '../../scan/skeleton.js';
import { packState, stateBytes, stateStrideFloats, type ScanState } from './state.js';
import {
  PrefixScan, checkEncoder, checkInput, checkNoAliasing, decayParts, outputRows, runInPieces, valueRows,
  type PlanLimits, type PrefixAttentionInput, type ScanShape,
} from './scan.js';

export interface PrefixScanBackwardOptions extends ChunkOptions {
  /** 'auto' (default) picks by adapter and shape, as the forward does; the others force a schedule. */
  schedule?: 'auto' | ScanSchedule;
  /** The forward had recency decay (PrefixScanOptions.decay): buffers.decay holds the rates and buffers.gradDecay
   * receives dLoss/d(rate) per sequence. */
  decay?: boolean;
  /** With decay: the rates repeat every `decayPeriod` sequences (PrefixScanOptions.decayPeriod); gradDecay is
   * still one per sequence. */
  decayPeriod?: number;
}

/** Buffers for PrefixScanBackward.encode; all need STORAGE usage. */
export interface PrefixScanBackwardBuffers {
  /** The forward's inputs: scores [batch, length] (-Infinity masks), values [batch, length, headDim]. */
  scores: GPUBuffer;
  values: GPUBuffer;
  /** The forward's outputs [batch, length, headDim] and stats ([batch, length] vec2 (m, u): PrefixScan saveStats). */
  output: GPUBuffer;
  stats: GPUBuffer;
  /** dLoss/d(output) [batch, length, headDim]. */
  gradOutput: GPUBuffer;
  /** Receive dLoss/d(scores) [batch, length] and dLoss/d(values) [batch, length, headDim]. */
  gradScores: GPUBuffer;
  gradValues: GPUBuffer;
  /** The state the forward continued from (batch states, state.ts layout), when it did. */
  initialState?: GPUBuffer;
  /** dLoss/d(final state) (m, u, w per sequence, state layout): a gradient arriving through the final state. */
  gradFinalState?: GPUBuffer;
  /** Receives dLoss/d(initial state) as (dm, du, dw) per sequence in the state layout. */
  gradInitialState?: GPUBuffer;
  /** With options.decay: the forward's rates [batch] f32, and dLoss/d(rate) [batch] f32 (written). */
  decay?: GPUBuffer;
  gradDecay?: GPUBuffer;
}

/** The buffers a backward plan binds: the caller's, and gradCarry / gradFirst (the scan's ends, made by the class). */
export type BackwardSlot = keyof PrefixScanBackwardBuffers | 'gradCarry' | 'gradFirst';

const rowsOf = (config: KernelConfig) => (config.rows === 'vec4' ? wgsl.rowsVec4 : wgsl.rowsF32);
const gradOutputRows = (config: KernelConfig) => instantiate(rowsOf(config), 'ROWS', 'grad_output', ['grad_output_load4']);
const forwardOutputRows = (config: KernelConfig) => instantiate(rowsOf(config), 'ROWS', 'forward_output', ['forward_output_load4']);

/** The backward operator: elements (log lambda_i, g_i, D_i) right to left, writing dv and (shares of) ds. */
export function backwardOperator(config: KernelConfig): ScanOperator<BackwardSlot> {
  const partial = config.blocks > 1;
  return {
    common: [wgsl.lseBackward],
    constants: {},
    source: {
      parts: [wgsl.gradTermsRead, gradOutputRows(config), wgsl.loadGrad],
      buffers: { grad_terms: { scratch: 'grad terms' }, grad_output: 'gradOutput' },
    },
    sink: {
      parts: [valueRows(config), outputRows(config), partial ? wgsl.scoreGradPartial : wgsl.scoreGradDirect, wgsl.storeGrads],
      buffers: { values: 'values', outputs: 'gradValues', ...(partial ? { ds_partials: { scratch: 'ds partials' } } : { grad_scores: 'gradScores' }) },
    },
  };
}

/** The backward's recurrent kernel (recurrent_lse_backward_scan.wgsl): the reverse scan with the operator inlined and
 * four vec4 lanes per invocation as a mat4x4 whatever the config's lanes, so its channel blocks are
 * ceil(headDim / 16), which is config.blocks (the ds shares per block that sum_partials adds). Each block forms
 * its share of D = g . o and carries its own share of b, so grad_terms runs with DOT_IN_SCAN. */
export function recurrentBackwardKernel(config: KernelConfig): Kernel {
  return {
    parts: [
      wgsl.lseBackward, wgsl.stateLayout, wgsl.scanParams, stateAccess.carryIn, stateAccess.finalState, wgsl.gradTermsRead, gradOutputRows(config),
      forwardOutputRows(config), valueRows(config), outputRows(config), wgsl.blockLanes, config.blocks > 1 ? wgsl.scoreGradPartial : wgsl.scoreGradDirect, wgsl.recurrentLseBackwardScan,
    ],
    constants: { LANES: 4, WORKGROUP_SIZE: RECURRENT_WORKGROUP, RUN_LENGTH: RECURRENT_RUN_LENGTH },
  };
}

/** The recurrent schedule's reverse scan: one dispatch, the buffers of backwardOperator's source and sink. */
export function recurrentBackwardDispatch(shape: ScanShape, config: KernelConfig): Dispatch<BackwardSlot> {
  const op = backwardOperator(config);
  return {
    kernel: recurrentBackwardKernel(config),
    params: { batch: shape.batch, count: shape.length, head_dim: shape.headDim, tiles_per_chunk: 1, chunks: 1, has_carry: { ifBound: 'gradCarry' }, write_final: { ifBound: 'gradFirst' } },
    buffers: { ...op.source.buffers, ...op.sink.buffers, forward_output: 'output', carry_in: 'gradCarry', final_state: 'gradFirst' },
    workgroups: [Math.ceil(config.blocks / RECURRENT_WORKGROUP), shape.batch, 1],
  };
}

/** The passes of the backward of a scan of `shape` (pure: a test reads them without a device). */
export function planPrefixScanBackward(shape: ScanShape, options: PrefixScanBackwardOptions, device: PlanLimits): Plan<BackwardSlot> & { schedule: ScanSchedule; config: KernelConfig } {
  const config = kernelConfig(device.limits, shape.headDim);
  const schedule = chooseSchedule(options.schedule ?? 'auto', device.cpu, shape.batch * config.blocks, options.targetWorkgroups);
  const optional: BackwardSlot[] = ['initialState', 'gradFinalState', 'gradInitialState'];
  const decay = options.decay === true;
  const rates = decayParts<BackwardSlot>(decay ? 'decay' : null, options.decayPeriod);
  if (shape.batch * shape.length === 0) return { dispatches: [], scratch: {}, optional, schedule, config };
  const { batch, length, headDim } = shape;
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const geometry = { sequences: batch, count: length, channels: headDim, config, maxGroups };
  const ends = {
    batch, count: length, head_dim: headDim, has_initial: { ifBound: 'initialState' as const }, has_grad_final: { ifBound: 'gradFinalState' as const },
    write_grad_initial: { ifBound: 'gradInitialState' as const },
  };
  const endGroups: [number, number, number] = [Math.ceil(batch / 64), 1, 1];
  const carry: Dispatch<BackwardSlot> = {
    kernel: { parts: [wgsl.statsRead, wgsl.stateLayout, wgsl.gradEndParams, wgsl.gradCarry], constants: {} },
    params: ends,
    buffers: { stats: 'stats', grad_final_state: 'gradFinalState', grad_carry: 'gradCarry' },
    workgroups: endGroups,
  };
  // One invocation per row (batch * length), over x then y.
  const rowCount = batch * length;
  const recurrent = schedule === 'recurrent';
  const rowGroups = Math.ceil(rowCount / 64);
  const x = Math.min(rowGroups, maxGroups);
  const rowWorkgroups: [number, number, number] = [x, Math.ceil(rowGroups / x), 1];
  const terms: Dispatch<BackwardSlot> = {
    kernel: {
      parts: [wgsl.scanParams, wgsl.stateLayout, wgsl.lseBackward, wgsl.statsRead, gradOutputRows(config), forwardOutputRows(config), ...rates.parts, wgsl.atanhSeries, wgsl.gradTerms],
      constants: { LANES: config.lanes, DOT_IN_SCAN: recurrent ? 1 : 0, ...rates.constants },
    },
    params: { batch, count: length, head_dim: headDim, tiles_per_chunk: 1, chunks: x, has_carry: 0, write_final: 0 },
    buffers: { stats: 'stats', grad_output: 'gradOutput', forward_output: 'output', scores: 'scores', grad_terms: { scratch: 'grad terms' }, ...rates.buffers },
    workgroups: rowWorkgroups,
  };
  const scan = recurrent
    ? { dispatches: [recurrentBackwardDispatch(shape, config)], scratch: {} }
    : planScan(backwardOperator(config), geometry, schedule, { carry: 'gradCarry', final: 'gradFirst' }, options);
  const dispatches: Dispatch<BackwardSlot>[] = [carry, terms, ...scan.dispatches];
  const scratch: Record<string, number> = { ...scan.scratch, 'grad terms': rowCount * 16 };
  if (config.blocks > 1) {
    // Recurrent: each block's share of b at the first position follows the ds shares (score_grad_partial.wgsl).
    scratch['ds partials'] = config.blocks * (rowCount + (recurrent ? batch : 0)) * 4;
    dispatches.push({
      kernel: { parts: [wgsl.scanParams, wgsl.stateLayout, wgsl.sumPartials], constants: {} },
      params: { batch, count: length, head_dim: headDim, tiles_per_chunk: config.blocks, chunks: x, has_carry: 0, write_final: recurrent ? 1 : 0 },
      buffers: { ds_partials: { scratch: 'ds partials' }, grad_scores: 'gradScores', grad_first: 'gradFirst' },
      workgroups: rowWorkgroups,
    });
  }
  const finish: Kernel = {
    parts: [wgsl.statsRead, wgsl.stateLayout, wgsl.gradEndParams, forwardOutputRows(config), ...rates.parts, wgsl.gradFinish],
    constants: rates.constants,
  };
  dispatches.push({
    kernel: finish,
    params: ends,
    buffers: {
      stats: 'stats', forward_output: 'output', initial_state: 'initialState', grad_final_state: 'gradFinalState',
      grad_first: 'gradFirst', grad_scores: 'gradScores', grad_initial_state: 'gradInitialState', ...rates.buffers,
    },
    workgroups: endGroups,
  });
  if (decay) {
    // dL/d(rate) = sum_i i ds_i + grad_finish's end terms + the final max's share, which goes to ds here.
    dispatches.push({
      // Short sequences on CPU adapters: one invocation per sequence (the tree's barriers cost more there than the
      // whole sum: 6.7 ms for 64 sequences of 64 tokens with 64, 0.5 ms with 1); long ones keep 64 (with 1, a
      // few sequences of 16384 leave most lanes and a core idle).
      kernel: { parts: [wgsl.gradEndParams, wgsl.stateLayout, ...rates.parts, wgsl.decayGrad], constants: { ...rates.constants, DECAY_GRAD_WORKGROUP: device.cpu && length <= 1024 ? 1 : 64 } },
      params: ends,
      buffers: {
        grad_scores: 'gradScores', grad_decay: 'gradDecay', grad_first: 'gradFirst', initial_state: 'initialState', scores: 'scores',
        grad_initial_state: 'gradInitialState', ...rates.buffers,
      },
      workgroups: [batch, 1, 1],
    });
  }
  return { dispatches, scratch, optional, schedule, config };
}

/** Bytes of every buffer a backward of `shape` makes or binds (each rounded as createStorageBuffer rounds). */
export function backwardBufferBytes(shape: ScanShape, config: KernelConfig, parallel: boolean): Record<string, number> {
  const { batch, length, headDim } = shape;
  const sizes: Record<string, number> = {
    scores: bufferBytes(batch * length * 4),
    rows: bufferBytes(batch * length * headDim * 4),
    stats: bufferBytes(batch * length * 8),
    state: bufferBytes(stateBytes(batch, headDim)),
  };
  sizes['grad terms'] = bufferBytes(batch * length * 16);
  if (config.blocks > 1) sizes['ds partials'] = bufferBytes(config.blocks * batch * (length + 1) * 4); // + the recurrent kernel's shares of b
  if (parallel) sizes['chunk states'] = bufferBytes(stateBytes(batch * Math.ceil(length / config.tile), headDim));
  return sizes;
}

/** The backward of a PrefixScan of one shape, recorded into the caller's encoder (no submit, no readback). */
export class PrefixScanBackward {
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    readonly shape: Readonly<ScanShape>,
    readonly config: KernelConfig,
    readonly schedule: ScanSchedule,
    private readonly prepared: PreparedPlan<BackwardSlot>,
    private readonly ends: { gradCarry: GPUBuffer; gradFirst: GPUBuffer },
    /** Decay rates buffers.decay holds (0: no decay). */
    private readonly rates = 0,
  ) {}

  /** Compiles (or takes from the per-device cache) the pipelines and allocates the scratch for one shape. */
  static async create(device: GPUDevice, shape: ScanShape, options: PrefixScanBackwardOptions = {}): Promise<PrefixScanBackward> {
    await checkLiveDevice('device', device);
    checkObject('shape', shape, '{ batch, length, headDim }');
    checkObject('options', options, '(PrefixScanBackwardOptions)');
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    checkInteger('shape.batch', shape.batch, 0, 64 * maxGroups);
    checkInteger('shape.length', shape.length, 0);
    checkInteger('shape.headDim', shape.headDim, 1, 16 * maxGroups);
    checkOneOf('options.schedule', options.schedule ?? 'auto', ['auto', ...SCAN_SCHEDULES] as const);
    if (options.tilesPerChunk !== undefined) checkInteger('options.tilesPerChunk', options.tilesPerChunk, 1);
    if (options.targetWorkgroups !== undefined) checkInteger('options.targetWorkgroups', options.targetWorkgroups, 1);
    if (options.decay !== undefined && typeof options.decay !== 'boolean') throw new TypeError(`options.decay must be a boolean, got ${typeof options.decay}`);
    if (options.decayPeriod !== undefined) checkInteger('options.decayPeriod', options.decayPeriod, 1);
    const plan = planPrefixScanBackward(shape, options, { limits: device.limits, cpu: isCpuAdapter(device) });
    if (shape.batch > maxGroups && plan.dispatches.length > 0) {
      throw new RangeError(`shape.batch ${shape.batch}: the scan dispatches one workgroup row per sequence, at most ${maxGroups}`);
    }
    checkBufferSizes(`shape batch ${shape.batch} x length ${shape.length} x headDim ${shape.headDim}`,
      backwardBufferBytes(shape, plan.config, plan.schedule === 'parallel'), bufferLimit(device.limits));
    const prepared = await PreparedPlan.create(device, plan, 'aaren scan backward');
    const bytes = Math.max(16, stateBytes(shape.batch, shape.headDim));
    const ends = { gradCarry: createStorageBuffer(device, bytes, 'aaren backward carry'), gradFirst: createStorageBuffer(device, bytes, 'aaren backward first') };
    const rates = options.decay ? Math.min(shape.batch, options.decayPeriod ?? shape.batch) : 0;
    return new PrefixScanBackward(device, { ...shape }, plan.config, plan.schedule, prepared, ends, rates);
  }

  /** Bytes of a state buffer for this batch (initialState, gradFinalState, gradInitialState). */
  get stateBytes(): number {
    return stateBytes(this.shape.batch, this.shape.headDim);
  }

  /**
   * Records the backward into the caller's encoder (one compute pass). gradScores and gradValues are written in
   * full (0 for masked tokens); gradInitialState when bound (with length 0 nothing is recorded: the gradient of the
   * final state is that of the initial state).
   */
  encode(encoder: GPUCommandEncoder, buffers: PrefixScanBackwardBuffers): void {
    if (this.destroyed) throw new TypeError('PrefixScanBackward.encode: this PrefixScanBackward was destroyed; create a new one');
    checkDevice('PrefixScanBackward.device', this.device);
    checkEncoder(encoder);
    checkObject('buffers', buffers, '{ scores, values, output, stats, gradOutput, gradScores, gradValues, initialState?, gradFinalState?, gradInitialState? }');
    const { batch, length, headDim } = this.shape;
    const rowBytes = batch * length * headDim * 4;
    const resolved: Partial<Record<BackwardSlot, GPUBuffer>> = {
      scores: checkStorageBuffer('buffers.scores', buffers.scores, batch * length * 4),
      values: checkStorageBuffer('buffers.values', buffers.values, rowBytes),
      output: checkStorageBuffer('buffers.output', buffers.output, rowBytes),
      stats: checkStorageBuffer('buffers.stats', buffers.stats, batch * length * 8),
      gradOutput: checkStorageBuffer('buffers.gradOutput', buffers.gradOutput, rowBytes),
      gradScores: checkStorageBuffer('buffers.gradScores', buffers.gradScores, batch * length * 4),
      gradValues: checkStorageBuffer('buffers.gradValues', buffers.gradValues, rowBytes),
      gradCarry: this.ends.gradCarry,
      gradFirst: this.ends.gradFirst,
    };
    for (const name of ['initialState', 'gradFinalState', 'gradInitialState'] as const) {
      if (buffers[name] !== undefined) resolved[name] = checkStorageBuffer(`buffers.${name}`, buffers[name], this.stateBytes);
    }
    if (this.rates > 0) {
      resolved.decay = checkStorageBuffer('buffers.decay', buffers.decay, this.rates * 4);
      resolved.gradDecay = checkStorageBuffer('buffers.gradDecay', buffers.gradDecay, batch * 4);
    } else if (buffers.decay !== undefined || buffers.gradDecay !== undefined) {
      throw new TypeError('buffers.decay / buffers.gradDecay are given but this PrefixScanBackward was created without options.decay');
    }
    checkNoAliasing('buffers', resolved, ['gradScores', 'gradValues', 'gradInitialState', 'gradDecay'],
      ['scores', 'values', 'output', 'stats', 'gradOutput', 'gradScores', 'gradValues', 'initialState', 'gradFinalState', 'gradInitialState', 'decay', 'gradDecay']);
    if (this.prepared.plan.dispatches.length === 0) return;
    const pass = encoder.beginComputePass({ label: 'aaren prefix scan backward' });
    this.prepared.encode(pass, resolved);
    pass.end();
  }

  /** Releases the scratch, uniform and end buffers; pipelines stay cached for the device. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.prepared.destroy();
    this.ends.gradCarry.destroy();
    this.ends.gradFirst.destroy();
  }
}

export interface PrefixAttentionBackwardInput extends PrefixAttentionInput {
  /** dLoss/d(output) [batch, length, headDim]; finite. */
  gradOutput: Float32Array;
}

export interface PrefixAttentionBackwardOptions extends Omit<PrefixScanBackwardOptions, 'decay'> {
  /** Recency decay, one rate >= 0 per sequence (as prefixAttention's); gradDecay is then returned. */
  decay?: Float32Array | readonly number[];
  /** The state the forward continues from; gradInitialState is then returned. */
  initialState?: ScanState;
  /** dLoss/d(final state): (m, u, w) per sequence (e.g. the gradInitialState of the next block). */
  gradFinalState?: ScanState;
}

export interface PrefixAttentionBackwardResult {
  /** The forward's outputs [batch, length, headDim]. */
  output: Float32Array;
  /** [batch, length] */
  gradScores: Float32Array;
  /** [batch, length, headDim] */
  gradValues: Float32Array;
  /** dLoss/d(initial state) as a ScanState holding (dm, du, dw): present when options.initialState is given. */
  gradInitialState?: ScanState;
  /** dLoss/d(decay rate) [batch]: present when options.decay is given. */
  gradDecay?: Float32Array;
}

function checkGradFinalState(state: unknown, batch: number, headDim: number): void {
  checkObject('options.gradFinalState', state, '{ batch, headDim, m, u, w } (a ScanState)');
  const s = state as ScanState;
  if (s.batch !== batch || s.headDim !== headDim) {
    throw new RangeError(`options.gradFinalState is for batch ${s.batch} x headDim ${s.headDim}, the input is batch ${batch} x headDim ${headDim}`);
  }
  checkFloat32Array('options.gradFinalState.m', s.m, batch, 'batch');
  checkFloat32Array('options.gradFinalState.u', s.u, batch, 'batch');
  checkFloat32Array('options.gradFinalState.w', s.w, batch * headDim, 'batch x headDim');
  checkFinite('options.gradFinalState.m', s.m);
  checkFinite('options.gradFinalState.u', s.u);
  checkFinite('options.gradFinalState.w', s.w);
}

function sliceState(state: ScanState, from: number, count: number): ScanState {
  const d = state.headDim;
  return { batch: count, headDim: d, m: state.m.slice(from, from + count), u: state.u.slice(from, from + count), w: state.w.slice(from * d, (from + count) * d) };
}

/** Unpacks (dm, du, dw) from the state layout, keeping dm as it is (unpackState maps u = 0 to m = -Infinity). */
function unpackGradient(packed: Float32Array, batch: number, headDim: number): ScanState {
  const stride = stateStrideFloats(headDim);
  const g: ScanState = { batch, headDim, m: new Float32Array(batch), u: new Float32Array(batch), w: new Float32Array(batch * headDim) };
  for (let b = 0; b < batch; b++) {
    g.m[b] = packed[b * stride]!;
    g.u[b] = packed[b * stride + 1]!;
    g.w.set(packed.subarray(b * stride + 4, b * stride + 4 + headDim), b * headDim);
  }
  return g;
}

/** A state of `batch` sequences, all empty (or zero: a gradient). */
const zeroState = (batch: number, headDim: number): ScanState => ({ batch, headDim, m: new Float32Array(batch), u: new Float32Array(batch), w: new Float32Array(batch * headDim) });

function setState(target: ScanState, from: number, source: ScanState): void {
  target.m.set(source.m, from);
  target.u.set(source.u, from);
  target.w.set(source.w, from * target.headDim);
}

/**
 * Bytes of every buffer one piece of `batch` x `length` needs (the backward's, the forward's chunk states, and the
 * one readback of outputs, gradients and state); the parallel schedule's chunk states counted whatever the schedule.
 */
function pieceBytes(batch: number, length: number, headDim: number, config: KernelConfig): number {
  const sizes = backwardBufferBytes({ batch, length, headDim }, config, true);
  const readback = 2 * sizes.rows! + sizes.scores! + sizes.state!;
  return Math.max(...Object.values(sizes), readback);
}

/** One piece (every buffer within the limits): forward with stats, then the backward, read back. */
async function backwardPiece(device: GPUDevice, piece: PrefixAttentionBackwardInput, initialState: ScanState | undefined,
  gradFinalState: ScanState | undefined, wantGradInitial: boolean, scanOptions: Omit<PrefixScanBackwardOptions, 'decay'>, rates: Float32Array | undefined) {
  const { batch, length, headDim } = piece;
  return runGpuCall(device, 'prefixAttentionBackward', 'device', async (track) => {
    const shape = { batch, length, headDim };
    const decay = rates !== undefined;
    const forward = track(await PrefixScan.create(device, shape, { schedule: scanOptions.schedule, tilesPerChunk: scanOptions.tilesPerChunk, targetWorkgroups: scanOptions.targetWorkgroups, saveStats: true, decay }));
    const backward = track(await PrefixScanBackward.create(device, shape, { ...scanOptions, decay }));
    const rowFloats = batch * length * headDim;
    const buffers = {
      scores: track(uploadFloat32(device, piece.scores, 'aaren scores')),
      values: track(uploadFloat32(device, piece.values, 'aaren values')),
      output: track(createStorageBuffer(device, rowFloats * 4, 'aaren output')),
      stats: track(createStorageBuffer(device, batch * length * 8, 'aaren stats')),
      gradOutput: track(uploadFloat32(device, piece.gradOutput, 'aaren grad output')),
      gradScores: track(createStorageBuffer(device, batch * length * 4, 'aaren grad scores')),
      gradValues: track(createStorageBuffer(device, rowFloats * 4, 'aaren grad values')),
      initialState: initialState && track(uploadFloat32(device, packState(initialState), 'aaren initial state')),
      gradFinalState: gradFinalState && track(uploadFloat32(device, packState(gradFinalState), 'aaren grad final state')),
      gradInitialState: wantGradInitial ? track(createStorageBuffer(device, backward.stateBytes, 'aaren grad initial state')) : undefined,
      decay: rates && track(uploadFloat32(device, rates, 'aaren decay rates')),
      gradDecay: decay ? track(createStorageBuffer(device, batch * 4, 'aaren grad decay')) : undefined,
    };
    const encoder = device.createCommandEncoder({ label: 'aaren prefixAttentionBackward' });
    forward.encode(encoder, { scores: buffers.scores, values: buffers.values, output: buffers.output, stats: buffers.stats, initialState: buffers.initialState, decay: buffers.decay });
    backward.encode(encoder, buffers);
    const sources = [{ buffer: buffers.output, floats: rowFloats }, { buffer: buffers.gradScores, floats: batch * length }, { buffer: buffers.gradValues, floats: rowFloats }];
    if (buffers.gradDecay) sources.push({ buffer: buffers.gradDecay, floats: batch });
    if (buffers.gradInitialState) sources.push({ buffer: buffers.gradInitialState, floats: backward.stateBytes / 4 });
    const [output, gradScores, gradValues, ...ends] = await submitAndRead(device, encoder, sources);
    const gradDecay = decay ? ends.shift() : undefined;
    const dInit = ends.shift();
    return { output: output!, gradScores: gradScores!, gradValues: gradValues!, gradInitialState: dInit && unpackGradient(dInit, batch, headDim), gradDecay };
  });
}

/**
 * The backward of prefixAttention: runs the forward (keeping (m, u) per position) and the reverse scan, and returns
 * the outputs with dLoss/d(scores), dLoss/d(values) and, with options.initialState, dLoss/d(initial state). Masked
 * tokens (-Infinity scores) get 0; a fully masked sequence gives zeros. Inputs past the device's buffer limits run
 * in pieces: groups of whole sequences, or one sequence cut along its length (see backwardInPieces).
 */
export async function prefixAttentionBackward(device: GPUDevice, input: PrefixAttentionBackwardInput, options: PrefixAttentionBackwardOptions = {}): Promise<PrefixAttentionBackwardResult> {
  return backwardInPieces(device, input, options);
}

/**
 * prefixAttentionBackward in pieces whose every buffer fits `limit` (default: the device's; tests pass a small one).
 * A sequence cut along its length runs its forward left to right to find the state at each cut, then the backward
 * of its pieces right to left, each from the state at its start, the gradient of each piece's initial state handed
 * back as the gradient of the previous piece's final state: block-wise, so the result equals one pass.
 */
export async function backwardInPieces(device: GPUDevice, input: PrefixAttentionBackwardInput, options: PrefixAttentionBackwardOptions = {},
  limit?: { bytes: number; name: string }): Promise<PrefixAttentionBackwardResult> {
  checkInput(input, options);
  const { batch, length, headDim } = input;
  checkFloat32Array('input.gradOutput', input.gradOutput, batch * length * headDim, `batch ${batch} x length ${length} x headDim ${headDim}`);
  checkFinite('input.gradOutput', input.gradOutput);
  if (options.gradFinalState !== undefined) checkGradFinalState(options.gradFinalState, batch, headDim);
  checkOneOf('options.schedule', options.schedule ?? 'auto', ['auto', ...SCAN_SCHEDULES] as const);
  if (options.tilesPerChunk !== undefined) checkInteger('options.tilesPerChunk', options.tilesPerChunk, 1);
  if (options.targetWorkgroups !== undefined) checkInteger('options.targetWorkgroups', options.targetWorkgroups, 1);
  await checkLiveDevice('device', device);
  limit ??= bufferLimit(device.limits);
  const output = new Float32Array(batch * length * headDim);
  const gradScores = new Float32Array(batch * length);
  const gradValues = new Float32Array(batch * length * headDim);
  const gradInitialState = options.initialState ? zeroState(batch, headDim) : undefined;
  const gradDecay = options.decay ? new Float32Array(batch) : undefined;
  const result = { output, gradScores, gradValues, ...(gradInitialState ? { gradInitialState } : {}), ...(gradDecay ? { gradDecay } : {}) };
  if (batch * length === 0) {
    // No token: the final state is the initial state.
    if (gradInitialState && options.gradFinalState) setState(gradInitialState, 0, options.gradFinalState);
    return result;
  }
  const config = kernelConfig(device.limits, headDim);
  const bytes = limit.bytes;
  const pieces = cutIntoPieces(batch, length, (b, n) => pieceBytes(b, n, headDim, config) <= bytes, {
    splitBatch: true, maxBatch: device.limits.maxComputeWorkgroupsPerDimension,
    refuse: () => {
      throw new RangeError(`input.headDim ${headDim}: one token needs buffers past the device's ${limit.name} (${limit.bytes} bytes)`);
    },
  });
  const { initialState, gradFinalState, decay, ...scanOptions } = options;
  const slice = (x: Float32Array, first: number, tokens: number, width: number) => x.subarray(first * width, (first + tokens) * width);
  const pieceInput = (p: Piece): PrefixAttentionBackwardInput => {
    const first = p.batchStart * length + p.lengthStart; // the piece's tokens are contiguous
    const tokens = p.batch * p.length;
    return {
      batch: p.batch, length: p.length, headDim,
      scores: slice(input.scores, first, tokens, 1), values: slice(input.values, first, tokens, headDim), gradOutput: slice(input.gradOutput, first, tokens, headDim),
    };
  };
  // Pieces of one group of sequences follow each other along the length.
  for (let start = 0; start < pieces.length;) {
    let end = start + 1;
    while (end < pieces.length && pieces[end]!.batchStart === pieces[start]!.batchStart) end++;
    const group = pieces.slice(start, end);
    const { batchStart, batch: count } = group[0]!;
    const rates = decay && Float32Array.from(decay).subarray(batchStart, batchStart + count);
    // The forward state at the start of each piece (left to right).
    const states: (ScanState | undefined)[] = [initialState && sliceState(initialState, batchStart, count)];
    for (const p of group.slice(0, -1)) {
      const { scores, values } = pieceInput(p);
      const carried = states.at(-1);
      states.push((await runInPieces(device, { batch: p.batch, length: p.length, headDim, scores, values }, { ...scanOptions, initialState: carried, decay: rates }, 'all', limit)).state);
    }
    // The backward right to left, the gradient of each piece's initial state handed to the piece before.
    let gradFinal = gradFinalState && sliceState(gradFinalState, batchStart, count);
    for (let k = group.length - 1; k >= 0; k--) {
      const p = group[k]!;
      const wantGradInitial = k > 0 || initialState !== undefined;
      const r = await backwardPiece(device, pieceInput(p), states[k], gradFinal, wantGradInitial, scanOptions, rates);
      const first = p.batchStart * length + p.lengthStart;
      // The rate acts in every piece (given the state it starts from): its gradient is the sum of the pieces'.
      if (gradDecay && r.gradDecay) for (let b = 0; b < p.batch; b++) gradDecay[batchStart + b] = gradDecay[batchStart + b]! + r.gradDecay[b]!;
      output.set(r.output, first * headDim);
      gradScores.set(r.gradScores, first);
      gradValues.set(r.gradValues, first * headDim);
      gradFinal = r.gradInitialState;
    }
    if (gradInitialState && gradFinal) setState(gradInitialState, batchStart, gradFinal);
    start = end;
  }
  return result;
}
