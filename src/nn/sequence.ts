// What AarenLayer and AarenModel share: a module over sequences of `width`-float tokens with a recurrent state of
// fixed size. Typed forward (in pieces along the length past the buffer limits, carried by the state), step,
// the GPU-resident encode forms, argument and state checks, the per-shape plan cache and the typed-call run.
// A module provides its plan (pure, src/nn/layer.ts planLayerForward / src/nn/model.ts planModelForward), the
// buffers its slots bind, and its states.
import { type Plan, PreparedPlan } from '../core/kernel.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../core/buffers.js';
import { bufferLimit, checkFinite, checkFloat32Array, checkInteger, checkStorageBuffer } from '../core/validate.js';
import { checkDevice, checkLiveDevice, runGpuCall } from '../core/device.js';
import { forwardInPieces, tokensPerPiece } from '../core/pieces.js';
import { emptyState, packState, stateBytes, unpackState, type ScanState } from '../ops/attention/state.js';

/** Buffers of encodeForward / encodeStep; all need STORAGE usage. */
export interface SequenceBuffers {
  /** [batch, length, dModel] f32. */
  x: GPUBuffer;
  /** [batch, length, dModel] f32; receives y (+ residual). */
  output: GPUBuffer;
  /** Added to the output (a fused residual connection), [batch, length, dModel]; must not be `output`. */
  residual?: GPUBuffer;
}

/** The state of `batch * heads` scan sequences on the GPU: `buffer`, and `next`, the scan's final-state target,
 * copied into `buffer` after each pass (a dispatch cannot read and write one buffer). With `historyFloats` (a layer
 * with a causal convolution) also the last inputs of each sequence, `history`, and its update target `historyNext`,
 * copied back the same way. */
export class ModuleState {
  destroyed = false;
  tokens = 0;
  readonly buffer: GPUBuffer;
  readonly next: GPUBuffer;
  readonly history?: GPUBuffer;
  readonly historyNext?: GPUBuffer;

  constructor(readonly owner: object, private readonly device: GPUDevice, readonly batch: number, heads: number, readonly headDim: number, private readonly historyFloats = 0) {
    const packed = packState(emptyState(batch * heads, headDim));
    this.buffer = uploadFloat32(device, packed, 'aaren state');
    this.next = createStorageBuffer(device, packed.byteLength, 'aaren state update');
    if (historyFloats > 0) {
      this.history = createStorageBuffer(device, historyFloats * 4, 'aaren conv history'); // zeros: no earlier input
      this.historyNext = createStorageBuffer(device, historyFloats * 4, 'aaren conv history update');
    }
  }

  /** GPU bytes the state holds (buffers and their same-size update targets), independent of tokens seen. */
  get bytes(): number {
    return this.buffer.size + this.next.size + (this.history?.size ?? 0) + (this.historyNext?.size ?? 0);
  }

  /** Records the copies of the pass's updates into the state. */
  encodeUpdate(encoder: GPUCommandEncoder): void {
    encoder.copyBufferToBuffer(this.next, 0, this.buffer, 0, this.buffer.size);
    if (this.history && this.historyNext) encoder.copyBufferToBuffer(this.historyNext, 0, this.history, 0, this.history.size);
  }

  /** The convolution's history read back ([batch, 3, dModel]); empty without one. */
  async readHistory(): Promise<Float32Array> {
    if (!this.history) return new Float32Array(0);
    const [h] = await submitAndRead(this.device, this.device.createCommandEncoder(), [{ buffer: this.history, floats: this.historyFloats }]);
    return h!;
  }

  /** The state as a ScanState over its sequences (b * heads + h). */
  async read(): Promise<ScanState> {
    const n = stateBytes(1, this.headDim) / 4;
    const sequences = Math.floor(this.buffer.size / 4 / n); // n floats is a multiple of 4, so no rounding is added
    const [packed] = await submitAndRead(this.device, this.device.createCommandEncoder(), [{ buffer: this.buffer, floats: sequences * n }]);
    return unpackState(packed!, sequences, this.headDim);
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.buffer.destroy();
    this.next.destroy();
    this.history?.destroy();
    this.historyNext?.destroy();
  }
}

