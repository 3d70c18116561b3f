// The log-sum-exp prefix scan (attention of one query over every prefix), as a GPU-resident program and as a
// typed-array call. The passes come from the generic scan skeleton (src/scan/skeleton.ts) with the attention
// operator: lse_combine, tokens (s, 1, v) as elements, o = w / u as each position's result; on the recurrent
// schedule, many-to-many runs recurrent_lse_scan.wgsl, that operator's combine specialised into one frame (one exp
// and one multiply-add per channel and token). Many-to-one reduces every sequence to its total and finishes with
// finish_state.
import { instantiate, type WgslPart } from '../../core/compose.js';
import { type Kernel, type Plan, PreparedPlan } from '../../core/kernel.js';
import * as wgsl from '../../core/shader-sources.js';
import { bufferBytes, createStorageBuffer, submitAndRead, uploadFloat32 } from '../../core/buffers.js';
import { emptyState, packState, stateBytes, unpackState, type ScanState } from './state.js';
import { bufferLimit, checkBufferSizes, checkFinite, checkFloat32Array, checkInteger, checkObject, checkOneOf, checkStorageBuffer } from '../../core/validate.js';
import { checkDevice, checkLiveDevice, isCpuAdapter, runGpuCall } from '../../core/device.js';
import { cutIntoPieces, type Piece } from '../../core/pieces.js';
import {
  RECURRENT_RUN_LENGTH, RECURRENT_WORKGROUP, SCAN_SCHEDULES, chooseSchedule, kernelConfig, planReduce, planScan, stateAccess,
  type ChunkOptions, type KernelConfig, type ScanOperator, type ScanSchedule,
} from '../../scan/skeleton.js';
import type { Dispatch } from '../../core/kernel.js';

export type { ScanSchedule, KernelConfig };

export interface ScanShape {
  batch: number;
  length: number;
  headDim: number;
}

export interface PrefixScanOptions extends ChunkOptions {
  /** 'all' (many-to-many, default): o for every position, [batch, length, headDim]. 'last' (many-to-one): o of the
   * last position, [batch, headDim], and the final state. */
  outputs?: 'all' | 'last';
  /** 'auto' (default) picks by adapter and shape; the others force a schedule (tests exercise each). */
  schedule?: 'auto' | ScanSchedule;
  /** Also write, per position, the forward state's (m, u) to `buffers.stats` ([batch, length] vec2 f32): what
   * PrefixScanBackward needs. Many-to-many only. */
  saveStats?: boolean;
  /** Recency decay: token i weighs exp(s_i - lambda (k - i)) at output k, with one rate lambda >= 0 per sequence
   * in `buffers.decay` ([batch] f32; lse_combine.wgsl). A rate of 0 is the plain scan, bit for bit. */
  decay?: boolean;
  /** With decay: the rates repeat every `decayPeriod` sequences (buffers.decay holds that many; default: one per
   * sequence). The Aaren layer's sequences are b * heads + h with one rate per head: decayPeriod = heads. */
  decayPeriod?: number;
}

/** Buffers for PrefixScan.encode; all need STORAGE usage. Layouts in docs/api.md. */
export interface PrefixScanBuffers {
  scores: GPUBuffer;
  values: GPUBuffer;
  output: GPUBuffer;
  /** Continue from this state (batch states, see src/ops/attention/state.ts); omitted: start empty. */
  initialState?: GPUBuffer;
  /** Receives the state after the last token. */
  finalState?: GPUBuffer;
  /** With options.saveStats: receives (m_i, u_i) per position, [batch, length] vec2 f32 (8 bytes a position). */
  stats?: GPUBuffer;
  /** With options.decay: the decay rate of each sequence, [batch] f32, each finite and >= 0 (not checked on the GPU). */
  decay?: GPUBuffer;
}

/** The buffers a scan plan binds at encode time. */
export type ScanSlot = keyof PrefixScanBuffers;

