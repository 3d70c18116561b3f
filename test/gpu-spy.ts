// Counts the GPU work a call does by wrapping a device's methods: buffers made (and still alive), uploads,
// command encoders, bind groups and submits. Tests use it to check that a refused call did no GPU work and that
// repeated calls release every buffer they make.

export interface GpuSpy {
  buffersCreated: number;
  live: Set<GPUBuffer>;
  writes: number;
  encoders: number;
  bindGroups: number;
  submits: number;
  /** A copy of the counters, to compare before and after. */
  snapshot(): { buffersCreated: number; live: number; writes: number; encoders: number; bindGroups: number; submits: number };
  /** Runs `hook` on each buffer as it is made (to break one on purpose). */
  onCreate?: (buffer: GPUBuffer, descriptor: GPUBufferDescriptor) => void;
  restore(): void;
}

export function spyOnDevice(device: GPUDevice): GpuSpy {
  const queue = device.queue;
  const original = {
    createBuffer: device.createBuffer,
    createCommandEncoder: device.createCommandEncoder,
    createBindGroup: device.createBindGroup,
    submit: queue.submit,
    writeBuffer: queue.writeBuffer,
  };
  const spy: GpuSpy = {
    buffersCreated: 0,
    live: new Set(),
    writes: 0,
    encoders: 0,
    bindGroups: 0,
    submits: 0,
    snapshot: () => ({ buffersCreated: spy.buffersCreated, live: spy.live.size, writes: spy.writes, encoders: spy.encoders, bindGroups: spy.bindGroups, submits: spy.submits }),
    restore: () => {
      device.createBuffer = original.createBuffer;
      device.createCommandEncoder = original.createCommandEncoder;
      device.createBindGroup = original.createBindGroup;
      queue.submit = original.submit;
      queue.writeBuffer = original.writeBuffer;
    },
  };
  device.createBuffer = function (descriptor: GPUBufferDescriptor) {
    const buffer = original.createBuffer.call(device, descriptor);
    spy.buffersCreated++;
    spy.live.add(buffer);
    const destroy = buffer.destroy;
    buffer.destroy = function () {
      spy.live.delete(buffer);
      return destroy.call(buffer);
    };
    spy.onCreate?.(buffer, descriptor);
    return buffer;
  };
  device.createCommandEncoder = function (descriptor?: GPUCommandEncoderDescriptor) {
    spy.encoders++;
    return original.createCommandEncoder.call(device, descriptor);
  };
  device.createBindGroup = function (descriptor: GPUBindGroupDescriptor) {
    spy.bindGroups++;
    return original.createBindGroup.call(device, descriptor);
  };
  queue.submit = function (buffers: Iterable<GPUCommandBuffer>) {
    spy.submits++;
    return original.submit.call(queue, buffers);
  };
  queue.writeBuffer = function (...args: Parameters<GPUQueue['writeBuffer']>) {
    spy.writes++;
    return original.writeBuffer.apply(queue, args);
  } as GPUQueue['writeBuffer'];
  return spy;
}
