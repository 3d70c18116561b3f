// A stack of Aaren blocks: pre-LayerNorm residual blocks
//   h = h + Aaren(LN1(h));  h = h + W2 GELU(W1 LN2(h) + b1) + b2
// then a final LayerNorm. planModelForward lists the passes of a forward (pure): per block, LayerNorm, the
// layer's passes (its fused scan and the output projection with the residual add fused into its epilogue),
// LayerNorm, the first FFN matmul with bias + GELU fused, the second with bias + residual fused; then the final
// LayerNorm. Parallel forward, block-wise forward with state, and step come from SequenceModule (sequence.ts).
import { type Dispatch, type Plan, kernelProgram, rebind } from '../core/kernel.js';
import { uploadFloat32 } from '../core/buffers.js';
import { AarenLayer, layerSchedule, planLayerForward, type AarenLayerConfig, type AarenLayerWeights, type AarenState, type LayerDims, type LayerSlot } from './layer.js';
import { planMatmul, type MatmulSlot } from '../ops/matmul.js';
import { planLayerNorm, type LayerNormSlot } from '../ops/layer-norm.js';
import { readSafetensors, writeSafetensors, type SafetensorsFile, type SafetensorsTensor } from '../io/safetensors.js';
import type { AdamW } from '../optim/adamw.js';
import { finishCheckpoint, parseCheckpoint, writeCheckpoint, type Checkpoint } from '../optim/checkpoint.js';
import { checkFinite, checkFloat32Array, checkInteger } from '../core/validate.js';
import { checkLiveDevice, isCpuAdapter } from '../core/device.js';
import type { PlanLimits } from '../ops/attention/scan.js';
import { SequenceModule, type ModuleState, type SequenceBuffers } from './sequence.js';
import { checkDevice } from '../core/device.js';
import { bufferLimit, checkBufferSizes } from '../core/validate.js';
import { LAYER_PARAMETERS, hasWeight, layerSavedBytes, layerTrainBufferBytes } from './layer-backward.js';
import { gradSlot, modelSavedBytes, planModelBackward, planModelTrainForward, type ModelTrainDims } from './model-backward.js';
import { readParameters, runTrainer } from './layer.js';
import { PlanTrainer } from './trainer.js';
import type { ModelTrainer, NamedParameter } from './parameters.js';
import { bufferBytes } from '../core/buffers.js';

export interface AarenNormWeights {
  /** [dModel] gamma. */
  weight: Float32Array;
  /** [dModel] beta. */
  bias: Float32Array;
}

export interface AarenBlockWeights {
  ln1: AarenNormWeights;
  attention: AarenLayerWeights;
  ln2: AarenNormWeights;
  /** w1 [dModel, dFF], b1 [dFF], w2 [dFF, dModel], b2 [dModel] (x @ W convention). */
  ffn: { w1: Float32Array; b1: Float32Array; w2: Float32Array; b2: Float32Array };
}

export interface AarenModelConfig {
  layers: number;
  dModel: number;
  heads: number;
  headDim: number;
  dFF: number;
  /** Score scale of every layer; default 1 / sqrt(headDim). */
  scale?: number;
  /** LayerNorm epsilon; default 1e-5 (torch.nn.LayerNorm). */
  eps?: number;
  /** Scan schedule of every layer (AarenLayerConfig.schedule). */
  schedule?: AarenLayerConfig['schedule'];
  weights: { blocks: AarenBlockWeights[]; finalNorm: AarenNormWeights };
}

/** One AarenState per layer; constant size. */
export interface AarenModelState {
  readonly batch: number;
  readonly layers: readonly AarenState[];
  readonly bytes: number;
  readonly tokens: number;
  readonly destroyed: boolean;
  destroy(): void;
}

class ModelState implements AarenModelState {
  destroyed = false;
  constructor(readonly owner: object, readonly batch: number, readonly layers: AarenState[]) {}
  get bytes(): number {
    return this.layers.reduce((sum, s) => sum + s.bytes, 0);
  }
  get tokens(): number {
    return this.layers[0]?.tokens ?? 0;
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const s of this.layers) s.destroy();
  }
}

