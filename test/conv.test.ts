// The causal depthwise convolution (src/ops/conv.ts): its float64 reference against central finite differences
// and the definitions (identity at zero weights, the history, blocks), the pure plans, then the kernels on Dawn
// (SwiftShader) vs the reference through the shared cases of cases/conv.ts (per-element bounds stated there),
// dc's determinism, and the argument checks.
//
// Finite differences as test/reference-backward.test.ts: central, h = 1e-6 max(1, |x|), on L = sum(y * R) for a
// fixed random R (so dL/dy = R); L is O(10) here, so FD noise is ~1e-10 and truncation ~1e-12, and every check
// asks |grad - fd| <= 1e-6 max(1, max|grad|).
import { describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { expectFd } from './fd.js';
import { checkConvBackward, convData, runConvCases, runConvForward } from '../cases/conv.js';
import { mulberry32, normal } from '../cases/random.js';
import { ConvBackwardOp, ConvOp, checkConvShape, checkConvWeights, planConvBackward, planConvForward } from '../src/ops/conv.js';
import { referenceConvBackward, referenceConvForward, referenceConvNextHistory } from '../src/reference/conv.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../src/core/buffers.js';

const limits = { maxComputeWorkgroupsPerDimension: 65535 } as GPUSupportedLimits;
const randn = (n: number, random: () => number) => Float64Array.from({ length: n }, () => normal(random));


const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};

describe('float64 reference', () => {
  test('backward = central finite differences of the forward (dx and dc; with and without a history; lengths 1..7)', () => {
    const random = mulberry32(11);
    for (const [batch, length, dModel, withHistory] of [[2, 5, 3, false], [2, 5, 3, true], [1, 1, 2, true], [3, 2, 1, false], [1, 7, 2, true]] as const) {
      const s = { batch, length, dModel };
      const x = randn(batch * length * dModel, random);
      const c = randn(dModel * 4, random);
      const history = withHistory ? randn(batch * 3 * dModel, random) : undefined;
      const r = randn(batch * length * dModel, random);
      const g = referenceConvBackward(s, x, c, r, history);
      const label = `b=${batch} n=${length} d=${dModel}${withHistory ? ' history' : ''}`;
      expectFd((v) => dot(referenceConvForward(s, v, c, history), r), x, g.gradInput, `${label} dx`);
      expectFd((v) => dot(referenceConvForward(s, x, v, history), r), c, g.gradWeight, `${label} dc`);
    }
  });

  test('zero weights are the identity; the history feeds t < 0; the next history is the last 3 rows of history ++ x', () => {
    const s = { batch: 2, length: 2, dModel: 3 };
    const x = Float64Array.from({ length: 12 }, (_, i) => i + 1);
    expect(Array.from(referenceConvForward(s, x, new Float64Array(12)))).toEqual(Array.from(x));
    // c[d] = (0, 0, 0, 1): y[t] = x[t] + x[t - 3]; for t = 0, 1 that is the history's rows 0 and 1.
    const c = Float64Array.from({ length: 12 }, (_, i) => (i % 4 === 3 ? 1 : 0));
    const h = Float64Array.from({ length: 18 }, (_, i) => 100 * (i + 1));
    const y = referenceConvForward(s, x, c, h);
    expect(y[0]).toBe(x[0]! + h[0]!); // b 0, t 0, d 0 <- history row 0 (t = -3)
    expect(y[3 + 2]).toBe(x[3 + 2]! + h[3 + 2]!); // b 0, t 1, d 2 <- history row 1 (t = -2)
    expect(y[6 + 1]).toBe(x[6 + 1]! + h[9 + 1]!); // b 1, t 0, d 1 <- its history row 0
    // Length 2: next = (history row 2, x row 0, x row 1) per sequence.
    const next = referenceConvNextHistory(s, x, h);
    expect(Array.from(next.subarray(0, 9))).toEqual([...h.subarray(6, 9), ...x.subarray(0, 6)]);
    expect(Array.from(next.subarray(9, 18))).toEqual([...h.subarray(15, 18), ...x.subarray(6, 12)]);
    expect(Array.from(referenceConvNextHistory({ batch: 1, length: 1, dModel: 1 }, [7]))).toEqual([0, 0, 7]);
  });

  test('blocks carrying the history equal one pass', () => {
    const random = mulberry32(5);
    const s = { batch: 1, length: 9, dModel: 2 };
    const x = randn(18, random);
    const c = randn(8, random);
    const whole = referenceConvForward(s, x, c);
    let history: Float64Array | undefined;
    const pieces: number[] = [];
    for (const [from, to] of [[0, 1], [1, 3], [3, 9]] as const) {
      const part = x.subarray(from * 2, to * 2);
      pieces.push(...referenceConvForward({ ...s, length: to - from }, part, c, history));
      history = referenceConvNextHistory({ ...s, length: to - from }, part, history);
    }
    expect(pieces).toEqual(Array.from(whole));
    expect(Array.from(history!)).toEqual(Array.from(referenceConvNextHistory(s, x)));
  });
});

