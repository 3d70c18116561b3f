// The plumbing every kernel relies on: composition numbers bindings, templates are instantiated by token and
// checked for the functions they define, cache keys follow the parts and constants, plans are pure (read here
// without a device), binding by name fails loudly, and the built package imports without WebGPU globals.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { expect, test } from 'vitest';
import { composeShader, instantiate } from '../src/core/compose.js';
import { kernelKey, PreparedPlan } from '../src/core/kernel.js';
import { createBindGroup } from '../src/core/program.js';
import * as wgsl from '../src/core/shader-sources.js';
import { planPrefixScan } from '../src/ops/attention/scan.js';
import { planLayerForward } from '../src/nn/layer.js';
import { dawnDevice } from './dawn.js';

const limits = { maxComputeWorkgroupStorageSize: 16384, maxComputeInvocationsPerWorkgroup: 256, maxComputeWorkgroupsPerDimension: 65535 } as GPUSupportedLimits;

test('the built package imports in a Node process without WebGPU globals', () => {
  const script = "const m = await import('./dist/index.js'); if (typeof GPUBufferUsage !== 'undefined') throw new Error('globals present'); console.log(Object.keys(m).length);";
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  expect(Number(out.trim())).toBeGreaterThan(10);
});

test('src/core/shader-sources.ts is current: every file under shaders/ is one part, named by its path, with its text', () => {
  const root = join(__dirname, '..', 'shaders');
  const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.wgsl') ? [join(dir, e.name)] : []);
  const files = walk(root);
  const parts = new Map(Object.values(wgsl).map((p) => [p.name, p.code]));
  expect(parts.size).toBe(files.length);
  for (const file of files) {
    const name = relative(root, file).replace(/\\/g, '/').replace(/\.wgsl$/, '');
    expect(parts.get(name), `${name} (run node scripts/shader-sources.mjs)`).toBe(readFileSync(file, 'utf8'));
  }
});

test('composeShader numbers buffer bindings in declaration order and refuses hand-numbered ones', () => {
  const code = composeShader({ N: 3 }, [{ name: 'a', code: 'var<storage, read> x: array<f32>;\nvar<uniform> p: vec4<f32>;' }, { name: 'b', code: 'var<storage, read_write> y: array<f32>;' }]);
  expect(code).toContain('const N: u32 = 3u;');
  expect(code).toContain('@group(0) @binding(0) var<storage, read> x');
  expect(code).toContain('@group(0) @binding(1) var<uniform> p');
  expect(code).toContain('@group(0) @binding(2) var<storage, read_write> y');
  expect(() => composeShader({}, [{ name: 'bad', code: '@group(0) @binding(4) var<storage, read> z: array<f32>;' }])).toThrow(/bad numbers its own bindings/);
});

test('instantiate replaces the placeholder by token, and checks the functions the instance defines', () => {
  const template = { name: 't', code: 'fn STATES_load() -> f32 { return STATES[0] + MY_STATES[0] + STATESX; }' };
  const part = instantiate(template, 'STATES', 'carry_in', ['carry_in_load']);
  expect(part.code).toBe('fn carry_in_load() -> f32 { return carry_in[0] + MY_STATES[0] + STATESX; }');
  expect(part.name).toBe('t<carry_in>');
  expect(() => instantiate(template, 'STATES', 'carry_in', ['carry_in_store'])).toThrow(/does not define carry_in_store/);
});

test('kernel keys follow the parts and the constants (in any order), nothing else', () => {
  const a = kernelKey({ parts: [wgsl.lseCombine, wgsl.chunkScan], constants: { LANES: 1, TILE: 8 } });
  expect(kernelKey({ parts: [wgsl.lseCombine, wgsl.chunkScan], constants: { TILE: 8, LANES: 1 } })).toBe(a);
  expect(kernelKey({ parts: [wgsl.lseCombine, wgsl.chunkScan], constants: { LANES: 2, TILE: 8 } })).not.toBe(a);
  expect(kernelKey({ parts: [wgsl.lseCombine, wgsl.chunkReduce], constants: { LANES: 1, TILE: 8 } })).not.toBe(a);
});