interface OwnedState {
  readonly owner?: object;
  readonly batch: number;
  readonly destroyed: boolean;
  destroy(): void;
}

export abstract class SequenceModule<St extends OwnedState, S extends string> {
  private destroyed = false;
  private readonly plans = new Map<string, PreparedPlan<S>>();
  /** Largest batch: batch * heads sequences must fit one dispatch dimension. */
  protected readonly maxBatch: number;

  protected constructor(
    readonly device: GPUDevice,
    private readonly kind: 'AarenLayer' | 'AarenModel',
    /** Floats per token of x and of the output (dModel). */
    private readonly width: number,
    /** The widest row any buffer of a pass holds per token, for cutting typed calls into pieces. */
    private readonly widestRow: number,
    heads: number,
  ) {
    this.maxBatch = Math.floor(device.limits.maxComputeWorkgroupsPerDimension / heads);
  }

  abstract createState(batch: number): St;
  /** The passes of a forward over [batch, length] (with the residual slot bound when `residual`). */
  protected abstract planFor(batch: number, length: number, residual: boolean): Plan<S>;
  /** What each slot of the plan binds: the caller's buffers, the state's, the module's weights. */
  protected abstract slotsFor(buffers: SequenceBuffers, state?: St): Partial<Record<S, GPUBuffer>>;
  /** The scan states a pass advances (their update targets are copied back after it). */
  protected abstract statesOf(state: St): ModuleState[];
  protected abstract destroyWeights(): void;

  /**
   * Parallel (and, with `state`, block-wise) forward: y [batch, length, dModel] for x [batch, length, dModel].
   * With a state it continues from it and leaves it advanced past these tokens.
   */
  async forward(x: Float32Array, shape: { batch: number; length: number }, state?: St): Promise<Float32Array> {
    this.checkAlive('forward');
    const { batch, length } = this.checkShape(shape);
    checkFloat32Array('x', x, batch * length * this.width, `batch ${batch} x length ${length} x dModel ${this.width}`);
    checkFinite('x', x);
    const s = state === undefined ? undefined : this.checkState('state', state, batch);
    await checkLiveDevice(`${this.kind}.device`, this.device);
    if (batch * length === 0) return new Float32Array(0);
    const piece = tokensPerPiece(`${this.kind}.forward`, batch, length, this.widestRow, bufferLimit(this.device.limits));
    return forwardInPieces({
      x, batch, length, width: this.width, tokensPerPiece: piece, state: s,
      createState: () => this.createState(batch),
      forward: async (xPiece, pieceLength, pieceState) => {
        const prepared = await PreparedPlan.create(this.device, this.planFor(batch, pieceLength, false), this.kind);
        try {
          return await this.run(prepared, xPiece, pieceLength, pieceState);
        } finally {
          prepared.destroy();
        }
      },
    });
  }

  /** RNN mode: one token per sequence, x [batch, dModel] -> y [batch, dModel]; advances the state. */
  async step(state: St, x: Float32Array): Promise<Float32Array> {
    this.checkAlive('step');
    const s = this.checkState('state', state, state?.batch);
    checkFloat32Array('x', x, s.batch * this.width, `batch ${s.batch} x dModel ${this.width}`);
    checkFinite('x', x);
    await checkLiveDevice(`${this.kind}.device`, this.device);
    return this.run(this.cachedPlan(s.batch, 1, false), x, 1, s);
  }

  /**
   * GPU-resident forward into the caller's encoder (no submit, no readback). With `state` it continues from it
   * and advances it (the state's counter counts the tokens when this is called). Per-shape uniforms and scratch
   * are cached until destroy() or releasePlans().
   */
  encodeForward(encoder: GPUCommandEncoder, buffers: SequenceBuffers, shape: { batch: number; length: number }, state?: St): void {
    this.checkAlive('encodeForward');
    checkDevice(`${this.kind}.device`, this.device);
    const { batch, length } = this.checkShape(shape);
    const s = state === undefined ? undefined : this.checkState('state', state, batch);
    this.checkBuffers(buffers, batch * length);
    if (batch * length === 0) return;
    this.encodeWith(encoder, this.cachedPlan(batch, length, buffers.residual !== undefined), buffers, length, s);
  }