/** Value rows and output rows as vec4s when headDim % 4 == 0, else as scalars. */
export const valueRows = (config: KernelConfig) => (config.rows === 'vec4' ? wgsl.valuesVec4 : wgsl.valuesF32);
export const outputRows = (config: KernelConfig) => (config.rows === 'vec4' ? wgsl.outputsVec4 : wgsl.outputsF32);

/** Every rate of decay_rates.wgsl is its own sequence's (the layer's repeat per head instead). */
const PER_SEQUENCE = 0xffffffff;

/** What a kernel needs for the recency decay: decay_rates.wgsl reading the `decay` slot (rates repeating every
 * `period` sequences), or no_decay.wgsl. */
export function decayParts<S extends string>(decay: S | null, period = PER_SEQUENCE): { parts: WgslPart[]; constants: Record<string, number>; buffers: Record<string, S> } {
  if (decay === null) return { parts: [wgsl.noDecay], constants: {}, buffers: {} };
  return { parts: [wgsl.decayRates], constants: { DECAY_PERIOD: period }, buffers: { decay_rates: decay } };
}

/** The attention operator over tokens (s, 1, v), writing o = w / u rows: the forward scan of prefixAttention. */
export function attentionOperator(config: KernelConfig, saveStats = false, decay = false, decayPeriod?: number): ScanOperator<ScanSlot> {
  const rates = decayParts<ScanSlot>(decay ? 'decay' : null, decayPeriod);
  return {
    common: [wgsl.lseCombine],
    constants: rates.constants,
    source: { parts: [valueRows(config), ...rates.parts, wgsl.loadTokens], buffers: { scores: 'scores', values: 'values', ...rates.buffers } },
    sink: saveStats
      ? { parts: [outputRows(config), storeOutputsRenamed, wgsl.storeStats], buffers: { outputs: 'output', stats: 'stats' } }
      : { parts: [outputRows(config), wgsl.storeOutputs], buffers: { outputs: 'output' } },
  };
}

/** store_outputs.wgsl with its store_prefix renamed store_prefix_outputs, for store_stats.wgsl to call. */
const storeOutputsRenamed = instantiate(wgsl.storeOutputs, 'store_prefix', 'store_prefix_outputs', ['store_prefix_outputs']);

/** The forward's recurrent kernel (recurrent_lse_scan.wgsl): the operator's combine specialised into one shared
 * frame and one multiply-add per channel and token. Four vec4 lanes per invocation whatever the config's lanes
 * (they are a mat4x4 there, block_lanes.wgsl; lanes past the row are clamped), so its channel blocks are ceil(headDim / 16). */
export function recurrentAttentionKernel(config: KernelConfig, saveStats: boolean, decay = false, decayPeriod?: number): Kernel {
  const rates = decayParts(decay ? 'decay' : null, decayPeriod);
  return {
    parts: [wgsl.lseCombine, ...rates.parts, wgsl.stateLayout, wgsl.scanParams, stateAccess.carryIn, stateAccess.finalState, valueRows(config), outputRows(config), wgsl.blockLanes, wgsl.recurrentLseScan],
    constants: { LANES: 4, WORKGROUP_SIZE: RECURRENT_WORKGROUP, RUN_LENGTH: RECURRENT_RUN_LENGTH, SAVE_STATS: saveStats ? 1 : 0, ...rates.constants },
  };
}

/** The recurrent schedule's one dispatch of a many-to-many forward scan. */
export function recurrentAttentionDispatch(shape: ScanShape, config: KernelConfig, saveStats: boolean, decay = false, decayPeriod?: number): Dispatch<ScanSlot> {
  const blocks = Math.ceil(shape.headDim / 16);
  return {
    kernel: recurrentAttentionKernel(config, saveStats, decay, decayPeriod),
    params: {
      batch: shape.batch, count: shape.length, head_dim: shape.headDim, tiles_per_chunk: 1, chunks: 1,
      has_carry: { ifBound: 'initialState' }, write_final: { ifBound: 'finalState' },
    },
    buffers: { scores: 'scores', values: 'values', outputs: 'output', carry_in: 'initialState', final_state: 'finalState', stats: saveStats ? 'stats' : null, ...decayParts<ScanSlot>(decay ? 'decay' : null).buffers },
    workgroups: [Math.ceil(blocks / RECURRENT_WORKGROUP), shape.batch, 1],
  };
}

