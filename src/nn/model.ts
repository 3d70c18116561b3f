// A stack of Aaren blocks: pre-LayerNorm residual blocks
//   h = h + Aaren(LN1(h));  h = h + W2 GELU(W1 LN2(h) + b1) + b2
// then a final LayerNorm. Per block: LayerNorm kernel, the fused Aaren scan, the output projection with the
// residual add fused into its epilogue, LayerNorm, the first FFN matmul with bias + GELU fused, the second with
// bias + residual fused. Parallel forward, block-wise forward with state, and step, as AarenLayer.
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../core/buffers.js';
import { AarenLayer, type AarenLayerConfig, type AarenLayerWeights, type AarenState } from './layer.js';
import { MatmulOp, createUnusedBuffer, type MatmulPrograms } from '../ops/matmul.js';
import { LayerNormOp } from '../ops/layer-norm.js';
import type { Program } from '../core/program.js';
import { readSafetensors, writeSafetensors, type SafetensorsTensor } from '../io/safetensors.js';
import { bufferLimit, checkFinite, checkFloat32Array, checkInteger, checkStorageBuffer } from '../core/validate.js';
import { forwardInPieces, tokensPerPiece } from '../core/pieces.js';
import { checkDevice, checkLiveDevice, runGpuCall } from '../core/device.js';

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

interface BlockBuffers {
  layer: AarenLayer;
  ln1: { gamma: GPUBuffer; beta: GPUBuffer };
  ln2: { gamma: GPUBuffer; beta: GPUBuffer };
  w1: GPUBuffer;
  b1: GPUBuffer;
  w2: GPUBuffer;
  b2: GPUBuffer;
}

type LayerPlan = ReturnType<AarenLayer['createPlan']>;

interface ModelPlan {
  batch: number;
  length: number;
  norm: LayerNormOp;
  up: MatmulOp;
  down: MatmulOp;
  layerPlans: LayerPlan[];
  /** Ping-pong residual stream, LayerNorm output, FFN hidden. */
  p: GPUBuffer;
  q: GPUBuffer;
  normed: GPUBuffer;
  hidden: GPUBuffer;
}

export class AarenModel {
  private destroyed = false;
  private readonly plans = new Map<string, ModelPlan>();

  private constructor(
    readonly device: GPUDevice,
    readonly config: Readonly<Omit<AarenModelConfig, 'weights'>>,
    private readonly blocks: BlockBuffers[],
    private readonly finalNorm: { gamma: GPUBuffer; beta: GPUBuffer },
    private readonly programs: { norm: Program; up: MatmulPrograms; down: MatmulPrograms },
    private readonly unused: GPUBuffer,
  ) {}

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

