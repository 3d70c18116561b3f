// The shared correctness cases in a real browser: headless Chromium (WebGPU on SwiftShader unless AAREN_REAL_GPU=1).
import { describe, expect, it } from 'vitest';
import { runInChrome } from '../harness/run-in-chrome.mjs';
import { TINY_PROTOCOL_TIMEOUT_MS } from './protocol.js';

const TIMEOUT_MS = 15 * 60 * 1000;

describe('headless Chromium', () => {
  it(
    'passes every quick correctness case',
    async () => {
      // A run of minutes under a protocol timeout of seconds: no single CDP call may be held open for the run.
      const started = performance.now();
      const { adapter, results, gpuErrors } = await runInChrome({ quick: true, timeoutMs: TIMEOUT_MS - 60_000, protocolTimeoutMs: TINY_PROTOCOL_TIMEOUT_MS });
      expect(performance.now() - started).toBeGreaterThan(3 * TINY_PROTOCOL_TIMEOUT_MS);
      const where = `adapter: ${adapter?.vendor ?? '?'} ${adapter?.architecture ?? '?'} ${adapter?.description ?? ''}`;
      expect(results.length, `no cases ran (${where})`).toBeGreaterThan(0);
      // Every case, the training ones among them, ran under WebGPU's default binding limit, enforced by Dawn.
      expect(adapter?.storageBuffersPerStage, where).toBe(8);
      const failing = results
        .filter((r) => !r.pass)
        .map((r) => `${r.kernel} [${r.shape}]: maxAbs=${r.maxAbsError} maxRel=${r.maxRelError} tol=${r.tolerance}` +
          (r.error ? ` error=${r.error}` : ''));
      expect(failing, `${failing.length}/${results.length} failing cases on ${where}:\n${failing.join('\n')}`).toEqual([]);
      expect(gpuErrors, `uncaptured WebGPU errors on ${where}`).toEqual([]);
    },
    TIMEOUT_MS,
  );
});