/** The device facts a plan depends on. */
export interface PlanLimits {
  limits: GPUSupportedLimits;
  cpu: boolean;
}

/** The passes of a scan of `shape` (pure: a test reads them without a device). */
export function planPrefixScan(shape: ScanShape, options: PrefixScanOptions, device: PlanLimits): Plan<ScanSlot> & { schedule: ScanSchedule; config: KernelConfig } {
  const config = kernelConfig(device.limits, shape.headDim);
  const schedule = chooseSchedule(options.schedule ?? 'auto', device.cpu, shape.batch * config.blocks, options.targetWorkgroups);
  const saveStats = options.saveStats === true && (options.outputs ?? 'all') === 'all';
  const decay = options.decay === true;
  const op = attentionOperator(config, saveStats, decay, options.decayPeriod);
  const geometry = { sequences: shape.batch, count: shape.length, channels: shape.headDim, config, maxGroups: device.limits.maxComputeWorkgroupsPerDimension };
  const optional: ScanSlot[] = ['initialState', 'finalState'];
  if (shape.batch * shape.length === 0) return { dispatches: [], scratch: {}, optional, schedule, config };
  if ((options.outputs ?? 'all') === 'all') {
    if (schedule === 'recurrent') return { dispatches: [recurrentAttentionDispatch(shape, config, saveStats, decay, options.decayPeriod)], scratch: {}, optional, schedule, config };
    return { ...planScan(op, geometry, schedule, { carry: 'initialState', final: 'finalState' }, options), optional, schedule, config };
  }
  const reduce = planReduce(op, geometry, schedule, options);
  const finish: Kernel = {
    parts: [wgsl.lseCombine, wgsl.stateLayout, wgsl.scanParams, stateAccess.inStates, stateAccess.carryIn, stateAccess.finalState, outputRows(config), wgsl.storeOutputs, wgsl.finishState],
    constants: { LANES: config.lanes },
  };
  reduce.dispatches.push({
    kernel: finish,
    params: { batch: shape.batch, count: 1, head_dim: shape.headDim, tiles_per_chunk: 1, chunks: 1, has_carry: { ifBound: 'initialState' }, write_final: 1 },
    buffers: { in_states: reduce.totals, carry_in: 'initialState', final_state: 'finalState', outputs: 'output' },
    workgroups: [Math.ceil(shape.batch / 64), config.blocks, 1],
  });
  return { dispatches: reduce.dispatches, scratch: reduce.scratch, optional: ['initialState'], schedule, config };
}

