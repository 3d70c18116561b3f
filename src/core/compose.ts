// Shader composition and reflection: kernels are built by joining WGSL sources on the host (never by copying a
// function between files), and their bind-group layouts come from reflecting the composed source, so host code
// that names a binding or a uniform field the WGSL does not have fails loudly instead of computing garbage.
import { WgslReflect, ResourceType } from 'wgsl_reflect/wgsl_reflect.module.js';

/** `const NAME: u32 = VALUEu;` lines that specialise the sources that follow. */
export function composeShader(constants: Record<string, number>, sources: readonly string[]): string {
  const header = Object.entries(constants).map(([name, value]) => {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`shader constant ${name} must be a u32, got ${value}`);
    return `const ${name}: u32 = ${value}u;`;
  });
  return [...header, ...sources].join('\n');
}

/** Instantiates a template whose placeholder identifier is STATES (shaders/state_load.wgsl, state_store.wgsl). */
export function forBuffer(template: string, bufferName: string): string {
  return template.replaceAll('STATES', bufferName);
}

export type BindingKind = 'uniform' | 'storage' | 'read-only-storage';

export interface BindingInfo {
  name: string;
  binding: number;
  kind: BindingKind;
  /** Smallest buffer that can be bound: the struct size, or one element of a runtime-sized array. */
  minBytes: number;
}

export interface UniformField {
  name: string;
  offset: number;
  type: string;
}

export interface UniformLayout {
  name: string;
  bytes: number;
  fields: UniformField[];
}

export interface ShaderReflection {
  bindings: BindingInfo[];
  uniforms: UniformLayout[];
}

export function reflectShader(code: string): ShaderReflection {
  const reflect = new WgslReflect(code);
  const groups = reflect.getBindGroups();
  if (groups.length > 1) throw new Error('aaren-webgpu kernels use bind group 0 only');
  const bindings: BindingInfo[] = [];
  for (const variable of groups[0] ?? []) {
    if (!variable) continue;
    let kind: BindingKind;
    if (variable.resourceType === ResourceType.Uniform) kind = 'uniform';
    else if (variable.resourceType === ResourceType.Storage) kind = variable.access === 'read' ? 'read-only-storage' : 'storage';
    else throw new Error(`binding ${variable.name}: only buffers are supported`);
    const minBytes = variable.isArray && variable.count === 0 ? variable.stride : variable.size;
    bindings.push({ name: variable.name, binding: variable.binding, kind, minBytes });
  }
  const uniforms = reflect.uniforms.map((variable) => ({
    name: variable.name,
    bytes: variable.size,
    fields: (variable.members ?? []).map((m) => ({ name: m.name, offset: m.offset, type: m.type.name })),
  }));
  return { bindings, uniforms };
}

/** Packs named values into a uniform's bytes; every field must be given, and no unknown one. */
export function packUniform(layout: UniformLayout, values: Record<string, number>): ArrayBuffer {
  const bytes = new ArrayBuffer(Math.ceil(layout.bytes / 16) * 16);
  const view = new DataView(bytes);
  const known = new Set(layout.fields.map((f) => f.name));
  for (const name of Object.keys(values)) {
    if (!known.has(name)) throw new Error(`uniform ${layout.name} has no field ${name}`);
  }
  for (const field of layout.fields) {
    const value = values[field.name];
    if (value === undefined) throw new Error(`uniform ${layout.name}.${field.name} was not given`);
    if (field.type === 'u32') view.setUint32(field.offset, value, true);
    else if (field.type === 'i32') view.setInt32(field.offset, value, true);
    else if (field.type === 'f32') view.setFloat32(field.offset, value, true);
    else throw new Error(`uniform ${layout.name}.${field.name}: unsupported type ${field.type}`);
  }
  return bytes;
}
