import { test, expect } from 'vitest';
import { dawnDevice } from './dawn.js';
import { prefixAttention, referenceRecurrence, prefixAttentionLast } from '../src/index.js';
test('smoke', async () => {
  const device = await dawnDevice();
  for (const [batch, length, headDim, schedule, tpc] of [[2, 5, 3, 'sequential', undefined], [2, 1000, 20, 'sequential', undefined], [3, 3000, 8, 'parallel', 1], [1, 70000, 1, 'parallel', 1]] as const) {
    const scores = Float32Array.from({ length: batch * length }, (_, i) => (i % 7 === 3 ? -Infinity : Math.sin(i) * 5));
    const values = Float32Array.from({ length: batch * length * headDim }, (_, i) => Math.cos(i * 0.37) * 100);
    const t0 = performance.now();
    const out = await prefixAttention(device, { scores, values, batch, length, headDim }, { schedule, tilesPerChunk: tpc });
    const t1 = performance.now();
    const ref = referenceRecurrence({ scores, values, batch, length, headDim });
    let err = 0; for (let i = 0; i < out.length; i++) err = Math.max(err, Math.abs(out[i]! - ref.outputs[i]!));
    const last = await prefixAttentionLast(device, { scores, values, batch, length, headDim }, { schedule, tilesPerChunk: tpc });
    let err2 = 0; for (let b = 0; b < batch; b++) for (let c = 0; c < headDim; c++) err2 = Math.max(err2, Math.abs(last.output[b*headDim+c]! - ref.outputs[((b*length)+length-1)*headDim+c]!));
    console.log(batch, length, headDim, schedule, 'err', err, 'lastErr', err2, 'ms', (t1 - t0).toFixed(1), last.state.m[0], ref.states[0]!.m);
    expect(err).toBeLessThan(1e-2);
  }
}, 120000);