/** Slots of a model plan: x, output, and per block `b{l}.{slot}` for the block's norms, FFN and layer slots. */
type BlockSlot = 'ln1.gamma' | 'ln1.beta' | 'ln2.gamma' | 'ln2.beta' | 'w1' | 'b1' | 'w2' | 'b2' | LayerSlot;
export type ModelSlot = 'x' | 'output' | 'final.gamma' | 'final.beta' | `b${number}.${BlockSlot}`;

export interface ModelDims {
  layers: number;
  dModel: number;
  heads: number;
  headDim: number;
  dFF: number;
  eps: number;
  /** Per layer: what fixes its kernels (output bias, decay). */
  layer: LayerDims[];
}

/**
 * The passes of a model forward (pure). The residual stream ping-pongs: block l reads `cur` (x, then q), writes
 * p = cur + Aaren(LN1(cur)), then q = p + FFN(LN2(p)); the final LayerNorm writes the output.
 */
export function planModelForward(dims: ModelDims, batch: number, length: number, schedule: AarenLayerConfig['schedule'], device: PlanLimits): Plan<ModelSlot> {
  const { dModel, dFF, eps } = dims;
  const rows = batch * length;
  const scratch = { p: { scratch: 'stream p' }, q: { scratch: 'stream q' }, normed: { scratch: 'normed' }, hidden: { scratch: 'ffn hidden' } };
  const dispatches: Dispatch<ModelSlot>[] = [];
  const allScratch: Record<string, number> = {
    [scratch.p.scratch]: rows * dModel * 4, [scratch.q.scratch]: rows * dModel * 4,
    [scratch.normed.scratch]: rows * dModel * 4, [scratch.hidden.scratch]: rows * dFF * 4,
  };
  const norm = planLayerNorm(rows, dModel, eps, device);
  const up = planMatmul({ m: rows, n: dFF, k: dModel, bias: true, residual: false, gelu: true }, device);
  const down = planMatmul({ m: rows, n: dModel, k: dFF, bias: true, residual: true, gelu: false }, device);
  type Ref = ModelSlot | { scratch: string };
  let cur: Ref = 'x';
  for (let l = 0; l < dims.layers; l++) {
    const b = (slot: BlockSlot) => `b${l}.${slot}` as ModelSlot;
    const layerDims = dims.layer[l]!;
    const layer = planLayerForward(layerDims, batch, length, layerSchedule(schedule ?? 'auto', layerDims, batch, length, device), true, device);
    for (const [name, bytes] of Object.entries(layer.scratch)) allScratch[`b${l} ${name}`] = bytes;
    dispatches.push(rebind<LayerNormSlot, ModelSlot>(norm, { x: cur, gamma: b('ln1.gamma'), beta: b('ln1.beta'), result: scratch.normed }));
    for (const d of layer.dispatches) {
      dispatches.push(rebind<LayerSlot, ModelSlot>(d, {
        x: scratch.normed, output: scratch.p, residual: cur, carry: b('carry'), final: b('final'), convHistory: b('convHistory'), convNext: b('convNext'), conv: b('conv'),
        keyQuery: b('keyQuery'), valueProj: b('valueProj'), outputWeight: b('outputWeight'), outputBias: b('outputBias'), decayRates: b('decayRates'),
        query: b('query'), key: b('key'), value: b('value'), keyBias: b('keyBias'), valueBias: b('valueBias'),
      }, `b${l} `));
    }
    dispatches.push(rebind<LayerNormSlot, ModelSlot>(norm, { x: scratch.p, gamma: b('ln2.gamma'), beta: b('ln2.beta'), result: scratch.normed }));
    dispatches.push(rebind<MatmulSlot, ModelSlot>(up, { a: scratch.normed, weight: b('w1'), bias: b('b1'), residual: null, result: scratch.hidden }));
    dispatches.push(rebind<MatmulSlot, ModelSlot>(down, { a: scratch.hidden, weight: b('w2'), bias: b('b2'), residual: scratch.p, result: scratch.q }));
    cur = scratch.q;
  }
  dispatches.push(rebind<LayerNormSlot, ModelSlot>(norm, { x: cur, gamma: 'final.gamma', beta: 'final.beta', result: 'output' }));
  const optional: ModelSlot[] = [];
  for (let l = 0; l < dims.layers; l++) optional.push(`b${l}.carry`, `b${l}.final`, `b${l}.convHistory`, `b${l}.convNext`, `b${l}.outputBias`, `b${l}.residual`, `b${l}.keyBias`, `b${l}.valueBias`);
  return { dispatches, scratch: allScratch, optional };
}

