// --backend chrome: bundle bench/page.ts with esbuild, serve it on 127.0.0.1 (a secure context) and run it in
// headless Chromium launched with the harness's flags (harness/chromium.mjs), plus unquantized timestamps.
import path from 'node:path';
import { serveOrtDist } from './peers/serve.mjs';
import * as esbuild from 'esbuild';
import { wgslRawPlugin } from '../scripts/wgsl-plugin.mjs';
import { launchBrowser, pageRun, waitForPage } from '../harness/chromium.mjs';

/** @param {import('./chrome.d.mts').ChromeBenchOptions} opts */
export async function runInChromeBench(opts) {
  const dir = path.resolve('bench');
  const ctx = await esbuild.context({
    entryPoints: [path.join(dir, 'page.ts')], outdir: dir, write: false, bundle: true, format: 'esm', platform: 'browser',
    target: 'es2022', plugins: [wgslRawPlugin()], logLevel: 'silent',
  });
  const timeoutMs = opts.timeoutMs ?? 30 * 60_000;
  const deadlineAt = Date.now() + timeoutMs;
  let browser;
  let run;
  try {
    await ctx.rebuild();
    const { port } = await ctx.serve({ host: '127.0.0.1', port: 0, servedir: dir });
    browser = await launchBrowser({
      extraArgs: ['--enable-webgpu-developer-features'], // developer features: unquantized timestamps
      ...(opts.protocolTimeoutMs ? { protocolTimeoutMs: opts.protocolTimeoutMs } : {}),
    });
    const page = await browser.newPage();
    page.on('pageerror', (err) => opts.progress(`[page exception] ${err instanceof Error ? err.message : String(err)}`));
    await page.exposeFunction('__benchProgress', (line) => opts.progress(line));
    const url = new URL(`http://127.0.0.1:${port}/`);
    url.searchParams.set('mode', opts.mode);
    if (opts.investigate === false) url.searchParams.set('investigate', '0');
    if (opts.peers ?? opts.mode !== 'tiny') url.searchParams.set('ortBase', await serveOrtDist(dir));
    run = pageRun(page, { deadlineAt, timeoutMessage: () => `the Chrome bench did not finish within ${Math.round(timeoutMs / 1000)} s` });
    await run.race(page.goto(url.href, { waitUntil: 'load', timeout: Math.max(1, deadlineAt - Date.now()) }));
    await waitForPage(page, () => window.__benchDone === true, run, 500);
    const { report, error } = await run.race(page.evaluate(() => ({ report: window.__benchReport, error: window.__benchError })));
    if (error !== undefined || !report) throw new Error(`bench page failed: ${error}`);
    return report;
  } finally {
    run?.dispose();
    await browser?.close().catch(() => {});
    await ctx.dispose();
  }
}
