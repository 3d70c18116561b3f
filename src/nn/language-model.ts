// A small Aaren language model, trained and run on the GPU:
//   token embedding [vocabSize, dModel] -> the AarenModel blocks and final LayerNorm -> head [dModel, vocabSize] + bias
// Safetensors names: `token_embedding`, the AarenModel names (model.ts), `lm_head.weight`, `lm_head.bias`.
//
// Inference: forward (parallel over the tokens, in pieces carried by the state past the buffer limits), step (one
// token per sequence in constant memory) and generate (step, sampled on the host from a seeded generator).
// Training: trainStep records, in one submit, the embedding gather, the model's training forward, the head and the
// fused cross-entropy with the head's backward (planLmHeadTrain), the model's backward, the embedding's backward
// and the AdamW step, then reads back 32 bytes (the loss and the optimizer's status word).
import { type Plan, PreparedPlan, rebind } from '../core/kernel.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../core/buffers.js';
import { bufferLimit, checkBufferSizes, checkInteger, checkObject } from '../core/validate.js';
import { checkLiveDevice, isCpuAdapter, runGpuCall } from '../core/device.js';
import { tokensPerPiece } from '../core/pieces.js';
import { mulberry32, normal } from '../core/random.js';
import { readSafetensors, writeSafetensors, type SafetensorsFile } from '../io/safetensors.js';
import { planMatmul, type MatmulSlot } from '../ops/matmul.js';
import { planColumnSum, type ColumnSumSlot } from '../ops/elementwise.js';
import { checkTargets, planCrossEntropy, type CrossEntropySlot } from '../ops/cross-entropy.js';
import { planEmbedding, planEmbeddingBackward, tokenRowIndex, type EmbeddingBackwardSlot, type EmbeddingSlot } from '../ops/embedding.js';
import type { PlanLimits } from '../ops/attention/scan.js';
import { ADAMW_STATUS_FLOATS, AdamW } from '../optim/adamw.js';
import { finishCheckpoint, parseCheckpoint, writeCheckpoint, type Checkpoint } from '../optim/checkpoint.js';
import { AarenModel, modelFromSafetensorsFile, type AarenModelConfig, type AarenModelState } from './model.js';
import { readParameters } from './layer.js';
import type { ModelTrainer, NamedParameter, Trainable } from './parameters.js';

export interface AarenLanguageModelConfig {
  vocabSize: number;
  layers: number;
  dModel: number;
  heads: number;
  headDim: number;
  dFF: number;
  /** Seed of the initial weights (create); default 0. */
  seed?: number;
  /** Score scale of every layer; default 1 / sqrt(headDim). */
  scale?: number;
  /** LayerNorm epsilon; default 1e-5. */
  eps?: number;
  /** Scan schedule of every layer (AarenModelConfig.schedule). */
  schedule?: AarenModelConfig['schedule'];
  /** A learned recency decay per head in every layer (blocks.{l}.attention.decay; initial half-lives spread
   * geometrically from 1 to 64 tokens over the heads); default true. false: the paper's plain layer, which sees
   * its prefix as an unordered bag. */
  recencyDecay?: boolean;
  /** A causal depthwise convolution of width 4 on every layer's attention input (blocks.{l}.attention.conv,
   * zero-initialised: it starts as the identity); default true. */
  convolution?: boolean;
}

/** Initial half-lives of the recency decay, in tokens: spread geometrically over the heads from the first to the
 * last (a known-good start: some heads look at the last few tokens, some at the whole window). */
export const DECAY_HALF_LIVES = [1, 64] as const;

/** theta of each head such that softplus(theta) = ln 2 / half-life, half-lives geometric over DECAY_HALF_LIVES. */
export function initialDecay(heads: number): Float32Array {
  const [first, last] = DECAY_HALF_LIVES;
  return Float32Array.from({ length: heads }, (_, h) => {
    const halfLife = heads === 1 ? Math.sqrt(first * last) : first * (last / first) ** (h / (heads - 1));
    return Math.log(Math.expm1(Math.LN2 / halfLife)); // softplus^-1
  });
}

/** Standard deviation of every initial weight matrix (GPT-2's): create draws N(0, INIT_STD^2). */
export const INIT_STD = 0.02;

/** Sizes and shapes of the LM's own tensors (the AarenModel's are in model.ts). */
interface LmDims {
  vocabSize: number;
  dModel: number;
}

export type LmSlot = EmbeddingSlot | 'embedding' | 'h' | 'headWeight' | 'headBias' | 'logits';
export type LmTrainSlot = 'tokens' | 'embedding' | 'x' | 'h' | 'headWeight' | 'headBias' | 'targets' | 'loss' | 'gradH' | 'gradX'
  | 'tokenOffsets' | 'tokenRows' | 'grad.token_embedding' | 'grad.lm_head.weight' | 'grad.lm_head.bias';