    const [norm, up, down] = await Promise.all([
      LayerNormOp.program(device, dModel), MatmulOp.programs(device, false, dFF, dModel), MatmulOp.programs(device, false, dModel, dFF),
    ]);
    const made: { destroy(): void }[] = [];
    const upload = (data: Float32Array, label: string) => {
      const buffer = uploadFloat32(device, data, label);
      made.push(buffer);
      return buffer;
    };
    try {
      const blocks: BlockBuffers[] = [];
      for (const [l, block] of w.blocks.entries()) {
        const layer = await AarenLayer.create(device, { dModel, heads, headDim, scale: config.scale, schedule: config.schedule, weights: block.attention });
        made.push(layer);
        blocks.push({
          layer,
          ln1: { gamma: upload(block.ln1.weight, `block ${l} ln1`), beta: upload(block.ln1.bias, `block ${l} ln1 bias`) },
          ln2: { gamma: upload(block.ln2.weight, `block ${l} ln2`), beta: upload(block.ln2.bias, `block ${l} ln2 bias`) },
          w1: upload(block.ffn.w1, `block ${l} ffn w1`), b1: upload(block.ffn.b1, `block ${l} ffn b1`),
          w2: upload(block.ffn.w2, `block ${l} ffn w2`), b2: upload(block.ffn.b2, `block ${l} ffn b2`),
        });
      }
      const finalNorm = { gamma: upload(w.finalNorm.weight, 'final norm'), beta: upload(w.finalNorm.bias, 'final norm bias') };
      const scale = blocks[0]!.layer.scale;
      return new AarenModel(device, { layers, dModel, heads, headDim, dFF, scale, eps }, blocks, finalNorm, { norm, up, down }, createUnusedBuffer(device));
    } catch (error) {
      for (const m of made) m.destroy();
      throw error;
    }
  }

  /** Loads a model from safetensors bytes (tensor names in the README; see modelFromSafetensors). */
  static async fromSafetensors(device: GPUDevice, bytes: ArrayBuffer | Uint8Array): Promise<AarenModel> {
    return AarenModel.create(device, modelFromSafetensors(bytes));
  }

  createState(batch: number): AarenModelState {
    this.checkAlive('createState');
    checkInteger('batch', batch, 1);
    return new ModelState(this, batch, this.blocks.map((b) => b.layer.createState(batch)));
  }

  /** Parallel (with `state`: block-wise) forward, x [batch, length, dModel] -> [batch, length, dModel]. */
  async forward(x: Float32Array, shape: { batch: number; length: number }, state?: AarenModelState): Promise<Float32Array> {
    this.checkAlive('forward');
    if (typeof shape !== 'object' || shape === null) throw new TypeError('shape must be an object { batch, length }');
    const batch = checkInteger('shape.batch', shape.batch, 0);
    const length = checkInteger('shape.length', shape.length, 0);
    checkFloat32Array('x', x, batch * length * this.config.dModel, `batch ${batch} x length ${length} x dModel ${this.config.dModel}`);
    checkFinite('x', x);
    const s = state === undefined ? undefined : this.checkState('state', state, batch);
    await checkLiveDevice('AarenModel.device', this.device);
    if (batch * length === 0) return new Float32Array(0);
    const { dModel, dFF, heads, headDim } = this.config;
    const piece = tokensPerPiece('AarenModel.forward', batch, length, Math.max(dModel, dFF, heads * headDim), bufferLimit(this.device.limits));
    if (piece < length) {
      return forwardInPieces({
        x, batch, length, width: dModel, tokensPerPiece: piece, state: s,
        createState: () => this.checkState('state', this.createState(batch), batch),
        forward: (xPiece, pieceLength, pieceState) => this.forwardOnce(xPiece, batch, pieceLength, pieceState),
      });
    }
    return this.forwardOnce(x, batch, length, s);
  }

  private async forwardOnce(x: Float32Array, batch: number, length: number, state?: ModelState): Promise<Float32Array> {
    const plan = this.createPlan(batch, length, state !== undefined);
    try {
      return await this.run(plan, x, state);
    } finally {
      this.destroyPlan(plan);
    }
  }

  /** RNN mode: x [batch, dModel] -> [batch, dModel], advancing every layer's state. */
  async step(state: AarenModelState, x: Float32Array): Promise<Float32Array> {
    this.checkAlive('step');
    const s = this.checkState('state', state, state?.batch);
    checkFloat32Array('x', x, s.batch * this.config.dModel, `batch ${s.batch} x dModel ${this.config.dModel}`);
    checkFinite('x', x);
    await checkLiveDevice('AarenModel.device', this.device);
    return this.run(this.cachedPlan(s.batch, 1, true), x, s);
  }

  /** GPU-resident forward into the caller's encoder; per-shape resources cached until destroy() / releasePlans(). */
  encodeForward(encoder: GPUCommandEncoder, buffers: { x: GPUBuffer; output: GPUBuffer }, shape: { batch: number; length: number }, state?: AarenModelState): void {
    this.checkAlive('encodeForward');
    checkDevice('AarenModel.device', this.device);
    if (typeof shape !== 'object' || shape === null) throw new TypeError('shape must be an object { batch, length }');
    const batch = checkInteger('shape.batch', shape.batch, 0);
    const length = checkInteger('shape.length', shape.length, 0);
    const s = state === undefined ? undefined : this.checkState('state', state, batch);
    this.checkBuffers(buffers, batch * length);
    if (batch * length === 0) return;
    this.encodePlan(encoder, this.cachedPlan(batch, length, s !== undefined), buffers, s);
  }

  /** GPU-resident step: x [batch, dModel] -> output [batch, dModel]. */
  encodeStep(encoder: GPUCommandEncoder, state: AarenModelState, buffers: { x: GPUBuffer; output: GPUBuffer }): void {
    this.checkAlive('encodeStep');
    checkDevice('AarenModel.device', this.device);
    const s = this.checkState('state', state, state?.batch);
    this.checkBuffers(buffers, s.batch);
    this.encodePlan(encoder, this.cachedPlan(s.batch, 1, true), buffers, s);
  }

  releasePlans(): void {
    for (const plan of this.plans.values()) this.destroyPlan(plan);
    this.plans.clear();
  }

  /** Releases every buffer the model owns (weights, layers, cached plans); states have their own destroy(). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.releasePlans();
    for (const b of this.blocks) {
      b.layer.destroy();
      for (const buffer of [b.ln1.gamma, b.ln1.beta, b.ln2.gamma, b.ln2.beta, b.w1, b.b1, b.w2, b.b2]) buffer.destroy();
    }
    this.finalNorm.gamma.destroy();
    this.finalNorm.beta.destroy();
    this.unused.destroy();
  }

  private createPlan(batch: number, length: number, withState: boolean): ModelPlan {
    const { dModel, dFF, eps } = this.config;
    const rows = batch * length;
    const made: { destroy(): void }[] = [];
    const keep = <T extends { destroy(): void }>(x: T) => (made.push(x), x);
    try {
      const layerPlans: LayerPlan[] = [];
      for (const b of this.blocks) {
        const plan = b.layer.createPlan(batch, length, withState, true);
        made.push({ destroy: () => b.layer.destroyPlanOf(plan) });
        layerPlans.push(plan);
      }
      return {
        batch, length, layerPlans,
        norm: keep(LayerNormOp.create(this.device, this.programs.norm, rows, dModel, eps!)),
        up: keep(MatmulOp.create(this.device, this.programs.up, { m: rows, n: dFF, k: dModel, bias: true, residual: false, gelu: true })),
        down: keep(MatmulOp.create(this.device, this.programs.down, { m: rows, n: dModel, k: dFF, bias: true, residual: true, gelu: false })),
        p: keep(createStorageBuffer(this.device, rows * dModel * 4, 'aaren model stream p')),
        q: keep(createStorageBuffer(this.device, rows * dModel * 4, 'aaren model stream q')),
        normed: keep(createStorageBuffer(this.device, rows * dModel * 4, 'aaren model normed')),
        hidden: keep(createStorageBuffer(this.device, rows * dFF * 4, 'aaren model ffn hidden')),
      };
    } catch (error) {
      for (const m of made) m.destroy();
      throw error;
    }
  }

  private destroyPlan(plan: ModelPlan): void {
    plan.layerPlans.forEach((lp, l) => this.blocks[l]!.layer.destroyPlanOf(lp));
    plan.norm.destroy();
    plan.up.destroy();
    plan.down.destroy();
    for (const b of [plan.p, plan.q, plan.normed, plan.hidden]) b.destroy();
  }

  private cachedPlan(batch: number, length: number, withState: boolean): ModelPlan {
    const key = `${batch}/${length}/${withState}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = this.createPlan(batch, length, withState);
      this.plans.set(key, plan);
    }
    return plan;
  }

  // Stream: block l reads `cur` (x, then q), writes p = cur + Aaren(LN1(cur)), then q = p + FFN(LN2(p)).
  private encodePlan(encoder: GPUCommandEncoder, plan: ModelPlan, buffers: { x: GPUBuffer; output: GPUBuffer }, state?: ModelState): void {
    let cur = buffers.x;
    this.blocks.forEach((b, l) => {
      let pass = encoder.beginComputePass({ label: `aaren block ${l} ln1` });
      plan.norm.encode(pass, { x: cur, gamma: b.ln1.gamma, beta: b.ln1.beta, result: plan.normed });
      pass.end();
      const layerState = state && b.layer.checkState(`state.layers[${l}]`, state.layers[l]!, plan.batch);
      b.layer.encodePlan(encoder, plan.layerPlans[l]!, { x: plan.normed, output: plan.p, residual: cur }, layerState);
      pass = encoder.beginComputePass({ label: `aaren block ${l} ffn` });
      plan.norm.encode(pass, { x: plan.p, gamma: b.ln2.gamma, beta: b.ln2.beta, result: plan.normed });
      plan.up.encode(pass, { a: plan.normed, weight: b.w1, bias: b.b1, result: plan.hidden }, this.unused);
      plan.down.encode(pass, { a: plan.hidden, weight: b.w2, bias: b.b2, residual: plan.p, result: plan.q }, this.unused);
      pass.end();
      cur = plan.q;
    });
    const pass = encoder.beginComputePass({ label: 'aaren final norm' });
    plan.norm.encode(pass, { x: cur, gamma: this.finalNorm.gamma, beta: this.finalNorm.beta, result: buffers.output });
    pass.end();
  }

  private run(plan: ModelPlan, x: Float32Array, state?: ModelState): Promise<Float32Array> {
    const device = this.device;
    return runGpuCall(device, 'AarenModel', 'AarenModel.device', async (track) => {
      const input = track(uploadFloat32(device, x, 'aaren model input'));
      const output = track(createStorageBuffer(device, x.byteLength, 'aaren model output'));
      const encoder = device.createCommandEncoder({ label: 'aaren model' });
      this.encodePlan(encoder, plan, { x: input, output }, state);
      const [y] = await submitAndRead(device, encoder, [{ buffer: output, floats: x.length }]);
      return y!;
    });
  }

  private checkAlive(method: string): void {
    if (this.destroyed) throw new Error(`AarenModel.${method}: this model was destroyed`);
  }

  private checkState(name: string, state: AarenModelState, batch: number): ModelState {
    if (!(state instanceof ModelState) || state.owner !== this) throw new TypeError(`${name} must be an AarenModelState made by this model's createState`);
    if (state.destroyed) throw new Error(`${name} was destroyed`);
    if (state.batch !== batch) throw new RangeError(`${name} is for batch ${state.batch}, the input has batch ${batch}`);
    return state;
  }

  private checkBuffers(buffers: { x: GPUBuffer; output: GPUBuffer }, rows: number): void {
    if (typeof buffers !== 'object' || buffers === null) throw new TypeError('buffers must be an object { x, output }');
    const bytes = rows * this.config.dModel * 4;
    checkStorageBuffer('buffers.x', buffers.x, bytes);
    checkStorageBuffer('buffers.output', buffers.output, bytes);
    if (buffers.x === buffers.output) throw new RangeError('buffers.x must not be buffers.output');
  }
}

// ---- safetensors names --------------------------------------------------------------------------------------
// blocks.{l}.ln1.weight / .bias                    [dModel]
// blocks.{l}.attention.query                       [heads, headDim]
// blocks.{l}.attention.key / .value                [dModel, heads * headDim]   (x @ W: nn.Linear.weight.T)
// blocks.{l}.attention.output                      [heads * headDim, dModel]
// blocks.{l}.attention.key_bias / .value_bias      [heads * headDim]            optional
// blocks.{l}.attention.output_bias                 [dModel]                     optional
// blocks.{l}.ln2.weight / .bias                    [dModel]
// blocks.{l}.ffn.w1 [dModel, dFF], .b1 [dFF], .w2 [dFF, dModel], .b2 [dModel]
// final_norm.weight / .bias                        [dModel]
// metadata (optional strings): "scale", "eps".

/** Model config (sizes inferred from tensor shapes) from safetensors bytes. Throws naming a missing or misshapen tensor. */
export function modelFromSafetensors(bytes: ArrayBuffer | Uint8Array): AarenModelConfig {
  const { tensors, metadata } = readSafetensors(bytes);
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
