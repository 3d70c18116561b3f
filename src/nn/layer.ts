// The Aaren layer (Feng et al. 2024): attention of a learned query per head over every prefix of the input,
// computed as one log-sum-exp prefix scan per (batch, head) sequence. Its plan (planLayerForward, pure) is:
//  1. the fused scan: the generic scan skeleton with the attention operator and the load_projected element
//     source. Each element's score s = x . (scale key_h query_h) and value v = x value_h are computed from x while
//     the scan loads it, so keys, scores and values never touch global memory; each head's normalised output
//     o = w / u is written once (head-major [batch, heads, length, headDim]).
//  2. the output projection y = concat_h o @ output (+ bias) (+ residual), a matmul that reads the head-major
//     outputs directly (no transpose pass).
// The state (m, u, w) per (batch, head) lives on the GPU; step() is forward() over one token, so it costs the
// same at token 10 and token 10^6, and its memory never grows. What forward/step/encode* share with AarenModel
// is in src/nn/sequence.ts.
import { type Dispatch, type Plan, type ScratchRef, rebind, kernelProgram } from '../core/kernel.js';
import { CONV_HISTORY_ROWS, CONV_TAPS, planConvForward, type ConvSlot } from '../ops/conv.js';
import * as wgsl from '../core/shader-sources.js';
import { uploadFloat32 } from '../core/buffers.js';
import { decayParts, outputRows, type PlanLimits } from '../ops/attention/scan.js';
import { planMatmul, type MatmulSlot } from '../ops/matmul.js';
import { checkFinite, checkFloat32Array, checkInteger, checkOneOf } from '../core/validate.js';
import { checkDevice, checkLiveDevice, isCpuAdapter } from '../core/device.js';
import {
  SCAN_SCHEDULES, chooseSchedule, chunkReduceKernel, chunkScanKernel, kernelConfig, planScan, recurrentKernel,
  type KernelConfig, type ScanOperator, type ScanSchedule,
} from '../scan/skeleton.js';
import { ModuleState, SequenceModule, type SequenceBuffers } from './sequence.js';
import type { ScanState } from '../ops/attention/state.js';
import { PreparedPlan } from '../core/kernel.js';
import { createStorageBuffer, submitAndRead } from '../core/buffers.js';
import { bufferLimit, checkBufferSizes } from '../core/validate.js';
import { runGpuCall } from '../core/device.js';
import {
  LAYER_PARAMETERS, hasWeight, layerSavedBytes, layerTrainBufferBytes, planProjectedForward, planLayerBackward, planLayerRefresh, planLayerTrainForward, weightShape,
  type LayerDerivedSlot, type LayerTrainDims, type LayerWeightSlot,
} from './layer-backward.js';
import { PlanTrainer } from './trainer.js';
import type { ModelTrainer, NamedParameter } from './parameters.js';

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
  /** [heads], optional: recency decay. Head h's rate is softplus(decay[h]) >= 0; token i weighs
   * exp(s_i - rate (k - i)) at output k (the order-aware layer; absent: the paper's layer). */
  decay?: Float32Array;
  /** [dModel, 4], optional: a causal depthwise convolution of width 4 on the layer input, with a residual,
   * before the key and value projections: x'_t = x_t + sum_j conv[:, j] x_{t-j}. The state keeps the last 3
   * inputs, so step and block-wise forward equal one pass. */
  conv?: Float32Array;
}

