// `aaren-webgpu/reference`: the float64 CPU references every kernel is checked against, separate from the GPU
// code (plain TypeScript over Float64Array; no WebGPU). Use them to check results on your adapter, or as the
// specification of what a kernel computes. The backward references are themselves checked against central finite
// differences (test/reference-backward.test.ts).
export { referenceRecurrence, referenceQuadratic, combineReference, identityState } from './reference/scan.js';
export type { ReferenceState, ReferenceInput } from './reference/scan.js';
export { referenceScanBackward } from './reference/scan-backward.js';
export type { ReferenceStateBatch, ReferenceStateBatch64, ReferenceScanBackwardInput, ReferenceScanBackwardOptions, ReferenceScanBackwardResult } from './reference/scan-backward.js';
export { referenceLayer, referenceLayerState, cloneReferenceLayerState, referenceDecayRates, softplusReference, referenceModel, layerNormReference, geluReference, matmulReference } from './reference/layer.js';
export type { ReferenceLayerConfig, ReferenceLayerWeights, ReferenceLayerState, ReferenceModelConfig } from './reference/layer.js';
export { layerNormBackward, geluBackward, geluDerivative, matmulBackward, referenceLayerBackward, referenceModelBackward, referenceModelNamedWeights, referenceModelWeightsFromNamed } from './reference/layer-backward.js';
export type { ReferenceShape, ReferenceLayerDims, ReferenceLayerGradients, ReferenceModelDims, ReferenceModelWeights } from './reference/layer-backward.js';
export { referenceConvForward, referenceConvNextHistory, referenceConvBackward } from './reference/conv.js';
export type { ReferenceConvShape, ReferenceConvGradients } from './reference/conv.js';
export { referenceLmForward, referenceCrossEntropy, referenceLmBackward } from './reference/language-model.js';
export type { ReferenceLmConfig } from './reference/language-model.js';
export { referenceAdamWStep, referenceAdamWState, referenceClipGradNorm, referenceDecays } from './reference/adamw.js';
export type { ReferenceAdamWOptions, ReferenceAdamWState } from './reference/adamw.js';
