// torch.optim.AdamW (amsgrad=False, maximize=False) with torch.nn.utils.clip_grad_norm_, on the GPU.
//
// One step is three kinds of dispatch in one compute pass (shaders/optim/), then the module's encodeRefresh:
//   1. grad_norm_partials, per gradient tensor: overflow-safe partial 2-norms and a finiteness flag, one partial per
//      invocation, each tensor in its own range of a scratch buffer (no barriers, no atomics);
//   2. grad_norm_finish, one workgroup: merges every partial in a fixed order and writes the STATUS word
//      [gradNorm, finite (1 or 0), clipScale, 0] into `statusBuffer` (16 bytes at `statusOffset`);
//   3. adamw_update, per parameter: returns at once when status says a gradient was not finite; otherwise torch's
//      update in torch's order of f32 operations (see the WGSL), with the gradient multiplied by clipScale.
// The reduction order depends on the shapes only, so the same gradients give the same bits.
//
// Non-finite gradients: a NaN or an infinity anywhere in any gradient makes the whole step a no-op on the GPU
// (parameters, m and v keep their bits). The host learns it from the status word, which the caller reads back
// with whatever it reads anyway (trainStep: copy `statusBuffer` [statusOffset, statusOffset + statusBytes) into
// the readback of the loss), then calls `completeStep(status)`: t (stepCount) advances only for an applied
// step. Until then the step is pending and encodeStep refuses to record another (its bias corrections depend on
// t). `step(gradients)` does all of this itself with a 16-byte readback.
//
// Bias corrections are computed on the host in float64 for step t = stepCount + 1 and written, with lr and the
// other hyper-parameters, to a small buffer by queue.writeBuffer when the step is encoded: encode, submit and
// complete one step before encoding the next (which the pending rule enforces).
import { type Dispatch, type Plan, PreparedPlan } from '../core/kernel.js';
import * as wgsl from '../core/shader-sources.js';
import { createStorageBuffer, submitAndRead } from '../core/buffers.js';
import { checkFinite, checkFloat32Array, checkInteger, checkObject, checkStorageBuffer } from '../core/validate.js';
import { runGpuCall } from '../core/device.js';
import type { PlanLimits } from '../ops/attention/scan.js';
import { packFor } from '../ops/elementwise.js';
import type { NamedParameter, Trainable } from '../nn/parameters.js';

const UPDATE_WORKGROUP = 64;
const NORM_WORKGROUP = 64;
const FINISH_WORKGROUP = 256;
/** Elements per invocation of the norm's first pass, at least (so the partials are about 1/256 of the gradients). */
const NORM_ELEMENTS_PER_INVOCATION = 256;
/** Workgroups per gradient tensor in the norm's first pass, at most: tensors up to 256 * 64 * 256 = 4.2M elements
 * keep <= 256 elements per invocation (the norm's error bound grows with that count), and the one-workgroup finish
 * pass reads <= 16384 partials per tensor. */
const NORM_MAX_GROUPS = 256;
/** Floats of the status word: [gradNorm, finite (1 or 0), clipScale, 0]. */
export const ADAMW_STATUS_FLOATS = 4;

export interface AdamWOptions {
  /** Learning rate, finite and >= 0. Settable later through `optimizer.lr` (takes effect at the next step). */
  lr: number;
  /** (beta1, beta2), each in [0, 1); default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator, finite and >= 0; default 1e-8. */
  eps?: number;
  /** Decoupled weight decay, finite and >= 0, applied to parameters with two or more dimensions; default 0.01. */
  weightDecay?: number;
  /** clip_grad_norm_'s max_norm (finite, > 0): every gradient is scaled by min(1, max / (totalNorm + 1e-6)). */
  clipGradNorm?: number;
}

/** Every option of an optimizer, defaults filled in (AdamW.options, AdamWState.options). */
export interface AdamWResolvedOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  clipGradNorm?: number;
}

/**
 * Everything an AdamW carries from one step to the next, on the host (AdamW.exportState / importState /
 * fromState): with the module's parameters it determines every later step bit for bit.
 */
export interface AdamWState {
  /** Steps applied so far (stepCount, torch's state['step']); the next step's bias corrections use step + 1. */
  step: number;
  /** The options, lr being the one the next step would use. */
  options: AdamWResolvedOptions;
  /** exp_avg (m) and exp_avg_sq (v) of every parameter by its name, f32, the parameter's shape. */
  moments: Record<string, { shape: number[]; expAvg: Float32Array; expAvgSq: Float32Array }>;
}