describe('planning (pure)', () => {
  test('forward: the conv and the next history, history and nextHistory optional', () => {
    const plan = planConvForward({ batch: 3, length: 5, dModel: 6 }, { limits, cpu: true });
    expect(plan.dispatches.map((d) => d.kernel.parts.at(-1)!.name)).toEqual(['ops/conv/conv_forward', 'ops/conv/conv_next_history']);
    expect(plan.optional).toEqual(['history', 'nextHistory']);
    expect(plan.dispatches[0]!.params).toMatchObject({ has_history: { ifBound: 'history' } });
    expect(plan.dispatches[1]!.params).toMatchObject({ write_history: { ifBound: 'nextHistory' } });
    expect(plan.dispatches[0]!.workgroups).toEqual([1, 1, 1]); // 3 sequences x 1 run x 6 channels = 18 invocations
  });

  test('backward: dx, then dc partials (into dc directly for one chunk, else a scratch then column sums)', () => {
    const one = planConvBackward({ batch: 1, length: 64, dModel: 6 }, {}, { limits, cpu: true });
    expect(one.dispatches.map((d) => d.kernel.parts.at(-1)!.name)).toEqual(['ops/conv/conv_input_grad', 'ops/conv/conv_weight_grad_partials']);
    expect(one.dispatches[1]!.buffers.partial).toBe('gradWeight');
    const many = planConvBackward({ batch: 16, length: 1024, dModel: 64 }, { accumulateWeight: true }, { limits, cpu: true });
    expect(many.dispatches.map((d) => d.kernel.parts.at(-1)!.name)).toEqual(['ops/conv/conv_input_grad', 'ops/conv/conv_weight_grad_partials', 'ops/elementwise/column_sum']);
    expect(many.scratch.partial).toBe(256 * 64 * 4 * 4); // 256 chunks of 64 rows, [chunks, dModel, 4] f32
    expect(many.dispatches[1]!.params).toMatchObject({ chunk_rows: 64, accumulate: 0 });
    expect(many.dispatches[2]!.params).toMatchObject({ rows: 256, cols: 256, accumulate: 1 });
  });

  test('bad shapes are refused, naming the field', () => {
    const device = { limits, cpu: true };
    expect(() => planConvForward({ batch: 0, length: 1, dModel: 1 }, device)).toThrow(RangeError);
    expect(() => planConvForward({ batch: 1, length: 0, dModel: 1 }, device)).toThrow(/shape.length/);
    expect(() => planConvForward({ batch: 1, length: 1, dModel: 1.5 }, device)).toThrow(/shape.dModel must be an integer/);
    expect(() => planConvForward(null as never, device)).toThrow(TypeError);
    expect(() => checkConvShape({ batch: 1 << 16, length: 1 << 16, dModel: 2 })).toThrow(/past what one binding can hold/);
    expect(() => checkConvWeights('weights', new Float32Array(7), 2)).toThrow(/weights must have 8 elements/);
    expect(() => checkConvWeights('weights', Float32Array.of(0, 0, NaN, 0), 1)).toThrow(/weights\[2\] is NaN/);
    expect(() => checkConvWeights('weights', [0, 0, 0, 0], 1)).toThrow(TypeError);
  });
});

