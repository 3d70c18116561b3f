// Float64 CPU reference for a small Aaren language model and its training loss:
// token embedding [vocabSize, dModel] -> the pre-LN Aaren blocks -> final LayerNorm -> head [dModel, vocabSize] + bias,
// with the mean softmax cross-entropy over all positions. Weights and gradients are keyed by name:
// `token_embedding`, the model's safetensors names (blocks.{l}..., final_norm.*), `lm_head.weight`, `lm_head.bias`.
// The order-aware block weights (blocks.{l}.attention.decay, .conv) pass through by name when present.
import { matmulReference, referenceModel } from './layer.js';
import { matmulBackward, referenceModelBackward, referenceModelWeightsFromNamed } from './layer-backward.js';
import type { ReferenceShape } from './layer-backward.js';

export interface ReferenceLmConfig {
  vocabSize: number;
  layers: number;
  dModel: number;
  heads: number;
  headDim: number;
  dFF: number;
  scale?: number;
  eps?: number;
}

function check(config: ReferenceLmConfig, tokens: ArrayLike<number>, shape: ReferenceShape): void {
  if (tokens.length !== shape.batch * shape.length) throw new RangeError(`tokens must have batch*length = ${shape.batch * shape.length} entries, got ${tokens.length}`);
  for (let i = 0; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= config.vocabSize) throw new RangeError(`tokens[${i}] = ${t} is outside [0, ${config.vocabSize})`);
  }
}

function embed(config: ReferenceLmConfig, table: ArrayLike<number>, tokens: ArrayLike<number>): Float64Array {
  const { dModel } = config;
  const x = new Float64Array(tokens.length * dModel);
  for (let r = 0; r < tokens.length; r++) for (let j = 0; j < dModel; j++) x[r * dModel + j] = table[tokens[r]! * dModel + j]!;
  return x;
}

function named(weights: Record<string, ArrayLike<number>>, name: string): ArrayLike<number> {
  const t = weights[name];
  if (!t) throw new RangeError(`missing weight ${name}`);
  return t;
}

/** Logits [batch, length, vocabSize] for tokens [batch, length]. */
export function referenceLmForward(config: ReferenceLmConfig, weights: Record<string, ArrayLike<number>>, tokens: ArrayLike<number>, shape: ReferenceShape): Float64Array {
  check(config, tokens, shape);
  const { dModel, vocabSize } = config;
  const x = embed(config, named(weights, 'token_embedding'), tokens);
  const model = { ...config, weights: referenceModelWeightsFromNamed(weights, config.layers) };
  const h = referenceModel(model, x, shape.batch, shape.length);
  return matmulReference(h, named(weights, 'lm_head.weight'), tokens.length, dModel, vocabSize, named(weights, 'lm_head.bias'));
}

/**
 * Mean softmax cross-entropy over all rows of logits [count, vocab] with targets [count], computed stably
 * (log-sum-exp after subtracting the row max), and its gradient dlogits = (softmax - onehot) / count.
 */
export function referenceCrossEntropy(logits: ArrayLike<number>, targets: ArrayLike<number>, vocab: number): { loss: number; gradLogits: Float64Array } {
  const count = targets.length;
  if (logits.length !== count * vocab) throw new RangeError(`logits must have targets.length*vocab = ${count * vocab} entries, got ${logits.length}`);
  const gradLogits = new Float64Array(count * vocab);
  let loss = 0;
  for (let r = 0; r < count; r++) {
    const t = targets[r]!;
    if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new RangeError(`targets[${r}] = ${t} is outside [0, ${vocab})`);
    let max = -Infinity;
    for (let j = 0; j < vocab; j++) max = Math.max(max, logits[r * vocab + j]!);
    let sum = 0;
    for (let j = 0; j < vocab; j++) sum += Math.exp(logits[r * vocab + j]! - max);
    const lse = max + Math.log(sum);
    loss += lse - logits[r * vocab + t]!;
    for (let j = 0; j < vocab; j++) gradLogits[r * vocab + j] = Math.exp(logits[r * vocab + j]! - max) / sum / count;
    gradLogits[r * vocab + t] = gradLogits[r * vocab + t]! - 1 / count;
  }
  return { loss: count > 0 ? loss / count : 0, gradLogits };
}

/** Loss (mean cross-entropy of next-token targets [batch, length]) and the gradient of every weight, by name. */
export function referenceLmBackward(
  config: ReferenceLmConfig, weights: Record<string, ArrayLike<number>>, tokens: ArrayLike<number>, targets: ArrayLike<number>, shape: ReferenceShape,
): { loss: number; logits: Float64Array; gradients: Record<string, Float64Array> } {
  check(config, tokens, shape);
  const { dModel, vocabSize } = config;
  const rows = tokens.length;
  const table = named(weights, 'token_embedding');
  const x = embed(config, table, tokens);
  const modelWeights = referenceModelWeightsFromNamed(weights, config.layers);
  // Forward of the stack with a zero gradient gives h; then the head and the loss; then the real backward.
  const h = referenceModelBackward(config, modelWeights, x, new Float64Array(rows * dModel), shape).output;
  const logits = matmulReference(h, named(weights, 'lm_head.weight'), rows, dModel, vocabSize, named(weights, 'lm_head.bias'));
  const { loss, gradLogits } = referenceCrossEntropy(logits, targets, vocabSize);
  const head = matmulBackward(h, named(weights, 'lm_head.weight'), gradLogits, rows, dModel, vocabSize);
  const model = referenceModelBackward(config, modelWeights, x, head.gradInput, shape);
  const gradEmbedding = new Float64Array(vocabSize * dModel);
  for (let r = 0; r < rows; r++) {
    const t = tokens[r]!;
    for (let j = 0; j < dModel; j++) gradEmbedding[t * dModel + j] = gradEmbedding[t * dModel + j]! + model.gradInput[r * dModel + j]!;
  }
  return {
    loss,
    logits,
    gradients: { token_embedding: gradEmbedding, ...model.gradients, 'lm_head.weight': head.gradWeight, 'lm_head.bias': head.gradBias },
  };
}