export interface AarenLayerConfig {
  dModel: number;
  heads: number;
  headDim: number;
  /** Score scale; default 1 / sqrt(headDim). */
  scale?: number;
  weights: AarenLayerWeights;
  /** Scan schedule of multi-token passes: 'auto' (default) picks 'recurrent' on CPU adapters; on GPUs 'sequential'
   * when batch * heads * channel blocks fill the device (>= 1024 workgroups, TARGET_WORKGROUPS), else 'parallel'. A single token (step)
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

/** A layer's state: (m, u, w) per (batch, head) in `buffer`; `next` receives the scan's final state and is copied
 * into `buffer` after each pass (a dispatch cannot read and write one buffer). */
class LayerState extends ModuleState implements AarenState {
  constructor(owner: object, device: GPUDevice, batch: number, readonly heads: number, headDim: number, historyFloats: number) {
    super(owner, device, batch, heads, headDim, historyFloats);
  }
}

/** The buffers a layer plan binds: the caller's, the state's (the scan's carry and final; the convolution's
 * history and its update), and the layer's weights. */
export type LayerSlot = 'x' | 'output' | 'residual' | 'carry' | 'final' | 'convHistory' | 'convNext' | 'keyQuery' | 'valueProj' | 'outputWeight' | 'outputBias' | 'decayRates' | 'conv'
  | 'query' | 'key' | 'value' | 'keyBias' | 'valueBias';

/** The sizes that fix a layer's kernels. */
export interface LayerDims {
  dModel: number;
  heads: number;
  headDim: number;
  outputBias: boolean;
  /** Recency decay: one rate per head in decayRates (default false). */
  decay?: boolean;
  /** The causal convolution on the input (weights in `conv`; default false). */
  conv?: boolean;
  /** The raw projections' biases and the score scale (default 1 / sqrt(headDim)), for the materialised forward of
   * CPU adapters. */
  keyBias?: boolean;
  valueBias?: boolean;
  scale?: number;
}

/** Vec4s per value row of one head in value_proj: the head's channels zero-padded to whole channel blocks. */
const valueStride = (config: KernelConfig) => config.blocks * config.lanes;

/** The attention operator fed by the fused projection (load_projected.wgsl) of `input`, writing head-major outputs. */
function projectedOperator(dims: LayerDims, config: KernelConfig, input: LayerSlot | ScratchRef = 'x'): ScanOperator<LayerSlot> {
  const rates = decayParts<LayerSlot>(dims.decay === true ? 'decayRates' : null, dims.heads); // sequences b * heads + h
  return {
    common: [wgsl.lseCombine],
    constants: { D_MODEL: dims.dModel, HEADS: dims.heads, V_STRIDE: valueStride(config), ...rates.constants },
    source: { parts: [...rates.parts, wgsl.loadProjected], buffers: { x: input, key_query: 'keyQuery', value_proj: 'valueProj', ...rates.buffers } },
    sink: { parts: [outputRows(config), wgsl.storeOutputs], buffers: { outputs: { scratch: 'heads' } } },
  };
}

/** How a layer pass runs: a schedule of the fused scan, or 'projected': the projections materialised by matmuls,
 * then the specialised recurrent scan (planLayerProjectedForward; CPU adapters, schedule 'auto', several tokens). */
export type LayerPass = ScanSchedule | 'projected';

/** The pass of `length` tokens (one token: always the fused recurrent scan). An explicit schedule keeps the fused
 * scan on every adapter. */
export function layerSchedule(requested: 'auto' | ScanSchedule, dims: LayerDims, batch: number, length: number, device: PlanLimits): LayerPass {
  if (length === 1) return 'recurrent';
  if (requested === 'auto' && device.cpu) return 'projected';
  const config = kernelConfig(device.limits, dims.headDim);
  return chooseSchedule(requested, device.cpu, batch * dims.heads * config.blocks);
}

/** The passes of one layer forward (pure): with conv, the causal convolution of x (and the state's next history);
 * the fused scan; the output projection. The 'projected' pass materialises the projections instead
 * (planLayerProjectedForward). */
export function planLayerForward(dims: LayerDims, batch: number, length: number, schedule: LayerPass, residual: boolean, device: PlanLimits): Plan<LayerSlot> {
  const config = kernelConfig(device.limits, dims.headDim);
  const sequences = batch * dims.heads;
  const convolved: ScratchRef = { scratch: 'conv x' };
  const conv = dims.conv === true
    ? planConvForward({ batch, length, dModel: dims.dModel }, device).dispatches.map((d) => rebind<ConvSlot, LayerSlot>(d, {
      x: 'x', weight: 'conv', history: 'convHistory', result: convolved, nextHistory: 'convNext',
    }))
    : [];
  if (schedule === 'projected') return planLayerProjectedForward(dims, batch, length, residual, conv, device);
  const scan = planScan(projectedOperator(dims, config, dims.conv === true ? convolved : 'x'), {
    sequences, count: length, channels: dims.headDim, config, maxGroups: device.limits.maxComputeWorkgroupsPerDimension,
  }, schedule, { carry: 'carry', final: 'final' });
  const project = planMatmul({
    m: batch * length, n: dims.dModel, k: dims.heads * dims.headDim, bias: dims.outputBias, residual, gelu: false,
    headMajor: { length, heads: dims.heads, headDim: dims.headDim },
  }, device);
  return {
    dispatches: [...conv, ...scan.dispatches, rebind<MatmulSlot, LayerSlot>(project, {
      a: { scratch: 'heads' }, weight: 'outputWeight', bias: dims.outputBias ? 'outputBias' : null, residual: residual ? 'residual' : null, result: 'output',
    })],
    scratch: { ...scan.scratch, heads: sequences * length * dims.headDim * 4, ...(conv.length ? { [convolved.scratch]: batch * length * dims.dModel * 4 } : {}) },
    optional: ['carry', 'final', 'residual', 'convHistory', 'convNext'],
  };
}

/**
 * The layer forward over several tokens on a CPU adapter (schedule 'auto'): the training forward's passes (planProjectedForward: K
 * and V as blocked matmuls, head_scores, the specialised recurrent scan, the output matmul) into scratch, with the
 * state carried in and out. The fused scan computes each token's projections inside the scan's loop, one dot
 * product per lane indexed in a loop, which SwiftShader runs several times slower than the register-blocked
 * matmuls (for the default `npm run train` model, 16 x 64 tokens: the fused scan took longer than a whole training
 * step). The arithmetic is the training forward's, so forward and trainStep's forward give the same bits.
 */
function planLayerProjectedForward(dims: LayerDims, batch: number, length: number, residual: boolean, conv: Dispatch<LayerSlot>[], device: PlanLimits): Plan<LayerSlot> {
  const { dModel, heads, headDim } = dims;
  const rows = batch * length;
  const hd = heads * headDim;
  const scratch = (name: string): ScratchRef => ({ scratch: name });
  const forward = planProjectedForward<LayerSlot>({ ...dims, scale: dims.scale ?? 1 / Math.sqrt(headDim) }, batch, length, 'recurrent', residual, {
    input: conv.length ? scratch('conv x') : 'x', keys: scratch('keys'), scores: scratch('scores'), values: scratch('values'),
    heads: scratch('heads'), headRows: scratch('head rows'), stats: null, final: 'final',
  }, device);
  const floats = rows * hd * 4;
  return {
    dispatches: [...conv, ...forward.dispatches],
    scratch: {
      ...forward.scratch, keys: floats, scores: rows * heads * 4, values: floats, heads: floats, 'head rows': floats,
      ...(conv.length ? { 'conv x': rows * dModel * 4 } : {}),
    },
    optional: [...forward.optional, 'final', 'convHistory', 'convNext'],
  };
}

export class AarenLayer extends SequenceModule<AarenState, LayerSlot> {
  private constructor(
    device: GPUDevice,
    readonly dModel: number,
    readonly heads: number,
    readonly headDim: number,
    readonly scale: number,
    /** The requested schedule of multi-token passes ('auto' resolves per shape). */
    readonly schedule: 'auto' | LayerSchedule,
    private readonly weights: Partial<Record<LayerSlot, GPUBuffer>>,
    /** The raw query, key and value weights (and their biases), kept on the GPU for training: parameters(),
     * the training plans, and encodeRefresh, which recomputes keyQuery / valueProj from them. The output
     * projection's raw weights are weights.outputWeight / outputBias. Inference memory grows by these (about
     * 2 dModel x heads x headDim floats): simpler than uploading them on the first training call. */
    private readonly raw: Partial<Record<LayerWeightSlot, GPUBuffer>>,
  ) {
    super(device, 'AarenLayer', dModel, Math.max(dModel, heads * headDim), heads);
  }