describe('kernels on Dawn vs float64', () => {
  test('forward, next history, backward at every shape; blocks vs one pass', async () => {
    const device = await dawnDevice();
    const results = await runConvCases(device);
    for (const r of results) console.log(`${r.kernel} ${r.shape} |err| ${r.maxAbsError.toExponential(2)} <= ${r.tolerance.toExponential(2)} (rel ${r.maxRelError.toExponential(2)}) ${r.ms.toFixed(0)} ms`);
    for (const r of results) expect(r.pass, `${r.kernel} ${r.shape}: ${r.error ?? `|err| ${r.maxAbsError} > ${r.tolerance}`}`).toBe(true);
    expect(results.length).toBe(3 * 5 * 2 * 2 * 2 + 2 + 5);
  }, 600_000);

  test('zero weights: the forward is the identity, bit for bit', async () => {
    const device = await dawnDevice();
    const s = { batch: 3, length: 5, dModel: 6 };
    const data = convData(s, true, 3);
    const { result } = await runConvForward(device, s, { ...data, weight: new Float32Array(24) });
    expect(new Uint32Array(result.buffer)).toEqual(new Uint32Array(data.x.buffer));
  });

  test('dc over many chunks: within the bound and the same bits twice', async () => {
    const device = await dawnDevice();
    const s = { batch: 4, length: 300, dModel: 36 };
    const first = await checkConvBackward(device, s, true, false, 77);
    expect(first.pass, `|err| ${first.maxAbsError} > ${first.tolerance}`).toBe(true);
    const run = async () => {
      const data = convData(s, true, 78);
      const dy = convData(s, false, 79).x;
      const op = await ConvBackwardOp.create(device, s);
      const bufs = { grad: uploadFloat32(device, dy), x: uploadFloat32(device, data.x), weight: uploadFloat32(device, data.weight), history: uploadFloat32(device, data.history!), gradInput: createStorageBuffer(device, dy.byteLength), gradWeight: createStorageBuffer(device, 36 * 16) };
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      op.encode(pass, bufs);
      pass.end();
      const [dc] = await submitAndRead(device, encoder, [{ buffer: bufs.gradWeight, floats: 36 * 4 }]);
      op.destroy();
      for (const b of Object.values(bufs)) b.destroy();
      return dc!;
    };
    const a = await run();
    const b = await run();
    expect(new Uint32Array(b.buffer)).toEqual(new Uint32Array(a.buffer));
  }, 300_000);

  test('encode refuses missing, small or aliased buffers, naming them', async () => {
    const device = await dawnDevice();
    const s = { batch: 2, length: 3, dModel: 4 };
    const op = await ConvOp.create(device, s);
    const back = await ConvBackwardOp.create(device, s);
    const big = () => device.createBuffer({ size: 256, usage: GPUBufferUsage.STORAGE });
    const [x, w, y, h, n, g, small] = [big(), big(), big(), big(), big(), big(), device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE })];
    const pass = device.createCommandEncoder().beginComputePass();
    try {
      expect(() => op.encode(pass, { x: small, weight: w!, result: y! })).toThrow(/buffers.x must hold at least 96 bytes, got 16/);
      expect(() => op.encode(pass, { x: x!, weight: small, result: y! })).toThrow(/buffers.weight must hold at least 64 bytes/);
      expect(() => op.encode(pass, { x: x!, weight: w!, result: y!, history: small })).toThrow(/buffers.history must hold at least 96 bytes/);
      expect(() => op.encode(pass, { x: x!, weight: w!, result: x! })).toThrow(/buffers.result must not be buffers.x/);
      expect(() => op.encode(pass, { x: x!, weight: w!, result: y!, history: h!, nextHistory: h! })).toThrow(/buffers.nextHistory must not be buffers.history/);
      expect(() => op.encode(pass, { x: x!, weight: w! } as never)).toThrow(/buffers.result must be a GPUBuffer/);
      expect(() => back.encode(pass, { grad: x!, x: y!, weight: w!, gradInput: x!, gradWeight: n! })).toThrow(/buffers.gradInput must not be buffers.grad/);
      expect(() => back.encode(pass, { grad: x!, x: y!, weight: w!, gradInput: h!, gradWeight: small })).toThrow(/buffers.gradWeight must hold at least 64 bytes/);
      op.encode(pass, { x: x!, weight: w!, result: y!, history: h!, nextHistory: n! });
      back.encode(pass, { grad: x!, x: y!, weight: w!, history: h!, gradInput: n!, gradWeight: g! });
    } finally {
      pass.end();
      op.destroy();
      back.destroy();
      for (const b of [x, w, y, h, n, g, small]) b!.destroy();
    }
    await expect(ConvOp.create(device, { batch: 1, length: -1, dModel: 1 })).rejects.toThrow(/shape.length must be in/);
  });
});
