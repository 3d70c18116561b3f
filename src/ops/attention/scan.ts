// The log-sum-exp prefix scan (attention of one query over every prefix), as a GPU-resident program and as a
// typed-array call. Three schedules share the element sources and sinks:
//  - recurrent: each invocation walks the tokens of one (sequence, channel block) with the state in registers
//    (blocked_recurrent_scan). No barriers and no workgroup memory: the fastest on CPU adapters such as SwiftShader.
//  - sequential: one workgroup per (sequence, channel block) walks all tiles in order, carry kept in the
//    workgroup (chunk_scan with one chunk). One read and one write of each element; best on a GPU when the
//    sequences alone fill the device.
//  - parallel: reduce-then-scan. Each sequence is cut into chunks of whole tiles; chunk_reduce writes each
//    chunk's total, the totals are scanned by the same scheme one level up (recursing while they are many),
//    and chunk_scan rescans each chunk from its carry. Best for few long sequences on a many-core GPU.
// Neither waits on another workgroup, so both terminate without forward-progress guarantees.
import { composeShader, forBuffer } from '../../core/compose.js';
import { createBindGroup, createUniformBuffer, getProgram, type Program } from '../../core/program.js';
import { wgsl } from '../../core/shader-sources.js';
import { bufferBytes, createStorageBuffer, submitAndRead, uploadFloat32 } from '../../core/buffers.js';
import { emptyState, packState, stateBytes, unpackState, type ScanState } from './state.js';
import { bufferLimit, checkBufferSizes, checkFinite, checkFloat32Array, checkInteger, checkObject, checkStorageBuffer } from '../../core/validate.js';
import { checkDevice, checkLiveDevice, runGpuCall } from '../../core/device.js';

export type ScanSchedule = 'recurrent' | 'sequential' | 'parallel';

export interface ScanShape {
  batch: number;
  length: number;
  headDim: number;
}

export interface PrefixScanOptions {
  /** 'all' (many-to-many, default): o for every position, [batch, length, headDim]. 'last' (many-to-one): o of the
   * last position, [batch, headDim], and the final state. */
  outputs?: 'all' | 'last';
  /** 'auto' (default) picks by adapter and shape; the others force a schedule (tests exercise both). */
  schedule?: 'auto' | ScanSchedule;
  /** Parallel schedule: tiles per chunk at every level (default: enough chunks to fill the device). */
  tilesPerChunk?: number;
  /** Parallel schedule: how many workgroups make the device busy (default 1024). */
  targetWorkgroups?: number;
}

/** Buffers for PrefixScan.encode; all need STORAGE usage. Layouts as in the README. */
export interface PrefixScanBuffers {
  scores: GPUBuffer;
  values: GPUBuffer;
  output: GPUBuffer;
  /** Continue from this state (batch states, see src/state.ts); omitted: start empty. */
  initialState?: GPUBuffer;
  /** Receives the state after the last token. */
  finalState?: GPUBuffer;
}

/** How a head dimension maps onto workgroups: vec4 lanes per invocation, channel blocks, tile size, and whether
 * rows of values and outputs are read and written as vec4s (headDim % 4 == 0) or as scalars. */
export interface KernelConfig {
  lanes: number;
  blocks: number;
  tile: number;
  rows: 'vec4' | 'f32';
}

const MAX_LANES = 4;
const MAX_TILE = 256;
/** Invocations per workgroup of the recurrent kernel: SwiftShader runs 4 at a time, 1 was 3.4x slower (bench). */
export const RECURRENT_WORKGROUP = 16;
/** Tokens per run of the recurrent kernel's two-level sum (blocked_recurrent_scan.wgsl: bounds f32 rounding). */
export const RECURRENT_RUN_LENGTH = 256;

export function kernelConfig(limits: GPUSupportedLimits, headDim: number): KernelConfig {
  const vec4s = Math.ceil(headDim / 4);
  const blocks = Math.ceil(vec4s / MAX_LANES);
  const lanes = Math.ceil(vec4s / blocks);
  const lseBytes = 16 + 16 * lanes; // struct Lse { m, u, w: array<vec4<f32>, LANES> } with vec4 alignment
  let tile = MAX_TILE;
  while (tile > 2 && (tile * lseBytes > limits.maxComputeWorkgroupStorageSize || tile / 2 > limits.maxComputeInvocationsPerWorkgroup)) tile /= 2;
  return { lanes, blocks, tile, rows: headDim % 4 === 0 ? 'vec4' : 'f32' };
}