  private refreshPlan?: PreparedPlan<LayerWeightSlot | LayerDerivedSlot>;

  /** Uploads the weights (query folded into the key projection) and compiles the kernels its passes use. */
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
    const decay = check('decay', heads, 'heads', true);
    const conv = check('conv', dModel * CONV_TAPS, `dModel ${dModel} x ${CONV_TAPS}`, true);
    const schedule = checkOneOf('config.schedule', config.schedule ?? 'auto', ['auto', ...SCAN_SCHEDULES] as const);

    const kc = kernelConfig(device.limits, headDim);
    const vStride = valueStride(kc);
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
    // Compile what this layer's passes use now (compiling costs seconds on CPU adapters), so that the encode
    // paths find them ready: recurrent always (one-token passes), the tile kernels for sequential and parallel.
    const dims = {
      dModel, heads, headDim, outputBias: outputBias !== undefined, decay: decay !== undefined, conv: conv !== undefined,
      keyBias: keyBias !== undefined, valueBias: valueBias !== undefined, scale,
    };
    const op = projectedOperator(dims, kc);
    const cpu = isCpuAdapter(device);
    const limits = { limits: device.limits, cpu };
    const tiled = schedule === 'sequential' || schedule === 'parallel' || (schedule === 'auto' && !cpu);
    const kernels = [recurrentKernel(op, kc), ...[1, 64].flatMap((n) => planLayerForward(dims, n, n, layerSchedule(schedule, dims, n, n, limits), false, limits).dispatches.map((d) => d.kernel))];
    if (tiled) kernels.push(chunkScanKernel(op, kc, 'elements', 'elements'));
    if (tiled && schedule !== 'sequential') kernels.push(chunkReduceKernel(op, kc, 'elements'), chunkReduceKernel(op, kc, 'states'), chunkScanKernel(op, kc, 'states', 'states'));
    await Promise.all(kernels.map((k) => kernelProgram(device, k)));
    const weights: Partial<Record<LayerSlot, GPUBuffer>> = {
      keyQuery: uploadFloat32(device, keyQuery, 'aaren key.query'),
      valueProj: uploadFloat32(device, valueProj, 'aaren value'),
      outputWeight: uploadFloat32(device, output, 'aaren output projection'),
    };
    if (outputBias) weights.outputBias = uploadFloat32(device, outputBias, 'aaren output bias');
    if (decay) weights.decayRates = uploadFloat32(device, Float32Array.from(decay, softplus), 'aaren decay rates');
    const raw: Partial<Record<LayerWeightSlot, GPUBuffer>> = {
      query: uploadFloat32(device, query, 'aaren query'),
      key: uploadFloat32(device, key, 'aaren key'),
      value: uploadFloat32(device, value, 'aaren value (raw)'),
    };
    if (keyBias) raw.keyBias = uploadFloat32(device, keyBias, 'aaren key bias');
    if (valueBias) raw.valueBias = uploadFloat32(device, valueBias, 'aaren value bias');
    if (decay) raw.decay = uploadFloat32(device, decay, 'aaren decay');
    if (conv) raw.conv = uploadFloat32(device, conv, 'aaren conv');
    return new AarenLayer(device, dModel, heads, headDim, scale, schedule, weights, raw);
  }

