// Run the shared correctness cases (cases/all.ts) inside headless Chromium and return the results.
import { launchBrowser, pageRun, waitForPage } from './chromium.mjs';
import { startHarnessServer } from './serve.mjs';

const DEFAULT_TIMEOUT_MS = 30 * 60 * 1000;

/** @param {import('./run-in-chrome.d.mts').RunInChromeOptions} [opts] */
export async function runInChrome({
  quick = false,
  filter,
  onResult,
  timeoutMs = DEFAULT_TIMEOUT_MS,
  protocolTimeoutMs,
  useSwiftShader,
  log = (/** @type {string} */ line) => console.error(line),
} = {}) {
  const deadlineAt = Date.now() + timeoutMs;
  const server = await startHarnessServer();
  /** @type {import('puppeteer').Browser | undefined} */
  let browser;
  /** @type {ReturnType<typeof pageRun> | undefined} */
  let run;
  /** @type {import('../cases/scan.js').CaseResult[]} */
  const streamed = [];
  try {
    browser = await launchBrowser({ ...(useSwiftShader === undefined ? {} : { useSwiftShader }), ...(protocolTimeoutMs ? { protocolTimeoutMs } : {}) });
    const page = await browser.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error' || msg.type() === 'warn') log(`[page ${msg.type()}] ${msg.text()}`);
    });
    page.on('pageerror', (err) => log(`[page exception] ${err instanceof Error ? err.message : String(err)}`));
    // Results stream out as each case finishes; the page's final list stays the authoritative one.
    await page.exposeFunction('__aarenOnResult', (/** @type {import('../cases/scan.js').CaseResult} */ r) => {
      streamed.push(r);
      onResult?.(r);
    });
    run = pageRun(page, {
      deadlineAt,
      timeoutMessage: () =>
        `Timed out after ${Math.round(timeoutMs / 1000)} s waiting for the cases in Chromium ` +
        `(${streamed.length} case(s) finished; last: ${streamed.at(-1) ? `${streamed.at(-1)?.kernel} ${streamed.at(-1)?.shape}` : 'none'}). ` +
        'Shrink the cases (--quick, --filter=...) or raise the timeout (--timeout=SECONDS).',
    });

    const url = new URL(server.url);
    if (quick) url.searchParams.set('quick', '1');
    if (filter) url.searchParams.set('filter', filter);
    await run.race(page.goto(url.href, { waitUntil: 'load', timeout: Math.max(1, deadlineAt - Date.now()) }));
    await waitForPage(page, () => window.__aarenDone || window.__aarenError !== undefined, run);

    const state = await run.race(page.evaluate(() => ({
      done: window.__aarenDone,
      error: window.__aarenError,
      adapter: window.__aarenAdapter,
      results: window.__aarenResults,
      gpuErrors: window.__aarenGpuErrors,
    })));
    if (state.error !== undefined) {
      const done = state.results.length ? ` after ${state.results.length} case(s)` : '';
      throw new Error(`The harness page failed${done}: ${state.error}`);
    }
    return { adapter: state.adapter, results: state.results, gpuErrors: state.gpuErrors };
  } finally {
    run?.dispose();
    await browser?.close().catch(() => {});
    await server.stop();
  }
}
