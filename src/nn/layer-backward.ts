// Training of the Aaren layer: a forward that keeps what the backward needs, and the backward, both GPU-resident
// and planned by pure functions (a test reads them without a device). The inference forward (planLayerForward)
// fuses the projections into the scan's loads and never writes keys, scores or values; training needs them, so
// the training forward materialises them (the numerical model is FlashAttention's backward: keep the per-position
// log-sum-exp statistics of the scan, here (m, u), and rerun nothing):
//   K = x key + key_bias, V = x value + value_bias                       (matmuls, token layout [rows, heads*headDim])
//   scores[b*heads + h, i] = scale * query_h . K[b*length + i, h-slice]  (head_scores.wgsl)
//   values = V in the scan's layout [batch*heads, length, headDim]        (permute_heads.wgsl)
//   O = the prefix scan with saveStats (m, u per position), O rows = O in the token layout
//   y = O rows @ output + output_bias (+ residual)
// Backward, from dY [rows, dModel]:
//   dO = dY output^T (to the scan's layout),  dOutput = O rows^T dY,  dOutputBias = column sums of dY
//   (ds, dv) = the scan backward (PrefixScanBackward's passes, constant initial state: no gradient into it)
//   dK = scale ds query_h, dQuery_h = column sums of scale ds K_h (key_grads.wgsl + column_sum.wgsl)
//   dKey = x^T dK, dValue = x^T dV, biases by column sums, dx = dK key^T + dV value^T (the second accumulated)
// Every reduction runs in a fixed order (matmul k loops, two-pass column sums): the same input gives the same bits.
// Every kernel binds at most 8 storage buffers (WebGPU's default maxStorageBuffersPerShaderStage); the plan test
// checks it (test/model-backward.test.ts).
import { type Dispatch, type Plan, type ScratchRef, rebind } from '../core/kernel.js';
import * as wgsl from '../core/shader-sources.js';
import { bufferBytes } from '../core/buffers.js';
import { planMatmul, type MatmulSlot, type MatmulSpec } from '../ops/matmul.js';
import { packFor, planColumnSum, type ColumnSumSlot } from '../ops/elementwise.js';
import { planPrefixScan, type PlanLimits, type ScanSlot } from '../ops/attention/scan.js';
import { planPrefixScanBackward, type BackwardSlot } from '../ops/attention/backward.js';
import { stateBytes } from '../ops/attention/state.js';
import { kernelConfig, type ScanSchedule } from '../scan/skeleton.js';
import { CONV_TAPS, planConvBackward, planConvForward, type ConvBackwardSlot, type ConvSlot } from '../ops/conv.js';

const WORKGROUP = 64;

/** The sizes that fix a layer's training kernels. */
export interface LayerTrainDims {
  dModel: number;
  heads: number;
  headDim: number;
  scale: number;
  keyBias: boolean;
  valueBias: boolean;
  outputBias: boolean;
  /** Recency decay per head: the parameter theta [heads], rate = softplus(theta) (slot decayRates); default false. */
  decay?: boolean;
  /** Causal depthwise convolution of the input, weights [dModel, 4] (slot conv); default false. */
  conv?: boolean;
}

/** The raw weights (safetensors shapes), bound by the training plans and the refresh. */
export type LayerWeightSlot = 'query' | 'key' | 'value' | 'outputWeight' | 'keyBias' | 'valueBias' | 'outputBias' | 'decay' | 'conv';
/** What the refresh derives from the raw weights for the scans: the fused projections (inference forward) and the
 * decay rates softplus(theta) (every forward and the backward). */
export type LayerDerivedSlot = 'keyQuery' | 'valueProj' | 'decayRates';
/** What the training forward keeps for the backward (allocated by the trainer, bound to both plans). */
export type LayerSavedSlot = 'saved.K' | 'saved.scores' | 'saved.values' | 'saved.heads' | 'saved.headRows' | 'saved.stats' | 'saved.convX';
/** One gradient buffer per raw weight. */
export type LayerGradSlot = `grad.${LayerWeightSlot}`;
/** The slots of the training plans: x, the output (+ residual), the constant initial state `carry` (and the
 * convolution's `convHistory`), weights, saved activations, dY and dx, the gradients. */