  /** An empty state (no tokens seen) for `batch` sequences. */
  createState(batch: number): AarenState {
    this.checkAlive('createState');
    checkInteger('batch', batch, 1, this.maxBatch);
    return new LayerState(this, this.device, batch, this.heads, this.headDim, this.raw.conv ? batch * CONV_HISTORY_ROWS * this.dModel : 0);
  }

  /** Reads a state back: ScanState over the batch * heads sequences b * heads + h. */
  async readState(state: AarenState): Promise<ScanState> {
    return (this.checkState('state', state, state?.batch) as LayerState).read();
  }

  /** Reads a state's convolution history back: the last 3 inputs of each sequence, [batch, 3, dModel] (row 2 the
   * latest; zeros before the first tokens); empty for a layer without conv. */
  async readHistory(state: AarenState): Promise<Float32Array> {
    return (this.checkState('state', state, state?.batch) as LayerState).readHistory();
  }

  protected planFor(batch: number, length: number, residual: boolean): Plan<LayerSlot> {
    const dims = this.layerDims;
    const device = { limits: this.device.limits, cpu: isCpuAdapter(this.device) };
    return planLayerForward(dims, batch, length, layerSchedule(this.schedule, dims, batch, length, device), residual, device);
  }

  protected slotsFor(buffers: SequenceBuffers, state?: AarenState): Partial<Record<LayerSlot, GPUBuffer>> {
    return { ...this.slotsOf(state), x: buffers.x, output: buffers.output, residual: buffers.residual };
  }

