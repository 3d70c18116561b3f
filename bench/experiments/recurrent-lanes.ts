// Investigation (not part of `npm run bench`): how the recurrent scan's shape (vec4 LANES per invocation, so
// channel blocks per sequence, and the workgroup size) moves its time on this adapter. Composes the package's
// own WGSL sources (recurrent_scan and blocked_recurrent_scan) with other constants; nothing is copied.
// Run: VK_ICD_FILENAMES=... node bench/.build/bundle.mjs bench/experiments/recurrent-lanes.ts bench/.build/exp.mjs
import { create } from 'webgpu';
import { requestAarenDevice } from '../../src/core/device.js';
import { composeShader, forBuffer } from '../../src/core/compose.js';
import { createBindGroup, createUniformBuffer, getProgram } from '../../src/core/program.js';
import { wgsl } from '../../src/core/shader-sources.js';
import { Timer, Buffers, dispatch, scanBytes } from '../bench.js';

const gpu = create(['disable-dawn-features=timestamp_quantization']);
(globalThis as { __gpu?: GPU }).__gpu = gpu;
const device = await requestAarenDevice(gpu);
const timer = new Timer(device, { budgetMs: 400, minReps: 3, maxReps: 7 });
const buffers = new Buffers(device);
const batch = 8, headDim = 64, length = Number(process.env.LENGTH ?? 16384);
const scores = buffers.random(batch * length, 1, 's', 4);
const values = buffers.random(batch * length * headDim, 2, 'v');
const outputs = buffers.empty(batch * length * headDim * 4, 'o');
const unusedR = buffers.empty(16, 'r');
const unusedW = buffers.empty(16, 'w');
{
  const src = buffers.random(Math.ceil(scanBytes(batch, length, headDim) / 8), 3, 'c');
  const dst = buffers.empty(scanBytes(batch, length, headDim) / 2, 'd');
  const t = await timer.time((e) => e.copyBufferToBuffer(src, 0, dst, 0, dst.size));
  console.log(`copyBufferToBuffer same bytes: ${t.medianMs.toFixed(2)} ms`);
}
const kernels = wgsl as unknown as Record<string, string | undefined>;
for (const kernel of ['recurrentScan', 'blockedRecurrentScan']) {
  const source = kernels[kernel];
  if (!source) continue;
  for (const lanes of [1, 2, 4]) for (const wg of [1, 4, 16, 64]) {
    const blocks = headDim / 4 / lanes;
    const program = await getProgram(device, `exp/${kernel}/${lanes}/${wg}`, () => composeShader({ LANES: lanes, WORKGROUP_SIZE: wg, RUN_LENGTH: 64 }, [
      wgsl.lseCombine, wgsl.stateLayout, wgsl.scanParams, forBuffer(wgsl.stateLoad, 'carry_in'), forBuffer(wgsl.stateStore, 'final_state'),
      wgsl.valuesVec4, wgsl.loadTokens, wgsl.outputsVec4, wgsl.storeOutputs, source,
    ]));
    const uniform = createUniformBuffer(device, program, { batch, count: length, head_dim: headDim, tiles_per_chunk: 1, chunks: 1, has_carry: 0, write_final: 0 });
    const bind = createBindGroup(device, program, { scores, values, outputs, carry_in: unusedR, final_state: unusedW, params: uniform });
    const t = await timer.time((e) => dispatch(e, program, bind, [Math.ceil(blocks / wg), batch, 1], 'exp'));
    console.log(`${kernel} L=${length} lanes ${lanes} (blocks ${blocks}, invocations ${blocks * batch}) wg ${wg}: ${t.medianMs.toFixed(2)} ms (min ${t.minMs.toFixed(2)})`);
  }
}
process.exit(0);