export type LayerTrainSlot = 'x' | 'output' | 'residual' | 'carry' | 'convHistory' | 'gradOutput' | 'gradInput' | 'decayRates' | LayerWeightSlot | LayerSavedSlot | LayerGradSlot;

/** The layer's parameters by their safetensors suffix (blocks.{l}.attention.{name}), with their slot. */
export const LAYER_PARAMETERS: readonly { name: string; slot: LayerWeightSlot; optional: boolean }[] = [
  { name: 'query', slot: 'query', optional: false },
  { name: 'key', slot: 'key', optional: false },
  { name: 'value', slot: 'value', optional: false },
  { name: 'output', slot: 'outputWeight', optional: false },
  { name: 'key_bias', slot: 'keyBias', optional: true },
  { name: 'value_bias', slot: 'valueBias', optional: true },
  { name: 'output_bias', slot: 'outputBias', optional: true },
  { name: 'decay', slot: 'decay', optional: true },
  { name: 'conv', slot: 'conv', optional: true },
];

/** Whether the layer has the weight of `slot`. */
export function hasWeight(dims: LayerTrainDims, slot: LayerWeightSlot): boolean {
  return slot === 'keyBias' ? dims.keyBias : slot === 'valueBias' ? dims.valueBias : slot === 'outputBias' ? dims.outputBias : slot === 'decay' ? dims.decay === true : slot === 'conv' ? dims.conv === true : true;
}

/** The shape (as in safetensors) of a raw weight. */
export function weightShape(dims: LayerTrainDims, slot: LayerWeightSlot): number[] {
  const hd = dims.heads * dims.headDim;
  switch (slot) {
    case 'query': return [dims.heads, dims.headDim];
    case 'key': case 'value': return [dims.dModel, hd];
    case 'outputWeight': return [hd, dims.dModel];
    case 'keyBias': case 'valueBias': return [hd];
    case 'outputBias': return [dims.dModel];
    case 'decay': return [dims.heads];
    case 'conv': return [dims.dModel, CONV_TAPS];
  }
}

/** Bytes of each saved activation of a training forward over [batch, length]. */
export function layerSavedBytes(dims: LayerTrainDims, batch: number, length: number): Partial<Record<LayerSavedSlot, number>> {
  const rows = batch * length;
  const hd = dims.heads * dims.headDim;
  return {
    'saved.K': rows * hd * 4,
    'saved.scores': rows * dims.heads * 4,
    'saved.values': rows * hd * 4,
    'saved.heads': rows * hd * 4,
    'saved.headRows': rows * hd * 4,
    'saved.stats': rows * dims.heads * 8,
    ...(dims.conv === true ? { 'saved.convX': rows * dims.dModel * 4 } : {}),
  };
}

/** The one dispatch of permute_heads.wgsl. */
function permute<S extends string>(dims: Pick<LayerTrainDims, 'heads' | 'headDim'>, batch: number, length: number, toHeads: boolean,
  source: S | ScratchRef, result: S | ScratchRef, device: PlanLimits): Dispatch<S> {
  const count = batch * length * dims.heads;
  return {
    kernel: { parts: [packFor(dims.headDim).part, wgsl.permuteHeads], constants: { WORKGROUP_SIZE: WORKGROUP, HEADS: dims.heads, HEAD_DIM: dims.headDim } },
    params: { length, count, to_heads: toHeads ? 1 : 0 },
    buffers: { source, result },
    workgroups: [Math.min(Math.ceil(count / WORKGROUP), device.limits.maxComputeWorkgroupsPerDimension), 1, 1],
  };
}

type Ref<S extends string> = S | ScratchRef | null;

/** The one dispatch of head_scores.wgsl: scores [batch * heads, length] from the keys (token layout) and `query`. */
function headScores<S extends string>(dims: Pick<LayerTrainDims, 'heads' | 'headDim' | 'scale'>, batch: number, length: number,
  keys: S | ScratchRef, scores: S | ScratchRef, device: PlanLimits): Dispatch<S | 'query'> {
  return {
    kernel: { parts: [wgsl.headScores], constants: { WORKGROUP_SIZE: WORKGROUP } },
    params: { batch, length, heads: dims.heads, head_dim: dims.headDim, scale: dims.scale },
    buffers: { query: 'query', keys, scores },
    workgroups: [Math.min(Math.ceil(length / WORKGROUP), device.limits.maxComputeWorkgroupsPerDimension), batch * dims.heads, 1],
  };
}

