// Argument checks shared by every public entry point. Each runs before any GPU work and names the argument,
// what was expected and what was given.

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as unknown as ArrayLike<number>).length})`;
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return `${typeof value} ${String(value)}`;
}

/** An integer in [min, max]. */
export function checkInteger(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new TypeError(`${name} must be an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new RangeError(`${name} must be in [${min}, ${max}], got ${value}`);
  }
  return value;
}

/** A Float32Array of exactly `length` elements. */
export function checkFloat32Array(name: string, value: unknown, length: number, expected: string): Float32Array {
  if (!(value instanceof Float32Array)) throw new TypeError(`${name} must be a Float32Array, got ${describe(value)}`);
  if (value.length !== length) {
    throw new RangeError(`${name} must have ${length} elements (${expected}), got ${value.length}`);
  }
  return value;
}

/** Rejects NaN and +-Infinity (or only NaN and +Infinity where -Infinity means a masked token). */
export function checkFinite(name: string, values: Float32Array, allowNegativeInfinity = false): void {
  // On the bits: an exponent of all ones is NaN or an infinity (an integer test, ~20% faster than x - x !== 0 over
  // the millions of values of a typed call).
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const masked = allowNegativeInfinity ? 0xff800000 : 0; // -Infinity's bits (0 is finite: never matched below)
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    if ((b & 0x7f800000) === 0x7f800000 && b !== masked) {
      throw new RangeError(`${name}[${i}] is ${values[i]}; ${allowNegativeInfinity ? 'only finite values and -Infinity (masked) are allowed' : 'values must be finite'}`);
    }
  }
}

/** A GPUBuffer with STORAGE usage and at least `bytes` bytes. */
export function checkStorageBuffer(name: string, value: unknown, bytes: number): GPUBuffer {
  const buffer = value as GPUBuffer;
  if (typeof value !== 'object' || value === null || typeof buffer.usage !== 'number' || typeof buffer.size !== 'number') {
    throw new TypeError(`${name} must be a GPUBuffer, got ${describe(value)}`);
  }
  if ((buffer.usage & GPUBufferUsage.STORAGE) === 0) throw new TypeError(`${name} must have GPUBufferUsage.STORAGE`);
  if (buffer.size < bytes) throw new RangeError(`${name} must hold at least ${bytes} bytes, got ${buffer.size}`);
  return buffer;
}

/** A non-null object (an options bag, a shape, a state). */
export function checkObject<T extends object>(name: string, value: unknown, expected: string): T {
  if (typeof value !== 'object' || value === null) throw new TypeError(`${name} must be an object ${expected}, got ${describe(value)}`);
  return value as T;
}

/**
 * The largest single buffer a call may make or bind: min(maxStorageBufferBindingSize, maxBufferSize), with the
 * name of the limit that binds, for error messages.
 */
export function bufferLimit(limits: GPUSupportedLimits): { bytes: number; name: string } {
  return limits.maxBufferSize < limits.maxStorageBufferBindingSize
    ? { bytes: limits.maxBufferSize, name: 'maxBufferSize' }
    : { bytes: limits.maxStorageBufferBindingSize, name: 'maxStorageBufferBindingSize' };
}

/** Refuses (RangeError, naming the buffer, the shape and the limit) when a buffer the call needs is too large. */
export function checkBufferSizes(what: string, sizes: Record<string, number>, limit: { bytes: number; name: string }): void {
  for (const [name, bytes] of Object.entries(sizes)) {
    if (bytes > limit.bytes) {
      throw new RangeError(`${what} needs a ${name} buffer of ${bytes} bytes, past the device's ${limit.name} (${limit.bytes} bytes); use a smaller batch or length, or a device with larger limits`);
    }
  }
}

/** One of `choices`; the message lists them ("'a', 'b' or 'c'"). */
export function checkOneOf<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (!choices.includes(value as T)) {
    const listed = choices.map((c) => `'${c}'`);
    throw new RangeError(`${name} must be ${listed.slice(0, -1).join(', ')} or ${listed[listed.length - 1]}, got ${String(value)}`);
  }
  return value as T;
}