export class PrefixScan {
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    readonly shape: Readonly<ScanShape>,
    readonly outputs: 'all' | 'last',
    readonly config: KernelConfig,
    readonly schedule: ScanSchedule,
    private readonly prepared: PreparedPlan<ScanSlot>,
    readonly saveStats = false,
    /** Decay rates buffers.decay holds (0: no decay). */
    private readonly rates = 0,
  ) {}

  /** Compiles (or takes from the per-device cache) the pipelines and allocates the scratch for one shape. */
  static async create(device: GPUDevice, shape: ScanShape, options: PrefixScanOptions = {}): Promise<PrefixScan> {
    await checkLiveDevice('device', device);
    checkObject('shape', shape, '{ batch, length, headDim }');
    checkObject('options', options, '(PrefixScanOptions)');
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    checkInteger('shape.batch', shape.batch, 0, maxGroups);
    checkInteger('shape.length', shape.length, 0);
    checkInteger('shape.headDim', shape.headDim, 1, 16 * maxGroups);
    const outputs = checkOneOf('options.outputs', options.outputs ?? 'all', ['all', 'last'] as const);
    if (options.saveStats !== undefined && typeof options.saveStats !== 'boolean') throw new TypeError(`options.saveStats must be a boolean, got ${typeof options.saveStats}`);
    if (options.saveStats && outputs !== 'all') throw new RangeError("options.saveStats needs outputs 'all' (stats are per position)");
    if (options.decay !== undefined && typeof options.decay !== 'boolean') throw new TypeError(`options.decay must be a boolean, got ${typeof options.decay}`);
    checkOneOf('options.schedule', options.schedule ?? 'auto', ['auto', ...SCAN_SCHEDULES] as const);
    if (options.tilesPerChunk !== undefined) checkInteger('options.tilesPerChunk', options.tilesPerChunk, 1);
    if (options.targetWorkgroups !== undefined) checkInteger('options.targetWorkgroups', options.targetWorkgroups, 1);
    const plan = planPrefixScan(shape, options, { limits: device.limits, cpu: isCpuAdapter(device) });
    checkBufferSizes(`shape batch ${shape.batch} x length ${shape.length} x headDim ${shape.headDim}`,
      scanBufferBytes(shape, outputs, plan.schedule === 'parallel' ? plan.config.tile : 0), bufferLimit(device.limits));
    const prepared = await PreparedPlan.create(device, plan, 'aaren scan');
    const rates = options.decay ? Math.min(shape.batch, options.decayPeriod ?? shape.batch) : 0;
    return new PrefixScan(device, { ...shape }, outputs, plan.config, plan.schedule, prepared, options.saveStats === true, rates);
  }

  /** Floats of `output`: batch * length * headDim ('all') or batch * headDim ('last'). */
  get outputFloats(): number {
    const { batch, length, headDim } = this.shape;
    return this.outputs === 'all' ? batch * length * headDim : batch * headDim;
  }

  /** Bytes of a state buffer for this batch (initialState, finalState). */
  get stateBytes(): number {
    return stateBytes(this.shape.batch, this.shape.headDim);
  }

  /**
   * Records the scan into the caller's encoder (one compute pass; no submit, no readback). Buffer contents are
   * read when the commands run. NaN or +Infinity in scores or values propagate to the outputs of their
   * sequence from that position on; -Infinity scores are masked tokens.
   */
  encode(encoder: GPUCommandEncoder, buffers: PrefixScanBuffers): void {
    if (this.destroyed) throw new TypeError('PrefixScan.encode: this PrefixScan was destroyed; create a new one');
    checkDevice('PrefixScan.device', this.device);
    checkEncoder(encoder);
    checkObject('buffers', buffers, '{ scores, values, output, initialState?, finalState? }');
    const { batch, length, headDim } = this.shape;
    const resolved: Partial<Record<ScanSlot, GPUBuffer>> = {
      scores: checkStorageBuffer('buffers.scores', buffers.scores, batch * length * 4),
      values: checkStorageBuffer('buffers.values', buffers.values, batch * length * headDim * 4),
      output: checkStorageBuffer('buffers.output', buffers.output, this.outputFloats * 4),
    };
    if (buffers.initialState !== undefined) resolved.initialState = checkStorageBuffer('buffers.initialState', buffers.initialState, this.stateBytes);
    if (buffers.finalState !== undefined) resolved.finalState = checkStorageBuffer('buffers.finalState', buffers.finalState, this.stateBytes);
    if (this.saveStats) resolved.stats = checkStorageBuffer('buffers.stats', buffers.stats, batch * length * 8);
    if (this.rates > 0) resolved.decay = checkStorageBuffer('buffers.decay', buffers.decay, this.rates * 4);
    else if (buffers.decay !== undefined) throw new TypeError('buffers.decay is given but this PrefixScan was created without options.decay');
    if (this.outputs === 'last' && !resolved.finalState) {
      throw new TypeError("buffers.finalState is required when outputs is 'last' (it receives the final state)");
    }
    checkNoAliasing('buffers', resolved, ['finalState', 'stats', 'output'], ['scores', 'values', 'initialState', 'output', 'finalState', 'decay']);
    if (this.prepared.plan.dispatches.length === 0) return;
    const pass = encoder.beginComputePass({ label: 'aaren prefix scan' });
    this.prepared.encode(pass, resolved);
    pass.end();
  }

  /** Releases the scratch and uniform buffers; pipelines stay cached for the device. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.prepared.destroy();
  }
}

export function checkEncoder(encoder: unknown): asserts encoder is GPUCommandEncoder {
  if (typeof encoder !== 'object' || encoder === null || typeof (encoder as GPUCommandEncoder).beginComputePass !== 'function') {
    throw new TypeError(`encoder must be a GPUCommandEncoder, got ${encoder === null ? 'null' : typeof encoder}`);
  }
}

/** Each written buffer must differ from each of `others` (a dispatch cannot read and write one buffer). */
export function checkNoAliasing<K extends string>(prefix: string, buffers: Partial<Record<K, GPUBuffer>>, written: readonly K[], others: readonly K[]): void {
  for (const w of written) {
    for (const other of others) {
      if (other !== w && buffers[w] !== undefined && buffers[w] === buffers[other]) {
        throw new RangeError(`${prefix}.${w} must be a different buffer from ${prefix}.${other} (it is written while the other is read)`);
      }
    }
  }
}