  /** @internal The weight and state slots, for AarenModel's plan (it binds each layer's under `b{l}.`). */
  slotsOf(state?: AarenState): Partial<Record<LayerSlot, GPUBuffer>> {
    const s = state as LayerState | undefined;
    const { query, key, value, keyBias, valueBias, conv } = this.raw;
    return { ...this.weights, query, key, value, keyBias, valueBias, conv, carry: s?.buffer, final: s?.next, convHistory: s?.history, convNext: s?.historyNext };
  }

  /** @internal The sizes and options that fix this layer's inference kernels. */
  get layerDims(): LayerDims {
    return {
      dModel: this.dModel, heads: this.heads, headDim: this.headDim, outputBias: this.weights.outputBias !== undefined,
      decay: this.raw.decay !== undefined, conv: this.raw.conv !== undefined, keyBias: this.raw.keyBias !== undefined,
      valueBias: this.raw.valueBias !== undefined, scale: this.scale,
    };
  }

  protected statesOf(state: AarenState): LayerState[] {
    return [state as LayerState];
  }

  protected destroyWeights(): void {
    for (const buffer of Object.values(this.weights)) buffer?.destroy();
    for (const buffer of Object.values(this.raw)) buffer?.destroy();
    this.refreshPlan?.destroy();
  }

  // ---- training ---------------------------------------------------------------------------------------------

  /** @internal The sizes that fix the training kernels. */
  get trainDims(): LayerTrainDims {
    return {
      dModel: this.dModel, heads: this.heads, headDim: this.headDim, scale: this.scale,
      keyBias: this.raw.keyBias !== undefined, valueBias: this.raw.valueBias !== undefined, outputBias: this.weights.outputBias !== undefined,
      decay: this.raw.decay !== undefined, conv: this.raw.conv !== undefined,
    };
  }

  /** @internal The raw weights by slot (query, key, value, outputWeight, the biases and decay the layer has), and
   * the decay rates derived from decay (the training plans bind them too). */
  weightSlots(): Partial<Record<LayerWeightSlot | 'decayRates', GPUBuffer>> {
    return { ...this.raw, outputWeight: this.weights.outputWeight, outputBias: this.weights.outputBias, decayRates: this.weights.decayRates };
  }

  /**
   * The raw trainable weights on the GPU, named as in safetensors after `blocks.{l}.attention.`: query [heads,
   * headDim], key and value [dModel, heads*headDim], output [heads*headDim, dModel], and key_bias, value_bias,
   * output_bias when the layer has them. An optimizer updates them in place, then calls encodeRefresh.
   */
  parameters(): NamedParameter[] {
    this.checkAlive('parameters');
    const dims = this.trainDims;
    const slots = this.weightSlots();
    return LAYER_PARAMETERS.filter((p) => hasWeight(dims, p.slot)).map((p) => ({ name: p.name, shape: weightShape(dims, p.slot), buffer: slots[p.slot]! }));
  }

  /** Records the recomputation of the fused projections the inference forward reads (keyQuery, valueProj) from
   * the raw weights, after they changed on the GPU (one small dispatch, no readback). */
  encodeRefresh(encoder: GPUCommandEncoder): void {
    this.checkAlive('encodeRefresh');
    checkDevice('AarenLayer.device', this.device);
    if (typeof encoder !== 'object' || encoder === null || typeof encoder.beginComputePass !== 'function') throw new TypeError('encoder must be a GPUCommandEncoder');
    this.refreshPlan ??= PreparedPlan.createSync(this.device, planLayerRefresh(this.trainDims, this.limits()), 'AarenLayer refresh');
    const pass = encoder.beginComputePass({ label: 'AarenLayer refresh' });
    this.refreshPlan.encode(pass, { ...this.weightSlots(), keyQuery: this.weights.keyQuery, valueProj: this.weights.valueProj });
    pass.end();
  }

