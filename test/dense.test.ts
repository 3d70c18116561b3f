// The dense kernels on Dawn (SwiftShader): the shared cases of cases/dense.ts (every matmul layout and epilogue on
// both kernel families, LayerNorm forward/backward, GELU backward, column sums, each vs float64 with per-element
// bounds), determinism of the reductions, and the pure planning choices.
import { describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { checkMatmul, denseMatmulSpec, runDenseCases } from '../cases/dense.js';
import { matmulVariant, planMatmul, MatmulOp } from '../src/ops/matmul.js';
import { planLayerNormBackward } from '../src/ops/layer-norm.js';
import { planColumnSum } from '../src/ops/elementwise.js';
import { mulberry32 } from '../cases/random.js';

const limits = { maxComputeWorkgroupsPerDimension: 65535 } as GPUSupportedLimits;

// The float64 references these cases use (layerNormBackward, geluDerivative) are checked against central finite
// differences in test/reference-backward.test.ts.

describe('planning (pure)', () => {
  test('kernel family per adapter and shape', () => {
    expect(matmulVariant({ m: 4 }, true)).toBe('matvec');
    expect(matmulVariant({ m: 5 }, true)).toBe('blocked');
    expect(matmulVariant({ m: 5 }, false)).toBe('tiled');
    const parts = (spec: Parameters<typeof planMatmul>[0]) => planMatmul(spec, { limits, cpu: true }).kernel.parts.map((p) => p.name);
    const base = { m: 64, n: 64, k: 64, bias: false, residual: false, gelu: false };
    expect(parts(base)).toContain('ops/matmul/matmul_tile_a_rows');
    expect(parts({ ...base, transposeA: true })).toContain('ops/matmul/matmul_tile_a_cols');
    expect(parts({ ...base, transposeB: true })).toContain('ops/matmul/matmul_tile_b_cols');
    expect(parts({ ...base, k: 63 })).toContain('ops/matmul/matmul_tile_a_scalar'); // unaligned rows: scalar loads
    expect(() => planMatmul({ ...base, gelu: true, geluBackward: true }, { limits, cpu: true })).toThrow(TypeError);
    expect(() => planMatmul({ ...base, savePreActivation: true }, { limits, cpu: true })).toThrow(/savePreActivation/);
  });

  test('reductions are two fixed passes, no atomics', () => {
    expect(planColumnSum(64, 5, {}, { limits, cpu: true }).dispatches).toHaveLength(1);
    const two = planColumnSum(1000, 5, {}, { limits, cpu: true });
    expect(two.dispatches).toHaveLength(2);
    expect(two.scratch.partial).toBe(16 * 5 * 4);
    expect(planLayerNormBackward(200, 8, {}, { limits, cpu: true }).dispatches).toHaveLength(4);
  });
});

describe('dense kernels on Dawn vs float64', () => {
  test('every variant and epilogue, both kernel families', async () => {
    const device = await dawnDevice();
    const results = await runDenseCases(device);
    for (const r of results) console.log(`${r.kernel} ${r.shape} |err| ${r.maxAbsError.toExponential(2)} <= ${r.tolerance.toExponential(2)} ${r.ms.toFixed(0)} ms`);
    for (const r of results) expect(r.pass, `${r.kernel} ${r.shape}: ${r.error ?? `|err| ${r.maxAbsError} > ${r.tolerance}`}`).toBe(true);
    expect(results.length).toBeGreaterThanOrEqual(80);
  }, 600_000);

  test('X^T dY over many rows: within the bound and the same bits twice, on both families', async () => {
    const device = await dawnDevice();
    for (const cpu of [true, false]) {
      const spec = denseMatmulSpec('TN', 12, 20, 1500);
      const first = await checkMatmul(device, spec, cpu, 4242);
      const second = await checkMatmul(device, spec, cpu, 4242);
      expect(first.pass, `cpu=${cpu} |err| ${first.maxAbsError} > ${first.tolerance}`).toBe(true);
      expect(new Uint32Array(second.result.buffer)).toEqual(new Uint32Array(first.result.buffer));
    }
  }, 300_000);

  test('encode refuses buffers that do not match the spec', async () => {
    const device = await dawnDevice();
    const op = await MatmulOp.create(device, { m: 8, n: 8, k: 8, bias: false, residual: false, gelu: true, savePreActivation: true }, true);
    const buffer = device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
    const pass = device.createCommandEncoder().beginComputePass();
    expect(() => op.encode(pass, { a: buffer, weight: buffer, result: buffer })).toThrow(/preActivation/);
    pass.end();
    op.destroy();
    buffer.destroy();
  });
});
