// The package's main entry, `aaren-webgpu`: what a user calls. The scan ops (typed and GPU-resident, forward and
// backward) and their state helpers, the device, the layer, the model, the language model, AdamW and checkpoints,
// and safetensors. Two subpaths hold the rest, so that this list stays short and a bundle of one op stays small:
// `aaren-webgpu/reference` (src/reference.ts: the float64 CPU references) and `aaren-webgpu/plans` (src/plans.ts:
// the pure plan builders, the composition API and the lower-level ops they are made of). Bad arguments throw the
// built-in TypeError and RangeError (docs/api.md), so there is no error class to export.

// The scan: typed calls (one readback each) and GPU-resident ops (encode into your encoder, no readback).
export { prefixAttention, prefixAttentionLast, PrefixScan } from './ops/attention/scan.js';
export type { PrefixAttentionInput, PrefixAttentionOptions, PrefixScanOptions, PrefixScanBuffers, ScanShape, ScanSchedule, KernelConfig } from './ops/attention/scan.js';
export { prefixAttentionBackward, PrefixScanBackward } from './ops/attention/backward.js';
export type { PrefixAttentionBackwardInput, PrefixAttentionBackwardOptions, PrefixAttentionBackwardResult, PrefixScanBackwardOptions, PrefixScanBackwardBuffers } from './ops/attention/backward.js';
export { stateBytes, stateStrideFloats, packState, unpackState, emptyState, MASKED_SCORE } from './ops/attention/state.js';
export type { ScanState } from './ops/attention/state.js';

// Layers and models: parallel forward, block-wise state, step by step, backward.
export { AarenLayer, softplus } from './nn/layer.js';
export type { AarenLayerConfig, AarenLayerWeights, AarenLayerBuffers, AarenState, LayerSchedule, LayerGradients, LayerBackwardResult } from './nn/layer.js';
export { AarenModel, modelFromSafetensors, modelToSafetensors } from './nn/model.js';
export type { AarenModelConfig, AarenModelState, AarenBlockWeights, AarenNormWeights } from './nn/model.js';
export { AarenLanguageModel } from './nn/language-model.js';
export type { AarenLanguageModelConfig, GenerateOptions } from './nn/language-model.js';

// Training: the optimizer, checkpoints, and the contract a module implements to be trained.
export { AdamW } from './optim/adamw.js';
export type { AdamWOptions, AdamWStepStatus, AdamWState, AdamWResolvedOptions } from './optim/adamw.js';
export { CHECKPOINT_KEYS } from './optim/checkpoint.js';
export type { Checkpoint } from './optim/checkpoint.js';
export type { NamedParameter, Trainable, ModelTrainer } from './nn/parameters.js';

// Weights in and out.
export { readSafetensors, writeSafetensors } from './io/safetensors.js';
export type { SafetensorsFile, SafetensorsTensor, SafetensorsDtype } from './io/safetensors.js';

// The device.
export { requestAarenDevice, isCpuAdapter } from './core/device.js';
export { checkSameDevice, checkBuffersOnDevice, INTEROP_FEATURES, type AarenDeviceOptions } from './core/interop.js';