function matmul<S extends string>(spec: MatmulSpec, device: PlanLimits, map: Partial<Record<MatmulSlot, Ref<S>>>): Dispatch<S> {
  return rebind<MatmulSlot, S>(planMatmul(spec, device), { bias: null, residual: null, preActivation: null, ...map });
}

/** The dispatches of a column sum (result [cols] = sum over rows of x), its scratch renamed apart by `prefix`. */
function columnSum<S extends string>(rows: number, cols: number, accumulate: boolean, x: Ref<S>, result: Ref<S>, prefix: string, device: PlanLimits): Plan<S> {
  const plan = planColumnSum(rows, cols, { accumulate }, device);
  const scratch: Record<string, number> = {};
  for (const [name, bytes] of Object.entries(plan.scratch)) scratch[prefix + name] = bytes;
  return { dispatches: plan.dispatches.map((d) => rebind<ColumnSumSlot, S>(d, { x, result }, prefix)), scratch, optional: [] };
}

/** The slots a forward with materialised projections binds under the same names in the training and the
 * inference plans: the caller's x, output and residual, the constant or carried initial state, the raw weights. */
type ProjectedSlot = 'x' | 'output' | 'residual' | 'carry' | 'query' | 'key' | 'value' | 'keyBias' | 'valueBias' | 'outputWeight' | 'outputBias' | 'decayRates';

/** Where a forward with materialised projections keeps what it computes: slots (the training forward's saved.*,
 * the backward reads them) or scratch (the inference forward). `stats` and `final` are null where not written. */
export interface ProjectedBuffers<S extends string> {
  input: S | ScratchRef;
  keys: S | ScratchRef;
  scores: S | ScratchRef;
  values: S | ScratchRef;
  heads: S | ScratchRef;
  headRows: S | ScratchRef;
  stats: S | ScratchRef | null;
  final: S | null;
}

/**
 * The passes of a layer forward from its (convolved) input with materialised projections (pure): K = input key
 * (+ key_bias) and V = input value (+ value_bias) as matmuls, head_scores, V to the scan's layout, the scan (from
 * `carry`, with the stats and the final state where `into` has them), the outputs back to the token layout, and
 * the output matmul into `output` (+ `residual`). The training forward keeps what it computes for the backward; on
 * CPU adapters the inference forward runs the same passes into scratch (src/nn/layer.ts says why).
 */
export function planProjectedForward<S extends string>(dims: Omit<LayerTrainDims, 'keyBias' | 'valueBias'> & { keyBias?: boolean; valueBias?: boolean },
  batch: number, length: number, schedule: 'auto' | ScanSchedule, residual: boolean, into: ProjectedBuffers<S>, device: PlanLimits): Plan<S | ProjectedSlot> {
  type T = S | ProjectedSlot;
  const { dModel, heads, headDim } = dims;
  const rows = batch * length;
  const hd = heads * headDim;
  const project = (bias: boolean) => ({ m: rows, n: hd, k: dModel, bias, residual: false, gelu: false });
  const scan = planPrefixScan({ batch: batch * heads, length, headDim }, { schedule, saveStats: into.stats !== null, decay: dims.decay === true, decayPeriod: heads }, device);
  const valueRows: ScratchRef = { scratch: 'V rows' };
  const dispatches: Dispatch<T>[] = [
    matmul<T>(project(dims.keyBias === true), device, { a: into.input, weight: 'key', bias: dims.keyBias ? 'keyBias' : null, result: into.keys }),
    matmul<T>(project(dims.valueBias === true), device, { a: into.input, weight: 'value', bias: dims.valueBias ? 'valueBias' : null, result: valueRows }),
    headScores<T>(dims, batch, length, into.keys, into.scores, device),
    permute<T>(dims, batch, length, true, valueRows, into.values, device),
    ...scan.dispatches.map((d) => rebind<ScanSlot, T>(d, {
      scores: into.scores, values: into.values, output: into.heads, stats: into.stats, initialState: 'carry', finalState: into.final, decay: 'decayRates',
    }, 'scan ')),
    permute<T>(dims, batch, length, false, into.heads, into.headRows, device),
    matmul<T>({ m: rows, n: dModel, k: hd, bias: dims.outputBias, residual, gelu: false }, device, {
      a: into.headRows, weight: 'outputWeight', bias: dims.outputBias ? 'outputBias' : null, residual: residual ? 'residual' : null, result: 'output',
    }),
  ];
  const scratch: Record<string, number> = { 'V rows': rows * hd * 4 };
  for (const [name, bytes] of Object.entries(scan.scratch)) scratch[`scan ${name}`] = bytes;
  return { dispatches, scratch, optional: ['carry', 'residual', 'keyBias', 'valueBias', 'outputBias'] };
}

