// Getting a device suited to the kernels, and to the WebGPU libraries a caller may share it with (onnxruntime-web,
// TF.js; docs/interop.md): every limit at the adapter's maximum (the defaults cap storage bindings at 128 MiB and
// workgroup memory at 16 KiB; ORT and TF.js ask for the largest too when they make their own device), and the
// optional features those libraries use where the adapter has them.

/** Features requestAarenDevice asks for where the adapter has them: timestamp queries (the benchmark runner,
 * ORT's and TF.js's profilers), f16 shaders and subgroups (ORT's and TF.js's kernels). No kernel of this package
 * uses subgroups or f16: they are requested only so that a library sharing the device can. */
export const INTEROP_FEATURES: readonly GPUFeatureName[] = ['timestamp-query', 'shader-f16', 'subgroups'];

/** The limits the kernels need raised; requested even where an implementation's limits object does not enumerate. */
const KERNEL_LIMITS: (keyof GPUSupportedLimits)[] = [
  'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxStorageBuffersPerShaderStage',
];

export interface AarenDeviceOptions extends GPURequestAdapterOptions {
  /** Optional features to request where the adapter has them (default INTEROP_FEATURES). Leave 'subgroups' out
   * for a device shared with onnxruntime-web 1.30 on an adapter whose subgroup size its attention kernel does not
   * handle (SwiftShader's 4: wrong results; docs/interop.md). */
  features?: readonly GPUFeatureName[];
  /** The device's label (in WebGPU's error messages). */
  label?: string;
}

export async function requestAarenDevice(gpu: GPU = navigator.gpu, options: AarenDeviceOptions = {}): Promise<GPUDevice> {
  if (!gpu) throw new Error('WebGPU is not available (navigator.gpu is undefined)');
  const { features = INTEROP_FEATURES, label, ...adapterOptions } = options;
  const adapter = await gpu.requestAdapter(adapterOptions);
  if (!adapter) throw new Error('WebGPU: no adapter found');
  const requiredLimits: Record<string, number> = {};
  for (const name in adapter.limits) {
    const value = adapter.limits[name as keyof GPUSupportedLimits];
    if (typeof value === 'number') requiredLimits[name] = value;
  }
  for (const name of KERNEL_LIMITS) requiredLimits[name] = adapter.limits[name] as number;
  const requiredFeatures = [...new Set(features)].filter((f) => adapter.features.has(f));
  return adapter.requestDevice({ requiredLimits, requiredFeatures, ...(label === undefined ? {} : { label }) });
}

/** CPU implementations of WebGPU (SwiftShader, WARP, lavapipe): the recurrent schedules run best there. */
export function isCpuAdapter(device: GPUDevice): boolean {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return info !== undefined && isCpuAdapterInfo(info);
}

/** isCpuAdapter from the adapter's description alone (e.g. a benchmark report's). */
export function isCpuAdapterInfo(info: { vendor: string; architecture: string; description: string; isFallbackAdapter?: boolean }): boolean {
  const text = `${info.vendor} ${info.architecture} ${info.description}`.toLowerCase();
  return info.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|warp|software/.test(text);
}

// Lost devices: `device.lost` settles when a device is destroyed or lost; every entry point checks it first, so a
// call on a lost device fails at once with a clear error instead of a bare AbortError from a later mapAsync.
const lostDevices = new WeakMap<GPUDevice, GPUDeviceLostInfo>();
const watchedDevices = new WeakSet<GPUDevice>();

function lostError(name: string, info: GPUDeviceLostInfo): Error {
  return new Error(`aaren-webgpu: ${name} is lost (${info.reason}${info.message ? `: ${info.message}` : ''}); request a new GPUDevice`);
}

/** A GPUDevice not known to be lost; starts watching `device.lost`. Throws TypeError for a non-device. */
export function checkDevice(name: string, device: unknown): GPUDevice {
  const d = device as GPUDevice;
  if (typeof device !== 'object' || device === null || typeof d.createBuffer !== 'function' || typeof d.lost?.then !== 'function') {
    throw new TypeError(`${name} must be a GPUDevice, got ${device === null ? 'null' : typeof device === 'object' ? device.constructor?.name ?? 'object' : `${typeof device} ${String(device)}`}`);
  }
  if (!watchedDevices.has(d)) {
    watchedDevices.add(d);
    void d.lost.then((info) => lostDevices.set(d, info));
  }
  const info = lostDevices.get(d);
  if (info) throw lostError(name, info);
  return d;
}

/** checkDevice, also seeing a loss whose `lost` promise has settled but whose callbacks have not run yet. */
export async function checkLiveDevice(name: string, device: unknown): Promise<GPUDevice> {
  const d = checkDevice(name, device);
  const info = await Promise.race([d.lost, undefined]);
  if (info) {
    lostDevices.set(d, info);
    throw lostError(name, info);
  }
  return d;
}

/** After a failed call: the lost-device error when the device was lost meanwhile (else undefined). */
export async function lostDeviceError(name: string, device: GPUDevice): Promise<Error | undefined> {
  const info = lostDevices.get(device) ?? (await Promise.race([device.lost, undefined]));
  return info ? lostError(name, info) : undefined;
}

/**
 * One typed-array call's GPU work: run inside validation and out-of-memory error scopes, destroy everything
 * `body` tracked, rethrow a WebGPU error as an error of this call (`callName`), and report a lost device as such.
 */
export async function runGpuCall<T>(device: GPUDevice, callName: string, deviceName: string,
  body: (track: <R extends { destroy(): void }>(resource: R) => R) => Promise<T>): Promise<T> {
  const made: { destroy(): void }[] = [];
  const track = <R extends { destroy(): void }>(resource: R): R => (made.push(resource), resource);
  device.pushErrorScope('out-of-memory');
  device.pushErrorScope('validation');
  try {
    return await body(track);
  } catch (error) {
    throw (await lostDeviceError(deviceName, device)) ?? error;
  } finally {
    const validation = await device.popErrorScope();
    const memory = await device.popErrorScope();
    for (const resource of made) resource.destroy();
    const gpuError = validation ?? memory;
    // eslint-disable-next-line no-unsafe-finally
    if (gpuError) throw new Error(`aaren-webgpu: WebGPU ${gpuError === memory ? 'out-of-memory' : 'validation'} error during ${callName}: ${gpuError.message}`);
  }
}
