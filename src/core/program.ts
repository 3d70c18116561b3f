// Compiled programs: a pipeline whose bind-group layout comes from reflecting its composed source, cached per
// device under the key that src/core/kernel.ts derives from the kernel's parts and constants, so a shape class
// compiles once. Buffers and uniform fields are bound by their WGSL names, and a mismatch throws.
import { reflectShader, type BindingInfo, type UniformLayout, packUniform } from './compose.js';

export interface Program {
  key: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  bindings: BindingInfo[];
  uniforms: UniformLayout[];
}

const programCache = new WeakMap<GPUDevice, Map<string, Promise<Program>>>();
/** The programs whose compile finished, for the synchronous encode paths. */
const readyPrograms = new WeakMap<GPUDevice, Map<string, Program>>();

/** The cached program for `key`, compiling `source()` the first time. A compile error rejects, naming the key.
 * Use kernelProgram (src/core/kernel.ts), which derives the key. */
export function getProgram(device: GPUDevice, key: string, source: () => string): Promise<Program> {
  let programs = programCache.get(device);
  if (!programs) {
    programs = new Map();
    programCache.set(device, programs);
  }
  let program = programs.get(key);
  if (!program) {
    program = compileProgram(device, key, source());
    programs.set(key, program);
    program.then((ready) => ready_(device).set(key, ready), () => programs.delete(key)); // a failed compile is not cached
  }
  return program;
}

const ready_ = (device: GPUDevice) => {
  let ready = readyPrograms.get(device);
  if (!ready) readyPrograms.set(device, (ready = new Map()));
  return ready;
};

/**
 * The program for `key` now: a compiled one from the cache, else compiled synchronously (createComputePipeline;
 * a compile error then surfaces through WebGPU's error scopes). For encode paths that cannot await, after
 * create() has compiled the kernels they normally use.
 */
export function getProgramSync(device: GPUDevice, key: string, source: () => string): Program {
  const ready = ready_(device).get(key);
  if (ready) return ready;
  const code = source();
  const { layout, bindings, uniforms } = layoutOf(device, key, code);
  const module = device.createShaderModule({ label: key, code });
  const pipeline = device.createComputePipeline({
    label: key, layout: device.createPipelineLayout({ label: key, bindGroupLayouts: [layout] }), compute: { module, entryPoint: 'main' },
  });
  const program = { key, pipeline, layout, bindings, uniforms };
  ready_(device).set(key, program);
  return program;
}

function layoutOf(device: GPUDevice, key: string, code: string) {
  const { bindings, uniforms } = reflectShader(code);
  const layout = device.createBindGroupLayout({
    label: key,
    entries: bindings.map((b) => ({ binding: b.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: b.kind } })),
  });
  return { layout, bindings, uniforms };
}

async function compileProgram(device: GPUDevice, key: string, code: string): Promise<Program> {
  const { layout, bindings, uniforms } = layoutOf(device, key, code);
  const module = device.createShaderModule({ label: key, code });
  let pipeline: GPUComputePipeline;
  try {
    pipeline = await device.createComputePipelineAsync({
      label: key,
      layout: device.createPipelineLayout({ label: key, bindGroupLayouts: [layout] }),
      compute: { module, entryPoint: 'main' },
    });
  } catch (error) {
    const info = await module.getCompilationInfo();
    const messages = info.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`).join('\n');
    throw new Error(`aaren-webgpu: pipeline ${key} failed: ${(error as Error).message}\n${messages}`);
  }
  return { key, pipeline, layout, bindings, uniforms };
}

/** Binds buffers by their WGSL names; a missing, unknown, too small or wrongly flagged buffer throws. */
export function createBindGroup(device: GPUDevice, program: Program, buffers: Record<string, GPUBuffer>): GPUBindGroup {
  for (const name of Object.keys(buffers)) {
    if (!program.bindings.some((b) => b.name === name)) throw new Error(`program ${program.key} has no binding ${name}`);
  }
  const entries = program.bindings.map((binding) => {
    const buffer = buffers[binding.name];
    if (!buffer) throw new Error(`program ${program.key}: binding ${binding.name} was not given`);
    const usage = binding.kind === 'uniform' ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE;
    if ((buffer.usage & usage) === 0) {
      throw new TypeError(`${binding.name}: buffer needs ${binding.kind === 'uniform' ? 'UNIFORM' : 'STORAGE'} usage`);
    }
    if (buffer.size < binding.minBytes) {
      throw new RangeError(`${binding.name}: buffer of ${buffer.size} bytes is smaller than ${binding.minBytes}`);
    }
    return { binding: binding.binding, resource: { buffer } };
  });
  return device.createBindGroup({ label: program.key, layout: program.layout, entries });
}

/** A uniform buffer holding `values` for the program's only uniform. */
export function createUniformBuffer(device: GPUDevice, program: Program, values: Record<string, number>): GPUBuffer {
  const [layout] = program.uniforms;
  if (!layout || program.uniforms.length !== 1) throw new Error(`program ${program.key} must have exactly one uniform`);
  const data = packUniform(layout, values);
  const buffer = device.createBuffer({ label: `${program.key} ${layout.name}`, size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
  device.queue.writeBuffer(buffer, 0, data);
  return buffer;
}
