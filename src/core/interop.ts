// Sharing a GPUDevice, and its buffers, with other WebGPU libraries (onnxruntime-web, TF.js; docs/interop.md).
//
// What can go wrong, and where it is caught:
//  - A buffer too small, or without the usage a kernel needs: every encode checks `buffer.size` and `buffer.usage`
//    on the host before any GPU work (checkStorageBuffer, src/core/validate.ts): a RangeError or TypeError naming
//    the argument.
//  - A buffer of another GPUDevice: WebGPU gives a GPUBuffer no way to tell its device, and validates device
//    ownership only on the device timeline: binding it records a validation error and the command buffer is
//    refused at submit, so outputs keep their old contents (wrong numbers, unless someone watches for errors).
//    A synchronous encode cannot wait for that, so the check is a separate async step, checkBuffersOnDevice: it
//    asks WebGPU itself (one tiny binding or copy per buffer inside a validation error scope, nothing submitted)
//    and throws an Error naming the buffer. A buffer that passed is remembered (a buffer never changes device), so
//    checking each run's buffers again is free once a pool of buffers has been seen.
//  - A library on another device altogether (onnxruntime-web's default entry ignores a caller's device; TF.js makes
//    its own unless given a backend): checkSameDevice compares the device objects before any work.
import { checkLiveDevice } from './device.js';

export { INTEROP_FEATURES, type AarenDeviceOptions } from './device.js';

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'object') return value.constructor?.name ?? 'object';
  return `${typeof value} ${String(value)}`;
}

function deviceName(device: GPUDevice): string {
  return device.label ? `GPUDevice "${device.label}"` : 'an unlabeled GPUDevice';
}

/**
 * Throws unless `other` is the very GPUDevice `device` (an identity check, nothing on the GPU). `name` says whose
 * device `other` is, e.g. 'ort.env.webgpu.device' or 'the TF.js webgpu backend device'.
 */
export function checkSameDevice(name: string, device: GPUDevice, other: unknown): void {
  const d = other as GPUDevice;
  if (typeof other !== 'object' || other === null || typeof d.createBuffer !== 'function' || typeof d.lost?.then !== 'function') {
    throw new TypeError(`${name} must be a GPUDevice, got ${describe(other)}`);
  }
  if (other !== device) {
    throw new Error(`${name} is not the device given to aaren-webgpu (it is ${deviceName(d)}, ours is ${deviceName(device)}): ` +
      'a buffer of one GPUDevice cannot be used on another; give the library this device (docs/interop.md)');
  }
}

/** Usage flags by name, for messages. Read at call time: GPUBufferUsage may not exist when this module loads. */
function usageNames(usage: number): string {
  const names = ['MAP_READ', 'MAP_WRITE', 'COPY_SRC', 'COPY_DST', 'INDEX', 'VERTEX', 'UNIFORM', 'STORAGE', 'INDIRECT', 'QUERY_RESOLVE'] as const;
  const set = names.filter((n) => (usage & GPUBufferUsage[n]) !== 0);
  return set.length ? set.join(' | ') : 'none';
}

/** Buffers checked to belong to a device: a buffer never changes device, so a pass is final. */
const known = new WeakMap<GPUDevice, WeakSet<GPUBuffer>>();
const probes = new WeakMap<GPUDevice, { layout: GPUBindGroupLayout; target: GPUBuffer }>();

function probeOf(device: GPUDevice): { layout: GPUBindGroupLayout; target: GPUBuffer } {
  let probe = probes.get(device);
  if (!probe) {
    probe = {
      layout: device.createBindGroupLayout({
        label: 'aaren device check', entries: [{ binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: 'read-only-storage' } }],
      }),
      target: device.createBuffer({ label: 'aaren device check', size: 16, usage: GPUBufferUsage.COPY_DST }),
    };
    probes.set(device, probe);
  }
  return probe;
}

/** How a buffer's device is checked: a binding needs STORAGE (and 4 bytes), a copy COPY_SRC, a clear COPY_DST. */
function probeKind(buffer: GPUBuffer): 'bind' | 'copy' | 'clear' | undefined {
  if (buffer.usage & GPUBufferUsage.STORAGE && buffer.size >= 4) return 'bind';
  if (buffer.usage & GPUBufferUsage.COPY_SRC) return 'copy';
  if (buffer.usage & GPUBufferUsage.COPY_DST) return 'clear';
  return undefined;
}

/**
 * Checks, before any work, that each named buffer can be used on `device`: a GPUBuffer (TypeError), with every
 * flag of `usage` (TypeError; default STORAGE, what the kernels bind; TF.js's zeroCopy tensors need
 * STORAGE | COPY_SRC as well), belonging to `device` (Error). Names are the caller's ('buffers.scores').
 * Nothing is submitted: the device check binds (STORAGE) or copies / clears zero bytes (COPY_SRC / COPY_DST) of
 * each buffer inside a validation error scope. A destroyed buffer passes (WebGPU reports that at submit).
 * Undefined entries (optional buffers not given) are skipped.
 */
export async function checkBuffersOnDevice(device: GPUDevice, buffers: Record<string, GPUBuffer | undefined>,
  usage: number = GPUBufferUsage.STORAGE): Promise<void> {
  await checkLiveDevice('device', device);
  if (typeof buffers !== 'object' || buffers === null) throw new TypeError(`buffers must be an object { name: GPUBuffer }, got ${describe(buffers)}`);
  const checked = known.get(device) ?? new WeakSet<GPUBuffer>();
  known.set(device, checked);
  const pending: [string, GPUBuffer][] = [];
  for (const [name, value] of Object.entries(buffers)) {
    if (value === undefined) continue;
    const buffer = value as GPUBuffer;
    if (typeof value !== 'object' || value === null || typeof buffer.usage !== 'number' || typeof buffer.size !== 'number') {
      throw new TypeError(`${name} must be a GPUBuffer, got ${describe(value)}`);
    }
    if ((buffer.usage & usage) !== usage) {
      throw new TypeError(`${name} must have GPUBufferUsage ${usageNames(usage)}; it has ${usageNames(buffer.usage)}`);
    }
    if (checked.has(buffer)) continue;
    if (probeKind(buffer) === undefined) {
      throw new TypeError(`${name} has none of STORAGE, COPY_SRC, COPY_DST (it has ${usageNames(buffer.usage)}), so its device cannot be checked`);
    }
    pending.push([name, buffer]);
  }
  if (pending.length === 0) return;
  const probe = probeOf(device);
  const scopes = pending.map(([name, buffer]) => {
    device.pushErrorScope('validation');
    const kind = probeKind(buffer);
    if (kind === 'bind') {
      device.createBindGroup({ label: `aaren device check ${name}`, layout: probe.layout, entries: [{ binding: 0, resource: { buffer, size: 4 } }] });
    } else {
      const encoder = device.createCommandEncoder({ label: `aaren device check ${name}` });
      if (kind === 'copy') encoder.copyBufferToBuffer(buffer, 0, probe.target, 0, 0);
      else encoder.clearBuffer(buffer, 0, 0);
      encoder.finish();
    }
    return device.popErrorScope();
  });
  const errors = await Promise.all(scopes);
  errors.forEach((error, i) => {
    const [name, buffer] = pending[i]!;
    if (error) {
      throw new Error(`${name} cannot be used on device: it belongs to another GPUDevice (WebGPU: ${error.message.split('\n')[0]}). ` +
        'Give the library that made it this device, or copy its data through the host (docs/interop.md)');
    }
    checked.add(buffer);
  });
}