/** The embedding gather of `rows` tokens (pure). */
export function planLmEmbed(rows: number, dims: LmDims, device: PlanLimits): Plan<LmSlot> {
  const gather = planEmbedding(rows, dims.dModel, dims.vocabSize, device);
  return { dispatches: [rebind<EmbeddingSlot, LmSlot>(gather, { tokens: 'tokens', table: 'embedding', x: 'x' })], scratch: {}, optional: [] };
}

/** logits [rows, vocab] = h @ headWeight + headBias (pure). */
export function planLmHead(rows: number, dims: LmDims, device: PlanLimits): Plan<LmSlot> {
  const head = planMatmul({ m: rows, n: dims.vocabSize, k: dims.dModel, bias: true, residual: false, gelu: false }, device);
  return { dispatches: [rebind<MatmulSlot, LmSlot>(head, { a: 'h', weight: 'headWeight', bias: 'headBias', residual: null, preActivation: null, result: 'logits' })], scratch: {}, optional: [] };
}

/**
 * The head in training (pure): logits = h W + b (scratch), the mean cross-entropy into `loss` and dLogits
 * (fused, cross-entropy.ts), then the head's backward: gradH = dLogits W^T, grad W = h^T dLogits, grad b = column
 * sums of dLogits. Every reduction in a fixed order.
 */
export function planLmHeadTrain(rows: number, dims: LmDims, device: PlanLimits): Plan<LmTrainSlot> {
  const { vocabSize: vocab, dModel } = dims;
  const plain = { bias: false, residual: false, gelu: false };
  const logits = { scratch: 'logits' };
  const gradLogits = { scratch: 'gradLogits' };
  const matmul = (spec: Parameters<typeof planMatmul>[0], map: Partial<Record<MatmulSlot, LmTrainSlot | { scratch: string } | null>>) =>
    rebind<MatmulSlot, LmTrainSlot>(planMatmul(spec, device), { bias: null, residual: null, preActivation: null, ...map });
  const loss = planCrossEntropy(rows, vocab, device);
  const biasSum = planColumnSum(rows, vocab, {}, device);
  const scratch: Record<string, number> = { logits: rows * vocab * 4, gradLogits: rows * vocab * 4 };
  for (const [name, bytes] of Object.entries(loss.scratch)) scratch[`ce ${name}`] = bytes;
  for (const [name, bytes] of Object.entries(biasSum.scratch)) scratch[`bias ${name}`] = bytes;
  return {
    dispatches: [
      matmul({ m: rows, n: vocab, k: dModel, ...plain, bias: true }, { a: 'h', weight: 'headWeight', bias: 'headBias', result: logits }),
      ...loss.dispatches.map((d) => rebind<CrossEntropySlot, LmTrainSlot>(d, { logits, targets: 'targets', gradLogits, loss: 'loss' }, 'ce ')),
      matmul({ m: rows, n: dModel, k: vocab, ...plain, transposeB: true }, { a: gradLogits, weight: 'headWeight', result: 'gradH' }),
      matmul({ m: dModel, n: vocab, k: rows, ...plain, transposeA: true }, { a: 'h', weight: gradLogits, result: 'grad.lm_head.weight' }),
      ...biasSum.dispatches.map((d) => rebind<ColumnSumSlot, LmTrainSlot>(d, { x: gradLogits, result: 'grad.lm_head.bias' }, 'bias ')),
    ],
    scratch,
    optional: [],
  };
}

/** The embedding's backward from the model's gradInput (pure). */
export function planLmEmbedBackward(dims: LmDims, device: PlanLimits): Plan<LmTrainSlot> {
  const d = planEmbeddingBackward(dims.vocabSize, dims.dModel, device);
  return {
    dispatches: [rebind<EmbeddingBackwardSlot, LmTrainSlot>(d, { tokenOffsets: 'tokenOffsets', tokenRows: 'tokenRows', gradX: 'gradX', gradTable: 'grad.token_embedding' })],
    scratch: {},
    optional: [],
  };
}

/**
 * The initial weights of create, by safetensors name (deterministic): one mulberry32(seed) stream draws, tensor
 * by tensor in parameters() order and element by element, N(0, INIT_STD^2) for every tensor with two dimensions
 * (token_embedding, attention query/key/value/output, ffn w1/w2, lm_head.weight); biases are 0, LayerNorm weights 1
 * and biases 0. The attention layers have no biases.
 */
