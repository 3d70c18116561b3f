// `npm run train -- --backend chrome`: serve harness/train/page.ts (harness/serve.mjs), run it in headless
// Chromium (harness/chromium.mjs) and return what the shared training loop produced there.
import path from 'node:path';
import { launchBrowser, pageRun } from '../chromium.mjs';
import { startHarnessServer } from '../serve.mjs';

// From the package root (harness/train.mjs runs there): this file is bundled into harness/train/.build/cli.mjs,
// so import.meta.url does not name its own folder.
const PAGE_DIR = path.resolve('harness', 'train');

/** @param {import('./chrome.d.mts').TrainInChromeOptions} opts */
export async function trainInChrome({ text, config, progressEvery, onProgress, onValidation, onSampleText, log, checkpointEvery = 0, onCheckpoint, resume, onLog = log, timeoutMs = 60 * 60_000, protocolTimeoutMs }) {
  const deadlineAt = Date.now() + timeoutMs;
  const server = await startHarnessServer({ dir: PAGE_DIR });
  /** @type {import('puppeteer').Browser | undefined} */
  let browser;
  /** @type {ReturnType<typeof pageRun> | undefined} */
  let run;
  try {
    browser = await launchBrowser(protocolTimeoutMs ? { protocolTimeoutMs } : {});
    const page = await browser.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warn') log(`[page ${msg.type()}] ${msg.text()}`);
    });
    /** @type {(r: import('./page.js').PageTrainResult) => void} */
    let resolve = () => {};
    /** @type {(e: Error) => void} */
    let reject = () => {};
    /** @type {Promise<import('./page.js').PageTrainResult>} */
    const done = new Promise((res, rej) => {
      resolve = res;
      reject = rej;
    });
    done.catch(() => {}); // a failure during page.goto is read from `done` below, not reported as unhandled
    run = pageRun(page, { deadlineAt, timeoutMessage: () => `training in Chromium did not finish within ${Math.round(timeoutMs / 1000)} s` });
    page.on('pageerror', (err) => reject(new Error('page exception', { cause: err })));
    await page.exposeFunction('__trainDone', (/** @type {{ result: import('./page.js').PageTrainResult } | { error: string }} */ outcome) =>
      'error' in outcome ? reject(new Error(`the training page failed: ${outcome.error}`)) : resolve(outcome.result));
    await page.exposeFunction('__trainInput', () => ({ text, config, progressEvery, checkpointEvery, resumeBase64: resume ? Buffer.from(resume).toString('base64') : undefined }));
    // The page waits for each checkpoint's write (the promise of an exposed function settles when this one does).
    await page.exposeFunction('__trainCheckpoint', async (/** @type {string} */ base64, /** @type {number} */ step) => {
      await onCheckpoint?.(new Uint8Array(Buffer.from(base64, 'base64')), step);
    });
    await page.exposeFunction('__trainLog', (/** @type {string} */ line) => onLog(line));
    await page.exposeFunction('__trainProgress', onProgress);
    await page.exposeFunction('__trainValidation', onValidation);
    await page.exposeFunction('__trainSampleText', onSampleText);
    await run.race(page.goto(server.url, { waitUntil: 'load', timeout: Math.max(1, deadlineAt - Date.now()) }));
    const { safetensorsBase64, ...result } = await run.race(done);
    return { ...result, safetensors: new Uint8Array(Buffer.from(safetensorsBase64, 'base64')) };
  } finally {
    run?.dispose();
    await browser?.close().catch(() => {});
    await server.stop();
  }
}