  /** @internal Compiles the refresh kernel ahead of the first encodeRefresh (createTrainer calls it). */
  async prepareRefresh(): Promise<void> {
    if (this.refreshPlan) return;
    const plan = await PreparedPlan.create(this.device, planLayerRefresh(this.trainDims, this.limits()), 'AarenLayer refresh');
    if (this.refreshPlan) plan.destroy(); // a concurrent call got there first
    else this.refreshPlan = plan;
  }

  private limits() {
    return { limits: this.device.limits, cpu: isCpuAdapter(this.device) };
  }

  /**
   * A GPU-resident forward that keeps its activations, and its backward, for [batch, length] (ModelTrainer).
   * Gradients are keyed by the parameter names (parameters()). `state` of the internal encodeForward is a
   * constant initial state (no gradient flows into it).
   */
  async createTrainer(batch: number, length: number): Promise<ModelTrainer & { encodeForward: PlanTrainer['encodeForward'] }> {
    this.checkAlive('createTrainer');
    checkInteger('batch', batch, 1, this.maxBatch);
    checkInteger('length', length, 1);
    await checkLiveDevice('AarenLayer.device', this.device);
    await this.prepareRefresh();
    return this.trainer(batch, length);
  }

  /** `cpu` picks the kernel family (default: the adapter's); tests run the GPU family on a CPU adapter too. */
  private async trainer(batch: number, length: number, cpu = isCpuAdapter(this.device)): Promise<PlanTrainer> {
    const dims = this.trainDims;
    const device = { limits: this.device.limits, cpu };
    checkBufferSizes(`AarenLayer training batch ${batch} x length ${length}`, layerTrainBufferBytes(dims, batch, length, this.schedule, device), bufferLimit(this.device.limits));
    const slots = this.weightSlots();
    const grads = LAYER_PARAMETERS.filter((p) => hasWeight(dims, p.slot));
    return PlanTrainer.create(this.device, {
      batch, length, width: this.dModel, label: 'AarenLayer',
      forward: planLayerTrainForward(dims, batch, length, this.schedule, false, device),
      backward: planLayerBackward(dims, batch, length, this.schedule, false, device),
      saved: layerSavedBytes(dims, batch, length),
      weights: slots as Record<string, GPUBuffer>,
      parameters: grads.map((p) => ({ parameter: { name: p.name, shape: weightShape(dims, p.slot), buffer: slots[p.slot]! }, gradSlot: `grad.${p.slot}` })),
    });
  }

  /** The raw weights read back, by parameter name (parameters()). */
  async readWeights(): Promise<Record<string, Float32Array>> {
    this.checkAlive('readWeights');
    await checkLiveDevice('AarenLayer.device', this.device);
    return readParameters(this.device, this.parameters());
  }

  /**
   * Forward and backward over x [batch, length, dModel] with dLoss/dy = gradOutput: the output y, dLoss/dx and
   * the gradient of every weight (query, key, value, output, and keyBias, valueBias, outputBias when the layer has
   * them; each shaped as its weight). `state` is a constant initial state (truncated BPTT): the forward continues
   * from it, no gradient flows into it, and it is not advanced. Matches PyTorch autograd of the same layer.
   */
  async backward(x: Float32Array, gradOutput: Float32Array, shape: { batch: number; length: number }, state?: AarenState): Promise<LayerBackwardResult> {
    this.checkAlive('backward');
    const { batch, length } = this.checkTrainShape(shape);
    const n = batch * length * this.dModel;
    const expected = `batch ${batch} x length ${length} x dModel ${this.dModel}`;
    checkFloat32Array('x', x, n, expected);
    checkFinite('x', x);
    checkFloat32Array('gradOutput', gradOutput, n, expected);
    checkFinite('gradOutput', gradOutput);
    const s = state === undefined ? undefined : (this.checkState('state', state, batch) as LayerState);
    await checkLiveDevice('AarenLayer.device', this.device);
    const dims = this.trainDims;
    const names = { query: 'query', key: 'key', value: 'value', output: 'output', key_bias: 'keyBias', value_bias: 'valueBias', output_bias: 'outputBias', decay: 'decay', conv: 'conv' } as Record<string, keyof LayerGradients>;
    if (n === 0) {
      const gradients = {} as LayerGradients;
      for (const p of LAYER_PARAMETERS.filter((q) => hasWeight(dims, q.slot))) gradients[names[p.name]!] = new Float32Array(weightShape(dims, p.slot).reduce((a, b) => a * b, 1));
      return { output: new Float32Array(0), gradInput: new Float32Array(0), gradients };
    }
    const result = await runTrainer(this.device, 'AarenLayer.backward', () => this.trainer(batch, length), x, gradOutput, s ? { carry: s.buffer, ...(s.history ? { convHistory: s.history } : {}) } : {});
    const gradients = {} as LayerGradients;
    for (const [name, g] of Object.entries(result.gradients)) gradients[names[name]!] = g;
    return { output: result.output, gradInput: result.gradInput, gradients };
  }