export class AarenModel extends SequenceModule<AarenModelState, ModelSlot> {
  private constructor(
    device: GPUDevice,
    readonly config: Readonly<Omit<AarenModelConfig, 'weights'>>,
    private readonly blocks: AarenLayer[],
    /** Norm and FFN weights by slot; each layer binds its own. */
    private readonly weights: Partial<Record<ModelSlot, GPUBuffer>>,
  ) {
    super(device, 'AarenModel', config.dModel, Math.max(config.dModel, config.dFF, config.heads * config.headDim), config.heads);
  }

  static async create(device: GPUDevice, config: AarenModelConfig): Promise<AarenModel> {
    await checkLiveDevice('device', device);
    if (typeof config !== 'object' || config === null) throw new TypeError('config must be an object { layers, dModel, heads, headDim, dFF, weights }');
    const layers = checkInteger('config.layers', config.layers, 1);
    const dModel = checkInteger('config.dModel', config.dModel, 1);
    const heads = checkInteger('config.heads', config.heads, 1);
    const headDim = checkInteger('config.headDim', config.headDim, 1);
    const dFF = checkInteger('config.dFF', config.dFF, 1);
    const eps = config.eps ?? 1e-5;
    if (typeof eps !== 'number' || !(eps > 0) || !Number.isFinite(eps)) throw new RangeError(`config.eps must be a positive finite number, got ${String(config.eps)}`);
    const w = config.weights;
    if (typeof w !== 'object' || w === null || !Array.isArray(w.blocks)) throw new TypeError('config.weights must be an object { blocks, finalNorm }');
    if (w.blocks.length !== layers) throw new RangeError(`config.weights.blocks must have ${layers} entries (config.layers), got ${w.blocks.length}`);
    const check = (name: string, value: unknown, length: number, expected: string) => {
      const a = checkFloat32Array(name, value, length, expected);
      checkFinite(name, a);
      return a;
    };
    const checkNorm = (name: string, n: AarenNormWeights | undefined) => {
      if (typeof n !== 'object' || n === null) throw new TypeError(`${name} must be an object { weight, bias }`);
      check(`${name}.weight`, n.weight, dModel, 'dModel');
      check(`${name}.bias`, n.bias, dModel, 'dModel');
    };
    w.blocks.forEach((block, l) => {
      const name = `config.weights.blocks[${l}]`;
      if (typeof block !== 'object' || block === null) throw new TypeError(`${name} must be an object { ln1, attention, ln2, ffn }`);
      checkNorm(`${name}.ln1`, block.ln1);
      checkNorm(`${name}.ln2`, block.ln2);
      if (typeof block.ffn !== 'object' || block.ffn === null) throw new TypeError(`${name}.ffn must be an object { w1, b1, w2, b2 }`);
      check(`${name}.ffn.w1`, block.ffn.w1, dModel * dFF, `dModel ${dModel} x dFF ${dFF}`);
      check(`${name}.ffn.b1`, block.ffn.b1, dFF, 'dFF');
      check(`${name}.ffn.w2`, block.ffn.w2, dFF * dModel, `dFF ${dFF} x dModel ${dModel}`);
      check(`${name}.ffn.b2`, block.ffn.b2, dModel, 'dModel');
    });
    checkNorm('config.weights.finalNorm', w.finalNorm);

    const made: { destroy(): void }[] = [];
    const weights: Partial<Record<ModelSlot, GPUBuffer>> = {};
    const upload = (slot: ModelSlot, data: Float32Array) => {
      const buffer = uploadFloat32(device, data, `aaren ${slot}`);
      made.push(buffer);
      weights[slot] = buffer;
    };
    try {
      const blocks: AarenLayer[] = [];
      for (const [l, block] of w.blocks.entries()) {
        const layer = await AarenLayer.create(device, { dModel, heads, headDim, scale: config.scale, schedule: config.schedule, weights: block.attention });
        made.push(layer);
        blocks.push(layer);
        upload(`b${l}.ln1.gamma`, block.ln1.weight);
        upload(`b${l}.ln1.beta`, block.ln1.bias);
        upload(`b${l}.ln2.gamma`, block.ln2.weight);
        upload(`b${l}.ln2.beta`, block.ln2.bias);
        upload(`b${l}.w1`, block.ffn.w1);
        upload(`b${l}.b1`, block.ffn.b1);
        upload(`b${l}.w2`, block.ffn.w2);
        upload(`b${l}.b2`, block.ffn.b2);
      }
      upload('final.gamma', w.finalNorm.weight);
      upload('final.beta', w.finalNorm.bias);
      const model = new AarenModel(device, { layers, dModel, heads, headDim, dFF, scale: blocks[0]!.scale, eps, schedule: config.schedule }, blocks, weights);
      // Compile the norm and FFN kernels now, for one token and for many (the layers compiled theirs).
      for (const length of [1, 64]) await Promise.all(model.planFor(1, length).dispatches.map((d) => kernelProgram(device, d.kernel)));
      return model;
    } catch (error) {
      for (const m of made) m.destroy();
      throw error;
    }
  }

