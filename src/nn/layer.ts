// The Aaren layer (Feng et al. 2024): attention of a learned query per head over every prefix of the input,
// computed as one log-sum-exp prefix scan per (batch, head) sequence. Two kernels per forward pass:
//  1. the fused scan: chunk_scan composed with the load_projected element source. Each element's score
//     s = x . (scale key_h query_h) and value v = x value_h are computed from x while the scan loads it, so
//     keys, scores and values never touch global memory; the scan keeps its carry in the workgroup and writes
//     each head's normalised output o = w / u once (head-major [batch, heads, length, headDim]).
//  2. the output projection y = concat_h o @ output (+ bias) (+ residual), a tiled matmul (matvec for a few
//     rows, as in step) that reads the head-major outputs directly (no transpose pass).
// The state (m, u, w) per (batch, head) lives on the GPU; step() is forward() over one token, so it costs the
// same at token 10 and token 10^6, and its memory never grows.
import { composeShader, forBuffer } from '../core/compose.js';
import { createBindGroup, createUniformBuffer, getProgram, type Program } from '../core/program.js';
import { wgsl } from '../core/shader-sources.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../core/buffers.js';
import { RECURRENT_RUN_LENGTH, RECURRENT_WORKGROUP, chunkScanProgram, isCpuAdapter, kernelConfig, outputSinkParts, type KernelConfig, type ScanSchedule } from '../ops/attention/scan.js';
import { emptyState, packState, stateBytes, unpackState, type ScanState } from '../ops/attention/state.js';
import { bufferLimit, checkFinite, checkFloat32Array, checkInteger, checkStorageBuffer } from '../core/validate.js';
import { forwardInPieces, tokensPerPiece } from '../core/pieces.js';
import { MatmulOp, createUnusedBuffer, type MatmulPrograms } from '../ops/matmul.js';
import { checkDevice, checkLiveDevice, runGpuCall } from '../core/device.js';

export interface AarenLayerWeights {
  /** [heads, headDim]: the learned query of each head. */
  query: Float32Array;
  /** [dModel, heads * headDim], x @ key convention. */
  key: Float32Array;
  /** [dModel, heads * headDim]. */
  value: Float32Array;
  /** [heads * headDim, dModel]. */
  output: Float32Array;
  /** [heads * headDim], optional. */
  keyBias?: Float32Array;
  /** [heads * headDim], optional. */
  valueBias?: Float32Array;
  /** [dModel], optional. */
  outputBias?: Float32Array;
}

export interface AarenLayerConfig {
  dModel: number;
  heads: number;
  headDim: number;
  /** Score scale; default 1 / sqrt(headDim). */
  scale?: number;
  weights: AarenLayerWeights;
  /** Scan schedule of multi-token passes: 'auto' (default) picks 'recurrent' on CPU adapters; on GPUs 'sequential'
   * when batch * heads * channel blocks fill the device (>= 256 workgroups), else 'parallel'. A single token (step)
   * always uses 'recurrent'. */
  schedule?: 'auto' | LayerSchedule;
}

/** How the fused scan is scheduled; every one computes the projections while loading (load_projected.wgsl).
 * - recurrent: one invocation per (sequence, channel block) walks the tokens, state in registers
 *   (blocked_recurrent_scan.wgsl). Best on CPU adapters.
 * - sequential: one workgroup per (sequence, channel block) scans tiles of TILE tokens with a Blelloch scan, carry
 *   in workgroup memory (chunk_scan.wgsl with one chunk). Best when the sequences alone fill a GPU.
 * - parallel: reduce-then-scan over chunks of tiles: chunk_reduce totals each chunk (projecting as it loads), one
 *   workgroup per sequence scans the chunk totals, chunk_scan rescans each chunk from its carry. For few long
 *   sequences on a GPU; the projections are computed in both passes rather than written to memory between them. */
export type LayerSchedule = ScanSchedule;