export interface PrefixAttentionInput extends ScanShape {
  /** [batch, length]; -Infinity marks a masked token. */
  scores: Float32Array;
  /** [batch, length, headDim], row-major. */
  values: Float32Array;
}

export interface PrefixAttentionOptions extends Omit<PrefixScanOptions, 'outputs' | 'decay'> {
  /** Continue from this state (e.g. the state returned by prefixAttentionLast for earlier tokens). */
  initialState?: ScanState;
  /** Recency decay: one rate lambda >= 0 per sequence ([batch]); token i weighs exp(s_i - lambda (k - i)) at
   * output k, and a state handed on decays by the tokens that follow it. */
  decay?: Float32Array | readonly number[];
}

export function checkInput(input: PrefixAttentionInput, options: PrefixAttentionOptions): void {
  if (typeof input !== 'object' || input === null) throw new TypeError('input must be an object { scores, values, batch, length, headDim }');
  checkObject('options', options, '(PrefixAttentionOptions)');
  const batch = checkInteger('input.batch', input.batch, 0);
  const length = checkInteger('input.length', input.length, 0);
  const headDim = checkInteger('input.headDim', input.headDim, 1);
  checkFloat32Array('input.scores', input.scores, batch * length, `batch ${batch} x length ${length}`);
  checkFloat32Array('input.values', input.values, batch * length * headDim, `batch ${batch} x length ${length} x headDim ${headDim}`);
  checkFinite('input.scores', input.scores, true);
  checkFinite('input.values', input.values);
  if (options.decay !== undefined) checkDecayRates('options.decay', options.decay, batch);
  const initialState = options.initialState;
  if (initialState !== undefined) {
    checkObject('options.initialState', initialState, '{ batch, headDim, m, u, w } (a ScanState)');
    if (initialState.batch !== batch || initialState.headDim !== headDim) {
      throw new RangeError(`options.initialState is for batch ${initialState.batch} x headDim ${initialState.headDim}, the input is batch ${batch} x headDim ${headDim}`);
    }
    checkFloat32Array('options.initialState.m', initialState.m, batch, 'batch');
    checkFloat32Array('options.initialState.u', initialState.u, batch, 'batch');
    checkFloat32Array('options.initialState.w', initialState.w, batch * headDim, 'batch x headDim');
    checkFinite('options.initialState.m', initialState.m, true);
    checkFinite('options.initialState.u', initialState.u);
    checkFinite('options.initialState.w', initialState.w);
    const negative = initialState.u.findIndex((u) => u < 0);
    if (negative >= 0) throw new RangeError(`options.initialState.u[${negative}] is ${initialState.u[negative]}; u is a sum of weights, >= 0`);
  }
}