  /** Loads a model from safetensors bytes (tensor names in docs/models.md; see modelFromSafetensors). */
  static async fromSafetensors(device: GPUDevice, bytes: ArrayBuffer | Uint8Array): Promise<AarenModel> {
    return AarenModel.create(device, modelFromSafetensors(bytes));
  }

  /**
   * A model and its AdamW from toCheckpoint's bytes (src/optim/checkpoint.ts), for a model trained with the
   * caller's own loss: everything is checked on the host first (another model's checkpoint, a misshapen or
   * non-finite tensor, a moment of a parameter that does not exist throw, naming it). `metadata` is the caller's.
   */
  static async fromCheckpoint(device: GPUDevice, bytes: ArrayBuffer | Uint8Array, options: { schedule?: AarenModelConfig['schedule'] } = {}): Promise<Checkpoint<AarenModel>> {
    const parsed = parseCheckpoint(bytes, 'AarenModel');
    const config = modelFromSafetensorsFile(parsed.file);
    const model = await AarenModel.create(device, { ...config, schedule: options.schedule });
    return finishCheckpoint(model, parsed);
  }

  /**
   * A training checkpoint of this model and `optimizer` (an AdamW made for it): the weights under the names of
   * modelToSafetensors, `exp_avg.{name}` / `exp_avg_sq.{name}` per parameter, the step count and options, and the
   * caller's string `metadata`. Call it between steps (not while one is pending).
   */
  async toCheckpoint(optimizer: AdamW, metadata?: Record<string, string>): Promise<Uint8Array> {
    this.checkAlive('toCheckpoint');
    const meta: Record<string, string> = { format: 'aaren-webgpu', scale: String(this.config.scale), eps: String(this.config.eps) };
    return writeCheckpoint(this, optimizer, 'AarenModel', () => this.readWeights(), meta, metadata);
  }

  createState(batch: number): AarenModelState {
    this.checkAlive('createState');
    checkInteger('batch', batch, 1, this.maxBatch);
    return new ModelState(this, batch, this.blocks.map((b) => b.createState(batch)));
  }

  protected planFor(batch: number, length: number): Plan<ModelSlot> {
    const { layers, dModel, heads, headDim, dFF } = this.config;
    const dims = { layers, dModel, heads, headDim, dFF, eps: this.config.eps!, layer: this.blocks.map((b) => b.layerDims) };
    return planModelForward(dims, batch, length, this.config.schedule, { limits: this.device.limits, cpu: isCpuAdapter(this.device) });
  }