/**
 * The training forward of one layer over x [batch, length, dModel] (pure): writes `output` (+ `residual`) and the
 * saved slots. `carry` (optional) is a constant initial state: read, not advanced (no final state is written).
 */
export function planLayerTrainForward(dims: LayerTrainDims, batch: number, length: number, schedule: 'auto' | ScanSchedule, residual: boolean, device: PlanLimits): Plan<LayerTrainSlot> {
  const optional: LayerTrainSlot[] = ['carry', 'convHistory', 'residual', 'keyBias', 'valueBias', 'outputBias'];
  if (batch * length === 0) return { dispatches: [], scratch: {}, optional };
  // With conv the projections read x' = x + conv(x), kept for the weight gradients.
  const conv = dims.conv === true
    ? planConvForward({ batch, length, dModel: dims.dModel }, device).dispatches.map((d) => rebind<ConvSlot, LayerTrainSlot>(d, {
      x: 'x', weight: 'conv', history: 'convHistory', result: 'saved.convX', nextHistory: null,
    }))
    : [];
  const forward = planProjectedForward<LayerTrainSlot>(dims, batch, length, schedule, residual, {
    input: dims.conv === true ? 'saved.convX' : 'x', keys: 'saved.K', scores: 'saved.scores', values: 'saved.values',
    heads: 'saved.heads', headRows: 'saved.headRows', stats: 'saved.stats', final: null,
  }, device);
  return { dispatches: [...conv, ...forward.dispatches], scratch: forward.scratch, optional };
}

/**
 * The backward of the last training forward (pure): from gradOutput (dY) writes gradInput (dx; added to what is
 * there with `accumulateInput`) and every grad.* slot of a weight the layer has. Reads x, the weights, the saved
 * slots and the same constant initial state `carry` as the forward.
 */
