// Shader composition and reflection. A kernel is WGSL parts joined on the host (never a function copied between
// files), specialised by `const NAME: u32` lines. Parts declare their buffers without binding numbers; the
// composer numbers them in order of declaration, so no two files can claim one slot. The bind-group layout comes
// from reflecting the composed source (wgsl_reflect), so host code that names a binding or a uniform field the
// WGSL does not have fails loudly instead of computing garbage.
import { WgslReflect, ResourceType } from 'wgsl_reflect/wgsl_reflect.module.js';

/** One WGSL source: a file of shaders/ (name = its path without .wgsl), or an instance of a template. */
export interface WgslPart {
  readonly name: string;
  readonly code: string;
}

/** Module-scope buffer declarations: `var<storage, ...> name` and `var<uniform> name`, at the start of a line. */
const BUFFER_DECLARATION = /^var<(storage|uniform)\b/gm;

/**
 * `const NAME: u32 = VALUEu;` lines, then the parts, with `@group(0) @binding(n)` put before each buffer
 * declaration in order (n = 0, 1, ...). A part that writes its own binding attribute is refused.
 */
export function composeShader(constants: Readonly<Record<string, number>>, parts: readonly WgslPart[]): string {
  const header = Object.entries(constants).map(([name, value]) => {
    if (!Number.isInteger(value) || value < 0) throw new RangeError(`shader constant ${name} must be a u32, got ${value}`);
    return `const ${name}: u32 = ${value}u;`;
  });
  let binding = 0;
  const sources = parts.map((part) => {
    if (/@binding\s*\(/.test(part.code)) throw new Error(`WGSL part ${part.name} numbers its own bindings; declare them bare (the composer numbers them)`);
    return `// --- ${part.name}\n${part.code.replace(BUFFER_DECLARATION, (declaration) => `@group(0) @binding(${binding++}) ${declaration}`)}`;
  });
  return [...header, ...sources].join('\n');
}

/**
 * Instantiates a template part: each whole-word `placeholder`, or `placeholder_` at the start of an identifier,
 * becomes `value`. `defines` lists the functions the instance must define, by their full names, so that a
 * reader who meets `carry_in_load(...)` in a kernel finds its origin with grep (here, at the call site).
 */
export function instantiate(template: WgslPart, placeholder: string, value: string, defines: readonly string[]): WgslPart {
  const token = new RegExp(`(?<![A-Za-z0-9_])${placeholder}(?![A-Za-z0-9])`, 'g');
  const code = template.code.replace(token, value);
  for (const name of defines) {
    if (!new RegExp(`\\bfn ${name}\\(`).test(code)) throw new Error(`template ${template.name} instantiated for ${value} does not define ${name}`);
  }
  return { name: `${template.name}<${value}>`, code };
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
export function packUniform(layout: UniformLayout, values: Readonly<Record<string, number>>): ArrayBuffer {
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