/** What a step did, from its status word. */
export interface AdamWStepStatus {
  /** False when a gradient had a NaN or an infinity: nothing changed, t did not advance. */
  applied: boolean;
  /** The total 2-norm of all gradients before clipping (NaN / Infinity when not finite). */
  gradNorm: number;
  /** The factor the gradients were multiplied by (1 without clipping). */
  clipScale: number;
  /** stepCount after this step. */
  step: number;
}

/** The passes of one AdamW step over parameters of these shapes (pure). Slots: `grad${i}`, `param${i}`, `m${i}`,
 * `v${i}` per parameter i, `status` and `hyper`; scratch `partials`. */
export function planAdamW(shapes: readonly (readonly number[])[], options: { clipGradNorm?: number }, device: PlanLimits): Plan<string> {
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const norms: Dispatch<string>[] = [];
  const updates: Dispatch<string>[] = [];
  let partials = 0;
  shapes.forEach((shape, i) => {
    const count = elementCount(shape);
    if (count === 0) return;
    const pack = packFor(count); // vec4 elements where the count allows: the same arithmetic per float
    const groups = Math.min(Math.ceil(count / (NORM_ELEMENTS_PER_INVOCATION * NORM_WORKGROUP)), NORM_MAX_GROUPS);
    norms.push({
      kernel: { parts: [pack.part, wgsl.gradNormCombine, wgsl.gradNormPartials], constants: { WORKGROUP_SIZE: NORM_WORKGROUP } },
      params: { count, first_partial: partials },
      buffers: { grad: `grad${i}`, partials: { scratch: 'partials' } },
      workgroups: [groups, 1, 1],
    });
    partials += groups * NORM_WORKGROUP;
    updates.push({
      kernel: { parts: [pack.part, wgsl.adamwUpdate], constants: { WORKGROUP_SIZE: UPDATE_WORKGROUP } },
      params: { count, decay: shape.length >= 2 ? 1 : 0 },
      buffers: { hyper: 'hyper', status: 'status', grad: `grad${i}`, param: `param${i}`, exp_avg: `m${i}`, exp_avg_sq: `v${i}` },
      workgroups: [Math.min(Math.ceil(count / pack.floats / UPDATE_WORKGROUP), maxGroups), 1, 1],
    });
  });
  const finish: Dispatch<string> = {
    kernel: { parts: [wgsl.gradNormCombine, wgsl.gradNormFinish], constants: { WORKGROUP_SIZE: FINISH_WORKGROUP } },
    params: { partial_count: partials, clip: options.clipGradNorm === undefined ? 0 : 1, max_norm: options.clipGradNorm ?? 0 },
    buffers: { partials: { scratch: 'partials' }, status: 'status' },
    workgroups: [1, 1, 1],
  };
  return { dispatches: [...norms, finish, ...updates], scratch: { partials: partials * 16 }, optional: [] };
}

/**
 * Checks, on the host, that `state` (step and moments; not the options) fits parameters of these names and
 * shapes: exactly one exp_avg and exp_avg_sq per parameter, of its shape, finite, exp_avg_sq >= 0. Throws a
 * TypeError / RangeError naming the problem.
 */