export function planLayerBackward(dims: LayerTrainDims, batch: number, length: number, schedule: 'auto' | ScanSchedule, accumulateInput: boolean, device: PlanLimits): Plan<LayerTrainSlot> {
  const optional: LayerTrainSlot[] = ['carry', 'convHistory', 'keyBias', 'valueBias', 'outputBias'];
  const rows = batch * length;
  if (rows === 0) return { dispatches: [], scratch: {}, optional };
  const { dModel, heads, headDim } = dims;
  const hd = heads * headDim;
  const sequences = batch * heads;
  const scratch: Record<string, number> = {
    'dO rows': rows * hd * 4, 'dO heads': rows * hd * 4, ds: rows * heads * 4, 'dv heads': rows * hd * 4,
    'dV rows': rows * hd * 4, 'dK rows': rows * hd * 4, 'query terms': rows * hd * 4,
    'scan grad carry': Math.max(16, stateBytes(sequences, headDim)), 'scan grad first': Math.max(16, stateBytes(sequences, headDim)),
  };
  const s = (name: string): ScratchRef => ({ scratch: name });
  const dispatches: Dispatch<LayerTrainSlot>[] = [];
  const sums: Plan<LayerTrainSlot>[] = [];
  // Output projection: dO = dY output^T, to the scan's layout; dOutput = O^T dY; dOutputBias = sum_rows dY.
  dispatches.push(matmul<LayerTrainSlot>({ m: rows, n: hd, k: dModel, bias: false, residual: false, gelu: false, transposeB: true }, device, {
    a: 'gradOutput', weight: 'outputWeight', result: s('dO rows'),
  }));
  dispatches.push(permute<LayerTrainSlot>(dims, batch, length, true, s('dO rows'), s('dO heads'), device));
  dispatches.push(matmul<LayerTrainSlot>({ m: hd, n: dModel, k: rows, bias: false, residual: false, gelu: false, transposeA: true }, device, {
    a: 'saved.headRows', weight: 'gradOutput', result: 'grad.outputWeight',
  }));
  if (dims.outputBias) sums.push(columnSum<LayerTrainSlot>(rows, dModel, false, 'gradOutput', 'grad.outputBias', 'output bias ', device));
  // The scan backward: ds [sequences, length], dv [sequences, length, headDim] (and d(rate) per sequence).
  const scan = planPrefixScanBackward({ batch: sequences, length, headDim }, { schedule, decay: dims.decay === true, decayPeriod: heads }, device);
  for (const d of scan.dispatches) {
    dispatches.push(rebind<BackwardSlot, LayerTrainSlot>(d, {
      scores: 'saved.scores', values: 'saved.values', output: 'saved.heads', stats: 'saved.stats', gradOutput: s('dO heads'),
      gradScores: s('ds'), gradValues: s('dv heads'), initialState: 'carry', gradFinalState: null, gradInitialState: null,
      gradCarry: s('scan grad carry'), gradFirst: s('scan grad first'), decay: 'decayRates', gradDecay: s('d rates'),
    }, 'scan '));
  }
  for (const [name, bytes] of Object.entries(scan.scratch)) scratch[`scan ${name}`] = bytes;
  if (dims.decay) {
    // d theta_h = sigmoid(theta_h) sum_b d rate[b * heads + h].
    scratch['d rates'] = sequences * 4;
    dispatches.push({
      kernel: { parts: [wgsl.decayParamGrad], constants: {} },
      params: { batch, heads },
      buffers: { theta: 'decay', grad_rates: s('d rates'), grad_theta: 'grad.decay' },
      workgroups: [Math.ceil(heads / WORKGROUP), 1, 1],
    });
  }
  dispatches.push(permute<LayerTrainSlot>(dims, batch, length, false, s('dv heads'), s('dV rows'), device));
  const count = rows * heads;
  dispatches.push({
    kernel: { parts: [packFor(headDim).part, wgsl.keyGrads], constants: { WORKGROUP_SIZE: WORKGROUP, HEADS: heads, HEAD_DIM: headDim } },
    params: { length, count, scale: dims.scale },
    buffers: { grad_scores: s('ds'), keys: 'saved.K', query: 'query', grad_keys: s('dK rows'), query_terms: s('query terms') },
    workgroups: [Math.min(Math.ceil(count / WORKGROUP), device.limits.maxComputeWorkgroupsPerDimension), 1, 1],
  });
  sums.push(columnSum<LayerTrainSlot>(rows, hd, false, s('query terms'), 'grad.query', 'query ', device));
  // Projections of x' (x without conv): dKey = x'^T dK, dValue = x'^T dV, biases by column sums;
  // dx' = dK key^T + dV value^T, which is dx without conv, else the convolution's backward makes dx and d conv.
  const conv = dims.conv === true;
  const input: LayerTrainSlot = conv ? 'saved.convX' : 'x';
  const weightGrad = { m: dModel, n: hd, k: rows, bias: false, residual: false, gelu: false, transposeA: true };
  dispatches.push(matmul<LayerTrainSlot>(weightGrad, device, { a: input, weight: s('dK rows'), result: 'grad.key' }));
  dispatches.push(matmul<LayerTrainSlot>(weightGrad, device, { a: input, weight: s('dV rows'), result: 'grad.value' }));
  if (dims.keyBias) sums.push(columnSum<LayerTrainSlot>(rows, hd, false, s('dK rows'), 'grad.keyBias', 'key bias ', device));
  if (dims.valueBias) sums.push(columnSum<LayerTrainSlot>(rows, hd, false, s('dV rows'), 'grad.valueBias', 'value bias ', device));
  const inputGrad = { m: rows, n: dModel, k: hd, bias: false, residual: false, gelu: false, transposeB: true };
  const gradConvolved: LayerTrainSlot | ScratchRef = conv ? s('dx conv') : 'gradInput';
  dispatches.push(matmul<LayerTrainSlot>({ ...inputGrad, accumulate: !conv && accumulateInput }, device, { a: s('dK rows'), weight: 'key', result: gradConvolved }));
  dispatches.push(matmul<LayerTrainSlot>({ ...inputGrad, accumulate: true }, device, { a: s('dV rows'), weight: 'value', result: gradConvolved }));
  if (conv) {
    scratch['dx conv'] = rows * dModel * 4;
    const convBackward = planConvBackward({ batch, length, dModel }, { accumulateInput }, device);
    Object.assign(scratch, Object.fromEntries(Object.entries(convBackward.scratch).map(([name, bytes]) => [`conv ${name}`, bytes])));
    dispatches.push(...convBackward.dispatches.map((d) => rebind<ConvBackwardSlot, LayerTrainSlot>(d, {
      grad: s('dx conv'), x: 'x', weight: 'conv', history: 'convHistory', gradInput: 'gradInput', gradWeight: 'grad.conv',
    }, 'conv ')));
  }
  for (const sum of sums) {
    dispatches.push(...sum.dispatches);
    Object.assign(scratch, sum.scratch);
  }
  return { dispatches, scratch, optional };
}

