// Interop in headless Chromium (issue 18): onnxruntime-web 1.30 (`/webgpu` entry, our device) and TF.js 4.22
// (a WebGPUBackend on our device) hand GPU buffers to PrefixScan and AarenLayer and take their outputs back, with no
// readback in between; every stage is checked against the float64 reference. The mistakes (a buffer too small or
// without the usage needed, a buffer of another device, a library on another device) each give an error from
// aaren-webgpu that names the argument, and the valid call after it is still right. The page is
// test/interop/page.ts; the recipes are docs/interop.md.
import path from 'node:path';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { wgslRawPlugin } from '../scripts/wgsl-plugin.mjs';
import { describeError, launchBrowser, pageRun, waitForPage } from '../harness/chromium.mjs';
import type { InteropResult } from './interop/page.js';

const ROOT = path.resolve(__dirname, '..');
const DEADLINE_MS = 240_000;

let results: InteropResult[] = [];
let gpuErrors: string[] = [];
let pageError: string | undefined;

beforeAll(async () => {
  // The page and onnxruntime-web's dist/ (its bundles and .wasm files, loaded by URL) from one server on 127.0.0.1
  // (a secure context, which navigator.gpu needs); the page's bundle is served from memory.
  const ctx = await esbuild.context({
    entryPoints: [path.join(ROOT, 'test/interop/page.ts')], outdir: path.join(ROOT, 'test/interop'), write: false, bundle: true,
    format: 'esm', platform: 'browser', target: 'es2022', plugins: [wgslRawPlugin()], logLevel: 'silent',
  });
  const browser = await launchBrowser();
  try {
    await ctx.rebuild();
    const { port } = await ctx.serve({ host: '127.0.0.1', port: 0, servedir: ROOT });
    const page = await browser.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') console.error(`[page error] ${msg.text()}`);
    });
    const run = pageRun(page, { deadlineAt: Date.now() + DEADLINE_MS, timeoutMessage: () => `the interop page did not finish within ${DEADLINE_MS / 1000} s` });
    try {
      await run.race(page.goto(`http://127.0.0.1:${port}/test/interop/?ortBase=/node_modules/onnxruntime-web/dist/`, { waitUntil: 'load' }));
      await waitForPage(page, () => window.__interop?.done === true, run);
      ({ results, gpuErrors, error: pageError } = await run.race(page.evaluate(() => window.__interop)));
    } catch (e) {
      pageError = describeError(e);
    } finally {
      run.dispose();
    }
  } finally {
    await browser.close().catch(() => {});
    await ctx.dispose();
  }
}, DEADLINE_MS + 60_000);

afterAll(() => {
  // One line per result, for the log of a run (errors and their messages are what the docs quote).
  for (const r of results) console.log(`${r.name}: ${JSON.stringify({ ...r, name: undefined })}`);
});

function result(name: string): InteropResult {
  expect(pageError, 'the page failed').toBeUndefined();
  const r = results.find((x) => x.name === name);
  expect(r, `no result '${name}'`).toBeDefined();
  return r!;
}

/** A positive case: within tolerance of the float64 reference (NaN or a missing error fails). */
function expectClose(name: string): void {
  const r = result(name);
  expect(r.error, `${name} threw`).toBeUndefined();
  expect(r.maxAbsError, `${name}: max error ${r.maxAbsError} over tolerance ${r.tolerance}`).toBeLessThanOrEqual(r.tolerance!);
}

/** A mistake: the expected error class and message from our side, then the same valid call right again. */
function expectRefused(name: string, kind: string, message: RegExp): void {
  const r = result(name);
  expect(r.error, `${name}: no error`).toBeDefined();
  expect(`${r.error!.name}: ${r.error!.message}`).toMatch(new RegExp(`^${kind}: ${message.source}`));
  expect(r.after!.maxAbsError, `${name}: the valid call after the error, max error ${r.after!.maxAbsError}`).toBeLessThanOrEqual(r.after!.tolerance);
}

