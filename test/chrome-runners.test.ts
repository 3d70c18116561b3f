// Every runner that drives Chromium (harness, bench, training) survives a page run far longer than one
// DevTools-protocol call may take: the run's own deadline is the only deadline (issue 15: `npm start` died after
// puppeteer's 180 s protocolTimeout because one waitForFunction call was held open for the whole run). The
// harness's own long run is test/browser.test.ts, under the same tiny protocol timeout.
import { describe, expect, it } from 'vitest';
import { runInChromeBench } from '../bench/chrome.mjs';
import { trainInChrome } from '../harness/train/chrome.mjs';
import { DEFAULT_TRAIN_CONFIG, type TrainConfig } from '../harness/train/loop.js';
import { describeError, launchBrowser } from '../harness/chromium.mjs';
import { TINY_PROTOCOL_TIMEOUT_MS } from './protocol.js';

describe('Chromium runners under a tiny protocol timeout', () => {
  it('is in force: one call held open past it fails (what a whole-run wait would meet)', async () => {
    const browser = await launchBrowser({ protocolTimeoutMs: TINY_PROTOCOL_TIMEOUT_MS });
    try {
      const page = await browser.newPage();
      const held = page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 4 * 2_000)));
      await expect(held).rejects.toThrow(/timed out/);
    } finally {
      await browser.close();
    }
  });

  it('the bench (tiny sizes, no peers) completes', async () => {
    const started = performance.now();
    const lines: string[] = [];
    const report = await runInChromeBench({ mode: 'tiny', peers: false, investigate: false, progress: (l) => lines.push(l), protocolTimeoutMs: TINY_PROTOCOL_TIMEOUT_MS });
    const ms = performance.now() - started;
    expect(ms, 'the run must outlive the protocol timeout for this test to mean anything').toBeGreaterThan(3 * TINY_PROTOCOL_TIMEOUT_MS);
    expect(report.backend).toBe('chrome');
    expect(report.summary.scanVsCopy).toBeGreaterThan(0);
    expect(lines.length).toBeGreaterThan(3);
  });

  it('training (a tiny model, 12 steps) completes and returns its weights', async () => {
    const config: TrainConfig = {
      ...DEFAULT_TRAIN_CONFIG,
      model: { layers: 1, dModel: 64, heads: 4, headDim: 16, dFF: 128 },
      steps: 12, batch: 2, length: 16, warmup: 2, seed: 1,
      sample: { prompt: 'the ', maxTokens: 8, temperature: 0.5, topK: 3 },
    };
    const started = performance.now();
    const steps: number[] = [];
    const result = await trainInChrome({
      text: 'the cat sat on the mat. '.repeat(10), config, progressEvery: 4,
      onProgress: (p) => steps.push(p.step), onValidation: () => {}, onSampleText: () => {}, log: () => {},
      protocolTimeoutMs: TINY_PROTOCOL_TIMEOUT_MS,
    });
    const ms = performance.now() - started;
    expect(ms, 'the run must outlive the protocol timeout for this test to mean anything').toBeGreaterThan(3 * TINY_PROTOCOL_TIMEOUT_MS);
    expect(result.losses).toHaveLength(12);
    expect(steps).toContain(12);
    expect(result.safetensors.length).toBeGreaterThan(1000);
  });
});

describe('describeError', () => {
  it('prints the cause chain: the real reason a run failed', () => {
    const inner = Object.assign(new Error("Runtime.callFunctionOn timed out. Increase the 'protocolTimeout' setting"), { name: 'ProtocolError' });
    const text = describeError(new Error('Waiting failed', { cause: new Error('middle', { cause: inner }) }));
    expect(text).toMatch(/^Error: Waiting failed/);
    expect(text).toContain('caused by Error: middle');
    expect(text).toContain("caused by ProtocolError: Runtime.callFunctionOn timed out. Increase the 'protocolTimeout' setting");
  });
});