/** CPU implementations of WebGPU (SwiftShader, WARP, lavapipe) run best with one workgroup per sequence. */
export function isCpuAdapter(device: GPUDevice): boolean {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (!info) return false;
  const text = `${info.vendor} ${info.architecture} ${info.description}`.toLowerCase();
  return (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|warp|software/.test(text);
}

type Source = 'tokens' | GPUBuffer; // tokens: scores + values; a buffer: states of the level below
type Sink = 'outputs' | GPUBuffer;
type Slot = 'scores' | 'values' | 'output' | 'initialState' | 'finalState';
type BufferRef = GPUBuffer | Slot;

interface Step {
  program: Program;
  params: Record<string, number>;
  buffers: Record<string, BufferRef>;
  workgroups: [number, number, number];
  /** Uniform buffers by (initial state given, final state given), made when first needed. */
  uniforms: Map<string, GPUBuffer>;
}

/** What a level reads (tokens, or the states of the level below) and writes (outputs, or states). */
type From = 'tokens' | 'states';
type To = 'outputs' | 'states';
const fromKind = (source: Source): From => (source === 'tokens' ? 'tokens' : 'states');
const toKind = (sink: Sink): To => (sink === 'outputs' ? 'outputs' : 'states');

function scanKey(config: KernelConfig, kernel: string, from: From, to?: To): string {
  return `aaren/${kernel}/${from}${to ? `>${to}` : ''}/lanes${config.lanes}/tile${config.tile}/${config.rows}`;
}

function sourceParts(config: KernelConfig, from: From): string[] {
  if (from === 'states') return [forBuffer(wgsl.stateLoad, 'in_states'), wgsl.loadStates];
  return [config.rows === 'vec4' ? wgsl.valuesVec4 : wgsl.valuesF32, wgsl.loadTokens];
}

/** The sink that writes o = w / u rows, for kernels of the package and of the layer. */
export function outputSinkParts(config: KernelConfig): string[] {
  return [config.rows === 'vec4' ? wgsl.outputsVec4 : wgsl.outputsF32, wgsl.storeOutputs];
}

function sinkParts(config: KernelConfig, to: To): string[] {
  return to === 'outputs' ? outputSinkParts(config) : [forBuffer(wgsl.stateStore, 'out_states'), wgsl.storeStates];
}

const common = [wgsl.lseCombine, wgsl.stateLayout, wgsl.scanParams];

/** The chunk_scan program from `from` elements to `to` elements (the layer scans its chunk totals with it too). */
export function chunkScanProgram(device: GPUDevice, config: KernelConfig, from: From, to: To): Promise<Program> {
  return getProgram(device, scanKey(config, 'chunk_scan', from, to), () =>
    composeShader({ LANES: config.lanes, TILE: config.tile, WORKGROUP_SIZE: config.tile / 2 }, [
      ...common, forBuffer(wgsl.stateLoad, 'carry_in'), forBuffer(wgsl.stateStore, 'final_state'), wgsl.workgroupScan,
      ...sourceParts(config, from), ...sinkParts(config, to), wgsl.chunkScan,
    ]));
}

export class PrefixScan {
  readonly schedule: ScanSchedule;
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    readonly shape: Readonly<ScanShape>,
    readonly outputs: 'all' | 'last',
    readonly config: KernelConfig,
    schedule: ScanSchedule,
    private readonly steps: Step[],
    private readonly owned: GPUBuffer[],
    private readonly unused: { initialState: GPUBuffer; finalState: GPUBuffer },
  ) {
    this.schedule = schedule;
  }

  /** Compiles (or takes from the per-device cache) the pipelines and allocates the scratch for one shape. */
  static async create(device: GPUDevice, shape: ScanShape, options: PrefixScanOptions = {}): Promise<PrefixScan> {
    await checkLiveDevice('device', device);
    checkObject('shape', shape, '{ batch, length, headDim }');
    checkObject('options', options, '(PrefixScanOptions)');
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    checkInteger('shape.batch', shape.batch, 0, maxGroups);
    checkInteger('shape.length', shape.length, 0);
    checkInteger('shape.headDim', shape.headDim, 1, 4 * MAX_LANES * maxGroups);
    const outputs = options.outputs ?? 'all';
    if (outputs !== 'all' && outputs !== 'last') throw new RangeError(`options.outputs must be 'all' or 'last', got ${String(outputs)}`);
    const requested = options.schedule ?? 'auto';
    if (!['auto', 'recurrent', 'sequential', 'parallel'].includes(requested)) {
      throw new RangeError(`options.schedule must be 'auto', 'recurrent', 'sequential' or 'parallel', got ${String(requested)}`);
    }
    if (options.tilesPerChunk !== undefined) checkInteger('options.tilesPerChunk', options.tilesPerChunk, 1);
    const targetWorkgroups = options.targetWorkgroups === undefined ? 1024 : checkInteger('options.targetWorkgroups', options.targetWorkgroups, 1);

    const config = kernelConfig(device.limits, shape.headDim);
    const sequences = shape.batch * config.blocks;
    const schedule: ScanSchedule =
      requested !== 'auto' ? requested : isCpuAdapter(device) ? 'recurrent' : sequences >= targetWorkgroups ? 'sequential' : 'parallel';
    checkBufferSizes(`shape batch ${shape.batch} x length ${shape.length} x headDim ${shape.headDim}`,
      scanBufferBytes(shape, outputs, schedule === 'parallel' ? config.tile : 0), bufferLimit(device.limits));

    // Stand-ins for bindings a dispatch does not use: one read-only, one written (a buffer may not be both in one dispatch).
    const unused = {
      initialState: device.createBuffer({ label: 'aaren unused read binding', size: 16, usage: GPUBufferUsage.STORAGE }),
      finalState: device.createBuffer({ label: 'aaren unused write binding', size: 16, usage: GPUBufferUsage.STORAGE }),
    };
    const owned: GPUBuffer[] = [unused.initialState, unused.finalState];
    const steps: Step[] = [];
    const scratchStates = (count: number) => {
      const buffer = createStorageBuffer(device, stateBytes(shape.batch * count, shape.headDim), 'aaren chunk states');
      owned.push(buffer);
      return buffer;
    };

    /** How a level of `count` elements is cut: [chunks, tilesPerChunk]. */
    const chunking = (count: number): [number, number] => {
      const tiles = Math.max(1, Math.ceil(count / config.tile));
      if (schedule !== 'parallel') return [1, tiles];
      let perChunk = options.tilesPerChunk ?? Math.ceil(tiles / Math.max(1, Math.floor(targetWorkgroups / sequences)));
      perChunk = Math.max(perChunk, Math.ceil(tiles / maxGroups));
      return [Math.ceil(tiles / perChunk), perChunk];
    };
    const params = (count: number, chunks: number, tilesPerChunk: number) => ({
      batch: shape.batch, count, head_dim: shape.headDim, tiles_per_chunk: tilesPerChunk, chunks, has_carry: 0, write_final: 0,
    });
    const addStep = async (program: Promise<Program>, values: Record<string, number>, buffers: Record<string, BufferRef>, workgroups: [number, number, number]) => {
      const step: Step = { program: await program, params: values, buffers, workgroups, uniforms: new Map() };
      steps.push(step);
      return step;
    };
    const sourceBuffers = (source: Source): Record<string, BufferRef> =>
      source === 'tokens' ? { scores: 'scores', values: 'values' } : { in_states: source };

    const reduceChunks = async (source: Source, count: number, chunks: number, tilesPerChunk: number) => {
      const totals = scratchStates(chunks);
      const program = getProgram(device, scanKey(config, 'chunk_reduce', fromKind(source)), () =>
        composeShader({ LANES: config.lanes, TILE: config.tile, WORKGROUP_SIZE: config.tile / 2 }, [
          ...common, wgsl.workgroupReduce, ...sourceParts(config, fromKind(source)), ...sinkParts(config, 'states'), wgsl.chunkReduce,
        ]));
      await addStep(program, params(count, chunks, tilesPerChunk), { ...sourceBuffers(source), out_states: totals }, [chunks, config.blocks, shape.batch]);
      return totals;
    };

    // Scans `count` elements of each sequence into `sink`, starting from `carry` when given.
    const scanLevel = async (source: Source, count: number, sink: Sink, carry: 'initialState' | null, isTop: boolean): Promise<void> => {
      const [chunks, tilesPerChunk] = chunking(count);
      let carries: BufferRef | null = carry;
      if (chunks > 1) {
        const totals = await reduceChunks(source, count, chunks, tilesPerChunk);
        carries = scratchStates(chunks);
        await scanLevel(totals, chunks, carries, carry, false);
      }
      const program = chunkScanProgram(device, config, fromKind(source), toKind(sink));
      const values = params(count, chunks, tilesPerChunk);
      if (carries !== null && carries !== 'initialState') values.has_carry = 1;
      const outputBinding: Record<string, BufferRef> = sink === 'outputs' ? { outputs: 'output' } : { out_states: sink };
      await addStep(program, values, {
        ...sourceBuffers(source), carry_in: carries ?? unused.initialState, final_state: isTop ? 'finalState' : unused.finalState, ...outputBinding,
      }, [chunks, config.blocks, shape.batch]);
    };

    // Many-to-one: reduce until one state per sequence, then finish_state.
    const reduceAll = async (source: Source, count: number): Promise<GPUBuffer> => {
      const [chunks, tilesPerChunk] = chunking(count);
      const totals = await reduceChunks(source, count, chunks, tilesPerChunk);
      return chunks === 1 ? totals : reduceAll(totals, chunks);
    };

    // One step: each invocation runs the recurrence over a whole sequence for one channel block.
    const recurrentScan = async () => {
      const program = getProgram(device, scanKey(config, 'recurrent_scan', 'tokens', 'outputs'), () =>
        composeShader({ LANES: config.lanes, WORKGROUP_SIZE: RECURRENT_WORKGROUP, RUN_LENGTH: RECURRENT_RUN_LENGTH }, [
          ...common, forBuffer(wgsl.stateLoad, 'carry_in'), forBuffer(wgsl.stateStore, 'final_state'),
          ...sourceParts(config, 'tokens'), ...outputSinkParts(config), wgsl.blockedRecurrentScan,
        ]));
      await addStep(program, params(shape.length, 1, 1), {
        ...sourceBuffers('tokens'), carry_in: 'initialState', final_state: 'finalState', outputs: 'output',
      }, [Math.ceil(config.blocks / RECURRENT_WORKGROUP), shape.batch, 1]);
    };

    const buildSteps = async () => {
      if (shape.batch > 0 && shape.length > 0) {
        if (outputs === 'all' && schedule === 'recurrent') {
          await recurrentScan();
        } else if (outputs === 'all') {
          await scanLevel('tokens', shape.length, 'outputs', 'initialState', true);
        } else {
          const totals = await reduceAll('tokens', shape.length);
          const program = getProgram(device, `aaren/finish_state/lanes${config.lanes}/${config.rows}`, () =>
            composeShader({ LANES: config.lanes }, [
              ...common, forBuffer(wgsl.stateLoad, 'in_states'), forBuffer(wgsl.stateLoad, 'carry_in'),
              forBuffer(wgsl.stateStore, 'final_state'), ...outputSinkParts(config), wgsl.finishState,
            ]));
          await addStep(program, params(1, 1, 1), { in_states: totals, carry_in: 'initialState', final_state: 'finalState', outputs: 'output' },
            [Math.ceil(shape.batch / 64), config.blocks, 1]);
        }
      }
    };
    try {
      await buildSteps();
    } catch (error) {
      for (const buffer of owned) buffer.destroy(); // a failed compile must not leak the scratch made so far
      throw error;
    }
    return new PrefixScan(device, { ...shape }, outputs, config, schedule, steps, owned, unused);
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
    if (typeof encoder !== 'object' || encoder === null || typeof encoder.beginComputePass !== 'function') {
      throw new TypeError(`encoder must be a GPUCommandEncoder, got ${encoder === null ? 'null' : typeof encoder}`);
    }
    checkObject('buffers', buffers, '{ scores, values, output, initialState?, finalState? }');
    const { batch, length, headDim } = this.shape;
    const resolved: Partial<Record<Slot, GPUBuffer>> = {
      scores: checkStorageBuffer('buffers.scores', buffers.scores, batch * length * 4),
      values: checkStorageBuffer('buffers.values', buffers.values, batch * length * headDim * 4),
      output: checkStorageBuffer('buffers.output', buffers.output, this.outputFloats * 4),
    };
    if (buffers.initialState !== undefined) resolved.initialState = checkStorageBuffer('buffers.initialState', buffers.initialState, this.stateBytes);
    if (buffers.finalState !== undefined) resolved.finalState = checkStorageBuffer('buffers.finalState', buffers.finalState, this.stateBytes);
    if (this.outputs === 'last' && !resolved.finalState) {
      throw new TypeError("buffers.finalState is required when outputs is 'last' (it receives the final state)");
    }
    for (const written of ['output', 'finalState'] as const) {
      for (const other of ['scores', 'values', 'initialState', 'output'] as const) {
        if (other !== written && resolved[written] !== undefined && resolved[written] === resolved[other]) {
          throw new RangeError(`buffers.${written} must be a different buffer from buffers.${other} (it is written while the other is read)`);
        }
      }
    }
    if (this.steps.length === 0) return;

    const pass = encoder.beginComputePass({ label: 'aaren prefix scan' });
    for (const step of this.steps) {
      const hasInitial = Object.values(step.buffers).includes('initialState') && resolved.initialState !== undefined;
      const hasFinal = Object.values(step.buffers).includes('finalState') && resolved.finalState !== undefined;
      const bound: Record<string, GPUBuffer> = {};
      for (const [name, ref] of Object.entries(step.buffers)) bound[name] = typeof ref !== 'string' ? ref : resolved[ref] ?? this.unused[ref as keyof typeof this.unused];
      bound.params = this.uniformFor(step, hasInitial, hasFinal);
      pass.setPipeline(step.program.pipeline);
      pass.setBindGroup(0, createBindGroup(this.device, step.program, bound));
      pass.dispatchWorkgroups(...step.workgroups);
    }
    pass.end();
  }

  private uniformFor(step: Step, hasInitial: boolean, hasFinal: boolean): GPUBuffer {
    const key = `${hasInitial}/${hasFinal}`;
    let buffer = step.uniforms.get(key);
    if (!buffer) {
      const values = { ...step.params };
      if (hasInitial) values.has_carry = 1;
      if (hasFinal) values.write_final = 1;
      buffer = createUniformBuffer(this.device, step.program, values);
      step.uniforms.set(key, buffer);
    }
    return buffer;
  }

  /** Releases the scratch and uniform buffers; pipelines stay cached for the device. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const buffer of this.owned) buffer.destroy();
    for (const step of this.steps) for (const buffer of step.uniforms.values()) buffer.destroy();
  }
}

export interface PrefixAttentionInput extends ScanShape {
  /** [batch, length]; -Infinity marks a masked token. */
  scores: Float32Array;
  /** [batch, length, headDim], row-major. */
  values: Float32Array;
}

