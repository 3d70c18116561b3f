// Dense-kernel timing: GFLOP/s of each matmul variant (NN: x @ W, NT: dY @ W^T, TN: X^T @ dY) on this adapter,
// for 1024x256x1024 (m x k x n) by default, plus LayerNorm forward/backward. Run: `node bench/dense.mjs
// [--m=1024 --k=256 --n=1024] [--reps=3] [--kernel=blocked|tiled]`. Every result is checked against float64 on a
// sample of elements before it is timed. Numbers are printed, never asserted.
import { create, globals } from 'webgpu';
import { isCpuAdapter, requestAarenDevice } from '../src/core/device.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../src/core/buffers.js';
import { MatmulOp, type MatmulSpec } from '../src/ops/matmul.js';
import { LayerNormBackwardOp, LayerNormOp } from '../src/ops/layer-norm.js';

Object.assign(globalThis, globals);
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
const gpu: GPU = create([]); // kept alive for the whole run (MISSION.md)

function arg(name: string, fallback: number | string): string {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : String(fallback);
}

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  });
}

async function time(device: GPUDevice, reps: number, record: (pass: GPUComputePassEncoder) => void): Promise<number> {
  const run = async () => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    record(pass);
    pass.end();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
  };
  await run(); // warm-up
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await run();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

export async function main(): Promise<number> {
  const device = await requestAarenDevice(gpu);
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  const m = Number(arg('m', 1024));
  const k = Number(arg('k', 256));
  const n = Number(arg('n', 1024));
  const reps = Number(arg('reps', 3));
  const kernel = arg('kernel', isCpuAdapter(device) ? 'blocked' : 'tiled');
  console.log(`adapter: ${info?.vendor} ${info?.architecture} ${info?.description} (cpu adapter: ${isCpuAdapter(device)}), kernel ${kernel}`);
  const cpu = kernel === 'blocked';
  // NN: a [m, k] @ w [k, n]; NT: a [m, k] @ (w [n, k])^T; TN: (a [k, m])^T @ w [k, n].
  const variants: [string, Partial<MatmulSpec>][] = [['NN x@W', {}], ['NT dY@W^T', { transposeB: true }], ['TN X^T@dY', { transposeA: true }]];
  const aData = random(m * k, 1);
  const wData = random(k * n, 2);
  const a = uploadFloat32(device, aData);
  const w = uploadFloat32(device, wData);
  const result = createStorageBuffer(device, m * n * 4);
  for (const [name, flags] of variants) {
    const spec: MatmulSpec = { m, n, k, bias: false, residual: false, gelu: false, ...flags };
    const op = await MatmulOp.create(device, spec, cpu);
    // check a sample against float64
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    op.encode(pass, { a, weight: w, result });
    pass.end();
    const [y] = await submitAndRead(device, encoder, [{ buffer: result, floats: m * n }]);
    let worst = 0;
    for (let s = 0; s < 64; s++) {
      const i = (s * 7919) % m;
      const j = (s * 104729) % n;
      let ref = 0;
      for (let l = 0; l < k; l++) {
        const av = flags.transposeA ? aData[l * m + i]! : aData[i * k + l]!;
        const wv = flags.transposeB ? wData[j * k + l]! : wData[l * n + j]!;
        ref += av * wv;
      }
      worst = Math.max(worst, Math.abs(y![i * n + j]! - ref));
    }
    const ms = await time(device, reps, (p) => op.encode(p, { a, weight: w, result }));
    const gflops = (2 * m * n * k) / (ms * 1e6);
    console.log(`${name.padEnd(11)} ${m}x${k}x${n} [${op.variant}] ${ms.toFixed(1)} ms  ${gflops.toFixed(2)} GFLOP/s  (max |err| on 64 samples ${worst.toExponential(1)})`);
    op.destroy();
  }
  // LayerNorm at the model's shape: 1024 rows of 256.
  const rows = Number(arg('rows', 1024));
  const width = Number(arg('width', 256));
  const x = uploadFloat32(device, random(rows * width, 3));
  const gamma = uploadFloat32(device, random(width, 4));
  const beta = uploadFloat32(device, random(width, 5));
  const out = createStorageBuffer(device, rows * width * 4);
  const stats = createStorageBuffer(device, 2 * rows * 4);
  const g1 = createStorageBuffer(device, width * 4);
  const g2 = createStorageBuffer(device, width * 4);
  for (const ln of [false, true]) {
    const op = await LayerNormOp.create(device, rows, width, 1e-5, { cpu: ln });
    const ms = await time(device, reps, (p) => op.encode(p, { x, gamma, beta, result: out }));
    console.log(`LayerNorm ${rows}x${width} [${ln ? 'rows (cpu)' : 'workgroup (gpu)'}] ${ms.toFixed(2)} ms`);
    op.destroy();
  }
  const lnStats = await LayerNormOp.create(device, rows, width, 1e-5, { saveStats: true });
  const bw = await LayerNormBackwardOp.create(device, rows, width);
  const ms = await time(device, reps, (p) => {
    lnStats.encode(p, { x, gamma, beta, result: out, stats });
    bw.encode(p, { grad: out, x, gamma, stats, gradInput: a, gradGamma: g1, gradBeta: g2 });
  });
  console.log(`LayerNorm forward(saveStats)+backward ${rows}x${width} ${ms.toFixed(2)} ms`);
  return 0;
}