  protected slotsFor(buffers: SequenceBuffers, state?: AarenModelState): Partial<Record<ModelSlot, GPUBuffer>> {
    const slots: Partial<Record<ModelSlot, GPUBuffer>> = { ...this.weights, x: buffers.x, output: buffers.output };
    this.blocks.forEach((layer, l) => {
      for (const [slot, buffer] of Object.entries(layer.slotsOf(state?.layers[l]))) slots[`b${l}.${slot as LayerSlot}`] = buffer!;
    });
    return slots;
  }

  protected statesOf(state: AarenModelState): ModuleState[] {
    return state.layers as unknown as ModuleState[];
  }

  protected destroyWeights(): void {
    for (const layer of this.blocks) layer.destroy();
    for (const buffer of Object.values(this.weights)) buffer?.destroy();
  }

  // ---- training ---------------------------------------------------------------------------------------------

  /** Each parameter with the slot it binds in the training plans and the slot of its gradient. */
  private namedSlots(): { parameter: NamedParameter; slot: string; gradSlot: string }[] {
    const { dModel, dFF } = this.config;
    const out: { parameter: NamedParameter; slot: string; gradSlot: string }[] = [];
    const own = (name: string, slot: ModelSlot, shape: number[]) => out.push({ parameter: { name, shape, buffer: this.weights[slot]! }, slot, gradSlot: gradSlot(name) });
    this.blocks.forEach((layer, l) => {
      const p = `blocks.${l}`;
      own(`${p}.ln1.weight`, `b${l}.ln1.gamma`, [dModel]);
      own(`${p}.ln1.bias`, `b${l}.ln1.beta`, [dModel]);
      const slots = layer.weightSlots();
      const dims = layer.trainDims;
      for (const q of LAYER_PARAMETERS.filter((x) => hasWeight(dims, x.slot))) {
        const shape = layer.parameters().find((x) => x.name === q.name)!.shape;
        out.push({ parameter: { name: `${p}.attention.${q.name}`, shape, buffer: slots[q.slot]! }, slot: `b${l}.${q.slot}`, gradSlot: `b${l}.grad.${q.slot}` });
      }
      own(`${p}.ln2.weight`, `b${l}.ln2.gamma`, [dModel]);
      own(`${p}.ln2.bias`, `b${l}.ln2.beta`, [dModel]);
      own(`${p}.ffn.w1`, `b${l}.w1`, [dModel, dFF]);
      own(`${p}.ffn.b1`, `b${l}.b1`, [dFF]);
      own(`${p}.ffn.w2`, `b${l}.w2`, [dFF, dModel]);
      own(`${p}.ffn.b2`, `b${l}.b2`, [dModel]);
    });
    own('final_norm.weight', 'final.gamma', [dModel]);
    own('final_norm.bias', 'final.beta', [dModel]);
    return out;
  }

  /** The raw trainable weights on the GPU by safetensors name (the list at the bottom of this file), in that
   * order; AdamW updates them in place, then encodeRefresh recomputes what the layers derive from them. */
  parameters(): NamedParameter[] {
    this.checkAlive('parameters');
    return this.namedSlots().map((n) => n.parameter);
  }

  /** Records the recomputation of every layer's fused projections (keyQuery, valueProj) from the raw weights
   * (one small dispatch per layer): call it after an optimizer changed the parameters on the GPU. */
  encodeRefresh(encoder: GPUCommandEncoder): void {
    this.checkAlive('encodeRefresh');
    for (const layer of this.blocks) layer.encodeRefresh(encoder);
  }

  /** The raw weights read back by safetensors name (for modelToSafetensors / writeSafetensors after training). */
  async readWeights(): Promise<Record<string, Float32Array>> {
    this.checkAlive('readWeights');
    await checkLiveDevice('AarenModel.device', this.device);
    return readParameters(this.device, this.parameters());
  }

