// Buffer creation, upload and readback: the only places the typed-array APIs touch host memory.

// Read inside functions, never at module load: the package must import where WebGPU's globals do not exist.
const storageUsage = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** WebGPU buffers must be non-empty and sized in multiples of 4; round up, at least 16 bytes. */
export function bufferBytes(bytes: number): number {
  return Math.max(16, Math.ceil(bytes / 16) * 16);
}

export function createStorageBuffer(device: GPUDevice, bytes: number, label?: string): GPUBuffer {
  return device.createBuffer({ label, size: bufferBytes(bytes), usage: storageUsage() });
}

export function uploadFloat32(device: GPUDevice, data: Float32Array, label?: string): GPUBuffer {
  const buffer = createStorageBuffer(device, data.byteLength, label);
  if (data.length > 0) device.queue.writeBuffer(buffer, 0, data.buffer, data.byteOffset, data.byteLength);
  return buffer;
}

/**
 * Copies `floats` floats of each source into fresh host arrays. The caller has encoded the work that fills them
 * in `encoder`; this adds the copies, submits, waits and cleans up the staging buffer.
 */
export async function submitAndRead(device: GPUDevice, encoder: GPUCommandEncoder, sources: { buffer: GPUBuffer; floats: number }[]): Promise<Float32Array[]> {
  const offsets: number[] = [];
  let total = 0;
  for (const s of sources) {
    offsets.push(total);
    total += Math.ceil((s.floats * 4) / 16) * 16;
  }
  const staging = device.createBuffer({ label: 'aaren readback', size: Math.max(16, total), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  try {
    sources.forEach((s, i) => {
      if (s.floats > 0) encoder.copyBufferToBuffer(s.buffer, 0, staging, offsets[i]!, s.floats * 4);
    });
    device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const mapped = staging.getMappedRange();
    const results = sources.map((s, i) => new Float32Array(mapped.slice(offsets[i]!, offsets[i]! + s.floats * 4)));
    staging.unmap();
    return results;
  } finally {
    staging.destroy();
  }
}
