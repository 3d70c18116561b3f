// Smoke test of the microbenchmark runner (bench/): tiny sizes, checks the output contract, never the speed.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { dawnDevice } from './dawn.js';
import { runBench } from '../bench/bench.js';
import { writeResults } from '../bench/write.js';

const SUMMARY_KEYS = ['scanVsCopy', 'endToEndVsCopy', 'scanBackwardVsForward', 'decayForwardCost', 'decayBackwardCost', 'trainTokensPerSecond', 'trainStepVsForward', 'fmaPeakGflops', 'trainMfu', 'trainMfuLarge', 'parallelVsNaive', 'parallelVsSequential', 'stepGrowth', 'kvCacheStepVsAaren', 'stateBytes', 'kvCacheBytes'];
const ROW_KEYS = ['kernel', 'batch', 'length', 'headDim', 'medianMs', 'minMs', 'maxMs', 'gbPerSec'];
const positive = (x: unknown) => typeof x === 'number' && Number.isFinite(x) && x > 0;

describe('bench runner (tiny sizes)', () => {
  it('writes latest.json / .md / .svg with the contract keys and finite positive figures', async () => {
    const device = await dawnDevice();
    const lines: string[] = [];
    const report = await runBench(device, { mode: 'tiny', backend: 'node', progress: (l) => lines.push(l) });
    const dir = await mkdtemp(path.join(tmpdir(), 'aaren-bench-'));
    try {
      const files = await writeResults(report, dir);
      expect(files.map((f) => path.basename(f))).toEqual(expect.arrayContaining(['latest.json', 'latest.md', 'latest.svg']));
      expect(files.some((f) => /\d{4}-\d\d-\d\dT.*-node-tiny\.json$/.test(f))).toBe(true);
      const json = JSON.parse(await readFile(path.join(dir, 'latest.json'), 'utf8'));

      for (const key of ['vendor', 'architecture', 'description']) expect(typeof json.adapter[key]).toBe('string');
      expect(json.backend).toBe('node');
      expect(json.quick).toBe(false);
      expect(Object.keys(json.summary).sort()).toEqual([...SUMMARY_KEYS].sort());
      for (const key of SUMMARY_KEYS) expect(positive(json.summary[key]), `summary.${key} = ${json.summary[key]}`).toBe(true);

      const kernels = new Set(json.results.map((r: { kernel: string }) => r.kernel));
      for (const k of ['copy', 'scan', 'naive', 'sequential', 'layer-forward', 'step', 'kv-step', 'lm-forward', 'lm-train-step', 'lm-large-forward', 'lm-large-train-step', 'upload-copy-read', 'prefix-attention']) expect(kernels.has(k), k).toBe(true);
      for (const row of json.results) {
        for (const key of ROW_KEYS) expect(row).toHaveProperty(key);
        for (const key of ['batch', 'length', 'headDim', 'medianMs', 'minMs', 'maxMs', 'gbPerSec']) {
          expect(positive(row[key]), `${row.kernel} L=${row.length} ${key} = ${row[key]}`).toBe(true);
        }
        expect(row.minMs).toBeLessThanOrEqual(row.medianMs);
        expect(row.medianMs).toBeLessThanOrEqual(row.maxMs);
      }

      const md = await readFile(path.join(dir, 'latest.md'), 'utf8');
      for (const key of SUMMARY_KEYS) expect(md).toContain(key);
      const svg = await readFile(path.join(dir, 'latest.svg'), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg).toContain('</svg>');
      expect(svg).toContain('<polyline');
      expect(svg).toContain('trainStep');
      expect(lines.length).toBeGreaterThan(5); // progress was shown
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
