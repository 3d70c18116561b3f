// The ONNX graphs of the peer benchmarks (bench/peers/onnx-graph.ts), evaluated by onnxruntime-web's wasm EP in Node
// on tiny shapes, equal the float64 references: the causal learned-query MultiHeadAttention is the Aaren prefix
// attention, and the model graph is referenceModel with the same weights. No GPU, no timing.
import * as ort from 'onnxruntime-web';
import { describe, expect, it } from 'vitest';
import { aarenModelGraph, attentionGraph, matmulGraph } from '../bench/peers/onnx-graph.js';
import { referenceRecurrence } from '../src/reference/scan.js';
import { referenceModel } from '../src/reference/layer.js';
import type { AarenModelConfig } from '../src/nn/model.js';

ort.env.wasm.numThreads = 1;

/** Deterministic floats in [-1, 1). */
function randomFloats(count: number, seed: number): Float32Array {
  let x = (seed * 2654435761) >>> 0 || 1;
  return Float32Array.from({ length: count }, () => {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    return x / 2147483648 - 1;
  });
}

function maxRelError(got: ArrayLike<number>, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < want.length; i++) {
    diff = Math.max(diff, Math.abs(got[i]! - want[i]!));
    scale = Math.max(scale, Math.abs(want[i]!));
  }
  return diff / scale;
}

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'] });
  try {
    const out = await session.run(feeds);
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

describe('peer ONNX graphs (onnxruntime-web wasm, Node)', () => {
  it('MultiHeadAttention with unidirectional=1 and a broadcast learned query is the prefix attention', async () => {
    const H = 3, D = 8, N = 17, scale = 0.4;
    const q = randomFloats(H * D, 1).map((v) => 2 * v);
    const keys = randomFloats(N * H * D, 2);
    const values = randomFloats(N * H * D, 3);
    const y = await run(attentionGraph(H, D, q, scale), {
      key: new ort.Tensor('float32', keys, [1, N, H * D]), value: new ort.Tensor('float32', values, [1, N, H * D]),
    });
    const scores = new Float64Array(H * N);
    const valuesHeads = new Float64Array(H * N * D);
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < N; i++) {
        let s = 0;
        for (let c = 0; c < D; c++) {
          s += q[h * D + c]! * keys[i * H * D + h * D + c]!;
          valuesHeads[(h * N + i) * D + c] = values[i * H * D + h * D + c]!;
        }
        scores[h * N + i] = scale * s;
      }
    }
    const ref = referenceRecurrence({ scores, values: valuesHeads, batch: H, length: N, headDim: D }).outputs;
    const want = new Float64Array(N * H * D);
    for (let h = 0; h < H; h++) for (let i = 0; i < N; i++) for (let c = 0; c < D; c++) want[i * H * D + h * D + c] = ref[(h * N + i) * D + c]!;
    expect(maxRelError(y, want)).toBeLessThan(1e-5);
  });

  it('the model graph equals referenceModel with the same weights', async () => {
    const layers = 2, dModel = 8, heads = 2, headDim = 4, dFF = 12, hd = heads * headDim;
    let seed = 10;
    const rand = (n: number, s: number, offset = 0) => randomFloats(n, seed++).map((v) => offset + s * v);
    const norm = () => ({ weight: rand(dModel, 0.2, 1), bias: rand(dModel, 0.2) });
    const config: AarenModelConfig = {
      layers, dModel, heads, headDim, dFF,
      weights: {
        blocks: Array.from({ length: layers }, () => ({
          ln1: norm(),
          attention: { query: rand(hd, 2), key: rand(dModel * hd, 0.5), value: rand(dModel * hd, 0.5), output: rand(hd * dModel, 0.4),
            keyBias: rand(hd, 0.2), valueBias: rand(hd, 0.2), outputBias: rand(dModel, 0.2) },
          ln2: norm(),
          ffn: { w1: rand(dModel * dFF, 0.5), b1: rand(dFF, 0.2), w2: rand(dFF * dModel, 0.3), b2: rand(dModel, 0.2) },
        })),
        finalNorm: norm(),
      },
    };
    const batch = 2, length = 7;
    const x = rand(batch * length * dModel, 1);
    const y = await run(aarenModelGraph(config), { x: new ort.Tensor('float32', x, [batch, length, dModel]) });
    expect(maxRelError(y, referenceModel(config, x, batch, length))).toBeLessThan(1e-5);
  });

  it('the matmul graph', async () => {
    const m = 5, k = 6, n = 7;
    const a = randomFloats(m * k, 40);
    const w = randomFloats(k * n, 41);
    const y = await run(matmulGraph(m, k, n, w), { a: new ort.Tensor('float32', a, [m, k]) });
    const want = new Float64Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let l = 0; l < k; l++) acc += a[i * k + l]! * w[l * n + j]!;
        want[i * n + j] = acc;
      }
    }
    expect(maxRelError(y, want)).toBeLessThan(1e-6);
  });
});