  /** GPU-resident step: x [batch, dModel] -> output [batch, dModel], advancing the state. */
  encodeStep(encoder: GPUCommandEncoder, state: St, buffers: SequenceBuffers): void {
    this.checkAlive('encodeStep');
    checkDevice(`${this.kind}.device`, this.device);
    const s = this.checkState('state', state, state?.batch);
    this.checkBuffers(buffers, s.batch);
    this.encodeWith(encoder, this.cachedPlan(s.batch, 1, buffers.residual !== undefined), buffers, 1, s);
  }

  /** Releases the per-shape resources cached by step and the encode* methods (not while commands using them are pending). */
  releasePlans(): void {
    for (const plan of this.plans.values()) plan.destroy();
    this.plans.clear();
  }

  /** Releases every buffer the module owns (weights, cached plans). States are destroyed by their own destroy(). */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.releasePlans();
    this.destroyWeights();
  }

  protected checkAlive(method: string): void {
    if (this.destroyed) throw new Error(`${this.kind}.${method}: this ${this.kind === 'AarenLayer' ? 'layer' : 'model'} was destroyed`);
  }

  protected checkState(name: string, state: St, batch: number): St {
    if (typeof state !== 'object' || state === null || state.owner !== this) {
      throw new TypeError(`${name} must be an ${this.kind === 'AarenLayer' ? 'AarenState made by this layer' : 'AarenModelState made by this model'}'s createState`);
    }
    if (state.destroyed) throw new Error(`${name} was destroyed`);
    if (state.batch !== batch) throw new RangeError(`${name} is for batch ${state.batch}, the input has batch ${batch}`);
    return state;
  }

  private checkShape(shape: { batch: number; length: number }): { batch: number; length: number } {
    if (typeof shape !== 'object' || shape === null) throw new TypeError('shape must be an object { batch, length }');
    return { batch: checkInteger('shape.batch', shape.batch, 0, this.maxBatch), length: checkInteger('shape.length', shape.length, 0) };
  }

  private checkBuffers(buffers: SequenceBuffers, rows: number): void {
    if (typeof buffers !== 'object' || buffers === null) throw new TypeError('buffers must be an object { x, output }');
    const bytes = rows * this.width * 4;
    checkStorageBuffer('buffers.x', buffers.x, bytes);
    checkStorageBuffer('buffers.output', buffers.output, bytes);
    if (buffers.residual !== undefined) {
      checkStorageBuffer('buffers.residual', buffers.residual, bytes);
      if (buffers.residual === buffers.output) throw new RangeError('buffers.residual must not be buffers.output');
    }
    if (buffers.x === buffers.output) throw new RangeError('buffers.x must not be buffers.output');
  }

  private cachedPlan(batch: number, length: number, residual: boolean): PreparedPlan<S> {
    const key = `${batch}/${length}/${residual}`;
    let plan = this.plans.get(key);
    if (!plan) {
      plan = PreparedPlan.createSync(this.device, this.planFor(batch, length, residual), this.kind);
      this.plans.set(key, plan);
    }
    return plan;
  }

  /** Records the plan (one compute pass) and the state updates. */
  private encodeWith(encoder: GPUCommandEncoder, plan: PreparedPlan<S>, buffers: SequenceBuffers, length: number, state?: St): void {
    const pass = encoder.beginComputePass({ label: this.kind });
    plan.encode(pass, this.slotsFor(buffers, state));
    pass.end();
    if (state) {
      for (const s of this.statesOf(state)) {
        s.encodeUpdate(encoder);
        s.tokens += length;
      }
    }
  }

  private run(plan: PreparedPlan<S>, x: Float32Array, length: number, state?: St): Promise<Float32Array> {
    const device = this.device;
    return runGpuCall(device, this.kind, `${this.kind}.device`, async (track) => {
      const input = track(uploadFloat32(device, x, `${this.kind} input`));
      const output = track(createStorageBuffer(device, x.byteLength, `${this.kind} output`));
      const encoder = device.createCommandEncoder({ label: this.kind });
      this.encodeWith(encoder, plan, { x: input, output }, length, state);
      const [y] = await submitAndRead(device, encoder, [{ buffer: output, floats: x.length }]);
      return y!;
    });
  }
}