/** The refresh of what the layer derives from its raw weights (pure): the fused projections keyQuery, valueProj
 * (fuse_projections.wgsl) and, with decay, the rates softplus(theta) (softplus_rates.wgsl). */
export function planLayerRefresh(dims: LayerTrainDims, device: PlanLimits): Plan<LayerWeightSlot | LayerDerivedSlot> {
  const config = kernelConfig(device.limits, dims.headDim);
  const entries = dims.heads * (dims.dModel + 1);
  const rates: Dispatch<LayerWeightSlot | LayerDerivedSlot>[] = dims.decay ? [planDecayRates(dims.heads)] : [];
  return {
    dispatches: [...rates, {
      kernel: { parts: [wgsl.fuseProjections], constants: { WORKGROUP_SIZE: WORKGROUP } },
      params: {
        d_model: dims.dModel, heads: dims.heads, head_dim: dims.headDim, v_stride: config.blocks * config.lanes * 4, scale: dims.scale,
        has_key_bias: dims.keyBias ? 1 : 0, has_value_bias: dims.valueBias ? 1 : 0,
      },
      buffers: {
        query: 'query', key: 'key', value: 'value', key_bias: dims.keyBias ? 'keyBias' : null, value_bias: dims.valueBias ? 'valueBias' : null,
        key_query: 'keyQuery', value_proj: 'valueProj',
      },
      workgroups: [Math.min(Math.ceil(entries / WORKGROUP), device.limits.maxComputeWorkgroupsPerDimension), 1, 1],
    }],
    scratch: {},
    optional: [],
  };
}

/** decayRates = softplus(decay) for every head (softplus_rates.wgsl). */
export function planDecayRates(heads: number): Dispatch<'decay' | 'decayRates'> {
  return {
    kernel: { parts: [wgsl.atanhSeries, wgsl.softplusRates], constants: {} },
    params: { count: heads },
    buffers: { theta: 'decay', rates: 'decayRates' },
    workgroups: [Math.ceil(heads / WORKGROUP), 1, 1],
  };
}

/** Every buffer a training step of [batch, length] makes (saved, scratch), for checking against the device limit. */
export function layerTrainBufferBytes(dims: LayerTrainDims, batch: number, length: number, schedule: 'auto' | ScanSchedule, device: PlanLimits): Record<string, number> {
  const sizes: Record<string, number> = {};
  const add = (record: Record<string, number>) => {
    for (const [name, bytes] of Object.entries(record)) sizes[name] = Math.max(sizes[name] ?? 0, bufferBytes(bytes));
  };
  add(layerSavedBytes(dims, batch, length));
  add(planLayerTrainForward(dims, batch, length, schedule, false, device).scratch);
  add(planLayerBackward(dims, batch, length, schedule, false, device).scratch);
  add({ x: batch * length * dims.dModel * 4 });
  return sizes;
}