export function initialLanguageModelWeights(config: AarenLanguageModelConfig): Record<string, { shape: number[]; data: Float32Array }> {
  const { vocabSize, layers, dModel, heads, headDim, dFF } = config;
  const random = mulberry32(config.seed ?? 0);
  const hd = heads * headDim;
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  const add = (name: string, shape: number[], fill: 'normal' | 0 | 1) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (fill === 'normal') for (let i = 0; i < data.length; i++) data[i] = INIT_STD * normal(random);
    else data.fill(fill);
    tensors[name] = { shape, data };
  };
  add('token_embedding', [vocabSize, dModel], 'normal');
  for (let l = 0; l < layers; l++) {
    const p = `blocks.${l}`;
    add(`${p}.ln1.weight`, [dModel], 1);
    add(`${p}.ln1.bias`, [dModel], 0);
    add(`${p}.attention.query`, [heads, headDim], 'normal');
    add(`${p}.attention.key`, [dModel, hd], 'normal');
    add(`${p}.attention.value`, [dModel, hd], 'normal');
    add(`${p}.attention.output`, [hd, dModel], 'normal');
    if (config.recencyDecay ?? true) tensors[`${p}.attention.decay`] = { shape: [heads], data: initialDecay(heads) };
    if (config.convolution ?? true) tensors[`${p}.attention.conv`] = { shape: [dModel, 4], data: new Float32Array(dModel * 4) };
    add(`${p}.ln2.weight`, [dModel], 1);
    add(`${p}.ln2.bias`, [dModel], 0);
    add(`${p}.ffn.w1`, [dModel, dFF], 'normal');
    add(`${p}.ffn.b1`, [dFF], 0);
    add(`${p}.ffn.w2`, [dFF, dModel], 'normal');
    add(`${p}.ffn.b2`, [dModel], 0);
  }
  add('final_norm.weight', [dModel], 1);
  add('final_norm.bias', [dModel], 0);
  add('lm_head.weight', [dModel, vocabSize], 'normal');
  add('lm_head.bias', [vocabSize], 0);
  return tensors;
}

export interface GenerateOptions {
  /** Tokens to generate after the prompt. */
  maxTokens: number;
  /** Softmax temperature, >= 0; 0 picks the most likely token (greedy). */
  temperature: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** Seed of the sampling generator (mulberry32); the same seed and weights give the same tokens. */
  seed: number;
  /** Called with each new token as soon as it is sampled (streaming). */
  onToken?: (token: number, index: number) => void;
}

/** The buffers and prepared plans of training at one (batch, length), kept between trainSteps of that shape. */
class TrainSession {
  private constructor(
    readonly batch: number,
    readonly length: number,
    readonly trainer: ModelTrainer,
    readonly plans: { embed: PreparedPlan<LmSlot>; head: PreparedPlan<LmTrainSlot>; embedBackward: PreparedPlan<LmTrainSlot> },
    readonly buffers: Record<'tokens' | 'targets' | 'tokenOffsets' | 'tokenRows' | 'x' | 'h' | 'gradH' | 'gradX' | 'loss' | 'grad.token_embedding' | 'grad.lm_head.weight' | 'grad.lm_head.bias', GPUBuffer>,
  ) {}

  static async create(device: GPUDevice, model: AarenModel, dims: LmDims, batch: number, length: number): Promise<TrainSession> {
    const rows = batch * length;
    const limits: PlanLimits = { limits: device.limits, cpu: isCpuAdapter(device) };
    const made: { destroy(): void }[] = [];
    try {
      const sizes = {
        tokens: rows * 4, targets: rows * 4, tokenOffsets: (dims.vocabSize + 1) * 4, tokenRows: rows * 4,
        x: rows * dims.dModel * 4, h: rows * dims.dModel * 4, gradH: rows * dims.dModel * 4, gradX: rows * dims.dModel * 4, loss: 4,
        'grad.token_embedding': dims.vocabSize * dims.dModel * 4, 'grad.lm_head.weight': dims.dModel * dims.vocabSize * 4, 'grad.lm_head.bias': dims.vocabSize * 4,
      };
      const headPlan = planLmHeadTrain(rows, dims, limits);
      checkBufferSizes(`AarenLanguageModel training batch ${batch} x length ${length}`, { ...sizes, ...headPlan.scratch }, bufferLimit(device.limits));
      const trainer = await model.createTrainer(batch, length);
      made.push(trainer);
      const embed = await PreparedPlan.create(device, planLmEmbed(rows, dims, limits), 'AarenLanguageModel embed');
      made.push(embed);
      const head = await PreparedPlan.create(device, headPlan, 'AarenLanguageModel head');
      made.push(head);
      const embedBackward = await PreparedPlan.create(device, planLmEmbedBackward(dims, limits), 'AarenLanguageModel embedding backward');
      made.push(embedBackward);
      const buffers = {} as TrainSession['buffers'];
      for (const [name, bytes] of Object.entries(sizes)) {
        const buffer = createStorageBuffer(device, bytes, `AarenLanguageModel ${name}`);
        made.push(buffer);
        buffers[name as keyof TrainSession['buffers']] = buffer;
      }
      return new TrainSession(batch, length, trainer, { embed, head, embedBackward }, buffers);
    } catch (error) {
      for (const m of made) m.destroy();
      throw error;
    }
  }

  /** The gradient buffers by parameter name. */
  gradients(): Record<string, GPUBuffer> {
    return {
      token_embedding: this.buffers['grad.token_embedding'], ...this.trainer.gradients,
      'lm_head.weight': this.buffers['grad.lm_head.weight'], 'lm_head.bias': this.buffers['grad.lm_head.bias'],
    };
  }

