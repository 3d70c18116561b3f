// The one description of a GPU dispatch, in the manner of onnxruntime-web's ProgramInfo: which WGSL parts, the
// constants that specialise them, the uniform values, the buffers it binds by WGSL name, and the workgroup count.
// The pipeline cache key is derived from the parts and constants alone (kernelKey), never written by hand, so two
// dispatches share a pipeline exactly when they would compile the same source.
//
// An op plans with a pure function (shape, options, device limits -> Plan: a list of dispatches and the scratch
// buffers they need) that a test can read without a device; `PreparedPlan` compiles a plan's kernels, allocates
// its scratch and uniforms, and records it into a compute pass with the caller's buffers.
import { composeShader, type WgslPart } from './compose.js';
import { createBindGroup, createUniformBuffer, getProgram, getProgramSync, type Program } from './program.js';
import { createStorageBuffer } from './buffers.js';

export interface Kernel {
  /** The WGSL parts, in order (src/core/shader-sources.ts, or instances of templates). */
  readonly parts: readonly WgslPart[];
  /** `const NAME: u32 = VALUEu;` lines put before the parts. */
  readonly constants: Readonly<Record<string, number>>;
}

/** The pipeline cache key: the part names and the constants, sorted by name. */
export function kernelKey(kernel: Kernel): string {
  const constants = Object.entries(kernel.constants).sort(([a], [b]) => (a < b ? -1 : 1)).map(([n, v]) => `${n}=${v}`);
  return `${kernel.parts.map((p) => p.name).join('+')}|${constants.join(',')}`;
}

export function kernelSource(kernel: Kernel): string {
  return composeShader(kernel.constants, kernel.parts);
}

/** The compiled pipeline of a kernel, cached per device under kernelKey. */
export function kernelProgram(device: GPUDevice, kernel: Kernel): Promise<Program> {
  return getProgram(device, kernelKey(kernel), () => kernelSource(kernel));
}

/** The kernel's program now (cached, or compiled synchronously): for encode paths that cannot await. */
export function kernelProgramSync(device: GPUDevice, kernel: Kernel): Program {
  return getProgramSync(device, kernelKey(kernel), () => kernelSource(kernel));
}

/** A buffer the plan allocates for itself (scratch) and lists in Plan.scratch. */
export interface ScratchRef {
  readonly scratch: string;
}

/** A uniform value that is 1 when the named optional slot is given at encode time, else 0. */
export interface IfBound<S extends string> {
  readonly ifBound: S;
}

export interface Dispatch<S extends string = string> {
  readonly kernel: Kernel;
  /** The kernel's uniform, field by field (every field, no other: packUniform checks). */
  readonly params: Readonly<Record<string, number | IfBound<S>>>;
  /** Buffers by WGSL binding name: a slot the caller gives at encode time, a scratch buffer of the plan, or null
   * where this dispatch does not use the binding (a flag in its uniform says so; a 16-byte stand-in is bound). */
  readonly buffers: Readonly<Record<string, S | ScratchRef | null>>;
  readonly workgroups: readonly [number, number, number];
}

export interface Plan<S extends string = string> {
  readonly dispatches: readonly Dispatch<S>[];
  /** Scratch buffers by name, in bytes. */
  readonly scratch: Readonly<Record<string, number>>;
  /** Slots that may be left out at encode time (a stand-in buffer is bound; IfBound params say 0). */
  readonly optional: readonly S[];
}

/**
 * The dispatch with its slots renamed (`map[slot]`: another slot, a scratch buffer, or null), to compose an op's
 * dispatches into a module's plan: e.g. a matmul's `a` becomes the layer's head outputs. Its own scratch buffers
 * get `scratchPrefix` before their names (so two composed plans keep theirs apart).
 */
export function rebind<S extends string, T extends string>(d: Dispatch<S>, map: Readonly<Partial<Record<S, T | ScratchRef | null>>>, scratchPrefix = ''): Dispatch<T> {
  // Only the slots this dispatch binds need a mapping (an op's optional slots, such as a matmul's preActivation,
  // are left out by modules that never bind them); a bound slot without one is a planning bug, reported loudly.
  const target = (slot: S): T | ScratchRef | null => {
    const to = map[slot];
    if (to === undefined) throw new Error(`rebind: slot '${slot}' of a dispatch of ${d.kernel.parts.map((p) => p.name).join('+')} has no mapping`);
    return to;
  };
  const buffers: Record<string, T | ScratchRef | null> = {};
  for (const [name, ref] of Object.entries(d.buffers) as [string, S | ScratchRef | null][]) {
    buffers[name] = ref === null ? null : typeof ref === 'object' ? { scratch: scratchPrefix + ref.scratch } : target(ref);
  }
  const params: Record<string, number | IfBound<T>> = {};
  for (const [name, value] of Object.entries(d.params) as [string, number | IfBound<S>][]) {
    if (typeof value === 'number') params[name] = value;
    else {
      const to = target(value.ifBound);
      params[name] = typeof to === 'string' ? { ifBound: to as T } : to === null ? 0 : 1;
    }
  }
  return { ...d, buffers, params };
}

interface Prepared<S extends string> {
  dispatch: Dispatch<S>;
  program: Program;
  /** Uniform buffers by which optional slots were bound ('1,0,...'), made when first needed. */
  uniforms: Map<string, GPUBuffer>;
  /** The last bind group made and the buffers it binds, in binding order: a step that binds the same buffers
   * again (every training step) reuses it instead of making one per dispatch per step. */
  lastGroup?: { buffers: GPUBuffer[]; group: GPUBindGroup };
}

/** A plan with its pipelines compiled and its scratch allocated, recorded into passes as often as wanted. */
export class PreparedPlan<S extends string = string> {
  private destroyed = false;

