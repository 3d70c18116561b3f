// A small reader (and writer) for the safetensors format (huggingface/safetensors), the file PyTorch users export
// with `safetensors.torch.save_file`: an 8-byte little-endian header length N, N bytes of JSON
// { name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: { string: string } }, then the data
// (offsets relative to the end of the header, row-major, little-endian). Works on bytes only: no file system,
// so it runs in browsers and in Node alike.

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16';

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  /** The values converted to float32. */
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2 };
const MAX_HEADER = 100_000_000; // the reference implementation's limit

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Parses a safetensors file. Throws a TypeError / RangeError naming what is malformed. */
export function readSafetensors(bytes: ArrayBuffer | Uint8Array): SafetensorsFile {
  const u8 = bytes instanceof Uint8Array ? bytes : bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : null;
  if (!u8) throw new TypeError('bytes must be an ArrayBuffer or Uint8Array');
  if (u8.byteLength < 8) throw new RangeError(`bytes: a safetensors file has at least 8 bytes, got ${u8.byteLength}`);
  const view = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER || 8 + headerLength > u8.byteLength) {
    throw new RangeError(`bytes: header length ${headerLength} does not fit the ${u8.byteLength}-byte file`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(u8.subarray(8, 8 + headerLength))) as Record<string, unknown>;
  } catch (error) {
    throw new TypeError(`bytes: the safetensors header is not JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw new TypeError('bytes: the safetensors header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = u8.byteLength - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) throw new TypeError('__metadata__ must be an object of strings');
      for (const [k, v] of Object.entries(entry)) {
        if (typeof v !== 'string') throw new TypeError(`__metadata__.${k} must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) throw new TypeError(`tensor ${name}: entry must be an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in BYTES)) {
      throw new TypeError(`tensor ${name}: dtype ${String(e.dtype)} is not supported (F64, F32, F16, BF16)`);
    }
    const dtype = e.dtype as SafetensorsDtype;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new TypeError(`tensor ${name}: shape must be an array of non-negative integers`);
    const shape = e.shape as number[];
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      throw new TypeError(`tensor ${name}: data_offsets must be [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    const count = shape.reduce((a, b) => a * b, 1);
    if (end < begin || end > dataLength) throw new RangeError(`tensor ${name}: data_offsets [${begin}, ${end}] outside the ${dataLength} data bytes`);
    if (end - begin !== count * BYTES[dtype]) {
      throw new RangeError(`tensor ${name}: ${end - begin} bytes for shape [${shape.join(', ')}] of ${dtype} (expected ${count * BYTES[dtype]})`);
    }
    const data = new Float32Array(count);
    const bits = new Uint32Array(data.buffer); // BF16 is the top half of an f32
    const at = dataStart + begin;
    for (let i = 0; i < count; i++) {
      const o = at + i * BYTES[dtype];
      if (dtype === 'F32') data[i] = view.getFloat32(o, true);
      else if (dtype === 'F64') data[i] = view.getFloat64(o, true);
      else if (dtype === 'F16') data[i] = halfToFloat(view.getUint16(o, true));
      else bits[i] = view.getUint16(o, true) << 16;
    }
    tensors.set(name, { dtype, shape: [...shape], data });
  }
  return { tensors, metadata };
}

/** Writes float32 tensors (in the given order) and string metadata as a safetensors file. */
export function writeSafetensors(tensors: Record<string, { shape: number[]; data: Float32Array }>, metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!(t.data instanceof Float32Array) || t.data.length !== count) {
      throw new RangeError(`tensors.${name}: data must be a Float32Array of ${count} elements (shape [${t.shape.join(', ')}])`);
    }
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8; // the format pads the header with spaces to 8-byte alignment
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.fill(0x20, 8, 8 + padded);
  out.set(json, 8);
  let at = 8 + padded;
  for (const t of Object.values(tensors)) {
    for (let i = 0; i < t.data.length; i++, at += 4) view.setFloat32(at, t.data[i]!, true);
  }
  return out;
}
