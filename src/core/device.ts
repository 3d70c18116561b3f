// Getting a device suited to the kernels: the adapter's largest buffer and workgroup limits (the defaults cap
// storage bindings at 128 MiB and workgroup memory at 16 KiB), and timestamp queries when offered.

export async function requestAarenDevice(gpu: GPU = navigator.gpu, options: GPURequestAdapterOptions = {}): Promise<GPUDevice> {
  if (!gpu) throw new Error('WebGPU is not available (navigator.gpu is undefined)');
  const adapter = await gpu.requestAdapter(options);
  if (!adapter) throw new Error('WebGPU: no adapter found');
  const wanted: (keyof GPUSupportedLimits)[] = [
    'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxStorageBuffersPerShaderStage',
  ];
  const requiredLimits: Record<string, number> = {};
  for (const name of wanted) requiredLimits[name] = adapter.limits[name] as number;
  // Timestamp queries for the benchmark runner when offered; no kernel uses subgroups (so none is requested).
  const requiredFeatures = (['timestamp-query'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  return adapter.requestDevice({ requiredLimits, requiredFeatures });
}

/** CPU implementations of WebGPU (SwiftShader, WARP, lavapipe): the recurrent schedules run best there. */
export function isCpuAdapter(device: GPUDevice): boolean {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  if (!info) return false;
  const text = `${info.vendor} ${info.architecture} ${info.description}`.toLowerCase();
  return (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe|warp|software/.test(text);
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