  /**
   * A GPU-resident forward that keeps its activations, and its backward, for [batch, length] (ModelTrainer):
   * gradients keyed by the safetensors names. The backward reads the forward's x buffer (the first LayerNorm's
   * backward): keep its contents until the backward's commands ran.
   */
  async createTrainer(batch: number, length: number): Promise<ModelTrainer> {
    this.checkAlive('createTrainer');
    checkInteger('batch', batch, 1, this.maxBatch);
    checkInteger('length', length, 1);
    await checkLiveDevice('AarenModel.device', this.device);
    for (const layer of this.blocks) await layer.prepareRefresh();
    return this.trainer(batch, length);
  }

  private trainDims(): ModelTrainDims {
    const { layers, dModel, dFF } = this.config;
    return { layers, dModel, dFF, eps: this.config.eps!, layer: this.blocks.map((b) => b.trainDims) };
  }

  /** `cpu` picks the kernel family (default: the adapter's); tests run the GPU family on a CPU adapter too. */
  private async trainer(batch: number, length: number, cpu = isCpuAdapter(this.device)): Promise<PlanTrainer> {
    checkDevice('AarenModel.device', this.device);
    const dims = this.trainDims();
    const device = { limits: this.device.limits, cpu };
    const schedule = this.config.schedule ?? 'auto';
    const saved = modelSavedBytes(dims, batch, length, (l) => layerSavedBytes(dims.layer[l]!, batch, length));
    const forward = planModelTrainForward(dims, batch, length, schedule, device);
    const backward = planModelBackward(dims, batch, length, schedule, device);
    const sizes: Record<string, number> = {};
    for (const [name, bytes] of [...Object.entries(saved), ...Object.entries(forward.scratch), ...Object.entries(backward.scratch),
      ...Object.entries(layerTrainBufferBytes(dims.layer[0]!, batch, length, schedule, device))]) sizes[name] = bufferBytes(bytes);
    checkBufferSizes(`AarenModel training batch ${batch} x length ${length}`, sizes, bufferLimit(this.device.limits));
    const named = this.namedSlots();
    const weights: Record<string, GPUBuffer> = {};
    for (const n of named) weights[n.slot] = n.parameter.buffer;
    // What the plans read besides the parameters: each layer's decay rates (softplus of its decay parameter,
    // refreshed by encodeRefresh), as AarenLayer's own trainer binds them.
    this.blocks.forEach((layer, l) => {
      const rates = layer.weightSlots().decayRates;
      if (rates) weights[`b${l}.decayRates`] = rates;
    });
    return PlanTrainer.create(this.device, {
      batch, length, width: this.config.dModel, label: 'AarenModel', forward, backward, saved, weights,
      parameters: named.map((n) => ({ parameter: n.parameter, gradSlot: n.gradSlot })),
    });
  }

  /**
   * Forward and backward over x [batch, length, dModel] with dLoss/d(output) = gradOutput: the output, dLoss/dx
   * and the gradient of every parameter keyed by its safetensors name. `state` holds a constant initial state per
   * layer (truncated BPTT: read, not advanced, no gradient into it). Matches PyTorch autograd of the same model.
   */
  async backward(x: Float32Array, gradOutput: Float32Array, shape: { batch: number; length: number }, state?: AarenModelState): Promise<{ output: Float32Array; gradInput: Float32Array; gradients: Record<string, Float32Array> }> {
    this.checkAlive('backward');
    if (typeof shape !== 'object' || shape === null) throw new TypeError('shape must be an object { batch, length }');
    const batch = checkInteger('shape.batch', shape.batch, 0, this.maxBatch);
    const length = checkInteger('shape.length', shape.length, 0);
    const n = batch * length * this.config.dModel;
    const expected = `batch ${batch} x length ${length} x dModel ${this.config.dModel}`;
    checkFloat32Array('x', x, n, expected);
    checkFinite('x', x);
    checkFloat32Array('gradOutput', gradOutput, n, expected);
    checkFinite('gradOutput', gradOutput);
    const s = state === undefined ? undefined : this.checkState('state', state, batch);
    await checkLiveDevice('AarenModel.device', this.device);
    if (n === 0) {
      const gradients: Record<string, Float32Array> = {};
      for (const p of this.parameters()) gradients[p.name] = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
      return { output: new Float32Array(0), gradInput: new Float32Array(0), gradients };
    }
    const carry: Record<string, GPUBuffer> = {};
    s?.layers.forEach((layerState, l) => {
      carry[`b${l}.carry`] = layerState.buffer;
      const history = (layerState as unknown as ModuleState).history;
      if (history) carry[`b${l}.convHistory`] = history;
    });
    return runTrainer(this.device, 'AarenModel.backward', () => this.trainer(batch, length), x, gradOutput, carry);
  }
}