describe('one device shared with onnxruntime-web and TF.js (headless Chromium)', () => {
  test('requestAarenDevice: adapter-maximum limits and the interop features the adapter has', () => {
    const { features, adapterFeatures, limits, adapterLimits } = result('device').info as Record<string, string[] & Record<string, number>>;
    // SwiftShader in Chromium offers timestamp-query and subgroups, not shader-f16.
    expect(features).toEqual(expect.arrayContaining(['timestamp-query', 'shader-f16', 'subgroups'].filter((f) => adapterFeatures!.includes(f))));
    expect(Object.keys(limits!).length).toBeGreaterThan(20);
    expect(limits).toEqual(adapterLimits);
  });

  test('onnxruntime-web -> PrefixScan -> onnxruntime-web', () => {
    expectClose('ort -> PrefixScan');
    expectClose('PrefixScan -> ort');
    // ORT's buffers: at least STORAGE | COPY_SRC | COPY_DST, at least the tensor's bytes (in practice a size bucket).
    const { scoresBytes, valuesBytes, usage } = result('ort -> PrefixScan').info as Record<string, number>;
    expect(usage! & SHARED_USAGE).toBe(SHARED_USAGE);
    expect(scoresBytes).toBeGreaterThanOrEqual(2 * 19 * 4);
    expect(valuesBytes).toBeGreaterThanOrEqual(2 * 19 * 6 * 4);
    expect(result('ort: env.webgpu.device with a caller device').info!.envDevice).toBe('undefined');
  });

  test('onnxruntime-web -> AarenLayer -> onnxruntime-web', () => {
    expectClose('ort -> AarenLayer');
    expectClose('AarenLayer -> ort');
  });

  test('TF.js -> AarenLayer -> TF.js and TF.js -> PrefixScan -> TF.js', () => {
    expectClose('tf -> AarenLayer');
    expectClose('AarenLayer -> tf');
    expectClose('tf -> PrefixScan');
    expectClose('PrefixScan -> tf');
  });

  test('a buffer too small or without the usage needed: a RangeError / TypeError naming it, before any work', () => {
    expectRefused('ort: values buffer too small', 'RangeError', /buffers\.values must hold at least 912 bytes, got \d+/);
    expectRefused('ort: output without STORAGE', 'TypeError', /buffers\.output must have GPUBufferUsage\.STORAGE/);
    expectRefused('ort: buffer for ORT without COPY_SRC | COPY_DST', 'TypeError', /ORT input a must have GPUBufferUsage COPY_SRC \| COPY_DST \| STORAGE; it has STORAGE/);
    expectRefused('tf: x buffer too small', 'RangeError', /buffers\.x must hold at least 832 bytes, got 728/);
    expectRefused('tf: zeroCopy buffer without COPY_SRC', 'TypeError', /zeroCopy buffer must have GPUBufferUsage COPY_SRC \| STORAGE; it has COPY_DST \| STORAGE/);
  });

  test('a library on another device: the identity check says so before any work', () => {
    expectRefused('ort default entry: identity check', 'Error', /ort\.env\.webgpu\.device is not the device given to aaren-webgpu \(it is an unlabeled GPUDevice, ours is GPUDevice "aaren"\)/);
    expectRefused('tf: identity check of its own device', 'Error', /the TF\.js webgpu backend device is not the device given to aaren-webgpu/);
  });

  test('a buffer of another device: refused by name', () => {
    expectRefused('ort default entry: buffer of another device', 'Error', /buffers\.values cannot be used on device: it belongs to another GPUDevice \(WebGPU: .*associated with/);
    expectRefused('tf: buffer of another device', 'Error', /buffers\.x cannot be used on device: it belongs to another GPUDevice/);
    // Why the check: unchecked, WebGPU refuses the work after encode has returned, and the output is left as it was.
    expect(result('ort default entry: unchecked buffer of another device').info).toMatchObject({ validation: expect.stringMatching(/associated with/), outputAllZero: true });
  });

  test('no uncaptured WebGPU error on our device', () => {
    expect(pageError).toBeUndefined();
    expect(gpuErrors).toEqual([]);
  });
});

/** STORAGE | COPY_SRC | COPY_DST (GPUBufferUsage is not defined in Node). */
const SHARED_USAGE = 0x0080 | 0x0004 | 0x0008;
