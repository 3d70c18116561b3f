// Training of the pre-LN Aaren stack (model.ts): the training forward keeps, per block, what the backward reads,
// and the backward runs the blocks in reverse. Pure planning functions; AarenModel.createTrainer prepares them.
// Forward, block l (input h_l: x, then the previous block's output):
//   a = LN1(h_l) (+ row stats),  h1 = h_l + Aaren(a) (layer-backward.ts's training forward, residual fused),
//   n2 = LN2(h1) (+ row stats),  pre = n2 w1 + b1 (saved), hidden = GELU(pre),  out = h1 + hidden w2 + b2
// then output = LN(h_L) (+ row stats). Backward, with dh accumulated in the caller's gradInput buffer:
//   dh = LN backward (final);  per block from the last: dPre = (dh w2^T) GELU'(pre) (one fused matmul),
//   dW2 = hidden^T dh, db2 = sum dh, dN2 = dPre w1^T, dW1 = n2^T dPre, db1 = sum dPre,
//   dh += LN2 backward(dN2)  (dh is now dLoss/dh1),  dA = the layer backward of dh,  dh += LN1 backward(dA).
// The residual gradients are sums by the accumulate epilogues, each element written by one invocation: no
// atomics, the same bits every run.
import { type Dispatch, type Plan, type ScratchRef, rebind } from '../core/kernel.js';
import { planMatmul, type MatmulSlot, type MatmulSpec } from '../ops/matmul.js';
import { planLayerNorm, planLayerNormBackward, type LayerNormBackwardSlot, type LayerNormSlot } from '../ops/layer-norm.js';
import { planColumnSum, type ColumnSumSlot } from '../ops/elementwise.js';
import type { PlanLimits } from '../ops/attention/scan.js';
import type { ScanSchedule } from '../scan/skeleton.js';
import { planLayerBackward, planLayerTrainForward, type LayerTrainDims, type LayerTrainSlot } from './layer-backward.js';

export interface ModelTrainDims {
  layers: number;
  dModel: number;
  dFF: number;
  eps: number;
  /** Per layer. */
  layer: LayerTrainDims[];
}

type Ref = string | ScratchRef | null;

/** Slot of block l: `b{l}.{slot}` (the forward plan's weight slots, and the training ones). */
const block = (l: number) => (slot: string) => `b${l}.${slot}`;

/** The saved activations of a model training forward, bytes by slot. */
export function modelSavedBytes(dims: ModelTrainDims, batch: number, length: number, layerSaved: (l: number) => Record<string, number>): Record<string, number> {
  const rows = batch * length;
  const saved: Record<string, number> = { 'save.final': rows * 8 };
  for (let l = 0; l < dims.layers; l++) {
    const b = block(l);
    Object.assign(saved, {
      [b('save.a')]: rows * dims.dModel * 4, [b('save.h1')]: rows * dims.dModel * 4, [b('save.n2')]: rows * dims.dModel * 4,
      [b('save.out')]: rows * dims.dModel * 4, [b('save.pre')]: rows * dims.dFF * 4, [b('save.hidden')]: rows * dims.dFF * 4,
      [b('save.ln1')]: rows * 8, [b('save.ln2')]: rows * 8,
    });
    for (const [slot, bytes] of Object.entries(layerSaved(l))) saved[b(slot)] = bytes;
  }
  return saved;
}

function merge(target: Record<string, number>, source: Readonly<Record<string, number>>, prefix: string): void {
  for (const [name, bytes] of Object.entries(source)) target[prefix + name] = Math.max(target[prefix + name] ?? 0, bytes);
}

/** A layer plan's dispatches in the model's slots: its own slots under `b{l}.`, except those `map` gives. */
function layerDispatches(plan: Plan<LayerTrainSlot>, l: number, map: Partial<Record<LayerTrainSlot, Ref>>, scratch: Record<string, number>): Dispatch<string>[] {
  const b = block(l);
  const full = new Proxy(map, { get: (target, slot: string) => (slot in target ? target[slot as LayerTrainSlot] : b(slot)) }) as Record<LayerTrainSlot, Ref>;
  // The blocks run one after another, so they share the layer's transient scratch (same shapes, same names).
  merge(scratch, plan.scratch, 'layer ');
  return plan.dispatches.map((d) => rebind<LayerTrainSlot, string>(d, full, 'layer '));
}

/** The training forward of the model (pure): x -> output, writing every save.* slot. */
export function planModelTrainForward(dims: ModelTrainDims, batch: number, length: number, schedule: 'auto' | ScanSchedule, device: PlanLimits): Plan<string> {
  const { dModel, dFF, eps } = dims;
  const rows = batch * length;
  const optional: string[] = [];
  for (let l = 0; l < dims.layers; l++) optional.push(...['carry', 'convHistory', 'keyBias', 'valueBias', 'outputBias'].map(block(l)));
  if (rows === 0) return { dispatches: [], scratch: {}, optional };
  const scratch: Record<string, number> = {};
  const dispatches: Dispatch<string>[] = [];
  const norm = planLayerNorm(rows, dModel, eps, device, { saveStats: true });
  const up = planMatmul({ m: rows, n: dFF, k: dModel, bias: true, residual: false, gelu: true, savePreActivation: true }, device);
  const down = planMatmul({ m: rows, n: dModel, k: dFF, bias: true, residual: true, gelu: false }, device);
  let cur = 'x';
  for (let l = 0; l < dims.layers; l++) {
    const b = block(l);
    dispatches.push(rebind<LayerNormSlot, string>(norm, { x: cur, gamma: b('ln1.gamma'), beta: b('ln1.beta'), result: b('save.a'), stats: b('save.ln1') }));
    dispatches.push(...layerDispatches(planLayerTrainForward(dims.layer[l]!, batch, length, schedule, true, device), l,
      { x: b('save.a'), output: b('save.h1'), residual: cur }, scratch));
    dispatches.push(rebind<LayerNormSlot, string>(norm, { x: b('save.h1'), gamma: b('ln2.gamma'), beta: b('ln2.beta'), result: b('save.n2'), stats: b('save.ln2') }));
    dispatches.push(rebind<MatmulSlot, string>(up, { a: b('save.n2'), weight: b('w1'), bias: b('b1'), preActivation: b('save.pre'), result: b('save.hidden') }));
    dispatches.push(rebind<MatmulSlot, string>(down, { a: b('save.hidden'), weight: b('w2'), bias: b('b2'), residual: b('save.h1'), result: b('save.out') }));
    cur = b('save.out');
  }
  dispatches.push(rebind<LayerNormSlot, string>(norm, { x: cur, gamma: 'final.gamma', beta: 'final.beta', result: 'output', stats: 'save.final' }));
  return { dispatches, scratch, optional };
}

