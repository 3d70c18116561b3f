// The GPU-resident trainer shared by AarenLayer and AarenModel (the ModelTrainer contract of parameters.ts): two
// prepared plans (the training forward and its backward) over the module's raw weights, activation buffers the
// forward writes and the backward reads (allocated here, so both plans bind the same ones), and one gradient
// buffer per parameter. The typed backward() of both modules runs through it.
import { type Plan, PreparedPlan } from '../core/kernel.js';
import { createStorageBuffer } from '../core/buffers.js';
import { checkDevice } from '../core/device.js';
import { checkStorageBuffer } from '../core/validate.js';
import { checkEncoder } from '../ops/attention/scan.js';
import type { ModelTrainer, NamedParameter } from './parameters.js';

export interface TrainerParts {
  batch: number;
  length: number;
  /** Floats per token of x, the output, dY and dx. */
  width: number;
  forward: Plan<string>;
  backward: Plan<string>;
  /** Bytes of each saved activation slot. */
  saved: Record<string, number>;
  /** The weight slots (raw weights, and the fused projections the plans do not read but encode ignores). */
  weights: Record<string, GPUBuffer>;
  /** The module's parameters and the slot each one's gradient binds. */
  parameters: { parameter: NamedParameter; gradSlot: string }[];
  label: string;
}

/** State slots bound for one pass (a constant initial state per layer); empty for none. */
export type StateSlots = Record<string, GPUBuffer>;

export class PlanTrainer implements ModelTrainer {
  private destroyed = false;
  private lastX?: GPUBuffer;
  private lastState: StateSlots = {};
  readonly batch: number;
  readonly length: number;
  readonly gradients: Readonly<Record<string, GPUBuffer>>;
  /** Floats of each gradient (its parameter's element count; the buffers are rounded up to 16 bytes). */
  readonly gradientFloats: Readonly<Record<string, number>>;

  private constructor(
    private readonly device: GPUDevice,
    private readonly parts: TrainerParts,
    private readonly forwardPlan: PreparedPlan<string>,
    private readonly backwardPlan: PreparedPlan<string>,
    private readonly savedBuffers: Record<string, GPUBuffer>,
    private readonly gradSlots: Record<string, GPUBuffer>,
    gradients: Record<string, GPUBuffer>,
  ) {
    this.batch = parts.batch;
    this.length = parts.length;
    this.gradients = gradients;
    this.gradientFloats = Object.fromEntries(parts.parameters.map(({ parameter }) => [parameter.name, parameter.shape.reduce((a, b) => a * b, 1)]));
  }

  /** Compiles both plans and allocates the saved activations and gradients; nothing leaks if a step fails. */
  static async create(device: GPUDevice, parts: TrainerParts): Promise<PlanTrainer> {
    const made: { destroy(): void }[] = [];
    try {
      const forward = await PreparedPlan.create(device, parts.forward, `${parts.label} train forward`);
      made.push(forward);
      const backward = await PreparedPlan.create(device, parts.backward, `${parts.label} backward`);
      made.push(backward);
      const saved: Record<string, GPUBuffer> = {};
      for (const [slot, bytes] of Object.entries(parts.saved)) {
        saved[slot] = createStorageBuffer(device, bytes, `${parts.label} ${slot}`);
        made.push(saved[slot]);
      }
      const gradSlots: Record<string, GPUBuffer> = {};
      const gradients: Record<string, GPUBuffer> = {};
      for (const { parameter, gradSlot } of parts.parameters) {
        const floats = parameter.shape.reduce((a, b) => a * b, 1);
        const buffer = createStorageBuffer(device, floats * 4, `${parts.label} gradient ${parameter.name}`);
        made.push(buffer);
        gradSlots[gradSlot] = buffer;
        gradients[parameter.name] = buffer;
      }
      return new PlanTrainer(device, parts, forward, backward, saved, gradSlots, gradients);
    } catch (error) {
      for (const m of made) m.destroy();
      throw error;
    }
  }

  private check(method: string, encoder: GPUCommandEncoder): void {
    if (this.destroyed) throw new Error(`${this.parts.label} trainer.${method}: this trainer was destroyed`);
    checkDevice(`${this.parts.label} trainer device`, this.device);
    checkEncoder(encoder);
  }

  /**
   * x [batch, length, width] -> output, keeping the activations the backward reads. The backward also reads x
   * itself (weight gradients, the first LayerNorm's backward): it must hold the same values when the backward's
   * commands run. `state` binds a constant initial state per layer (internal: the typed backward's).
   */
  encodeForward(encoder: GPUCommandEncoder, buffers: { x: GPUBuffer; output: GPUBuffer }, state: StateSlots = {}): void {
    this.check('encodeForward', encoder);
    if (typeof buffers !== 'object' || buffers === null) throw new TypeError('buffers must be an object { x, output }');
    const bytes = this.batch * this.length * this.parts.width * 4;
    checkStorageBuffer('buffers.x', buffers.x, bytes);
    checkStorageBuffer('buffers.output', buffers.output, bytes);
    if (buffers.x === buffers.output) throw new RangeError('buffers.x must not be buffers.output');
    this.lastX = buffers.x;
    this.lastState = state;
    if (this.forwardPlan.plan.dispatches.length === 0) return;
    const pass = encoder.beginComputePass({ label: `${this.parts.label} train forward` });
    this.forwardPlan.encode(pass, { ...this.parts.weights, ...this.savedBuffers, ...state, x: buffers.x, output: buffers.output });
    pass.end();
  }

  /** The backward of the last encodeForward: gradInput [batch, length, width] and every gradient (overwritten). */
  encodeBackward(encoder: GPUCommandEncoder, buffers: { gradOutput: GPUBuffer; gradInput: GPUBuffer }): void {
    this.check('encodeBackward', encoder);
    if (typeof buffers !== 'object' || buffers === null) throw new TypeError('buffers must be an object { gradOutput, gradInput }');
    if (!this.lastX) throw new Error(`${this.parts.label} trainer.encodeBackward: encodeForward was not called`);
    const bytes = this.batch * this.length * this.parts.width * 4;
    checkStorageBuffer('buffers.gradOutput', buffers.gradOutput, bytes);
    checkStorageBuffer('buffers.gradInput', buffers.gradInput, bytes);
    if (buffers.gradOutput === buffers.gradInput) throw new RangeError('buffers.gradInput must not be buffers.gradOutput');
    if (buffers.gradInput === this.lastX) throw new RangeError('buffers.gradInput must not be the forward\'s x (the backward reads it)');
    const pass = encoder.beginComputePass({ label: `${this.parts.label} backward` });
    this.backwardPlan.encode(pass, {
      ...this.parts.weights, ...this.savedBuffers, ...this.lastState, ...this.gradSlots, x: this.lastX, gradOutput: buffers.gradOutput, gradInput: buffers.gradInput,
    });
    pass.end();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.forwardPlan.destroy();
    this.backwardPlan.destroy();
    for (const b of Object.values(this.savedBuffers)) b.destroy();
    for (const b of Object.values(this.gradSlots)) b.destroy();
  }
}
