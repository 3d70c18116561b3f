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

  test('the blocked kernel: one pipeline for every shape, a grid that covers every 32 x 16 block', () => {
    const keyOf = (m: number, n: number, limit = 65535) => {
      const d = planMatmul({ m, n, k: 64, bias: true, residual: false, gelu: false }, { limits: { maxComputeWorkgroupsPerDimension: limit } as GPUSupportedLimits, cpu: true });
      return { key: JSON.stringify([d.kernel.parts.map((p) => p.name), d.kernel.constants]), workgroups: d.workgroups, size: d.kernel.constants.WORKGROUP_SIZE! };
    };
    const shapes = [[5, 4], [64, 64], [1024, 64], [1024, 256], [37, 68], [4096, 4096], [100, 3000]] as const; // n % 4 == 0: vec4 tiles of b
    expect(new Set(shapes.map(([m, n]) => keyOf(m, n).key)).size).toBe(1);
    for (const limit of [65535, 7]) {
      for (const [m, n] of shapes) {
        const blocks = Math.ceil(m / 32) * Math.ceil(n / 16);
        if (blocks > 4 * limit * limit) {
          expect(() => keyOf(m, n, limit), `${m} x ${n}`).toThrow(RangeError);
          continue;
        }
        const { workgroups: [x, y, z], size } = keyOf(m, n, limit);
        expect(x <= limit && y <= limit && z === 1, `${m} x ${n}`).toBe(true);
        // Every block has an invocation; spare workgroups only in the grid's last row.
        const groups = Math.ceil(blocks / size);
        expect(x * y).toBeGreaterThanOrEqual(groups);
        expect(x * y - groups).toBeLessThan(x);
      }
    }
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

  test('the blocked kernel on a two-dimensional grid (the dispatch limit lowered to 3 workgroups per dimension)', async () => {
    const device = await dawnDevice();
    const limits = { maxComputeWorkgroupsPerDimension: 3 } as GPUSupportedLimits;
    // 70 x 36: 3 x 3 blocks in 3 workgroups of 4 (one grid row, 3 idle invocations); 200 x 50: 7 x 4 blocks in
    // 7 workgroups (3 x 3 grid, 2 idle workgroups past the end); a's tiles by rows, by columns and (k = 9) by
    // scalar loads, b's by rows and by scalar loads.
    for (const [layout, m, n, k] of [['NN', 70, 36, 20], ['TN', 200, 50, 12], ['NT', 200, 52, 9]] as const) {
      const r = await checkMatmul(device, denseMatmulSpec(layout, m, n, k), true, 77, limits);
      expect(r.pass, `${layout} ${m} x ${n}: |err| ${r.maxAbsError} > ${r.tolerance}`).toBe(true);
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
