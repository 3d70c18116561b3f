// Where a GPU call spends its time, dispatch by dispatch: `captureDispatches` records every compute dispatch
// (pipeline, bind groups, workgroups) that a call encodes, and `profileDispatches` replays each alone in its own
// timestamped pass, several times, and sums the medians per kernel (the pipeline's label is its cache key: parts
// and constants). Replaying one dispatch at a time drops the overlap a GPU finds between
// independent dispatches, so the total is an upper bound on the GPU time; on CPU adapters (SwiftShader), which
// run one dispatch at a time, it is close to the step's GPU time. Used by `npm run bench -- --profile`.
import { AarenLanguageModel, type AarenLanguageModelConfig } from '../src/nn/language-model.js';
import { AdamW } from '../src/optim/adamw.js';
import { mulberry32 } from '../src/core/random.js';
import { timestampPairs } from './bench.js';

export interface RecordedDispatch {
  label: string;
  pipeline: GPUComputePipeline;
  bindGroups: (GPUBindGroup | null)[];
  workgroups: [number, number, number];
}

export interface KernelTime {
  label: string;
  dispatches: number;
  ms: number;
}

/** The dispatches that a call records in every command encoder it makes (the call runs and submits as usual). */
export async function captureDispatches(device: GPUDevice, call: () => Promise<unknown>): Promise<{ dispatches: RecordedDispatch[]; passes: number; encoders: number; release: () => void }> {
  const dispatches: RecordedDispatch[] = [];
  let passes = 0;
  let encoders = 0;
  const createCommandEncoder = device.createCommandEncoder;
  const createBuffer = device.createBuffer;
  const deferred: (() => void)[] = [];
  // Buffers the call makes and destroys (a typed call's inputs and outputs) live on until release(), for the replay.
  device.createBuffer = (descriptor: GPUBufferDescriptor) => {
    const buffer = createBuffer.call(device, descriptor);
    const destroy = buffer.destroy.bind(buffer);
    buffer.destroy = () => { deferred.push(destroy); };
    return buffer;
  };
  device.createCommandEncoder = (descriptor?: GPUCommandEncoderDescriptor) => {
    encoders++;
    const encoder = createCommandEncoder.call(device, descriptor);
    const beginComputePass = encoder.beginComputePass.bind(encoder);
    encoder.beginComputePass = (passDescriptor?: GPUComputePassDescriptor) => {
      passes++;
      const pass = beginComputePass(passDescriptor);
      let pipeline: GPUComputePipeline | undefined;
      const groups: (GPUBindGroup | null)[] = [];
      const setPipeline = pass.setPipeline.bind(pass);
      const setBindGroup = pass.setBindGroup.bind(pass) as (index: number, group: GPUBindGroup | null) => void;
      const dispatchWorkgroups = pass.dispatchWorkgroups.bind(pass);
      pass.setPipeline = (p: GPUComputePipeline) => { pipeline = p; setPipeline(p); };
      pass.setBindGroup = ((index: number, group: GPUBindGroup | null) => { groups[index] = group; setBindGroup(index, group); }) as GPUComputePassEncoder['setBindGroup'];
      pass.dispatchWorkgroups = (x: number, y = 1, z = 1) => {
        if (!pipeline) throw new Error('profile: dispatch before setPipeline');
        dispatches.push({ label: pipeline.label, pipeline, bindGroups: [...groups], workgroups: [x, y, z] });
        dispatchWorkgroups(x, y, z);
      };
      return pass;
    };
    return encoder;
  };
  try {
    await call();
  } finally {
    device.createCommandEncoder = createCommandEncoder;
    device.createBuffer = createBuffer;
  }
  return { dispatches, passes, encoders, release: () => { for (const destroy of deferred.splice(0)) destroy(); } };
}

/** Each dispatch replayed alone `reps` times (timestamp queries required); the median per dispatch, summed per kernel. */
export async function profileDispatches(device: GPUDevice, dispatches: RecordedDispatch[], reps = 5): Promise<KernelTime[]> {
  if (!device.features.has('timestamp-query')) throw new Error('profile: the device has no timestamp-query');
  // Pair r * dispatches.length + i times repetition r of dispatch i.
  const ms = await timestampPairs(device, dispatches.length * reps, 'profile replay', (encoder, querySet) => {
    let q = 0;
    for (let r = 0; r < reps; r++) {
      for (const d of dispatches) {
        const pass = encoder.beginComputePass({ label: `profile ${d.label}`, timestampWrites: { querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 } });
        pass.setPipeline(d.pipeline);
        d.bindGroups.forEach((g, i) => pass.setBindGroup(i, g));
        pass.dispatchWorkgroups(...d.workgroups);
        pass.end();
        q += 2;
      }
    }
  });
  const byKernel = new Map<string, KernelTime>();
  dispatches.forEach((d, i) => {
    const times = Array.from({ length: reps }, (_, r) => ms[r * dispatches.length + i]!).sort((a, b) => a - b);
    const entry = byKernel.get(d.label) ?? { label: d.label, dispatches: 0, ms: 0 };
    entry.dispatches++;
    entry.ms += times[reps >> 1]!;
    byKernel.set(d.label, entry);
  });
  return [...byKernel.values()].sort((a, b) => b.ms - a.ms);
}

/** The kernels of one AarenLanguageModel.trainStep of `model` at `shape`, and of its inference forward: the lines
 * that `npm run bench -- --profile` prints (for `npm run train`'s default model). */
export async function profileTraining(device: GPUDevice, model: AarenLanguageModelConfig, shape: { batch: number; length: number }): Promise<string[]> {
  const lm = await AarenLanguageModel.create(device, { ...model, seed: 1 });
  const optimizer = await AdamW.create(device, lm, { lr: 1e-3, clipGradNorm: 1 });
  try {
    const random = mulberry32(7);
    const draw = () => Uint32Array.from({ length: shape.batch * shape.length }, () => Math.floor(random() * model.vocabSize));
    const tokens = draw();
    const targets = draw();
    const lines: string[] = [];
    for (const [name, call] of [
      ['trainStep', () => lm.trainStep(tokens, targets, shape, optimizer)],
      ['forward', () => lm.forward(tokens, shape)],
    ] as const) {
      await call(); // compiles and allocates
      const t0 = performance.now();
      const captured = await captureDispatches(device, call);
      const wallMs = performance.now() - t0;
      const kernels = await profileDispatches(device, captured.dispatches);
      captured.release();
      const gpuMs = kernels.reduce((s, k) => s + k.ms, 0);
      lines.push(`${name}: wall ${wallMs.toFixed(1)} ms, dispatches ${captured.dispatches.length} in ${captured.passes} passes, ${captured.encoders} encoders; ` +
        `sum of dispatches replayed alone ${gpuMs.toFixed(1)} ms`);
      for (const k of kernels) lines.push(`  ${k.ms.toFixed(2).padStart(8)} ms ${String(k.dispatches).padStart(4)} x  ${k.label}`);
    }
    return lines;
  } finally {
    optimizer.destroy();
    lm.destroy();
  }
}