// ---- safetensors names --------------------------------------------------------------------------------------
// blocks.{l}.ln1.weight / .bias                    [dModel]
// blocks.{l}.attention.query                       [heads, headDim]
// blocks.{l}.attention.key / .value                [dModel, heads * headDim]   (x @ W: nn.Linear.weight.T)
// blocks.{l}.attention.output                      [heads * headDim, dModel]
// blocks.{l}.attention.key_bias / .value_bias      [heads * headDim]            optional
// blocks.{l}.attention.output_bias                 [dModel]                     optional
// blocks.{l}.attention.decay                       [heads]                      optional: recency decay theta
//                                                  (rate = softplus(theta)); absent in the paper's plain layer
// blocks.{l}.attention.conv                        [dModel, 4]                  optional: causal depthwise
//                                                  convolution of the layer input (residual); absent: none
// blocks.{l}.ln2.weight / .bias                    [dModel]
// blocks.{l}.ffn.w1 [dModel, dFF], .b1 [dFF], .w2 [dFF, dModel], .b2 [dModel]
// final_norm.weight / .bias                        [dModel]
// metadata (optional strings): "scale", "eps".

/** Model config (sizes inferred from tensor shapes) from safetensors bytes. Throws naming a missing or misshapen tensor. */
export function modelFromSafetensors(bytes: ArrayBuffer | Uint8Array): AarenModelConfig {
  return modelFromSafetensorsFile(readSafetensors(bytes));
}

/** As modelFromSafetensors, from a parsed file (other tensors in it, such as a language model's, are ignored). */
export function modelFromSafetensorsFile({ tensors, metadata }: SafetensorsFile): AarenModelConfig {
  const get = (name: string, rank: number): SafetensorsTensor => {
    const t = tensors.get(name);
    if (!t) throw new RangeError(`safetensors: tensor ${name} is missing`);
    if (t.shape.length !== rank) throw new RangeError(`safetensors: tensor ${name} has shape [${t.shape.join(', ')}], expected rank ${rank}`);
    return t;
  };
  const optional = (name: string) => tensors.get(name)?.data;
  let layers = 0;
  while (tensors.has(`blocks.${layers}.attention.query`)) layers++;
  if (layers === 0) throw new RangeError('safetensors: no tensor blocks.0.attention.query');
  const query = get('blocks.0.attention.query', 2);
  const [heads, headDim] = query.shape as [number, number];
  const dModel = get('final_norm.weight', 1).shape[0]!;
  const dFF = get('blocks.0.ffn.w1', 2).shape[1]!;
  const number = (key: string) => {
    const v = metadata[key];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n)) throw new RangeError(`safetensors: metadata ${key} is not a number: ${v}`);
    return n;
  };
  const norm = (prefix: string) => ({ weight: get(`${prefix}.weight`, 1).data, bias: get(`${prefix}.bias`, 1).data });
  const blocks: AarenBlockWeights[] = [];
  for (let l = 0; l < layers; l++) {
    const p = `blocks.${l}`;
    const attention: AarenLayerWeights = {
      query: get(`${p}.attention.query`, 2).data, key: get(`${p}.attention.key`, 2).data,
      value: get(`${p}.attention.value`, 2).data, output: get(`${p}.attention.output`, 2).data,
    };
    const kb = optional(`${p}.attention.key_bias`);
    const vb = optional(`${p}.attention.value_bias`);
    const ob = optional(`${p}.attention.output_bias`);
    const decay = tensors.get(`${p}.attention.decay`);
    if (decay && decay.shape.length !== 1) throw new RangeError(`safetensors: tensor ${p}.attention.decay has shape [${decay.shape.join(', ')}], expected [heads]`);
    if (decay) attention.decay = decay.data;
    const conv = tensors.get(`${p}.attention.conv`);
    if (conv && (conv.shape.length !== 2 || conv.shape[1] !== 4)) throw new RangeError(`safetensors: tensor ${p}.attention.conv has shape [${conv.shape.join(', ')}], expected [dModel, 4]`);
    if (conv) attention.conv = conv.data;
    if (kb) attention.keyBias = kb;
    if (vb) attention.valueBias = vb;
    if (ob) attention.outputBias = ob;
    blocks.push({
      ln1: norm(`${p}.ln1`), attention, ln2: norm(`${p}.ln2`),
      ffn: { w1: get(`${p}.ffn.w1`, 2).data, b1: get(`${p}.ffn.b1`, 1).data, w2: get(`${p}.ffn.w2`, 2).data, b2: get(`${p}.ffn.b2`, 1).data },
    });
  }
  // Element counts are checked against these sizes by AarenModel.create.
  return { layers, dModel, heads, headDim, dFF, scale: number('scale'), eps: number('eps'), weights: { blocks, finalNorm: norm('final_norm') } };
}