test('plans are pure: the passes of each schedule, read without a device', () => {
  const device = { limits, cpu: false };
  const shape = { batch: 2, length: 5000, headDim: 64 };
  const kernels = (p: ReturnType<typeof planPrefixScan>) => p.dispatches.map((d) => d.kernel.parts.at(-1)!.name);
  expect(kernels(planPrefixScan(shape, { schedule: 'recurrent' }, device))).toEqual(['ops/attention/recurrent_lse_scan']);
  expect(kernels(planPrefixScan(shape, { schedule: 'sequential' }, device))).toEqual(['scan/chunk_scan']);
  // Parallel with one tile per chunk: 5000 tokens = 40 tiles of 128 -> 40 chunk totals -> 1 chunk above.
  const parallel = planPrefixScan(shape, { schedule: 'parallel', tilesPerChunk: 1 }, device);
  expect(kernels(parallel)).toEqual(['scan/chunk_reduce', 'scan/chunk_scan', 'scan/chunk_scan']);
  expect(parallel.dispatches[0]!.workgroups).toEqual([40, 4, 2]);
  expect(kernels(planPrefixScan(shape, { schedule: 'parallel', outputs: 'last' }, device)).at(-1)).toBe('ops/attention/finish_state');
  // 'auto' on a CPU adapter is the recurrent schedule.
  expect(planPrefixScan(shape, {}, { limits, cpu: true }).schedule).toBe('recurrent');
  // A layer: the fused scan, then the output projection reading the head outputs (scratch).
  const layer = planLayerForward({ dModel: 8, heads: 2, headDim: 4, outputBias: false }, 3, 7, 'recurrent', true, device);
  expect(layer.dispatches.map((d) => d.kernel.parts.at(-1)!.name)).toEqual(['scan/recurrent_scan', 'ops/matmul/matmul']);
  expect(layer.dispatches[1]!.buffers).toMatchObject({ a: { scratch: 'heads' }, weight: 'outputWeight', bias: null, residual: 'residual', result: 'output' });
  expect(layer.scratch.heads).toBe(3 * 2 * 7 * 4 * 4);
});

test('binding by name fails loudly: a missing, unknown or too small buffer, or a plan slot not given', async () => {
  const device = await dawnDevice();
  const plan = planPrefixScan({ batch: 1, length: 4, headDim: 4 }, { schedule: 'recurrent' }, { limits: device.limits, cpu: true });
  const prepared = await PreparedPlan.create(device, plan);
  const buffer = (bytes: number) => device.createBuffer({ size: bytes, usage: GPUBufferUsage.STORAGE });
  const made = [buffer(16), buffer(64), buffer(64), buffer(4), device.createBuffer({ size: 256, usage: GPUBufferUsage.UNIFORM })];
  const [scores, values, output, tiny, params] = made as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer];
  try {
    const pass = device.createCommandEncoder().beginComputePass();
    expect(() => prepared.encode(pass, { scores, values })).toThrow(/buffer output \(binding outputs\) was not given/);
    const program = await (await import('../src/core/kernel.js')).kernelProgram(device, plan.dispatches[0]!.kernel);
    expect(() => createBindGroup(device, program, { scores, values, outputs: output, params })).toThrow(/binding carry_in was not given/);
    expect(() => createBindGroup(device, program, { scores, values, outputs: output, carry_in: values, final_state: output, params, extra: values })).toThrow(/has no binding extra/);
    expect(() => createBindGroup(device, program, { scores, values, outputs: output, carry_in: tiny, final_state: output, params })).toThrow(/carry_in: buffer of 4 bytes is smaller than 16/);
    pass.end();
  } finally {
    prepared.destroy();
    for (const b of made) b.destroy();
  }
});