  private constructor(
    readonly device: GPUDevice,
    readonly plan: Plan<S>,
    private readonly prepared: Prepared<S>[],
    private readonly scratch: Map<string, GPUBuffer>,
  ) {}

  /** Stand-ins for bindings a dispatch does not use, made when first needed: one shared by every read-only binding,
   * and one per written binding name (a buffer may not be bound written twice in a dispatch, nor read and written). */
  private readonly standIns = new Map<string, GPUBuffer>();

  private standIn(kind: string, name: string): GPUBuffer {
    const key = kind === 'storage' ? `write ${name}` : 'read';
    let buffer = this.standIns.get(key);
    if (!buffer) {
      buffer = this.device.createBuffer({ label: `aaren unused ${key} binding`, size: 16, usage: GPUBufferUsage.STORAGE });
      this.standIns.set(key, buffer);
    }
    return buffer;
  }

  /** Compiles (or takes from the cache) every kernel and allocates the scratch; nothing leaks if a compile fails. */
  static async create<S extends string>(device: GPUDevice, plan: Plan<S>, label = 'aaren'): Promise<PreparedPlan<S>> {
    const programs = await Promise.all(plan.dispatches.map((d) => kernelProgram(device, d.kernel)));
    const scratch = new Map<string, GPUBuffer>();
    for (const [name, bytes] of Object.entries(plan.scratch)) scratch.set(name, createStorageBuffer(device, bytes, `${label} ${name}`));
    const prepared = plan.dispatches.map((dispatch, i) => ({ dispatch, program: programs[i]!, uniforms: new Map<string, GPUBuffer>() }));
    return new PreparedPlan(device, plan, prepared, scratch);
  }

  /** As create, without waiting: kernels come from the cache of compiled programs, or compile synchronously. */
  static createSync<S extends string>(device: GPUDevice, plan: Plan<S>, label = 'aaren'): PreparedPlan<S> {
    const made: GPUBuffer[] = [];
    try {
      const prepared = plan.dispatches.map((dispatch) => ({ dispatch, program: kernelProgramSync(device, dispatch.kernel), uniforms: new Map<string, GPUBuffer>() }));
      const scratch = new Map<string, GPUBuffer>();
      for (const [name, bytes] of Object.entries(plan.scratch)) {
        const buffer = createStorageBuffer(device, bytes, `${label} ${name}`);
        made.push(buffer);
        scratch.set(name, buffer);
      }
      return new PreparedPlan(device, plan, prepared, scratch);
    } catch (error) {
      for (const buffer of made) buffer.destroy();
      throw error;
    }
  }

  /** Records every dispatch into `pass` with the caller's buffers by slot. A missing required slot throws. */
  encode(pass: GPUComputePassEncoder, slots: Partial<Record<S, GPUBuffer>>): void {
    if (this.destroyed) throw new Error('PreparedPlan.encode: the plan was destroyed');
    const boundKey = this.plan.optional.map((s) => (slots[s] ? 1 : 0)).join(',');
    for (const p of this.prepared) {
      const bound: Record<string, GPUBuffer> = {};
      for (const binding of p.program.bindings) {
        if (binding.kind === 'uniform') {
          bound[binding.name] = this.uniformFor(p, boundKey, slots);
          continue;
        }
        const ref = p.dispatch.buffers[binding.name];
        if (ref === undefined) throw new Error(`kernel ${p.program.key}: binding ${binding.name} has no buffer in the plan`);
        if (ref === null) bound[binding.name] = this.standIn(binding.kind, binding.name);
        else if (typeof ref === 'object') bound[binding.name] = this.scratch.get(ref.scratch) ?? missing(`scratch ${ref.scratch}`);
        else if (slots[ref]) bound[binding.name] = slots[ref]!;
        else if (this.plan.optional.includes(ref)) bound[binding.name] = this.standIn(binding.kind, binding.name);
        else throw new Error(`kernel ${p.program.key}: buffer ${ref} (binding ${binding.name}) was not given`);
      }
      for (const name of Object.keys(p.dispatch.buffers)) {
        if (!(name in bound)) throw new Error(`kernel ${p.program.key} has no binding ${name}`);
      }
      const buffers = p.program.bindings.map((b) => bound[b.name]!);
      if (!p.lastGroup || p.lastGroup.buffers.some((b, i) => b !== buffers[i])) {
        p.lastGroup = { buffers, group: createBindGroup(this.device, p.program, bound) };
      }
      pass.setPipeline(p.program.pipeline);
      pass.setBindGroup(0, p.lastGroup.group);
      pass.dispatchWorkgroups(...p.dispatch.workgroups);
    }
  }

  private uniformFor(p: Prepared<S>, boundKey: string, slots: Partial<Record<S, GPUBuffer>>): GPUBuffer {
    let buffer = p.uniforms.get(boundKey);
    if (!buffer) {
      const values: Record<string, number> = {};
      for (const [name, value] of Object.entries(p.dispatch.params)) values[name] = typeof value === 'number' ? value : slots[value.ifBound] ? 1 : 0;
      buffer = createUniformBuffer(this.device, p.program, values);
      p.uniforms.set(boundKey, buffer);
    }
    return buffer;
  }

  /** Releases the scratch, uniforms and stand-ins; pipelines stay cached for the device. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const buffer of this.scratch.values()) buffer.destroy();
    for (const p of this.prepared) for (const buffer of p.uniforms.values()) buffer.destroy();
    for (const buffer of this.standIns.values()) buffer.destroy();
  }
}

function missing(what: string): never {
  throw new Error(`PreparedPlan: ${what} was not allocated`);
}