  private checkTrainShape(shape: { batch: number; length: number }): { batch: number; length: number } {
    if (typeof shape !== 'object' || shape === null) throw new TypeError('shape must be an object { batch, length }');
    return { batch: checkInteger('shape.batch', shape.batch, 0, this.maxBatch), length: checkInteger('shape.length', shape.length, 0) };
  }
}

/** Gradients of AarenLayer.backward, each shaped as its weight; the biases' exactly when the layer has them. */
export interface LayerGradients {
  query: Float32Array;
  key: Float32Array;
  value: Float32Array;
  output: Float32Array;
  keyBias?: Float32Array;
  valueBias?: Float32Array;
  outputBias?: Float32Array;
  /** d loss / d theta (the decay parameter, [heads]). */
  decay?: Float32Array;
  /** d loss / d conv ([dModel, 4]). */
  conv?: Float32Array;
}

export interface LayerBackwardResult {
  output: Float32Array;
  gradInput: Float32Array;
  gradients: LayerGradients;
}

/** softplus(t) = log(1 + e^t) in float64, as softplus_rates.wgsl computes it on the GPU (stable for any t). */
export function softplus(t: number): number {
  return Math.max(t, 0) + Math.log1p(Math.exp(-Math.abs(t)));
}

/** Reads every parameter back (one submit). */
export async function readParameters(device: GPUDevice, parameters: NamedParameter[]): Promise<Record<string, Float32Array>> {
  return runGpuCall(device, 'readWeights', 'device', async () => {
    const sizes = parameters.map((p) => p.shape.reduce((a, b) => a * b, 1));
    const data = await submitAndRead(device, device.createCommandEncoder({ label: 'aaren readWeights' }), parameters.map((p, i) => ({ buffer: p.buffer, floats: sizes[i]! })));
    return Object.fromEntries(parameters.map((p, i) => [p.name, data[i]!]));
  });
}

/** One typed training call: uploads x and dY, runs a fresh trainer's forward and backward, reads everything back. */
export async function runTrainer(device: GPUDevice, callName: string, make: () => Promise<PlanTrainer>, x: Float32Array, gradOutput: Float32Array,
  state: Record<string, GPUBuffer>): Promise<{ output: Float32Array; gradInput: Float32Array; gradients: Record<string, Float32Array> }> {
  return runGpuCall(device, callName, `${callName.split('.')[0]}.device`, async (track) => {
    const trainer = track(await make());
    const input = track(uploadFloat32(device, x, 'aaren backward x'));
    const dY = track(uploadFloat32(device, gradOutput, 'aaren backward dY'));
    const output = track(createStorageBuffer(device, x.byteLength, 'aaren backward output'));
    const gradInput = track(createStorageBuffer(device, x.byteLength, 'aaren backward dx'));
    const encoder = device.createCommandEncoder({ label: callName });
    trainer.encodeForward(encoder, { x: input, output }, state);
    trainer.encodeBackward(encoder, { gradOutput: dY, gradInput });
    const names = Object.keys(trainer.gradients);
    const read = await submitAndRead(device, encoder, [
      { buffer: output, floats: x.length }, { buffer: gradInput, floats: x.length },
      ...names.map((name) => ({ buffer: trainer.gradients[name]!, floats: trainer.gradientFloats[name]! })),
    ]);
    const gradients: Record<string, Float32Array> = {};
    names.forEach((name, i) => { gradients[name] = read[i + 2]!; });
    return { output: read[0]!, gradInput: read[1]!, gradients };
  });
}