/** Workgroups that make a GPU busy, for the 'auto' choice between sequential and parallel. */
const TARGET_WORKGROUPS = 1024;
const SEQUENTIAL_MIN_WORKGROUPS = 256;


/** The recurrent state of a batch: (m, u, w) per (batch, head), on the GPU. Its size never changes. */
export interface AarenState {
  readonly batch: number;
  readonly heads: number;
  readonly headDim: number;
  /** States of the sequences b * heads + h, layout of src/state.ts: stateBytes(batch * heads, headDim) bytes. */
  readonly buffer: GPUBuffer;
  /** GPU bytes the state holds (buffer and its same-size update target), independent of tokens seen. */
  readonly bytes: number;
  /** Tokens consumed so far (a counter, not storage). */
  readonly tokens: number;
  readonly destroyed: boolean;
  destroy(): void;
}

/** Buffers of AarenLayer.encodeForward; all need STORAGE usage. */
export interface AarenLayerBuffers {
  /** [batch, length, dModel] f32. */
  x: GPUBuffer;
  /** [batch, length, dModel] f32; receives y (+ residual). */
  output: GPUBuffer;
  /** Added to the output (a fused residual connection), [batch, length, dModel]; must not be `output`. */
  residual?: GPUBuffer;
}

class LayerState implements AarenState {
  destroyed = false;
  tokens = 0;
  constructor(
    readonly owner: object,
    readonly batch: number,
    readonly heads: number,
    readonly headDim: number,
    readonly buffer: GPUBuffer,
    /** The scan's final_state target; copied into `buffer` after each pass (a dispatch cannot read and write one buffer). */
    readonly next: GPUBuffer,
  ) {}

  get bytes(): number {
    return this.buffer.size + this.next.size;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.buffer.destroy();
    this.next.destroy();
  }
}

/** A binding of a scan dispatch: a plan-owned buffer, or one given at encode time. */
type ScanBinding = GPUBuffer | 'x' | 'carry' | 'final';

interface ScanDispatch {
  program: Program;
  uniform: GPUBuffer;
  bindings: Record<string, ScanBinding>;
  workgroups: [number, number, number];
}

/** Per-shape resources: the scan dispatches with their uniforms and scratch, the head-major outputs, the projection. */
interface Plan {
  schedule: LayerSchedule;
  batch: number;
  length: number;
  withState: boolean;
  scan: ScanDispatch[];
  scratch: GPUBuffer[];
  heads: GPUBuffer;
  project: MatmulOp;
}

function destroyPlan(plan: Plan): void {
  for (const d of plan.scan) d.uniform.destroy();
  for (const b of plan.scratch) b.destroy();
  plan.heads.destroy();
  plan.project.destroy();
}

export class AarenLayer {
  private destroyed = false;
  private readonly plans = new Map<string, Plan>();

  private constructor(
    readonly device: GPUDevice,
    readonly dModel: number,
    readonly heads: number,
    readonly headDim: number,
    readonly scale: number,
    private readonly config: KernelConfig,
    /** The requested schedule of multi-token passes ('auto' resolves per shape). */
    readonly schedule: 'auto' | LayerSchedule,
    private readonly cpu: boolean,
    private readonly scanPrograms: { recurrent: Program; sequential?: Program; reduce?: Program; totals?: Program },
    private readonly projectProgram: MatmulPrograms,
    private readonly weights: { keyQuery: GPUBuffer; valueProj: GPUBuffer; output: GPUBuffer; outputBias?: GPUBuffer },
    private readonly unused: { read: GPUBuffer; write: GPUBuffer },
  ) {}