/** The safetensors bytes of a model config (the names above), e.g. to save weights made in JS. */
export function modelToSafetensors(config: AarenModelConfig): Uint8Array {
  const { dModel, heads, headDim, dFF } = config;
  const hd = heads * headDim;
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  config.weights.blocks.forEach((b, l) => {
    const p = `blocks.${l}`;
    tensors[`${p}.ln1.weight`] = { shape: [dModel], data: b.ln1.weight };
    tensors[`${p}.ln1.bias`] = { shape: [dModel], data: b.ln1.bias };
    tensors[`${p}.attention.query`] = { shape: [heads, headDim], data: b.attention.query };
    tensors[`${p}.attention.key`] = { shape: [dModel, hd], data: b.attention.key };
    tensors[`${p}.attention.value`] = { shape: [dModel, hd], data: b.attention.value };
    tensors[`${p}.attention.output`] = { shape: [hd, dModel], data: b.attention.output };
    if (b.attention.keyBias) tensors[`${p}.attention.key_bias`] = { shape: [hd], data: b.attention.keyBias };
    if (b.attention.valueBias) tensors[`${p}.attention.value_bias`] = { shape: [hd], data: b.attention.valueBias };
    if (b.attention.outputBias) tensors[`${p}.attention.output_bias`] = { shape: [dModel], data: b.attention.outputBias };
    if (b.attention.decay) tensors[`${p}.attention.decay`] = { shape: [heads], data: b.attention.decay };
    if (b.attention.conv) tensors[`${p}.attention.conv`] = { shape: [dModel, 4], data: b.attention.conv };
    tensors[`${p}.ln2.weight`] = { shape: [dModel], data: b.ln2.weight };
    tensors[`${p}.ln2.bias`] = { shape: [dModel], data: b.ln2.bias };
    tensors[`${p}.ffn.w1`] = { shape: [dModel, dFF], data: b.ffn.w1 };
    tensors[`${p}.ffn.b1`] = { shape: [dFF], data: b.ffn.b1 };
    tensors[`${p}.ffn.w2`] = { shape: [dFF, dModel], data: b.ffn.w2 };
    tensors[`${p}.ffn.b2`] = { shape: [dModel], data: b.ffn.b2 };
  });
  tensors['final_norm.weight'] = { shape: [dModel], data: config.weights.finalNorm.weight };
  tensors['final_norm.bias'] = { shape: [dModel], data: config.weights.finalNorm.bias };
  const metadata: Record<string, string> = { format: 'aaren-webgpu' };
  if (config.scale !== undefined) metadata.scale = String(config.scale);
  if (config.eps !== undefined) metadata.eps = String(config.eps);
  return writeSafetensors(tensors, metadata);
}
