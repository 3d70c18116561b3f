// Bundle a page (default harness/page.ts) in memory with esbuild and serve it with its folder on 127.0.0.1:<random port>.
// An http:// origin on 127.0.0.1 is a secure context, which navigator.gpu needs (about:blank has none).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { wgslRawPlugin } from '../scripts/wgsl-plugin.mjs';

const HARNESS_DIR = path.dirname(fileURLToPath(import.meta.url));

/**
 * `dir` holds index.html and the page's TypeScript entry, served bundled as /<entry name>.js.
 * @param {{ dir?: string, entry?: string }} [opts]
 * @returns {Promise<{ url: string, stop: () => Promise<void> }>}
 */
export async function startHarnessServer({ dir = HARNESS_DIR, entry = 'page.ts' } = {}) {
  const ctx = await esbuild.context({
    entryPoints: [path.join(dir, entry)],
    outdir: dir, // served from memory: nothing is written to disk
    write: false,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: 'inline',
    plugins: [wgslRawPlugin()],
    logLevel: 'silent',
  });
  try {
    // Build once up front so that a compile error fails here with esbuild's message,
    // not later as a blank page and a timeout.
    const first = await ctx.rebuild();
    for (const w of first.warnings) console.warn(`esbuild warning: ${w.text}`);
    const { port } = await ctx.serve({ host: '127.0.0.1', port: 0, servedir: dir });
    return { url: `http://127.0.0.1:${port}/`, stop: () => ctx.dispose() };
  } catch (e) {
    await ctx.dispose();
    throw e;
  }
}
