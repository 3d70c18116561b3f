// `aaren-webgpu/plans`: the building blocks under the main entry, for code that composes its own GPU-resident
// modules. A plan builder is a pure function of shapes and device limits that returns the dispatches of an op
// (kernel, uniforms, buffers by slot name, workgroups) and the scratch it needs; `rebind` renames an op's slots
// into a larger plan, and `PreparedPlan` compiles, allocates and records one. Also here: the lower-level ops the
// layers are made of (convolution, cross-entropy, embedding), the optimizer's and checkpoints' pieces, and the
// language model's initialisation and sampling. docs/api.md lists what each entry holds.

// Composition: kernels from WGSL parts, plans, and recording them.
export { composeShader, instantiate } from './core/compose.js';
export type { WgslPart } from './core/compose.js';
export { kernelKey, rebind, PreparedPlan } from './core/kernel.js';
export type { Kernel, Dispatch, Plan, ScratchRef } from './core/kernel.js';
export type { PlanLimits } from './ops/attention/scan.js';

// The scan.
export { planPrefixScan } from './ops/attention/scan.js';
export { kernelConfig } from './scan/skeleton.js';
export { planPrefixScanBackward } from './ops/attention/backward.js';

// Dense ops and the causal convolution.
export { planMatmul } from './ops/matmul.js';
export { planLayerNorm } from './ops/layer-norm.js';
export { ConvOp, ConvBackwardOp, planConvForward, planConvBackward, checkConvShape, checkConvWeights, convChunkRows, CONV_TAPS, CONV_HISTORY_ROWS, CONV_RUN_ROWS } from './ops/conv.js';
export type { ConvShape, ConvSlot, ConvBackwardSlot, ConvBackwardOptions, ConvBuffers, ConvBackwardBuffers } from './ops/conv.js';

// The layer's and the model's inference and training plans.
export { planLayerForward } from './nn/layer.js';
export { planLayerTrainForward, planLayerBackward, planLayerRefresh } from './nn/layer-backward.js';
export type { LayerTrainDims, LayerTrainSlot } from './nn/layer-backward.js';
export { planModelForward } from './nn/model.js';
export { planModelTrainForward, planModelBackward } from './nn/model-backward.js';
export type { ModelTrainDims } from './nn/model-backward.js';

// The language model's pieces: embedding, head, loss, initialisation, sampling.
export { planLmEmbed, planLmHead, planLmHeadTrain, planLmEmbedBackward, initialLanguageModelWeights, initialDecay, DECAY_HALF_LIVES, INIT_STD, sampleToken } from './nn/language-model.js';
export type { LmSlot, LmTrainSlot } from './nn/language-model.js';
export { planEmbedding, planEmbeddingBackward, tokenRowIndex } from './ops/embedding.js';
export { CrossEntropyOp, planCrossEntropy, checkTargets } from './ops/cross-entropy.js';
export type { CrossEntropySlot } from './ops/cross-entropy.js';
export { mulberry32 } from './core/random.js';

// The optimizer's and checkpoints' pieces.
export { planAdamW, checkAdamWState, ADAMW_STATUS_FLOATS } from './optim/adamw.js';
export { writeCheckpoint, parseCheckpoint, finishCheckpoint, checkCheckpointMetadata, CHECKPOINT_VERSION } from './optim/checkpoint.js';
export type { ParsedCheckpoint } from './optim/checkpoint.js';