export interface PrefixAttentionOptions extends Omit<PrefixScanOptions, 'outputs'> {
  /** Continue from this state (e.g. the state returned by prefixAttentionLast for earlier tokens). */
  initialState?: ScanState;
}

function checkInput(input: PrefixAttentionInput, options: PrefixAttentionOptions): void {
  if (typeof input !== 'object' || input === null) throw new TypeError('input must be an object { scores, values, batch, length, headDim }');
  checkObject('options', options, '(PrefixAttentionOptions)');
  const batch = checkInteger('input.batch', input.batch, 0);
  const length = checkInteger('input.length', input.length, 0);
  const headDim = checkInteger('input.headDim', input.headDim, 1);
  checkFloat32Array('input.scores', input.scores, batch * length, `batch ${batch} x length ${length}`);
  checkFloat32Array('input.values', input.values, batch * length * headDim, `batch ${batch} x length ${length} x headDim ${headDim}`);
  checkFinite('input.scores', input.scores, true);
  checkFinite('input.values', input.values);
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

/** A piece of a typed-array call: sequences [batchStart, batchStart + batch), tokens [lengthStart, lengthStart + length). */
export interface ScanPiece {
  batchStart: number;
  batch: number;
  lengthStart: number;
  length: number;
}

/**
 * Cuts a typed-array call into pieces whose every buffer (the readback included) fits `limit.bytes`: groups of
 * whole sequences while one sequence fits, else each sequence cut along its length, its state carried from
 * piece to piece. Throws a RangeError naming the limit when not even one token of one sequence fits.
 */
export function scanPieces(shape: ScanShape, outputs: 'all' | 'last', tile: number, limit: { bytes: number; name: string }, maxBatch: number): ScanPiece[] {
  const { batch, length, headDim } = shape;
  const fits = (b: number, n: number) => {
    const sizes = scanBufferBytes({ batch: b, length: n, headDim }, outputs, tile);
    return Math.max(...Object.values(sizes), sizes.output! + sizes.state!) <= limit.bytes;
  };
  const largest = (hi: number, ok: (k: number) => boolean) => { // the largest k in [1, hi] with ok(k); ok(1) holds
    let lo = 1;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if (ok(mid)) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const pieces: ScanPiece[] = [];
  if (fits(1, length)) {
    const per = largest(Math.min(batch, maxBatch), (b) => fits(b, length));
    for (let b = 0; b < batch; b += per) pieces.push({ batchStart: b, batch: Math.min(per, batch - b), lengthStart: 0, length });
    return pieces;
  }
  if (!fits(1, 1)) {
    throw new RangeError(`input.headDim ${headDim}: one token needs buffers past the device's ${limit.name} (${limit.bytes} bytes)`);
  }
  const per = largest(length, (n) => fits(1, n));
  for (let b = 0; b < batch; b++) {
    for (let n = 0; n < length; n += per) pieces.push({ batchStart: b, batch: 1, lengthStart: n, length: Math.min(per, length - n) });
  }
  return pieces;
}

function sliceState(state: ScanState, from: number, count: number): ScanState {
  const d = state.headDim;
  return { batch: count, headDim: d, m: state.m.slice(from, from + count), u: state.u.slice(from, from + count), w: state.w.slice(from * d, (from + count) * d) };
}

/** Runs one PrefixScan over host arrays: uploads, encodes, reads back, and releases every buffer it made. */
async function runScan(device: GPUDevice, input: PrefixAttentionInput, options: PrefixAttentionOptions, outputs: 'all' | 'last') {
  const { initialState, ...scanOptions } = options;
  return runGpuCall(device, 'prefixAttention', 'device', async (track) => {
    const scan = track(await PrefixScan.create(device, input, { ...scanOptions, outputs }));
    const output = track(createStorageBuffer(device, scan.outputFloats * 4, 'aaren output'));
    const finalState = track(createStorageBuffer(device, scan.stateBytes, 'aaren final state'));
    const encoder = device.createCommandEncoder({ label: 'aaren prefixAttention' });
    scan.encode(encoder, {
      scores: track(uploadFloat32(device, input.scores, 'aaren scores')),
      values: track(uploadFloat32(device, input.values, 'aaren values')),
      output,
      finalState,
      initialState: initialState && track(uploadFloat32(device, packState(initialState), 'aaren initial state')),
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
  const output = new Float32Array(outputs === 'all' ? batch * length * headDim : batch * headDim);
  const state = options.initialState ? sliceState(options.initialState, 0, batch) : emptyState(batch, headDim);
  if (batch * length === 0) {
    if (outputs === 'last') {
      for (let b = 0; b < batch; b++) {
        for (let c = 0; c < headDim; c++) output[b * headDim + c] = state.u[b]! > 0 ? state.w[b * headDim + c]! / state.u[b]! : 0;
      }
    }
    return { output, state };
  }
  const tile = kernelConfig(device.limits, headDim).tile;
  for (const p of scanPieces(input, outputs, tile, limit, device.limits.maxComputeWorkgroupsPerDimension)) {
    const first = p.batchStart * length + p.lengthStart; // first token of the piece; its tokens are contiguous
    const tokens = p.batch * p.length;
    const piece = { batch: p.batch, length: p.length, headDim, scores: input.scores.subarray(first, first + tokens), values: input.values.subarray(first * headDim, (first + tokens) * headDim) };
    const carried = p.lengthStart > 0 || options.initialState ? sliceState(state, p.batchStart, p.batch) : undefined;
    const result = await runScan(device, piece, { ...options, initialState: carried }, outputs);
    output.set(result.output, outputs === 'all' ? first * headDim : p.batchStart * headDim);
    const next = unpackState(result.packedState, p.batch, headDim);
    state.m.set(next.m, p.batchStart);
    state.u.set(next.u, p.batchStart);
    state.w.set(next.w, p.batchStart * headDim);
  }
  return { output, state };
}

/**
 * Many-to-many attention over every prefix: o[b,k,:] = sum_{i<=k} exp(s[b,i]) v[b,i,:] / sum_{i<=k} exp(s[b,i]).
 * -Infinity scores are masked tokens; a position with no unmasked token at or before it outputs 0.
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