/** Decay rates: `count` finite numbers >= 0 (one per sequence), else a TypeError/RangeError naming the bad one. */
export function checkDecayRates(name: string, rates: unknown, count: number): void {
  if (!(rates instanceof Float32Array) && !Array.isArray(rates)) throw new TypeError(`${name} must be a Float32Array or an array of numbers (one rate per sequence), got ${rates === null ? 'null' : typeof rates}`);
  const list = rates as ArrayLike<unknown>;
  if (list.length !== count) throw new RangeError(`${name} has ${list.length} rates; it needs one per sequence (${count})`);
  for (let i = 0; i < count; i++) {
    const r = list[i];
    if (typeof r !== 'number' || !Number.isFinite(r) || r < 0) throw new RangeError(`${name}[${i}] is ${String(r)}; a decay rate must be finite and >= 0`);
  }
}

/**
 * Bytes of every buffer a scan of `shape` makes or binds (each rounded as createStorageBuffer rounds); `tile` > 0
 * adds the parallel schedule's chunk totals (at most one state per tile of each sequence).
 */
export function scanBufferBytes(shape: ScanShape, outputs: 'all' | 'last', tile: number): Record<string, number> {
  const { batch, length, headDim } = shape;
  const sizes: Record<string, number> = {
    scores: bufferBytes(batch * length * 4),
    values: bufferBytes(batch * length * headDim * 4),
    output: bufferBytes((outputs === 'all' ? batch * length * headDim : batch * headDim) * 4),
    state: bufferBytes(stateBytes(batch, headDim)),
  };
  if (tile > 0) sizes['chunk states'] = bufferBytes(stateBytes(batch * Math.ceil(length / tile), headDim));
  return sizes;
}

export type ScanPiece = Piece;

/**
 * Cuts a typed-array call into pieces whose every buffer (the readback included) fits `limit.bytes` (see
 * cutIntoPieces). Throws a RangeError naming the limit when not even one token of one sequence fits.
 */
export function scanPieces(shape: ScanShape, outputs: 'all' | 'last', tile: number, limit: { bytes: number; name: string }, maxBatch: number): ScanPiece[] {
  const { batch, length, headDim } = shape;
  const fits = (b: number, n: number) => {
    const sizes = scanBufferBytes({ batch: b, length: n, headDim }, outputs, tile);
    return Math.max(...Object.values(sizes), sizes.output! + sizes.state!) <= limit.bytes;
  };
  return cutIntoPieces(batch, length, fits, {
    splitBatch: true, maxBatch,
    refuse: () => {
      throw new RangeError(`input.headDim ${headDim}: one token needs buffers past the device's ${limit.name} (${limit.bytes} bytes)`);
    },
  });
}

function sliceState(state: ScanState, from: number, count: number): ScanState {
  const d = state.headDim;
  return { batch: count, headDim: d, m: state.m.slice(from, from + count), u: state.u.slice(from, from + count), w: state.w.slice(from * d, (from + count) * d) };
}

/** Runs one PrefixScan over host arrays: uploads, encodes, reads back, and releases every buffer it made. */
async function runScan(device: GPUDevice, input: PrefixAttentionInput, options: PrefixAttentionOptions, outputs: 'all' | 'last') {
  const { initialState, decay, ...scanOptions } = options;
  return runGpuCall(device, 'prefixAttention', 'device', async (track) => {
    const scan = track(await PrefixScan.create(device, input, { ...scanOptions, outputs, decay: decay !== undefined }));
    const output = track(createStorageBuffer(device, scan.outputFloats * 4, 'aaren output'));
    const finalState = track(createStorageBuffer(device, scan.stateBytes, 'aaren final state'));
    const encoder = device.createCommandEncoder({ label: 'aaren prefixAttention' });
    scan.encode(encoder, {
      scores: track(uploadFloat32(device, input.scores, 'aaren scores')),
      values: track(uploadFloat32(device, input.values, 'aaren values')),
      output,
      finalState,
      initialState: initialState && track(uploadFloat32(device, packState(initialState), 'aaren initial state')),
      decay: decay && track(uploadFloat32(device, Float32Array.from(decay), 'aaren decay rates')),
    });
    const stateFloats = scan.stateBytes / 4;
    const [out, state] = await submitAndRead(device, encoder, [{ buffer: output, floats: scan.outputFloats }, { buffer: finalState, floats: stateFloats }]);
    return { output: out!, packedState: state! };
  });
}