export function checkAdamWState(state: AdamWState, parameters: readonly { name: string; shape: readonly number[] }[]): void {
  checkObject<AdamWState>('state', state, '{ step, options, moments }');
  checkInteger('state.step', state.step, 0);
  checkObject('state.moments', state.moments, 'of { shape, expAvg, expAvgSq } by parameter name');
  const names = new Set(parameters.map((p) => p.name));
  for (const name of Object.keys(state.moments)) {
    if (!names.has(name)) throw new RangeError(`state.moments['${name}']: the module has no parameter ${name}`);
  }
  for (const p of parameters) {
    const entry = state.moments[p.name];
    const at = `state.moments['${p.name}']`;
    if (entry === undefined) throw new RangeError(`${at} is missing: every parameter needs its exp_avg and exp_avg_sq`);
    checkObject(at, entry, '{ shape, expAvg, expAvgSq }');
    if (!Array.isArray(entry.shape) || entry.shape.length !== p.shape.length || entry.shape.some((d, i) => d !== p.shape[i])) {
      throw new RangeError(`${at}.shape is [${String(entry.shape)}], but parameter ${p.name} has shape [${p.shape.join(', ')}]`);
    }
    const count = elementCount(p.shape);
    checkFloat32Array(`${at}.expAvg`, entry.expAvg, count, `shape [${p.shape.join(', ')}]`);
    checkFloat32Array(`${at}.expAvgSq`, entry.expAvgSq, count, `shape [${p.shape.join(', ')}]`);
    checkFinite(`${at}.expAvg`, entry.expAvg);
    checkFinite(`${at}.expAvgSq`, entry.expAvgSq);
    const negative = entry.expAvgSq.findIndex((x) => x < 0);
    if (negative >= 0) throw new RangeError(`${at}.expAvgSq[${negative}] is ${entry.expAvgSq[negative]}; exp_avg_sq (a mean of squares) must be >= 0`);
  }
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkNumber(name: string, value: unknown, min: number, minIncluded: boolean, max = Infinity, maxIncluded = false): number {
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number, got ${value === null ? 'null' : typeof value}`);
  const aboveMin = minIncluded ? value >= min : value > min;
  const belowMax = max === Infinity ? Number.isFinite(value) : maxIncluded ? value <= max : value < max;
  if (!(aboveMin && belowMax)) {
    throw new RangeError(`${name} must be in ${minIncluded ? '[' : '('}${min}, ${max === Infinity ? 'Infinity' : max}${maxIncluded ? ']' : ')'} and finite, got ${value}`);
  }
  return value;
}

function checkLr(value: unknown, name = 'lr'): number {
  return checkNumber(name, value, 0, true);
}

/** Checks AdamW options (names prefixed by `prefix`, e.g. 'state.options.') and fills in the defaults. */
export function resolveAdamWOptions(options: AdamWOptions, prefix = ''): AdamWResolvedOptions {
  checkObject<AdamWOptions>(prefix ? prefix.slice(0, -1) : 'options', options, '{ lr, betas?, eps?, weightDecay?, clipGradNorm? }');
  const lr = checkLr(options.lr, `${prefix}lr`);
  const betas = options.betas ?? [0.9, 0.999];
  if (!Array.isArray(betas) || betas.length !== 2) throw new TypeError(`${prefix}betas must be [beta1, beta2], got ${String(betas)}`);
  checkNumber(`${prefix}betas[0]`, betas[0], 0, true, 1, false);
  checkNumber(`${prefix}betas[1]`, betas[1], 0, true, 1, false);
  const eps = checkNumber(`${prefix}eps`, options.eps ?? 1e-8, 0, true);
  const weightDecay = checkNumber(`${prefix}weightDecay`, options.weightDecay ?? 0.01, 0, true);
  const resolved: AdamWResolvedOptions = { lr, betas: [betas[0], betas[1]], eps, weightDecay };
  if (options.clipGradNorm !== undefined) resolved.clipGradNorm = checkNumber(`${prefix}clipGradNorm`, options.clipGradNorm, 0, false);
  return resolved;
}

export class AdamW {
  private lr_: number;
  private t = 0;
  private pending_ = false;
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    /** The module whose parameters it updates. */
    readonly module: Trainable,
    private readonly params: readonly NamedParameter[],
    readonly betas: readonly [number, number],
    readonly eps: number,
    readonly weightDecay: number,
    readonly clipGradNorm: number | undefined,
    private readonly prepared: PreparedPlan<string>,
    private readonly m: readonly GPUBuffer[],
    private readonly v: readonly GPUBuffer[],
    /** The status word of the last encoded step: [gradNorm, finite (1 or 0), clipScale, 0], f32. */
    readonly statusBuffer: GPUBuffer,
    private readonly hyper: GPUBuffer,
    lr: number,
  ) {
    this.lr_ = lr;
  }

  /** Byte offset of the status word in statusBuffer, and its size (ADAMW_STATUS_FLOATS floats). */
  readonly statusOffset = 0;
  readonly statusBytes = ADAMW_STATUS_FLOATS * 4;

  /**
   * An optimizer for `module.parameters()` (taken once, here): m and v zero on the GPU, t = 0. Options are checked
   * first, naming the bad one (TypeError / RangeError); nothing is allocated for a refused call.
   */
  static async create(device: GPUDevice, module: Trainable, options: AdamWOptions): Promise<AdamW> {
    const { lr, betas, eps, weightDecay, clipGradNorm: clip } = resolveAdamWOptions(options);
    if (typeof module !== 'object' || module === null || typeof module.parameters !== 'function' || typeof module.encodeRefresh !== 'function') {
      throw new TypeError('module must be a Trainable (parameters(), encodeRefresh(encoder))');
    }
    const params = module.parameters();
    const names = new Set<string>();
    for (const p of params) {
      if (names.has(p.name)) throw new RangeError(`module.parameters() lists ${p.name} twice`);
      names.add(p.name);
      if (!Array.isArray(p.shape) || !p.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new TypeError(`parameter ${p.name}: shape must be non-negative integers, got ${String(p.shape)}`);
      checkStorageBuffer(`parameter ${p.name}`, p.buffer, elementCount(p.shape) * 4);
    }
    const plan = planAdamW(params.map((p) => p.shape), { clipGradNorm: clip }, { limits: device.limits, cpu: false });
    const prepared = await PreparedPlan.create(device, plan, 'aaren adamw');
    const made: GPUBuffer[] = [];
    try {
      const state = (kind: string) => params.map((p) => {
        const buffer = createStorageBuffer(device, elementCount(p.shape) * 4, `aaren adamw ${kind} ${p.name}`);
        made.push(buffer);
        return buffer;
      });
      const m = state('exp_avg');
      const v = state('exp_avg_sq');
      const status = createStorageBuffer(device, ADAMW_STATUS_FLOATS * 4, 'aaren adamw status');
      made.push(status);
      const hyper = createStorageBuffer(device, 32, 'aaren adamw hyper-parameters');
      made.push(hyper);
      return new AdamW(device, module, params, [betas[0], betas[1]], eps, weightDecay, clip, prepared, m, v, status, hyper, lr);
    } catch (error) {
      for (const buffer of made) buffer.destroy();
      prepared.destroy();
      throw error;
    }
  }

  /**
   * An optimizer in the state `state` (from exportState, or a checkpoint): created with state.options, then
   * importState. The whole state is checked against `module.parameters()` on the host first; nothing is allocated
   * for a refused state.
   */
  static async fromState(device: GPUDevice, module: Trainable, state: AdamWState): Promise<AdamW> {
    checkObject<AdamWState>('state', state, '{ step, options, moments }');
    const options = resolveAdamWOptions(state.options, 'state.options.');
    if (typeof module !== 'object' || module === null || typeof module.parameters !== 'function') {
      throw new TypeError('module must be a Trainable (parameters(), encodeRefresh(encoder))');
    }
    checkAdamWState(state, module.parameters());
    const optimizer = await AdamW.create(device, module, options);
    try {
      optimizer.importState(state);
      return optimizer;
    } catch (error) {
      optimizer.destroy();
      throw error;
    }
  }

  get lr(): number {
    return this.lr_;
  }

  /** The options it was made with (defaults filled in), lr being the current one. */
  get options(): AdamWResolvedOptions {
    const options: AdamWResolvedOptions = { lr: this.lr_, betas: [this.betas[0], this.betas[1]], eps: this.eps, weightDecay: this.weightDecay };
    if (this.clipGradNorm !== undefined) options.clipGradNorm = this.clipGradNorm;
    return options;
  }

  /**
   * Reads the optimizer's state back (one submit): the step count, the options and every parameter's exp_avg and
   * exp_avg_sq. Refused while a step is pending (its update may not have run yet).
   */
  async exportState(): Promise<AdamWState> {
    if (this.destroyed) throw new Error('AdamW.exportState: the optimizer was destroyed');
    if (this.pending_) throw new Error('AdamW.exportState: a step is pending; give its status word to completeStep first');
    const step = this.t;
    const options = this.options;
    const sizes = this.params.map((p) => elementCount(p.shape));
    const data = await runGpuCall(this.device, 'AdamW.exportState', 'AdamW.device', async () =>
      submitAndRead(this.device, this.device.createCommandEncoder({ label: 'aaren adamw exportState' }), [
        ...this.m.map((buffer, i) => ({ buffer, floats: sizes[i]! })),
        ...this.v.map((buffer, i) => ({ buffer, floats: sizes[i]! })),
      ]));
    const moments: AdamWState['moments'] = {};
    this.params.forEach((p, i) => {
      moments[p.name] = { shape: [...p.shape], expAvg: data[i]!, expAvgSq: data[this.params.length + i]! };
    });
    return { step, options, moments };
  }

  /**
   * Puts `state` into this optimizer: exp_avg and exp_avg_sq of every parameter (queue.writeBuffer), stepCount
   * and lr. Everything is checked on the host before anything changes, naming the problem: the same parameter
   * names as this optimizer's module (a moment of a parameter it does not have, or a parameter without moments,
   * is refused), the same shapes, finite moments, exp_avg_sq >= 0, a step count that is an integer >= 0, and the
   * same betas, eps, weightDecay and clipGradNorm (baked into this optimizer; AdamW.fromState takes the state's).
   * The parameters themselves are not touched.
   */
  importState(state: AdamWState): void {
    if (this.destroyed) throw new Error('AdamW.importState: the optimizer was destroyed');
    if (this.pending_) throw new Error('AdamW.importState: a step is pending; give its status word to completeStep first');
    checkObject<AdamWState>('state', state, '{ step, options, moments }');
    const options = resolveAdamWOptions(state.options, 'state.options.');
    const mine = this.options;
    const differs = (name: string, theirs: unknown, ours: unknown) =>
      new RangeError(`state.options.${name} is ${String(theirs)} but this optimizer's is ${String(ours)} (AdamW.fromState makes one with the state's options)`);
    if (options.betas[0] !== mine.betas[0] || options.betas[1] !== mine.betas[1]) throw differs('betas', options.betas, mine.betas);
    if (options.eps !== mine.eps) throw differs('eps', options.eps, mine.eps);
    if (options.weightDecay !== mine.weightDecay) throw differs('weightDecay', options.weightDecay, mine.weightDecay);
    if (options.clipGradNorm !== mine.clipGradNorm) throw differs('clipGradNorm', options.clipGradNorm, mine.clipGradNorm);
    checkAdamWState(state, this.params);
    this.params.forEach((p, i) => {
      const { expAvg, expAvgSq } = state.moments[p.name]!;
      if (expAvg.length === 0) return;
      this.device.queue.writeBuffer(this.m[i]!, 0, expAvg.buffer, expAvg.byteOffset, expAvg.byteLength);
      this.device.queue.writeBuffer(this.v[i]!, 0, expAvgSq.buffer, expAvgSq.byteOffset, expAvgSq.byteLength);
    });
    this.t = state.step;
    this.lr_ = options.lr;
  }

  /** Takes effect at the next encodeStep / step. */
  set lr(value: number) {
    this.lr_ = checkLr(value);
  }

  /** Steps applied so far (torch's state['step']): refused steps do not count. */
  get stepCount(): number {
    return this.t;
  }

  /** True between encodeStep and completeStep. */
  get pending(): boolean {
    return this.pending_;
  }

  /** The names of the parameters, in the module's order. */
  get parameterNames(): string[] {
    return this.params.map((p) => p.name);
  }

  /** exp_avg (m) and exp_avg_sq (v) of a parameter, f32 like the parameter (for tests and checkpoints). */
  stateBuffers(name: string): { m: GPUBuffer; v: GPUBuffer } {
    const i = this.params.findIndex((p) => p.name === name);
    if (i < 0) throw new RangeError(`AdamW has no parameter ${name}`);
    return { m: this.m[i]!, v: this.v[i]! };
  }

  private checkGradients(gradients: Record<string, GPUBuffer>): void {
    if (this.destroyed) throw new Error('AdamW: the optimizer was destroyed');
    if (this.pending_) throw new Error('AdamW.encodeStep: the previous step is pending; give its status word to completeStep first');
    checkObject('gradients', gradients, 'of GPU buffers by parameter name');
    const names = new Set(this.params.map((p) => p.name));
    for (const name of Object.keys(gradients)) {
      if (!names.has(name)) throw new RangeError(`gradients['${name}']: the module has no parameter of that name`);
    }
    // A gradient bound read-only where the update writes (a parameter, m, v) is a WebGPU validation error that
    // would surface later and far away; refuse it here.
    const written = new Set<GPUBuffer>([...this.params.map((p) => p.buffer), ...this.m, ...this.v, this.statusBuffer, this.hyper]);
    for (const p of this.params) {
      if (gradients[p.name] === undefined) throw new TypeError(`gradients['${p.name}'] is missing`);
      checkStorageBuffer(`gradients['${p.name}']`, gradients[p.name], elementCount(p.shape) * 4);
      if (written.has(gradients[p.name]!)) throw new RangeError(`gradients['${p.name}'] is a buffer the optimizer writes (a parameter or its state)`);
    }
  }

  /**
   * Records one step into `encoder` (one compute pass, then module.encodeRefresh(encoder)), GPU-resident with
   * no readback. The gradients are checked first (a missing, unknown or too small buffer throws, naming it, before
   * any GPU work). The step's status word lands in statusBuffer; after submitting, pass it to completeStep.
   */
  encodeStep(encoder: GPUCommandEncoder, gradients: Record<string, GPUBuffer>): void {
    this.checkGradients(gradients);
    this.record(encoder, gradients);
  }

  private record(encoder: GPUCommandEncoder, gradients: Record<string, GPUBuffer>): void {
    const [b1, b2] = this.betas;
    const t = this.t + 1;
    // torch computes these Python floats in float64 and hands them to f32 kernels as scalars.
    const biasCorrection1 = 1 - b1 ** t;
    const biasCorrection2Sqrt = Math.sqrt(1 - b2 ** t);
    const hyper = new Float32Array([1 - this.lr_ * this.weightDecay, 1 - b1, b2, 1 - b2, -(this.lr_ / biasCorrection1), biasCorrection2Sqrt, this.eps, 0]);
    this.device.queue.writeBuffer(this.hyper, 0, hyper);
    const slots: Record<string, GPUBuffer> = { status: this.statusBuffer, hyper: this.hyper };
    this.params.forEach((p, i) => {
      slots[`grad${i}`] = gradients[p.name]!;
      slots[`param${i}`] = p.buffer;
      slots[`m${i}`] = this.m[i]!;
      slots[`v${i}`] = this.v[i]!;
    });
    const pass = encoder.beginComputePass({ label: 'aaren adamw step' });
    this.prepared.encode(pass, slots);
    pass.end();
    this.module.encodeRefresh(encoder);
    this.pending_ = true;
  }

  /**
   * Ends the pending step with its status word (ADAMW_STATUS_FLOATS floats read back from statusBuffer at
   * statusOffset): t advances when it says the step was applied. A caller whose submit failed passes zeros
   * (a refused step).
   */
  completeStep(status: ArrayLike<number>): AdamWStepStatus {
    if (!this.pending_) throw new Error('AdamW.completeStep: no step is pending');
    if (typeof status !== 'object' || status === null || status.length < ADAMW_STATUS_FLOATS) {
      throw new TypeError(`status must hold the ${ADAMW_STATUS_FLOATS} floats of statusBuffer`);
    }
    this.pending_ = false;
    const applied = status[1] === 1;
    if (applied) this.t += 1;
    return { applied, gradNorm: status[0]!, clipScale: status[2]!, step: this.t };
  }

  /** encodeStep, submit, read the status word back and completeStep. A refused (non-finite) step resolves with
   * `applied: false`; it does not throw. */
  async step(gradients: Record<string, GPUBuffer>): Promise<AdamWStepStatus> {
    this.checkGradients(gradients);
    const encoder = this.device.createCommandEncoder({ label: 'aaren adamw step' });
    const staging = this.device.createBuffer({ label: 'aaren adamw status readback', size: this.statusBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    let status = new Float32Array(ADAMW_STATUS_FLOATS);
    try {
      this.record(encoder, gradients);
      encoder.copyBufferToBuffer(this.statusBuffer, this.statusOffset, staging, 0, this.statusBytes);
      this.device.queue.submit([encoder.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      status = new Float32Array(staging.getMappedRange().slice(0));
      staging.unmap();
    } catch (error) {
      // The step may or may not have run; t stays (as for a refused step) and the optimizer is usable again.
      if (this.pending_) this.completeStep(new Float32Array(ADAMW_STATUS_FLOATS));
      throw error;
    } finally {
      staging.destroy();
    }
    return this.completeStep(status);
  }

  /** Frees m, v, the status and hyper-parameter buffers and the plan's scratch; the parameters stay. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.prepared.destroy();
    for (const buffer of [...this.m, ...this.v, this.statusBuffer, this.hyper]) buffer.destroy();
  }
}
