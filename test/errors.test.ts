// Bad input to the scan entry points (prefixAttention, prefixAttentionLast, PrefixScan.create / .encode): every
// class of mistake is refused with a RangeError or TypeError that names the argument, before any GPU work (the
// device's methods are wrapped and counted), and the next valid call on the same device is correct. Also: empty
// inputs (no dispatch), buffers past the device limits (split into pieces, or refused naming the limit), WebGPU
// errors inside a call, and a lost device.
import { afterAll, beforeEach, describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { spyOnDevice } from './gpu-spy.js';
import { makeScores, makeValues } from '../cases/random.js';
import { PrefixScan, kernelConfig, prefixAttention, prefixAttentionLast, runInPieces, scanPieces, type PrefixAttentionInput } from '../src/ops/attention/scan.js';
import { referenceRecurrence } from '../src/reference/scan.js';
import { emptyState, packState, stateBytes, unpackState, type ScanState } from '../src/ops/attention/state.js';
import { requestAarenDevice } from '../src/core/device.js';
import { createStorageBuffer, submitAndRead, uploadFloat32 } from '../src/core/buffers.js';
import { AarenLayer } from '../src/nn/layer.js';
import { AarenModel } from '../src/nn/model.js';
import { randomArray, randomLayerConfig, randomModelConfig, seeded } from '../cases/layer.js';

const device = await dawnDevice();
const spy = spyOnDevice(device);
afterAll(() => spy.restore());

const B = 2;
const N = 5;
const D = 3;

function validInput(batch = B, length = N, headDim = D, seed = 1): PrefixAttentionInput {
  return { batch, length, headDim, scores: makeScores('normal30', batch, length, seed), values: makeValues(batch * length * headDim, 10, seed + 1) };
}

function maxError(gpu: ArrayLike<number>, ref: ArrayLike<number>): number {
  expect(gpu.length).toBe(ref.length);
  let worst = 0;
  for (let i = 0; i < gpu.length; i++) {
    const d = Math.abs(gpu[i]! - ref[i]!);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
  }
  return worst;
}

/** The last row of each sequence of a [batch, length, headDim] reference. */
function lastRows(ref: Float64Array, batch: number, length: number, headDim: number): Float64Array {
  const out = new Float64Array(batch * headDim);
  for (let b = 0; b < batch; b++) out.set(ref.subarray(((b + 1) * length - 1) * headDim, (b + 1) * length * headDim), b * headDim);
  return out;
}

/** A valid call after a refusal gives the reference results (tolerance of harness/cases.ts, |v| <= 10). */
async function expectCorrect(input = validInput(B, N, D, 42)): Promise<void> {
  const ref = referenceRecurrence(input);
  expect(maxError(await prefixAttention(device, input), ref.outputs)).toBeLessThanOrEqual(1e-3);
  const last = await prefixAttentionLast(device, input);
  expect(maxError(last.output, lastRows(ref.outputs, input.batch, input.length, input.headDim))).toBeLessThanOrEqual(1e-3);
}

async function expectRefused(call: () => unknown, errorClass: typeof RangeError | typeof TypeError | typeof Error, message: RegExp): Promise<void> {
  const before = spy.snapshot();
  let error: unknown;
  try {
    await call();
  } catch (e) {
    error = e;
  }
  expect(error, 'the call must throw').toBeInstanceOf(errorClass);
  expect((error as Error).constructor).toBe(errorClass);
  expect((error as Error).message).toMatch(message);
  expect(spy.snapshot(), `no GPU work for: ${(error as Error).message}`).toEqual(before);
}

type Mutation = [name: string, change: (input: Record<string, unknown>, options: Record<string, unknown>) => unknown, errorClass: typeof RangeError | typeof TypeError, message: RegExp];

const withScore = (i: number, x: number) => (input: Record<string, unknown>) => {
  (input.scores as Float32Array)[i] = x;
};
const withValue = (i: number, x: number) => (input: Record<string, unknown>) => {
  (input.values as Float32Array)[i] = x;
};
const state = (batch: number, headDim: number, edit: (s: ScanState) => void = () => {}) => (_: unknown, options: Record<string, unknown>) => {
  const s = emptyState(batch, headDim);
  edit(s);
  options.initialState = s;
};

const typedMutations: Mutation[] = [
  ['batch 1.5', (i) => (i.batch = 1.5), TypeError, /input\.batch must be an integer, got number 1\.5/],
  ['batch -1', (i) => (i.batch = -1), RangeError, /input\.batch must be in \[0, .*got -1/],
  ['batch NaN', (i) => (i.batch = NaN), TypeError, /input\.batch must be an integer, got number NaN/],
  ['batch "2"', (i) => (i.batch = '2'), TypeError, /input\.batch must be an integer, got string 2/],
  ['batch missing', (i) => delete i.batch, TypeError, /input\.batch must be an integer, got undefined/],
  ['length -3', (i) => (i.length = -3), RangeError, /input\.length must be in \[0, .*got -3/],
  ['length 2.5', (i) => (i.length = 2.5), TypeError, /input\.length must be an integer/],
  ['length Infinity', (i) => (i.length = Infinity), TypeError, /input\.length must be an integer, got number Infinity/],
  ['headDim 0', (i) => (i.headDim = 0), RangeError, /input\.headDim must be in \[1, .*got 0/],
  ['headDim NaN', (i) => (i.headDim = NaN), TypeError, /input\.headDim must be an integer/],
  ['headDim -2', (i) => (i.headDim = -2), RangeError, /input\.headDim must be in \[1/],
  ['scores too short', (i) => (i.scores = new Float32Array(B * N - 1)), RangeError, /input\.scores must have 10 elements \(batch 2 x length 5\), got 9/],
  ['scores too long', (i) => (i.scores = new Float32Array(B * N + 1)), RangeError, /input\.scores must have 10 elements/],
  ['values too short', (i) => (i.values = new Float32Array(B * N * D - 3)), RangeError, /input\.values must have 30 elements \(batch 2 x length 5 x headDim 3\), got 27/],
  ['length not matching arrays', (i) => (i.length = N + 1), RangeError, /input\.scores must have 12 elements/],
  ['scores a plain array', (i) => (i.scores = Array.from(i.scores as Float32Array)), TypeError, /input\.scores must be a Float32Array, got Array/],
  ['values a Float64Array', (i) => (i.values = Float64Array.from(i.values as Float32Array)), TypeError, /input\.values must be a Float32Array, got Float64Array\(30\)/],
  ['scores null', (i) => (i.scores = null), TypeError, /input\.scores must be a Float32Array, got null/],
  ['values an ArrayBuffer', (i) => (i.values = new ArrayBuffer(120)), TypeError, /input\.values must be a Float32Array, got ArrayBuffer/],
  ['NaN score', withScore(7, NaN), RangeError, /input\.scores\[7\] is NaN/],
  ['+Infinity score', withScore(3, Infinity), RangeError, /input\.scores\[3\] is Infinity/],
  ['first bad score is named', (i) => { withScore(6, Infinity)(i); withScore(2, NaN)(i); }, RangeError, /input\.scores\[2\] is NaN/],
  ['NaN value', withValue(11, NaN), RangeError, /input\.values\[11\] is NaN; values must be finite/],
  ['+Infinity value', withValue(29, Infinity), RangeError, /input\.values\[29\] is Infinity/],
  ['-Infinity value', withValue(4, -Infinity), RangeError, /input\.values\[4\] is -Infinity/],
  ['initialState of another batch', state(B + 1, D), RangeError, /options\.initialState is for batch 3 x headDim 3, the input is batch 2 x headDim 3/],
  ['initialState of another headDim', state(B, D + 1), RangeError, /options\.initialState is for batch 2 x headDim 4/],
  ['initialState null', (_, o) => (o.initialState = null), TypeError, /options\.initialState must be an object/],
  ['initialState.w too short', state(B, D, (s) => (s.w = new Float32Array(1))), RangeError, /options\.initialState\.w must have 6 elements/],
  ['initialState.m not Float32Array', state(B, D, (s) => (s.m = [0, 0] as unknown as Float32Array)), TypeError, /options\.initialState\.m must be a Float32Array/],
  ['initialState.u NaN', state(B, D, (s) => (s.u[1] = NaN)), RangeError, /options\.initialState\.u\[1\] is NaN/],
  ['initialState.u negative', state(B, D, (s) => (s.u[0] = -1)), RangeError, /options\.initialState\.u\[0\] is -1/],
  ['initialState.w Infinity', state(B, D, (s) => (s.w[5] = Infinity)), RangeError, /options\.initialState\.w\[5\] is Infinity/],
  ['schedule unknown', (_, o) => (o.schedule = 'fast'), RangeError, /options\.schedule must be .*got fast/],
  ['tilesPerChunk 0', (_, o) => (o.tilesPerChunk = 0), RangeError, /options\.tilesPerChunk must be in \[1/],
  ['tilesPerChunk 1.5', (_, o) => (o.tilesPerChunk = 1.5), TypeError, /options\.tilesPerChunk must be an integer/],
  ['targetWorkgroups -1', (_, o) => (o.targetWorkgroups = -1), RangeError, /options\.targetWorkgroups must be in \[1/],
];

describe.each([
  ['prefixAttention', prefixAttention],
  ['prefixAttentionLast', prefixAttentionLast],
] as const)('%s refuses bad input before any GPU work', (_name, call) => {
  test.each(typedMutations)('%s', async (_case, change, errorClass, message) => {
    const input = validInput() as unknown as Record<string, unknown>;
    const options: Record<string, unknown> = {};
    change(input, options);
    await expectRefused(() => call(device, input as unknown as PrefixAttentionInput, options), errorClass, message);
  });

  test('input, options and device that are not objects', async () => {
    await expectRefused(() => call(device, null as unknown as PrefixAttentionInput), TypeError, /^input must be an object/);
    await expectRefused(() => call(device, 7 as unknown as PrefixAttentionInput), TypeError, /^input must be an object/);
    await expectRefused(() => call(device, validInput(), null as unknown as object), TypeError, /^options must be an object/);
    await expectRefused(() => call({} as GPUDevice, validInput()), TypeError, /^device must be a GPUDevice, got Object/);
    await expectRefused(() => call(undefined as unknown as GPUDevice, validInput()), TypeError, /^device must be a GPUDevice, got undefined/);
  });

  test('after every refusal, the next valid call is correct', async () => {
    await expectCorrect();
  });
});

describe('-Infinity scores are masked tokens, not errors', () => {
  test('masked prefix outputs 0, the rest matches the reference; a fully masked sequence outputs 0', async () => {
    const input = validInput(3, 9, 4, 5);
    for (let k = 0; k < 4; k++) input.scores[k] = -Infinity; // masked prefix of sequence 0
    for (let k = 9; k < 18; k++) input.scores[k] = -Infinity; // sequence 1 fully masked
    input.scores[20] = -Infinity; // one masked token in sequence 2
    const ref = referenceRecurrence(input);
    const out = await prefixAttention(device, input, { schedule: 'parallel', tilesPerChunk: 1 });
    expect(maxError(out, ref.outputs)).toBeLessThanOrEqual(1e-3);
    expect(Array.from(out.subarray(0, 16)).every((x) => x === 0)).toBe(true);
    expect(Array.from(out.subarray(36, 72)).every((x) => x === 0)).toBe(true);
    const last = await prefixAttentionLast(device, input);
    expect(last.state.u[1]).toBe(0);
    expect(last.state.m[1]).toBe(-Infinity);
    expect(Array.from(last.output.subarray(4, 8))).toEqual([0, 0, 0, 0]);
  });
});

describe('empty inputs: an empty result and no dispatch', () => {
  test.each([
    [0, 5],
    [3, 0],
    [0, 0],
  ])('batch %i, length %i', async (batch, length) => {
    const input = validInput(batch, length, D);
    const before = spy.snapshot();
    expect(await prefixAttention(device, input)).toEqual(new Float32Array(0));
    const last = await prefixAttentionLast(device, input);
    expect(last.output).toEqual(new Float32Array(batch * D));
    expect(Array.from(last.state.m)).toEqual(new Array(batch).fill(-Infinity));
    expect(last.state.u).toEqual(new Float32Array(batch));
    expect(spy.snapshot()).toEqual(before);
  });

  test('length 0 with an initial state returns that state and its output', async () => {
    const input = validInput(2, 7, D, 9);
    const first = await prefixAttentionLast(device, input);
    const before = spy.snapshot();
    const again = await prefixAttentionLast(device, validInput(2, 0, D), { initialState: first.state });
    expect(spy.snapshot()).toEqual(before);
    expect(again.output).toEqual(first.output);
    expect(again.state).toEqual(first.state);
    expect(again.state.w).not.toBe(first.state.w); // a copy
  });

  test('PrefixScan of batch 0 or length 0 records no compute pass', async () => {
    for (const shape of [{ batch: 0, length: 8, headDim: 4 }, { batch: 2, length: 0, headDim: 4 }]) {
      for (const outputs of ['all', 'last'] as const) {
        const scan = await PrefixScan.create(device, shape, { outputs });
        const encoder = device.createCommandEncoder();
        let passes = 0;
        const begin = encoder.beginComputePass;
        encoder.beginComputePass = function (d?: GPUComputePassDescriptor) {
          passes++;
          return begin.call(encoder, d);
        };
        const buffer = (bytes: number) => createStorageBuffer(device, bytes);
        const buffers = { scores: buffer(16), values: buffer(16), output: buffer(scan.outputFloats * 4), finalState: buffer(scan.stateBytes) };
        scan.encode(encoder, buffers);
        expect(passes).toBe(0);
        device.queue.submit([encoder.finish()]);
        for (const b of Object.values(buffers)) b.destroy();
        scan.destroy();
      }
    }
  });
});

describe('PrefixScan.create refuses bad shapes and options before any GPU work', () => {
  const shape = { batch: B, length: N, headDim: D };
  const maxGroups = device.limits.maxComputeWorkgroupsPerDimension;
  const limitBytes = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
  const past = Math.floor(limitBytes / 16) + 1; // tokens of headDim 4 whose values pass the limit
  test.each([
    ['shape null', null, {}, TypeError, /^shape must be an object/],
    ['options null', shape, null, TypeError, /^options must be an object/],
    ['batch -1', { ...shape, batch: -1 }, {}, RangeError, /shape\.batch must be in \[0, \d+\], got -1/],
    ['batch 1.5', { ...shape, batch: 1.5 }, {}, TypeError, /shape\.batch must be an integer/],
    ['batch NaN', { ...shape, batch: NaN }, {}, TypeError, /shape\.batch must be an integer/],
    ['batch past maxComputeWorkgroupsPerDimension', { ...shape, batch: maxGroups + 1 }, {}, RangeError, new RegExp(`shape\\.batch must be in \\[0, ${maxGroups}\\], got ${maxGroups + 1}`)],
    ['length -1', { ...shape, length: -1 }, {}, RangeError, /shape\.length must be in/],
    ['length undefined', { ...shape, length: undefined }, {}, TypeError, /shape\.length must be an integer, got undefined/],
    ['headDim 0', { ...shape, headDim: 0 }, {}, RangeError, /shape\.headDim must be in \[1, \d+\], got 0/],
    ['headDim past the kernels', { ...shape, headDim: 16 * maxGroups + 1 }, {}, RangeError, /shape\.headDim must be in \[1, \d+\]/],
    ['outputs unknown', shape, { outputs: 'some' }, RangeError, /options\.outputs must be 'all' or 'last', got some/],
    ['schedule unknown', shape, { schedule: 'fastest' }, RangeError, /options\.schedule must be/],
    ['tilesPerChunk 0', shape, { tilesPerChunk: 0 }, RangeError, /options\.tilesPerChunk/],
    ['targetWorkgroups 2.5', shape, { targetWorkgroups: 2.5 }, TypeError, /options\.targetWorkgroups must be an integer/],
    ['values past the buffer limit', { batch: 1, length: past, headDim: 4 }, {}, RangeError,
      new RegExp(`shape batch 1 x length ${past} x headDim 4 needs a values buffer of ${16 * past} bytes, past the device's (maxStorageBufferBindingSize|maxBufferSize) \\(${limitBytes} bytes\\)`)],
    ['scores past the buffer limit', { batch: 4, length: past, headDim: 1 }, { outputs: 'last' }, RangeError, /needs a scores buffer of \d+ bytes, past the device's/],
  ] as const)('%s', async (_case, badShape, options, errorClass, message) => {
    await expectRefused(() => PrefixScan.create(device, badShape as never, options as never), errorClass, message);
  });

  test('device that is not a GPUDevice', async () => {
    await expectRefused(() => PrefixScan.create({ limits: device.limits } as GPUDevice, shape), TypeError, /^device must be a GPUDevice/);
  });

  test('after every refusal, the next valid call is correct', async () => {
    await expectCorrect();
  });
});

describe('PrefixScan.encode refuses bad buffers before recording anything', () => {
  const shape = { batch: B, length: N, headDim: D };
  let scan: PrefixScan;
  let last: PrefixScan;
  const made: GPUBuffer[] = [];
  const buffer = (bytes: number, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST) => {
    const b = device.createBuffer({ size: bytes, usage });
    made.push(b);
    return b;
  };
  let good: { scores: GPUBuffer; values: GPUBuffer; output: GPUBuffer; initialState: GPUBuffer; finalState: GPUBuffer };
  beforeEach(async () => {
    scan ??= await PrefixScan.create(device, shape);
    last ??= await PrefixScan.create(device, shape, { outputs: 'last' });
    good ??= {
      scores: buffer(B * N * 4),
      values: buffer(B * N * D * 4),
      output: buffer(B * N * D * 4),
      initialState: buffer(stateBytes(B, D)),
      finalState: buffer(stateBytes(B, D)),
    };
  });
  afterAll(() => {
    scan.destroy();
    last.destroy();
    for (const b of made) b.destroy();
  });

  const cases: [string, (g: typeof good) => Record<string, unknown> | null, typeof RangeError | typeof TypeError, RegExp][] = [
    ['buffers null', () => null, TypeError, /^buffers must be an object/],
    ['scores missing', (g) => ({ ...g, scores: undefined }), TypeError, /buffers\.scores must be a GPUBuffer, got undefined/],
    ['scores a Float32Array', (g) => ({ ...g, scores: new Float32Array(10) }), TypeError, /buffers\.scores must be a GPUBuffer, got Float32Array\(10\)/],
    ['scores too small', (g) => ({ ...g, scores: buffer(36) }), RangeError, /buffers\.scores must hold at least 40 bytes, got 36/],
    ['values too small', (g) => ({ ...g, values: buffer(16) }), RangeError, /buffers\.values must hold at least 120 bytes, got 16/],
    ['values without STORAGE', (g) => ({ ...g, values: buffer(128, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST) }), TypeError, /buffers\.values must have GPUBufferUsage\.STORAGE/],
    ['output too small', (g) => ({ ...g, output: buffer(64) }), RangeError, /buffers\.output must hold at least 120 bytes, got 64/],
    ['output without STORAGE', (g) => ({ ...g, output: buffer(128, GPUBufferUsage.COPY_SRC) }), TypeError, /buffers\.output must have GPUBufferUsage\.STORAGE/],
    ['initialState of a smaller batch', (g) => ({ ...g, initialState: buffer(stateBytes(B - 1, D)) }), RangeError, /buffers\.initialState must hold at least \d+ bytes/],
    // (A state of another headDim with the same vec4 stride has the same bytes: a GPU buffer cannot tell them apart.)
    ['initialState of a smaller headDim stride', (g) => ({ ...g, initialState: buffer(stateBytes(B + 1, 0)) }), RangeError, /buffers\.initialState must hold at least 64 bytes, got 48/],
    ['finalState too small', (g) => ({ ...g, finalState: buffer(16) }), RangeError, /buffers\.finalState must hold at least/],
    ['finalState not a buffer', (g) => ({ ...g, finalState: 1 }), TypeError, /buffers\.finalState must be a GPUBuffer, got number 1/],
    ['output aliasing scores', (g) => ({ ...g, scores: g.output }), RangeError, /buffers\.output must be a different buffer from buffers\.scores/],
    ['finalState aliasing initialState', (g) => ({ ...g, finalState: g.initialState }), RangeError, /buffers\.finalState must be a different buffer from buffers\.initialState/],
    ['finalState aliasing output', (g) => ({ ...g, finalState: g.output }), RangeError, /buffers\.finalState must be a different buffer from buffers\.output/],
  ];

  test.each(cases)('%s', async (_case, make, errorClass, message) => {
    const bad = make(good);
    const encoder = device.createCommandEncoder();
    await expectRefused(() => scan.encode(encoder, bad as never), errorClass, message);
    device.queue.submit([encoder.finish()]); // nothing half-recorded: the encoder is still valid
  });

  test("outputs 'last' without finalState", async () => {
    const encoder = device.createCommandEncoder();
    const { finalState: _, ...rest } = good;
    await expectRefused(() => last.encode(encoder, rest), TypeError, /buffers\.finalState is required when outputs is 'last'/);
    device.queue.submit([encoder.finish()]);
  });

  test('encoder that is not a GPUCommandEncoder', async () => {
    await expectRefused(() => scan.encode(null as never, good), TypeError, /^encoder must be a GPUCommandEncoder, got null/);
    await expectRefused(() => scan.encode({} as never, good), TypeError, /^encoder must be a GPUCommandEncoder/);
  });

  test('a destroyed PrefixScan', async () => {
    const doomed = await PrefixScan.create(device, shape);
    doomed.destroy();
    doomed.destroy(); // twice is fine
    const encoder = device.createCommandEncoder();
    await expectRefused(() => doomed.encode(encoder, good), TypeError, /PrefixScan\.encode: this PrefixScan was destroyed/);
    device.queue.submit([encoder.finish()]);
  });

  test('after the refusals, encode on the same encoder kind gives the reference results', async () => {
    const input = validInput(B, N, D, 77);
    device.queue.writeBuffer(good.scores, 0, input.scores as Float32Array<ArrayBuffer>);
    device.queue.writeBuffer(good.values, 0, input.values as Float32Array<ArrayBuffer>);
    const encoder = device.createCommandEncoder();
    scan.encode(encoder, { scores: good.scores, values: good.values, output: good.output, finalState: good.finalState });
    const [out, packed] = await submitAndRead(device, encoder, [{ buffer: good.output, floats: B * N * D }, { buffer: good.finalState, floats: stateBytes(B, D) / 4 }]);
    const ref = referenceRecurrence(input);
    expect(maxError(out!, ref.outputs)).toBeLessThanOrEqual(1e-3);
    const s = unpackState(packed!, B, D);
    for (let b = 0; b < B; b++) expect(s.m[b]).toBe(Math.fround(ref.states[b]!.m));
  });
});

describe('inputs past the device buffer limits are processed in pieces', () => {
  const tileOf = (headDim: number) => kernelConfig(device.limits, headDim).tile;

  test('scanPieces: whole sequences grouped while one fits, else sequences cut along their length', () => {
    const limit = { bytes: 4096, name: 'maxStorageBufferBindingSize' };
    const grouped = scanPieces({ batch: 10, length: 40, headDim: 4 }, 'all', tileOf(4), limit, 65535);
    expect(grouped.every((p) => p.lengthStart === 0 && p.length === 40)).toBe(true);
    expect(grouped.reduce((n, p) => n + p.batch, 0)).toBe(10);
    expect(grouped.length).toBeGreaterThan(1);
    const cut = scanPieces({ batch: 2, length: 1000, headDim: 4 }, 'all', tileOf(4), limit, 65535);
    expect(cut.every((p) => p.batch === 1)).toBe(true);
    expect(cut.filter((p) => p.batchStart === 1).reduce((n, p) => n + p.length, 0)).toBe(1000);
    expect(Math.max(...cut.map((p) => p.length * 4 * 4))).toBeLessThanOrEqual(4096);
    const batchCapped = scanPieces({ batch: 10, length: 2, headDim: 1 }, 'all', tileOf(1), { bytes: 2 ** 30, name: 'x' }, 3);
    expect(batchCapped.map((p) => p.batch)).toEqual([3, 3, 3, 1]);
    expect(() => scanPieces({ batch: 1, length: 5, headDim: 4096 }, 'all', tileOf(4096), limit, 65535))
      .toThrow(/input\.headDim 4096: one token needs buffers past the device's maxStorageBufferBindingSize \(4096 bytes\)/);
  });

  test.each(['all', 'last'] as const)("outputs '%s' in pieces matches the reference; the state carries across length pieces", async (outputs) => {
    const input = validInput(3, 700, 5, 31);
    for (let k = 0; k < 300; k++) input.scores[700 + k] = -Infinity; // masked prefix spanning pieces
    const initial = await prefixAttentionLast(device, validInput(3, 11, 5, 32));
    const ref = referenceRecurrence(input, Array.from({ length: 3 }, (_, b) => ({ m: initial.state.m[b]!, u: initial.state.u[b]!, w: Float64Array.from(initial.state.w.subarray(b * 5, b * 5 + 5)) })));
    for (const limit of [4096, 20000, 200000]) {
      const before = spy.snapshot();
      const r = await runInPieces(device, input, { initialState: initial.state }, outputs, { bytes: limit, name: 'maxStorageBufferBindingSize' });
      const submits = spy.snapshot().submits - before.submits;
      const expectedPieces = scanPieces(input, outputs, tileOf(5), { bytes: limit, name: '' }, 65535).length;
      expect(submits).toBe(expectedPieces);
      expect(submits).toBeGreaterThanOrEqual(limit === 4096 ? 12 : limit === 20000 ? 3 : 1);
      const want = outputs === 'all' ? ref.outputs : lastRows(ref.outputs, 3, 700, 5);
      expect(maxError(r.output, want)).toBeLessThanOrEqual(1e-3);
      for (let b = 0; b < 3; b++) {
        expect(r.state.m[b]).toBe(Math.fround(ref.states[b]!.m));
        expect(Math.abs(r.state.u[b]! - ref.states[b]!.u)).toBeLessThanOrEqual(1e-4 * ref.states[b]!.u);
      }
    }
  });

  test('a token that cannot fit is refused naming the limit, before any GPU work', async () => {
    const input = validInput(1, 4, 2048, 3);
    await expectRefused(() => runInPieces(device, input, {}, 'all', { bytes: 4096, name: 'maxBufferSize' }), RangeError, /maxBufferSize \(4096 bytes\)/);
  });
});

describe('WebGPU errors inside a call come back from that call', () => {
  test('a validation error (a buffer destroyed under the call) rejects prefixAttention; the next call is correct', async () => {
    spy.onCreate = (buffer, descriptor) => {
      if (descriptor.label === 'aaren output') buffer.destroy();
    };
    const before = spy.snapshot();
    try {
      await expect(prefixAttention(device, validInput())).rejects.toThrow(/WebGPU validation error during prefixAttention/);
    } finally {
      spy.onCreate = undefined;
    }
    expect(spy.live.size).toBe(before.live); // everything released on the error path too
    await expectCorrect();
  });

  test('an out-of-memory error reported by the error scope rejects the call', async () => {
    const pop = device.popErrorScope;
    let pops = 0;
    device.popErrorScope = async function () {
      const real = await pop.call(device);
      return ++pops === 2 ? ({ message: 'simulated: not enough memory' } as GPUError) : real;
    };
    try {
      await expect(prefixAttentionLast(device, validInput())).rejects.toThrow(/WebGPU out-of-memory error during prefixAttention: simulated/);
    } finally {
      device.popErrorScope = pop;
    }
    await expectCorrect();
  });
});

describe('a lost device gives a clear error on the next call', () => {
  const gpu = (globalThis as { __aarenDawnGpu?: GPU }).__aarenDawnGpu!;

  test('destroyed after use: every entry point refuses, naming the loss', async () => {
    const other = await requestAarenDevice(gpu);
    const input = validInput();
    await prefixAttention(other, input);
    const scan = await PrefixScan.create(other, { batch: B, length: N, headDim: D });
    const encoder = other.createCommandEncoder();
    const buffers = { scores: uploadFloat32(other, input.scores), values: uploadFloat32(other, input.values), output: createStorageBuffer(other, B * N * D * 4) };
    other.destroy();
    await expect(prefixAttention(other, input)).rejects.toThrow(/device is lost \(destroyed.*request a new GPUDevice/);
    await expect(prefixAttentionLast(other, input)).rejects.toThrow(/device is lost \(destroyed/);
    await expect(PrefixScan.create(other, { batch: B, length: N, headDim: D })).rejects.toThrow(/device is lost/);
    expect(() => scan.encode(encoder, buffers)).toThrow(/PrefixScan\.device is lost/);
    // Empty inputs too: the caller learns of the loss at once.
    await expect(prefixAttention(other, validInput(0, 5, D))).rejects.toThrow(/device is lost/);
  });

  test('destroyed before its first use (the loss not yet seen by any callback)', async () => {
    const other = await requestAarenDevice(gpu);
    other.destroy();
    await expect(prefixAttention(other, validInput())).rejects.toThrow(/device is lost \(destroyed/);
  });

  test('the shared device still works', async () => {
    await expectCorrect();
  });
});

describe('AarenLayer and AarenModel on a lost device', () => {
  const gpu = (globalThis as { __aarenDawnGpu?: GPU }).__aarenDawnGpu!;
  const layerConfig = () => randomLayerConfig({ dModel: 5, heads: 2, headDim: 4 }, seeded(3));
  const modelConfig = () => randomModelConfig({ layers: 1, dModel: 5, heads: 2, headDim: 4, dFF: 7 }, seeded(4));

  test('forward, step and create reject with an error that says the device is lost', async () => {
    const other = await requestAarenDevice(gpu);
    const layer = await AarenLayer.create(other, layerConfig());
    const model = await AarenModel.create(other, modelConfig());
    const x = randomArray(2 * 3 * 5, seeded(5));
    await layer.forward(x, { batch: 2, length: 3 });
    const layerState = layer.createState(2);
    const modelState = model.createState(2);
    other.destroy();
    const outcome = async (call: () => Promise<unknown>) => call().then(() => 'resolved', (e: Error) => `${e.constructor.name}: ${e.message}`);
    const results = {
      'layer.forward': await outcome(() => layer.forward(x, { batch: 2, length: 3 })),
      'layer.step': await outcome(() => layer.step(layerState, x.subarray(0, 10))),
      'model.forward': await outcome(() => model.forward(x, { batch: 2, length: 3 })),
      'model.step': await outcome(() => model.step(modelState, x.subarray(0, 10))),
      'AarenLayer.create': await outcome(() => AarenLayer.create(other, layerConfig())),
      'AarenModel.create': await outcome(() => AarenModel.create(other, modelConfig())),
    };
    for (const [name, result] of Object.entries(results)) expect(result, name).toMatch(/lost/);
  });
});

describe('GPU-resident forms do not check the data: NaN and +Infinity propagate', () => {
  // PrefixScan.encode cannot look at buffer contents without a readback, so it documents instead. On this
  // adapter (SwiftShader; WGSL promises nothing for NaN and infinities, so other GPUs may differ): a NaN score makes
  // the outputs of its sequence NaN from that position on, a NaN value its channel; a +Infinity score takes all the
  // weight from that position on (the output is that token's value: the limit of the softmax), and a second
  // +Infinity score gives NaN. Earlier positions and other sequences are unaffected. Pinned on every schedule.
  test.each(['recurrent', 'sequential', 'parallel'] as const)('%s', async (schedule) => {
    const batch = 4;
    const length = 600;
    const headDim = 3;
    const input = validInput(batch, length, headDim, 8);
    const bad = [
      { b: 0, at: 300, put: () => (input.scores[300] = NaN) },
      { b: 1, at: 5, put: () => (input.scores[length + 5] = Infinity) },
      { b: 2, at: 450, put: () => (input.values[(2 * length + 450) * headDim + 1] = NaN) },
      { b: 3, at: 520, put: () => { input.scores[3 * length + 100] = Infinity; input.scores[3 * length + 520] = Infinity; } },
    ];
    const clean = referenceRecurrence(input).outputs;
    for (const x of bad) x.put();
    const scan = await PrefixScan.create(device, { batch, length, headDim }, { schedule, tilesPerChunk: 1 });
    const buffers = {
      scores: uploadFloat32(device, input.scores),
      values: uploadFloat32(device, input.values),
      output: createStorageBuffer(device, batch * length * headDim * 4),
    };
    try {
      const encoder = device.createCommandEncoder();
      scan.encode(encoder, buffers);
      const [out] = await submitAndRead(device, encoder, [{ buffer: buffers.output, floats: batch * length * headDim }]);
      for (let b = 0; b < batch; b++) {
        const from = b === 3 ? 100 : bad.find((x) => x.b === b)?.at ?? length;
        for (let k = 0; k < length; k++) {
          const row = out!.subarray((b * length + k) * headDim, (b * length + k + 1) * headDim);
          if (k < from) {
            for (let c = 0; c < headDim; c++) expect(Math.abs(row[c]! - clean[(b * length + k) * headDim + c]!), `b ${b} k ${k}`).toBeLessThanOrEqual(1e-3);
          } else if (b === 3 && k < 520) {
            const v100 = input.values.subarray((3 * length + 100) * headDim, (3 * length + 101) * headDim);
            expect(Array.from(row), `b ${b} k ${k}: the first +Infinity takes all the weight`).toEqual(Array.from(v100));
          } else if (b === 1) {
            const v5 = input.values.subarray((length + 5) * headDim, (length + 6) * headDim);
            expect(Array.from(row), `b ${b} k ${k}: +Infinity takes all the weight`).toEqual(Array.from(v5));
          } else if (b === 2) {
            expect(Number.isNaN(row[1]), `b ${b} k ${k}: the NaN channel`).toBe(true); // a NaN value spoils its channel
          } else {
            expect(row.every((x) => Number.isNaN(x)), `b ${b} k ${k}: ${Array.from(row)}`).toBe(true);
          }
        }
      }
    } finally {
      scan.destroy();
      for (const b of Object.values(buffers)) b.destroy();
    }
  });
});
