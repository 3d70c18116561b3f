export { prefixAttention, prefixAttentionLast, PrefixScan, kernelConfig, isCpuAdapter } from './scan.js';
export type { PrefixAttentionInput, PrefixAttentionOptions, PrefixScanOptions, PrefixScanBuffers, ScanShape, ScanSchedule, KernelConfig } from './scan.js';
export { stateBytes, stateStrideFloats, packState, unpackState, emptyState, MASKED_SCORE } from './state.js';
export type { ScanState } from './state.js';
export { requestAarenDevice } from './device.js';
export { referenceRecurrence, referenceQuadratic, combineReference, identityState } from './reference.js';
export type { ReferenceState, ReferenceInput } from './reference.js';