/**
 * The typed-array calls: validated, then run in pieces that fit the device's buffer limits (one piece unless the
 * input is larger than the largest buffer). `limit` is for tests.
 */
export async function runInPieces(device: GPUDevice, input: PrefixAttentionInput, options: PrefixAttentionOptions, outputs: 'all' | 'last',
  limit?: { bytes: number; name: string }): Promise<{ output: Float32Array; state: ScanState }> {
  checkInput(input, options);
  await checkLiveDevice('device', device);
  limit ??= bufferLimit(device.limits);
  const { batch, length, headDim } = input;
  const outputFloats = outputs === 'all' ? batch * length * headDim : batch * headDim;
  const state = options.initialState ? sliceState(options.initialState, 0, batch) : emptyState(batch, headDim);
  if (batch * length === 0) {
    const output = new Float32Array(outputFloats);
    if (outputs === 'last') {
      for (let b = 0; b < batch; b++) {
        for (let c = 0; c < headDim; c++) output[b * headDim + c] = state.u[b]! > 0 ? state.w[b * headDim + c]! / state.u[b]! : 0;
      }
    }
    return { output, state };
  }
  const tile = kernelConfig(device.limits, headDim).tile;
  const pieces = scanPieces(input, outputs, tile, limit, device.limits.maxComputeWorkgroupsPerDimension);
  // One piece (the usual case) returns its readback as it is: no second array of the output's size, no copy.
  let output: Float32Array | undefined;
  for (const p of pieces) {
    const first = p.batchStart * length + p.lengthStart; // first token of the piece; its tokens are contiguous
    const tokens = p.batch * p.length;
    const piece = { batch: p.batch, length: p.length, headDim, scores: input.scores.subarray(first, first + tokens), values: input.values.subarray(first * headDim, (first + tokens) * headDim) };
    const carried = p.lengthStart > 0 || options.initialState ? sliceState(state, p.batchStart, p.batch) : undefined;
    const decay = options.decay && Float32Array.from(options.decay).subarray(p.batchStart, p.batchStart + p.batch);
    const result = await runScan(device, piece, { ...options, initialState: carried, decay }, outputs);
    if (pieces.length === 1) output = result.output;
    else (output ??= new Float32Array(outputFloats)).set(result.output, outputs === 'all' ? first * headDim : p.batchStart * headDim);
    const next = unpackState(result.packedState, p.batch, headDim);
    state.m.set(next.m, p.batchStart);
    state.u.set(next.u, p.batchStart);
    state.w.set(next.w, p.batchStart * headDim);
  }
  return { output: output!, state };
}

/**
 * Many-to-many attention over every prefix: o[b,k,:] = sum_{i<=k} exp(s[b,i]) v[b,i,:] / sum_{i<=k} exp(s[b,i]).
 * -Infinity scores are masked tokens; a position with no unmasked token at or before it outputs 0. With
 * options.decay, exp(s[b,i]) becomes exp(s[b,i] - decay[b] (k - i)).
 * Returns [batch, length, headDim].
 */
export async function prefixAttention(device: GPUDevice, input: PrefixAttentionInput, options: PrefixAttentionOptions = {}): Promise<Float32Array> {
  return (await runInPieces(device, input, options, 'all')).output;
}

/**
 * Many-to-one: the output of the last position ([batch, headDim]) and the state after the last token, from
 * which a later call (options.initialState) continues the recurrence.
 */
export async function prefixAttentionLast(device: GPUDevice, input: PrefixAttentionInput, options: PrefixAttentionOptions = {}): Promise<{ output: Float32Array; state: ScanState }> {
  return runInPieces(device, input, options, 'last');
}

export { kernelConfig } from '../../scan/skeleton.js';
export { isCpuAdapter } from '../../core/device.js';