  destroy(): void {
    this.trainer.destroy();
    for (const plan of Object.values(this.plans)) plan.destroy();
    for (const buffer of Object.values(this.buffers)) buffer.destroy();
  }
}

export class AarenLanguageModel implements Trainable {
  private destroyed = false;
  private readonly plans = new Map<string, PreparedPlan<LmSlot>>();
  private session?: TrainSession;
  /** trainStep and backward run one at a time (they share the session's buffers). */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    readonly device: GPUDevice,
    readonly config: Readonly<Required<Omit<AarenLanguageModelConfig, 'seed' | 'schedule'>>> & { schedule?: AarenModelConfig['schedule'] },
    /** The blocks and the final LayerNorm. */
    readonly model: AarenModel,
    private readonly weights: { embedding: GPUBuffer; headWeight: GPUBuffer; headBias: GPUBuffer },
  ) {}

  /** A model with the deterministic initial weights of initialLanguageModelWeights (seed: config.seed, default 0). */
  static async create(device: GPUDevice, config: AarenLanguageModelConfig): Promise<AarenLanguageModel> {
    checkObject<AarenLanguageModelConfig>('config', config, '{ vocabSize, layers, dModel, heads, headDim, dFF, seed }');
    for (const key of ['vocabSize', 'layers', 'dModel', 'heads', 'headDim', 'dFF'] as const) checkInteger(`config.${key}`, config[key], 1);
    if (config.seed !== undefined) checkInteger('config.seed', config.seed, 0, 2 ** 32 - 1);
    for (const key of ['recencyDecay', 'convolution'] as const) {
      if (config[key] !== undefined && typeof config[key] !== 'boolean') throw new TypeError(`config.${key} must be a boolean, got ${typeof config[key]}`);
    }
    const metadata: Record<string, string> = {};
    if (config.scale !== undefined) metadata.scale = String(config.scale);
    if (config.eps !== undefined) metadata.eps = String(config.eps);
    return AarenLanguageModel.load(device, writeSafetensors(initialLanguageModelWeights(config), metadata), config.schedule);
  }

  /** Loads a model from safetensors bytes (the names at the top of this file). Throws naming a missing or misshapen tensor. */
  static async fromSafetensors(device: GPUDevice, bytes: ArrayBuffer | Uint8Array, options: { schedule?: AarenModelConfig['schedule'] } = {}): Promise<AarenLanguageModel> {
    return AarenLanguageModel.load(device, bytes, options.schedule);
  }

  /**
   * A model and its optimizer from toCheckpoint's bytes, in the state they were saved in: training continued from
   * here gives the same losses, bit for bit, as the run that was never interrupted (same batches, same lr).
   * Everything is checked on the host before the device is touched (src/optim/checkpoint.ts): a truncated file,
   * another model's checkpoint, a misshapen tensor, a moment of a parameter that does not exist, a missing or
   * non-finite moment, a bad step count or option throws an error naming it. `metadata` is the caller's.
   */
  static async fromCheckpoint(device: GPUDevice, bytes: ArrayBuffer | Uint8Array, options: { schedule?: AarenModelConfig['schedule'] } = {}): Promise<Checkpoint<AarenLanguageModel>> {
    const parsed = parseCheckpoint(bytes, 'AarenLanguageModel');
    const model = await AarenLanguageModel.load(device, parsed.file, options.schedule);
    return finishCheckpoint(model, parsed);
  }

  private static async load(device: GPUDevice, bytes: ArrayBuffer | Uint8Array | SafetensorsFile, schedule: AarenModelConfig['schedule']): Promise<AarenLanguageModel> {
    await checkLiveDevice('device', device);
    const file = bytes instanceof ArrayBuffer || bytes instanceof Uint8Array ? readSafetensors(bytes) : bytes;
    const { tensors } = file;
    const modelConfig = modelFromSafetensorsFile(file);
    const { dModel } = modelConfig;
    const tensor = (name: string, shape: number[]) => {
      const t = tensors.get(name);
      if (!t) throw new RangeError(`safetensors: tensor ${name} is missing`);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => shape[i] !== -1 && d !== shape[i])) {
        throw new RangeError(`safetensors: tensor ${name} has shape [${t.shape.join(', ')}], expected [${shape.map((d) => (d === -1 ? 'vocabSize' : d)).join(', ')}]`);
      }
      for (let i = 0; i < t.data.length; i++) if (!Number.isFinite(t.data[i]!)) throw new RangeError(`safetensors: tensor ${name}[${i}] is ${t.data[i]}`);
      return t;
    };
    const embedding = tensor('token_embedding', [-1, dModel]);
    const vocabSize = embedding.shape[0]!;
    if (vocabSize < 1) throw new RangeError('safetensors: tensor token_embedding has no rows (vocabSize 0)');
    const headWeight = tensor('lm_head.weight', [dModel, vocabSize]);
    const headBias = tensor('lm_head.bias', [vocabSize]);
    const model = await AarenModel.create(device, { ...modelConfig, schedule });
    const made: GPUBuffer[] = [];
    try {
      const upload = (data: Float32Array, label: string) => {
        const buffer = uploadFloat32(device, data, label);
        made.push(buffer);
        return buffer;
      };
      const weights = {
        embedding: upload(embedding.data, 'aaren token_embedding'),
        headWeight: upload(headWeight.data, 'aaren lm_head.weight'),
        headBias: upload(headBias.data, 'aaren lm_head.bias'),
      };
      const { layers, heads, headDim, dFF, scale, eps } = model.config;
      const recencyDecay = modelConfig.weights.blocks.some((b) => b.attention.decay !== undefined);
      const convolution = modelConfig.weights.blocks.some((b) => b.attention.conv !== undefined);
      return new AarenLanguageModel(device, { vocabSize, layers, dModel, heads, headDim, dFF, scale: scale!, eps: eps!, schedule, recencyDecay, convolution }, model, weights);
    } catch (error) {
      model.destroy();
      for (const buffer of made) buffer.destroy();
      throw error;
    }
  }

  private get dims(): LmDims {
    return { vocabSize: this.config.vocabSize, dModel: this.config.dModel };
  }

  private checkAlive(method: string): void {
    if (this.destroyed) throw new Error(`AarenLanguageModel.${method}: this model was destroyed`);
  }

  // ---- parameters -------------------------------------------------------------------------------------------

  /** Every trainable tensor on the GPU by safetensors name: token_embedding, the AarenModel's, lm_head.weight,
   * lm_head.bias. AdamW updates them in place. */
  parameters(): NamedParameter[] {
    this.checkAlive('parameters');
    const { vocabSize, dModel } = this.config;
    return [
      { name: 'token_embedding', shape: [vocabSize, dModel], buffer: this.weights.embedding },
      ...this.model.parameters(),
      { name: 'lm_head.weight', shape: [dModel, vocabSize], buffer: this.weights.headWeight },
      { name: 'lm_head.bias', shape: [vocabSize], buffer: this.weights.headBias },
    ];
  }

  /** Recomputes what the layers derive from their weights (AarenModel.encodeRefresh); AdamW calls it. */
  encodeRefresh(encoder: GPUCommandEncoder): void {
    this.checkAlive('encodeRefresh');
    this.model.encodeRefresh(encoder);
  }

  /** Every parameter read back, by safetensors name. */
  async readWeights(): Promise<Record<string, Float32Array>> {
    this.checkAlive('readWeights');
    await checkLiveDevice('AarenLanguageModel.device', this.device);
    return readParameters(this.device, this.parameters());
  }

  /** The weights as safetensors bytes (AarenLanguageModel.fromSafetensors reads them back). */
  async toSafetensors(): Promise<Uint8Array> {
    const params = this.parameters();
    const data = await this.readWeights();
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const p of params) tensors[p.name] = { shape: [...p.shape], data: data[p.name]! };
    return writeSafetensors(tensors, this.safetensorsMetadata());
  }

  private safetensorsMetadata(): Record<string, string> {
    return { format: 'aaren-webgpu', scale: String(this.config.scale), eps: String(this.config.eps) };
  }

  /**
   * A training checkpoint (one safetensors file): the weights as toSafetensors writes them, `exp_avg.{name}` and
   * `exp_avg_sq.{name}` of `optimizer` (an AdamW made for this model) for every parameter, its step count and
   * options, and the caller's string `metadata` (e.g. a data loader's position; keys listed in CHECKPOINT_KEYS are
   * the checkpoint's own). Waits for earlier trainSteps. AarenLanguageModel.fromCheckpoint reads it back.
   */
  async toCheckpoint(optimizer: AdamW, metadata?: Record<string, string>): Promise<Uint8Array> {
    this.checkAlive('toCheckpoint');
    return this.serial(() => writeCheckpoint(this, optimizer, 'AarenLanguageModel', () => this.readWeights(), this.safetensorsMetadata(), metadata));
  }

  // ---- inference --------------------------------------------------------------------------------------------

  private checkShape(shape: { batch: number; length: number }): { batch: number; length: number } {
    checkObject('shape', shape, '{ batch, length }');
    return { batch: checkInteger('shape.batch', shape.batch, 0), length: checkInteger('shape.length', shape.length, 0) };
  }

  private checkTokens(name: string, tokens: ArrayLike<number>, count: number, expected: string): Uint32Array {
    checkTargets(name, tokens, this.config.vocabSize);
    if (tokens.length !== count) throw new RangeError(`${name} must have ${count} entries (${expected}), got ${tokens.length}`);
    return tokens instanceof Uint32Array ? tokens : Uint32Array.from(tokens);
  }

  private async cachedPlan(key: string, make: () => Plan<LmSlot>): Promise<PreparedPlan<LmSlot>> {
    let plan = this.plans.get(key);
    if (!plan) {
      plan = await PreparedPlan.create(this.device, make(), 'AarenLanguageModel');
      const other = this.plans.get(key); // a concurrent call may have made it meanwhile
      if (other) {
        plan.destroy();
        return other;
      }
      this.plans.set(key, plan);
    }
    return plan;
  }

  /** Logits [batch, n, vocab] of tokens [batch, n]: embedding, the model (continuing `state` and advancing it),
   * head; one submit and one readback. */
  private async run(tokens: Uint32Array, batch: number, n: number, state?: AarenModelState): Promise<Float32Array> {
    const rows = batch * n;
    const limits: PlanLimits = { limits: this.device.limits, cpu: isCpuAdapter(this.device) };
    const embed = await this.cachedPlan(`embed ${rows}`, () => planLmEmbed(rows, this.dims, limits));
    const head = await this.cachedPlan(`head ${rows}`, () => planLmHead(rows, this.dims, limits));
    return runGpuCall(this.device, 'AarenLanguageModel', 'AarenLanguageModel.device', async (track) => {
      const tokenBuffer = track(createStorageBuffer(this.device, tokens.byteLength, 'AarenLanguageModel tokens'));
      this.device.queue.writeBuffer(tokenBuffer, 0, tokens.buffer, tokens.byteOffset, tokens.byteLength);
      const x = track(createStorageBuffer(this.device, rows * this.config.dModel * 4, 'AarenLanguageModel x'));
      const h = track(createStorageBuffer(this.device, rows * this.config.dModel * 4, 'AarenLanguageModel h'));
      const logits = track(createStorageBuffer(this.device, rows * this.config.vocabSize * 4, 'AarenLanguageModel logits'));
      const slots = { tokens: tokenBuffer, embedding: this.weights.embedding, x, h, headWeight: this.weights.headWeight, headBias: this.weights.headBias, logits };
      const encoder = this.device.createCommandEncoder({ label: 'AarenLanguageModel' });
      let pass = encoder.beginComputePass({ label: 'AarenLanguageModel embed' });
      embed.encode(pass, slots);
      pass.end();
      this.model.encodeForward(encoder, { x, output: h }, { batch, length: n }, state);
      pass = encoder.beginComputePass({ label: 'AarenLanguageModel head' });
      head.encode(pass, slots);
      pass.end();
      const [result] = await submitAndRead(this.device, encoder, [{ buffer: logits, floats: rows * this.config.vocabSize }]);
      return result!;
    });
  }

  /**
   * Logits [batch, length, vocabSize] of tokens [batch, length] (ids in [0, vocabSize)). With `state` it
   * continues from it and advances it (block-wise prefill). Past the buffer limits it runs in pieces along the
   * length, carried by a state.
   */
  async forward(tokens: Uint32Array, shape: { batch: number; length: number }, state?: AarenModelState): Promise<Float32Array> {
    this.checkAlive('forward');
    const { batch, length } = this.checkShape(shape);
    const ids = this.checkTokens('tokens', tokens, batch * length, `batch ${batch} x length ${length}`);
    if (state !== undefined && (typeof state !== 'object' || state === null || state.batch !== batch)) {
      throw new RangeError(`state must be an AarenModelState of batch ${batch} made by this model's createState`);
    }
    await checkLiveDevice('AarenLanguageModel.device', this.device);
    if (batch * length === 0) return new Float32Array(0);
    const { vocabSize, dModel, dFF, heads, headDim } = this.config;
    const piece = tokensPerPiece('AarenLanguageModel.forward', batch, length, Math.max(vocabSize, dModel, dFF, heads * headDim), bufferLimit(this.device.limits));
    if (piece >= length) return this.run(ids, batch, length, state);
    const carried = state ?? this.model.createState(batch);
    try {
      const logits = new Float32Array(batch * length * vocabSize);
      for (let from = 0; from < length; from += piece) {
        const n = Math.min(piece, length - from);
        const part = new Uint32Array(batch * n);
        for (let b = 0; b < batch; b++) part.set(ids.subarray(b * length + from, b * length + from + n), b * n);
        const out = await this.run(part, batch, n, carried);
        for (let b = 0; b < batch; b++) logits.set(out.subarray(b * n * vocabSize, (b + 1) * n * vocabSize), (b * length + from) * vocabSize);
      }
      return logits;
    } finally {
      if (carried !== state) carried.destroy();
    }
  }

  /** An empty recurrent state (no tokens seen) for `batch` sequences: constant size, whatever the length. */
  createState(batch: number): AarenModelState {
    this.checkAlive('createState');
    return this.model.createState(batch);
  }

  /** RNN mode: one token per sequence, tokens [batch] -> logits [batch, vocabSize]; advances the state. */
  async step(state: AarenModelState, tokens: Uint32Array): Promise<Float32Array> {
    this.checkAlive('step');
    if (typeof state !== 'object' || state === null) throw new TypeError("state must be an AarenModelState made by this model's createState");
    const ids = this.checkTokens('tokens', tokens, state.batch, `the state's batch ${state.batch}`);
    await checkLiveDevice('AarenLanguageModel.device', this.device);
    return this.run(ids, state.batch, 1, state);
  }

  /**
   * Continues `prompt` (token ids, at least one) by `maxTokens` tokens: the prompt in one parallel forward with a
   * state, then one `step` per token in constant memory. Each token is drawn on the host from softmax(logits /
   * temperature) (restricted to the topK most likely) with mulberry32(seed); temperature 0 is greedy. Returns the
   * new tokens.
   */
  async generate(prompt: Uint32Array, options: GenerateOptions): Promise<Uint32Array> {
    this.checkAlive('generate');
    checkObject<GenerateOptions>('options', options, '{ maxTokens, temperature, topK?, seed }');
    const maxTokens = checkInteger('options.maxTokens', options.maxTokens, 0);
    if (typeof options.temperature !== 'number' || !(options.temperature >= 0) || !Number.isFinite(options.temperature)) {
      throw new RangeError(`options.temperature must be a finite number >= 0, got ${String(options.temperature)}`);
    }
    const topK = options.topK === undefined ? this.config.vocabSize : checkInteger('options.topK', options.topK, 1);
    const random = mulberry32(checkInteger('options.seed', options.seed, 0, 2 ** 32 - 1));
    if (options.onToken !== undefined && typeof options.onToken !== 'function') throw new TypeError('options.onToken must be a function');
    if (typeof prompt !== 'object' || prompt === null || prompt.length < 1) throw new RangeError('prompt must hold at least one token id');
    const ids = this.checkTokens('prompt', prompt, prompt.length, 'its length');
    const vocab = this.config.vocabSize;
    const out = new Uint32Array(maxTokens);
    if (maxTokens === 0) return out;
    const state = this.createState(1);
    try {
      const prefill = await this.forward(ids, { batch: 1, length: ids.length }, state);
      let logits = prefill.subarray(prefill.length - vocab);
      for (let i = 0; i < maxTokens; i++) {
        const token = sampleToken(logits, options.temperature, topK, random);
        out[i] = token;
        options.onToken?.(token, i);
        if (i + 1 < maxTokens) logits = await this.step(state, Uint32Array.of(token));
      }
      return out;
    } finally {
      state.destroy();
    }
  }

  // ---- training ---------------------------------------------------------------------------------------------

  private checkTrainInput(tokens: Uint32Array, targets: Uint32Array, shape: { batch: number; length: number }) {
    const { batch, length } = this.checkShape(shape);
    checkInteger('shape.batch', batch, 1);
    checkInteger('shape.length', length, 1);
    const expected = `batch ${batch} x length ${length}`;
    return { batch, length, ids: this.checkTokens('tokens', tokens, batch * length, expected), labels: this.checkTokens('targets', targets, batch * length, expected) };
  }

  /** Runs `body` after every earlier training call settled (they share the session's buffers). */
  private serial<T>(body: () => Promise<T>): Promise<T> {
    const run = this.queue.then(body, body);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async sessionFor(batch: number, length: number): Promise<TrainSession> {
    if (this.session?.batch === batch && this.session.length === length) return this.session;
    this.session?.destroy();
    this.session = undefined;
    this.session = await TrainSession.create(this.device, this.model, this.dims, batch, length);
    return this.session;
  }

  /** Uploads the tokens, targets and the embedding's row index, and records the loss and every gradient. */
  private encodeLossAndGradients(encoder: GPUCommandEncoder, session: TrainSession, ids: Uint32Array, labels: Uint32Array): void {
    const queue = this.device.queue;
    const b = session.buffers;
    const index = tokenRowIndex(ids, this.config.vocabSize);
    queue.writeBuffer(b.tokens, 0, ids.buffer, ids.byteOffset, ids.byteLength);
    queue.writeBuffer(b.targets, 0, labels.buffer, labels.byteOffset, labels.byteLength);
    queue.writeBuffer(b.tokenOffsets, 0, index.offsets);
    queue.writeBuffer(b.tokenRows, 0, index.rows);
    const slots = { ...b, embedding: this.weights.embedding, headWeight: this.weights.headWeight, headBias: this.weights.headBias };
    let pass = encoder.beginComputePass({ label: 'AarenLanguageModel embed' });
    session.plans.embed.encode(pass, slots);
    pass.end();
    session.trainer.encodeForward(encoder, { x: b.x, output: b.h });
    pass = encoder.beginComputePass({ label: 'AarenLanguageModel head, loss and head backward' });
    session.plans.head.encode(pass, slots);
    pass.end();
    session.trainer.encodeBackward(encoder, { gradOutput: b.gradH, gradInput: b.gradX });
    pass = encoder.beginComputePass({ label: 'AarenLanguageModel embedding backward' });
    session.plans.embedBackward.encode(pass, slots);
    pass.end();
  }

  /**
   * The mean next-token cross-entropy of tokens -> targets (both [batch, length]) and the gradient of every
   * parameter by safetensors name, without updating anything (what trainStep computes before its update).
   */
  async backward(tokens: Uint32Array, targets: Uint32Array, shape: { batch: number; length: number }): Promise<{ loss: number; gradients: Record<string, Float32Array> }> {
    this.checkAlive('backward');
    const { batch, length, ids, labels } = this.checkTrainInput(tokens, targets, shape);
    await checkLiveDevice('AarenLanguageModel.device', this.device);
    return this.serial(async () => {
      const session = await this.sessionFor(batch, length);
      return runGpuCall(this.device, 'AarenLanguageModel.backward', 'AarenLanguageModel.device', async () => {
        const encoder = this.device.createCommandEncoder({ label: 'AarenLanguageModel.backward' });
        this.encodeLossAndGradients(encoder, session, ids, labels);
        const params = this.parameters();
        const grads = session.gradients();
        const read = await submitAndRead(this.device, encoder, [
          { buffer: session.buffers.loss, floats: 1 },
          ...params.map((p) => ({ buffer: grads[p.name]!, floats: p.shape.reduce((a, c) => a * c, 1) })),
        ]);
        return { loss: read[0]![0]!, gradients: Object.fromEntries(params.map((p, i) => [p.name, read[i + 1]!])) };
      });
    });
  }

  /**
   * One training step on the GPU: the mean softmax cross-entropy of tokens -> targets ([batch, length] each, ids
   * in [0, vocabSize)) computed before the update, the backward, then `optimizer` (an AdamW made for this model:
   * clipping, weight decay, bias correction). Resolves with the loss (one 32-byte readback). A non-finite loss or
   * gradient throws a RangeError naming it, and nothing is updated (AdamW's status word).
   */
  async trainStep(tokens: Uint32Array, targets: Uint32Array, shape: { batch: number; length: number }, optimizer: AdamW): Promise<number> {
    this.checkAlive('trainStep');
    const { batch, length, ids, labels } = this.checkTrainInput(tokens, targets, shape);
    if (!(optimizer instanceof AdamW) || optimizer.module !== this) throw new TypeError('optimizer must be an AdamW created for this model (AdamW.create(device, model, options))');
    await checkLiveDevice('AarenLanguageModel.device', this.device);
    return this.serial(async () => {
      const session = await this.sessionFor(batch, length);
      let status = new Float32Array(ADAMW_STATUS_FLOATS);
      let loss = NaN;
      await runGpuCall(this.device, 'AarenLanguageModel.trainStep', 'AarenLanguageModel.device', async (track) => {
        const readback = track(this.device.createBuffer({ label: 'AarenLanguageModel loss readback', size: 32, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST }));
        const encoder = this.device.createCommandEncoder({ label: 'AarenLanguageModel.trainStep' });
        this.encodeLossAndGradients(encoder, session, ids, labels);
        optimizer.encodeStep(encoder, session.gradients());
        try {
          encoder.copyBufferToBuffer(session.buffers.loss, 0, readback, 0, 4);
          encoder.copyBufferToBuffer(optimizer.statusBuffer, optimizer.statusOffset, readback, 16, optimizer.statusBytes);
          this.device.queue.submit([encoder.finish()]);
          await readback.mapAsync(GPUMapMode.READ);
          const data = new Float32Array(readback.getMappedRange().slice(0));
          readback.unmap();
          loss = data[0]!;
          status = data.slice(4, 4 + ADAMW_STATUS_FLOATS);
        } finally {
          // zeros (a refused step) when the submit or the readback failed
          optimizer.completeStep(status);
        }
      });
      if (status[1] !== 1) throw new RangeError(`trainStep: the loss is ${loss} and a gradient is not finite (gradient norm ${status[0]}); nothing was updated`);
      // Finite gradients with a non-finite loss need logits more than 3.4e38 apart: the update was applied.
      if (!Number.isFinite(loss)) throw new RangeError(`trainStep: the loss is ${loss} (logits beyond float32's range); the update was applied`);
      return loss;
    });
  }

  /** Frees the cached per-shape plans and the training buffers (not while calls are pending). */
  releasePlans(): void {
    for (const plan of this.plans.values()) plan.destroy();
    this.plans.clear();
    this.session?.destroy();
    this.session = undefined;
    this.model.releasePlans();
  }

  /** Frees every buffer the model owns; states are destroyed by their own destroy(). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.releasePlans();
    this.model.destroy();
    for (const buffer of Object.values(this.weights)) buffer.destroy();
  }
}

/** A token from logits [vocab]: argmax at temperature 0, else a draw from softmax(logits / temperature) over the
 * topK largest, computed in float64. */
export function sampleToken(logits: ArrayLike<number>, temperature: number, topK: number, random: () => number): number {
  const order = Array.from({ length: logits.length }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (temperature === 0) return order[0]!;
  const top = order.slice(0, Math.min(topK, order.length));
  const max = logits[top[0]!]!;
  const weights = top.map((i) => Math.exp((logits[i]! - max) / temperature));
  let u = random() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < top.length; i++) {
    u -= weights[i]!;
    if (u < 0) return top[i]!;
  }
  return top[top.length - 1]!;
}