/** The gradient slot of a model parameter (by safetensors name) that is not the attention layer's. */
export const gradSlot = (name: string) => `grad.${name}`;

/**
 * The backward of the model's training forward (pure): gradOutput -> gradInput and every gradient slot:
 * grad.{name} for norms and FFN (safetensors names), b{l}.grad.{slot} for the attention layers.
 */
export function planModelBackward(dims: ModelTrainDims, batch: number, length: number, schedule: 'auto' | ScanSchedule, device: PlanLimits): Plan<string> {
  const { dModel, dFF } = dims;
  const rows = batch * length;
  const optional: string[] = [];
  for (let l = 0; l < dims.layers; l++) optional.push(...['carry', 'convHistory', 'keyBias', 'valueBias', 'outputBias'].map(block(l)));
  if (rows === 0) return { dispatches: [], scratch: {}, optional };
  const scratch: Record<string, number> = { dPre: rows * dFF * 4, dN: rows * dModel * 4, dA: rows * dModel * 4 };
  const dispatches: Dispatch<string>[] = [];
  const s = (name: string): ScratchRef => ({ scratch: name });
  const normBackward = (accumulateInput: boolean, map: Record<LayerNormBackwardSlot, Ref>) => {
    const plan = planLayerNormBackward(rows, dModel, { accumulateInput }, device);
    merge(scratch, plan.scratch, 'ln ');
    return plan.dispatches.map((d) => rebind<LayerNormBackwardSlot, string>(d, map, 'ln '));
  };
  const columnSum = (cols: number, x: Ref, result: Ref) => {
    const plan = planColumnSum(rows, cols, {}, device);
    merge(scratch, plan.scratch, `sum ${cols} `);
    return plan.dispatches.map((d) => rebind<ColumnSumSlot, string>(d, { x, result }, `sum ${cols} `));
  };
  const matmul = (spec: MatmulSpec, map: Partial<Record<MatmulSlot, Ref>>) =>
    rebind<MatmulSlot, string>(planMatmul(spec, device), { bias: null, residual: null, preActivation: null, ...map });
  const plain = { bias: false, residual: false, gelu: false };
  const input = (l: number) => (l === 0 ? 'x' : block(l - 1)('save.out'));

  dispatches.push(...normBackward(false, {
    grad: 'gradOutput', x: input(dims.layers), gamma: 'final.gamma', stats: 'save.final', gradInput: 'gradInput',
    gradGamma: gradSlot('final_norm.weight'), gradBeta: gradSlot('final_norm.bias'),
  }));
  for (let l = dims.layers - 1; l >= 0; l--) {
    const b = block(l);
    const name = (suffix: string) => gradSlot(`blocks.${l}.${suffix}`);
    // FFN: out = h1 + GELU(n2 w1 + b1) w2 + b2; dh (gradInput) is dLoss/d(out).
    dispatches.push(matmul({ m: rows, n: dFF, k: dModel, ...plain, transposeB: true, geluBackward: true }, {
      a: 'gradInput', weight: b('w2'), preActivation: b('save.pre'), result: s('dPre'),
    }));
    dispatches.push(matmul({ m: dFF, n: dModel, k: rows, ...plain, transposeA: true }, { a: b('save.hidden'), weight: 'gradInput', result: name('ffn.w2') }));
    dispatches.push(...columnSum(dModel, 'gradInput', name('ffn.b2')));
    dispatches.push(matmul({ m: rows, n: dModel, k: dFF, ...plain, transposeB: true }, { a: s('dPre'), weight: b('w1'), result: s('dN') }));
    dispatches.push(matmul({ m: dModel, n: dFF, k: rows, ...plain, transposeA: true }, { a: b('save.n2'), weight: s('dPre'), result: name('ffn.w1') }));
    dispatches.push(...columnSum(dFF, s('dPre'), name('ffn.b1')));
    dispatches.push(...normBackward(true, {
      grad: s('dN'), x: b('save.h1'), gamma: b('ln2.gamma'), stats: b('save.ln2'), gradInput: 'gradInput',
      gradGamma: name('ln2.weight'), gradBeta: name('ln2.bias'),
    }));
    // Attention: h1 = h + Aaren(LN1(h)); gradInput now holds dLoss/d(h1).
    dispatches.push(...layerDispatches(planLayerBackward(dims.layer[l]!, batch, length, schedule, false, device), l,
      { x: b('save.a'), gradOutput: 'gradInput', gradInput: s('dA') }, scratch));
    dispatches.push(...normBackward(true, {
      grad: s('dA'), x: input(l), gamma: b('ln1.gamma'), stats: b('save.ln1'), gradInput: 'gradInput',
      gradGamma: name('ln1.weight'), gradBeta: name('ln1.bias'),
    }));
  }
  return { dispatches, scratch, optional };
}