  /** Uploads the weights (query folded into the key projection) and compiles the two kernels. */
  static async create(device: GPUDevice, config: AarenLayerConfig): Promise<AarenLayer> {
    await checkLiveDevice('device', device);
    if (typeof config !== 'object' || config === null) throw new TypeError('config must be an object { dModel, heads, headDim, weights }');
    const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
    const dModel = checkInteger('config.dModel', config.dModel, 1);
    const heads = checkInteger('config.heads', config.heads, 1, maxGroups);
    const headDim = checkInteger('config.headDim', config.headDim, 1, 16 * maxGroups);
    const scale = config.scale ?? 1 / Math.sqrt(headDim);
    if (typeof scale !== 'number' || !Number.isFinite(scale)) throw new RangeError(`config.scale must be a finite number, got ${String(config.scale)}`);
    const w = config.weights;
    if (typeof w !== 'object' || w === null) throw new TypeError('config.weights must be an object { query, key, value, output }');
    const hd = heads * headDim;
    const check = (name: keyof AarenLayerWeights, length: number, expected: string, optional = false) => {
      const value = w[name];
      if (optional && value === undefined) return undefined;
      checkFloat32Array(`config.weights.${name}`, value, length, expected);
      checkFinite(`config.weights.${name}`, value!);
      return value!;
    };
    const query = check('query', hd, `heads ${heads} x headDim ${headDim}`)!;
    const key = check('key', dModel * hd, `dModel ${dModel} x heads*headDim ${hd}`)!;
    const value = check('value', dModel * hd, `dModel ${dModel} x heads*headDim ${hd}`)!;
    const output = check('output', hd * dModel, `heads*headDim ${hd} x dModel ${dModel}`)!;
    const keyBias = check('keyBias', hd, 'heads*headDim', true);
    const valueBias = check('valueBias', hd, 'heads*headDim', true);
    const outputBias = check('outputBias', dModel, 'dModel', true);

    const kc = kernelConfig(device.limits, headDim);
    const vStride = kc.blocks * kc.lanes; // vec4s per value row of one head, zero-padded to the channel blocks
    // keyQuery[h, j] = scale * key[j, h-slice] . query[h]; keyQuery[h, dModel] = scale * keyBias[h-slice] . query[h].
    const keyQuery = new Float32Array(heads * (dModel + 1));
    const valueProj = new Float32Array(heads * (dModel + 1) * vStride * 4);
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j <= dModel; j++) {
        const row = j < dModel ? key.subarray(j * hd + h * headDim, j * hd + (h + 1) * headDim) : keyBias?.subarray(h * headDim, (h + 1) * headDim);
        let dot = 0;
        if (row) for (let c = 0; c < headDim; c++) dot += row[c]! * query[h * headDim + c]!;
        keyQuery[h * (dModel + 1) + j] = scale * dot;
        const vrow = j < dModel ? value.subarray(j * hd + h * headDim, j * hd + (h + 1) * headDim) : valueBias?.subarray(h * headDim, (h + 1) * headDim);
        if (vrow) valueProj.set(vrow, (h * (dModel + 1) + j) * vStride * 4);
      }
    }
    const schedule = config.schedule ?? 'auto';
    if (!['auto', 'recurrent', 'sequential', 'parallel'].includes(schedule)) {
      throw new RangeError(`config.schedule must be 'auto', 'recurrent', 'sequential' or 'parallel', got ${String(schedule)}`);
    }
    const cpu = isCpuAdapter(device);
    const projected = { LANES: kc.lanes, D_MODEL: dModel, HEADS: heads, V_STRIDE: vStride };
    const base = [wgsl.lseCombine, wgsl.stateLayout, wgsl.scanParams];
    const carries = [forBuffer(wgsl.stateLoad, 'carry_in'), forBuffer(wgsl.stateStore, 'final_state')];
    const common = [...base, ...carries, wgsl.loadProjected, ...outputSinkParts(kc)];
    const toStates = [forBuffer(wgsl.stateStore, 'out_states'), wgsl.storeStates];
    const variant = `dm${dModel}/h${heads}/vs${vStride}/lanes${kc.lanes}/${kc.rows}`;
    const tiled = { TILE: kc.tile, WORKGROUP_SIZE: kc.tile / 2 };
    const parallel = schedule === 'parallel' || (schedule === 'auto' && !cpu);
    const [reduce, totals] = await Promise.all(parallel ? [
      getProgram(device, `aaren/layer_chunk_reduce/${variant}/tile${kc.tile}`, () =>
        composeShader({ ...projected, ...tiled }, [...base, wgsl.workgroupReduce, wgsl.loadProjected, ...toStates, wgsl.chunkReduce])),
      chunkScanProgram(device, kc, 'states', 'states'),
    ] : []);
    // Only the kernels this layer can use are compiled (compiling costs seconds on CPU adapters): recurrent always
    // (one-token passes), sequential for the sequential and parallel schedules.
    const tiledUsed = schedule === 'sequential' || parallel;
    const [sequential, recurrent, project] = await Promise.all([
      tiledUsed ? getProgram(device, `aaren/layer_chunk_scan/${variant}/tile${kc.tile}`, () =>
        composeShader({ ...projected, TILE: kc.tile, WORKGROUP_SIZE: kc.tile / 2 }, [...common, wgsl.workgroupScan, wgsl.chunkScan])) : undefined,
      getProgram(device, `aaren/layer_recurrent_scan/${variant}/wg${RECURRENT_WORKGROUP}/run${RECURRENT_RUN_LENGTH}`, () =>
        composeShader({ ...projected, WORKGROUP_SIZE: RECURRENT_WORKGROUP, RUN_LENGTH: RECURRENT_RUN_LENGTH }, [...common, wgsl.blockedRecurrentScan])),
      MatmulOp.programs(device, true, dModel, hd),
    ]);
    const buffers = {
      keyQuery: uploadFloat32(device, keyQuery, 'aaren key.query'),
      valueProj: uploadFloat32(device, valueProj, 'aaren value'),
      output: uploadFloat32(device, output, 'aaren output projection'),
      outputBias: outputBias && uploadFloat32(device, outputBias, 'aaren output bias'),
    };
    const unused = { read: createUnusedBuffer(device), write: createUnusedBuffer(device) };
    return new AarenLayer(device, dModel, heads, headDim, scale, kc, schedule, cpu, { sequential, recurrent, reduce, totals }, project, buffers, unused);
  }

  /** An empty state (no tokens seen) for `batch` sequences. */
  createState(batch: number): AarenState {
    this.checkAlive('createState');
    checkInteger('batch', batch, 1, Math.floor(this.device.limits.maxComputeWorkgroupsPerDimension / this.heads));
    const packed = packState(emptyState(batch * this.heads, this.headDim));
    const buffer = uploadFloat32(this.device, packed, 'aaren state');
    const next = createStorageBuffer(this.device, packed.byteLength, 'aaren state update');
    return new LayerState(this, batch, this.heads, this.headDim, buffer, next);
  }

  /** Reads a state back: ScanState over the batch * heads sequences b * heads + h. */
  async readState(state: AarenState): Promise<ScanState> {
    const s = this.checkState('state', state, state?.batch);
    const n = s.batch * this.heads;
    const [packed] = await submitAndRead(this.device, this.device.createCommandEncoder(), [{ buffer: s.buffer, floats: stateBytes(n, this.headDim) / 4 }]);
    return unpackState(packed!, n, this.headDim);
  }

  /**
   * Parallel (and, with `state`, block-wise) forward: y [batch, length, dModel] for x [batch, length, dModel].
   * With a state it continues from it and leaves it advanced past these tokens.
   */
  async forward(x: Float32Array, shape: { batch: number; length: number }, state?: AarenState): Promise<Float32Array> {
    this.checkAlive('forward');
    if (typeof shape !== 'object' || shape === null) throw new TypeError('shape must be an object { batch, length }');
    const batch = checkInteger('shape.batch', shape.batch, 0, Math.floor(this.device.limits.maxComputeWorkgroupsPerDimension / this.heads));
    const length = checkInteger('shape.length', shape.length, 0);
    checkFloat32Array('x', x, batch * length * this.dModel, `batch ${batch} x length ${length} x dModel ${this.dModel}`);
    checkFinite('x', x);
    const s = state === undefined ? undefined : this.checkState('state', state, batch);
    await checkLiveDevice('AarenLayer.device', this.device);
    if (batch * length === 0) return new Float32Array(0);
    const piece = tokensPerPiece('AarenLayer.forward', batch, length, Math.max(this.dModel, this.heads * this.headDim), bufferLimit(this.device.limits));
    if (piece < length) {
      return forwardInPieces({
        x, batch, length, width: this.dModel, tokensPerPiece: piece, state: s,
        createState: () => this.checkState('state', this.createState(batch), batch),
        forward: (xPiece, pieceLength, pieceState) => this.forwardOnce(xPiece, batch, pieceLength, pieceState),
      });
    }
    return this.forwardOnce(x, batch, length, s);
  }

  private async forwardOnce(x: Float32Array, batch: number, length: number, state?: LayerState): Promise<Float32Array> {
    const plan = this.createPlan(batch, length, state !== undefined);
    try {
      return await this.run(plan, x, state);
    } finally {
      destroyPlan(plan);
    }
  }

  /** RNN mode: one token per sequence, x [batch, dModel] -> y [batch, dModel]; advances the state. */
  async step(state: AarenState, x: Float32Array): Promise<Float32Array> {
    this.checkAlive('step');
    const s = this.checkState('state', state, state?.batch);
    checkFloat32Array('x', x, s.batch * this.dModel, `batch ${s.batch} x dModel ${this.dModel}`);
    checkFinite('x', x);
    await checkLiveDevice('AarenLayer.device', this.device);
    return this.run(this.cachedPlan(s.batch, 1, true), x, s);
  }

  /**
   * GPU-resident forward into the caller's encoder (no submit, no readback). With `state` it continues from it
   * and advances it (the state's counter counts the tokens when this is called). Per-shape uniforms and scratch
   * are cached until destroy() or releasePlans().
   */
  encodeForward(encoder: GPUCommandEncoder, buffers: AarenLayerBuffers, shape: { batch: number; length: number }, state?: AarenState): void {
    this.checkAlive('encodeForward');
    checkDevice('AarenLayer.device', this.device);
    if (typeof shape !== 'object' || shape === null) throw new TypeError('shape must be an object { batch, length }');
    const batch = checkInteger('shape.batch', shape.batch, 0, Math.floor(this.device.limits.maxComputeWorkgroupsPerDimension / this.heads));
    const length = checkInteger('shape.length', shape.length, 0);
    const s = state === undefined ? undefined : this.checkState('state', state, batch);
    this.checkBuffers(buffers, batch * length);
    if (batch * length === 0) return;
    this.encodePlan(encoder, this.cachedPlan(batch, length, s !== undefined, buffers.residual !== undefined), buffers, s);
  }

  /** GPU-resident step: x [batch, dModel] -> output [batch, dModel], advancing the state. */
  encodeStep(encoder: GPUCommandEncoder, state: AarenState, buffers: AarenLayerBuffers): void {
    this.checkAlive('encodeStep');
    checkDevice('AarenLayer.device', this.device);
    const s = this.checkState('state', state, state?.batch);
    this.checkBuffers(buffers, s.batch);
    this.encodePlan(encoder, this.cachedPlan(s.batch, 1, true, buffers.residual !== undefined), buffers, s);
  }

  /** Releases the per-shape resources cached by the encode* methods (not while commands using them are pending). */
  releasePlans(): void {
    for (const plan of this.plans.values()) destroyPlan(plan);
    this.plans.clear();
  }

  /** Releases every buffer the layer owns (weights, cached plans). States are destroyed by their own destroy(). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.releasePlans();
    for (const buffer of Object.values(this.weights)) buffer?.destroy();
    this.unused.read.destroy();
    this.unused.write.destroy();
  }

  /** @internal Used by AarenModel: a plan the caller destroys (with destroyPlanOf). */
  createPlan(batch: number, length: number, withState: boolean, residual = false): Plan {
    const n = batch * this.heads;
    const { tile, blocks } = this.config;
    const tiles = Math.max(1, Math.ceil(length / tile));
    const maxGroups = this.device.limits.maxComputeWorkgroupsPerDimension;
    // Chunks of whole tiles for the parallel schedule: enough workgroups to fill the device, at most maxGroups.
    const perChunk = Math.max(Math.ceil(tiles / Math.max(1, Math.floor(TARGET_WORKGROUPS / (n * blocks)))), Math.ceil(tiles / maxGroups));
    const chunks = Math.ceil(tiles / perChunk);
    let schedule: LayerSchedule;
    if (length === 1) schedule = 'recurrent';
    else if (this.schedule !== 'auto') schedule = this.schedule;
    else if (this.cpu) schedule = 'recurrent';
    else schedule = n * blocks >= SEQUENTIAL_MIN_WORKGROUPS ? 'sequential' : 'parallel';
    if (schedule === 'parallel' && chunks === 1) schedule = 'sequential';

    const made: { destroy(): void }[] = [];
    const keep = <T extends { destroy(): void }>(x: T) => (made.push(x), x);
    try {
      const params = (program: Program, values: Partial<Record<string, number>>) => keep(createUniformBuffer(this.device, program, {
        batch: n, count: length, head_dim: this.headDim, tiles_per_chunk: tiles, chunks: 1,
        has_carry: withState ? 1 : 0, write_final: withState ? 1 : 0, ...values,
      }));
      const scan: ScanDispatch[] = [];
      const scratch: GPUBuffer[] = [];
      const heads = keep(createStorageBuffer(this.device, n * length * this.headDim * 4, 'aaren head outputs'));
      const projectedBindings = { x: 'x', key_query: this.weights.keyQuery, value_proj: this.weights.valueProj } as const;
      if (schedule === 'recurrent') {
        const program = this.scanPrograms.recurrent;
        scan.push({ program, uniform: params(program, {}), bindings: { ...projectedBindings, carry_in: 'carry', final_state: 'final', outputs: heads }, workgroups: [Math.ceil(blocks / RECURRENT_WORKGROUP), n, 1] });
      } else if (schedule === 'sequential') {
        const program = this.scanPrograms.sequential!; // compiled for every schedule that resolves to sequential
        scan.push({ program, uniform: params(program, {}), bindings: { ...projectedBindings, carry_in: 'carry', final_state: 'final', outputs: heads }, workgroups: [1, blocks, n] });
      } else {
        const { reduce, totals } = this.scanPrograms;
        if (!reduce || !totals) throw new Error('AarenLayer: parallel programs were not compiled');
        const chunkTotals = keep(createStorageBuffer(this.device, stateBytes(n * chunks, this.headDim), 'aaren chunk totals'));
        const chunkCarries = keep(createStorageBuffer(this.device, stateBytes(n * chunks, this.headDim), 'aaren chunk carries'));
        scratch.push(chunkTotals, chunkCarries);
        // 1. each chunk's total; 2. exclusive scan of the totals per sequence, after the state when there is one;
        // 3. each chunk rescanned from its carry, the last chunk writing the final state.
        scan.push({
          program: reduce, uniform: params(reduce, { tiles_per_chunk: perChunk, chunks, has_carry: 0, write_final: 0 }),
          bindings: { ...projectedBindings, out_states: chunkTotals }, workgroups: [chunks, blocks, n],
        });
        scan.push({
          program: totals, uniform: params(totals, { count: chunks, tiles_per_chunk: Math.ceil(chunks / tile), write_final: 0 }),
          bindings: { in_states: chunkTotals, carry_in: 'carry', final_state: this.unused.write, out_states: chunkCarries }, workgroups: [1, blocks, n],
        });
        const program = this.scanPrograms.sequential!;
        scan.push({
          program, uniform: params(program, { tiles_per_chunk: perChunk, chunks, has_carry: 1 }),
          bindings: { ...projectedBindings, carry_in: chunkCarries, final_state: 'final', outputs: heads }, workgroups: [chunks, blocks, n],
        });
      }
      const project = keep(MatmulOp.create(this.device, this.projectProgram, {
        m: batch * length, n: this.dModel, k: this.heads * this.headDim, bias: this.weights.outputBias !== undefined,
        residual, gelu: false, headMajor: { length, heads: this.heads, headDim: this.headDim },
      }));
      return { schedule, batch, length, withState, scan, scratch, heads, project };
    } catch (error) {
      for (const m of made) m.destroy();
      throw error;
    }
  }

  /** @internal */
  destroyPlanOf(plan: Plan): void {
    destroyPlan(plan);
  }

  /** @internal Records the two kernels (and the state update copy) with a plan from createPlan/cachedPlan. */
  encodePlan(encoder: GPUCommandEncoder, plan: Plan, buffers: AarenLayerBuffers, state?: LayerState): void {
    const pass = encoder.beginComputePass({ label: 'aaren layer' });
    const given = { x: buffers.x, carry: state?.buffer ?? this.unused.read, final: state?.next ?? this.unused.write };
    for (const d of plan.scan) {
      const bound: Record<string, GPUBuffer> = { params: d.uniform };
      for (const [name, ref] of Object.entries(d.bindings)) bound[name] = typeof ref === 'string' ? given[ref] : ref;
      pass.setPipeline(d.program.pipeline);
      pass.setBindGroup(0, createBindGroup(this.device, d.program, bound));
      pass.dispatchWorkgroups(...d.workgroups);
    }
    plan.project.encode(pass, {
      a: plan.heads, weight: this.weights.output, bias: this.weights.outputBias, residual: buffers.residual, result: buffers.output,
    }, this.unused.read);
    pass.end();
    if (state) {
      encoder.copyBufferToBuffer(state.next, 0, state.buffer, 0, state.buffer.size);
      state.tokens += plan.length;
    }
  }

  private cachedPlan(batch: number, length: number, withState: boolean, residual = false): Plan {
    const key = `${batch}/${length}/${withState}/${residual}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = this.createPlan(batch, length, withState, residual);
      this.plans.set(key, plan);
    }
    return plan;
  }

  private run(plan: Plan, x: Float32Array, state?: LayerState): Promise<Float32Array> {
    const device = this.device;
    return runGpuCall(device, 'AarenLayer', 'AarenLayer.device', async (track) => {
      const input = track(uploadFloat32(device, x, 'aaren layer input'));
      const output = track(createStorageBuffer(device, x.byteLength, 'aaren layer output'));
      const encoder = device.createCommandEncoder({ label: 'aaren layer' });
      this.encodePlan(encoder, plan, { x: input, output }, state);
      const [y] = await submitAndRead(device, encoder, [{ buffer: output, floats: x.length }]);
      return y!;
    });
  }

  private checkAlive(method: string): void {
    if (this.destroyed) throw new Error(`AarenLayer.${method}: this layer was destroyed`);
  }

  /** @internal */
  checkState(name: string, state: AarenState, batch: number): LayerState {
    if (!(state instanceof LayerState) || state.owner !== this) throw new TypeError(`${name} must be an AarenState made by this layer's createState`);
    if (state.destroyed) throw new Error(`${name} was destroyed`);
    if (state.batch !== batch) throw new RangeError(`${name} is for batch ${state.batch}, the input has batch ${batch}`);
    return state;
  }

  private checkBuffers(buffers: AarenLayerBuffers, rows: number): void {
    if (typeof buffers !== 'object' || buffers === null) throw new TypeError('buffers must be an object { x, output }');
    const bytes = rows * this.dModel * 4;
    checkStorageBuffer('buffers.x', buffers.x, bytes);
    checkStorageBuffer('buffers.output', buffers.output, bytes);
    if (buffers.residual !== undefined) {
      checkStorageBuffer('buffers.residual', buffers.residual, bytes);
      if (buffers.residual === buffers.output) throw new RangeError('buffers.residual must not be buffers.output');
    }
    if (buffers.x === buffers.output) throw new RangeError('buffers.x must not be buffers.output');
  }
}
