// Getting a device suited to the kernels: the adapter's largest buffer and workgroup limits (the defaults cap
// storage bindings at 128 MiB and workgroup memory at 16 KiB), and timestamp queries / subgroups when offered.

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
  const requiredFeatures = (['timestamp-query', 'subgroups'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  return adapter.requestDevice({ requiredLimits, requiredFeatures });
}
