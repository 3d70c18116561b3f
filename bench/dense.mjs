#!/usr/bin/env node
// Bundles bench/dense.ts (sources and WGSL inlined, as bench/run.mjs does) and runs it: `node bench/dense.mjs [--m= --k= --n= --reps= --kernel=blocked|tiled]`.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { wgslRawPlugin } from '../scripts/wgsl-plugin.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outfile = path.join(root, 'bench', '.build', 'dense.mjs');
await esbuild.build({
  entryPoints: [path.join(root, 'bench', 'dense.ts')], outfile, bundle: true, format: 'esm', platform: 'node',
  target: 'node20', packages: 'external', sourcemap: 'inline', plugins: [wgslRawPlugin()], logLevel: 'warning',
});
const { globals } = await import('webgpu');
Object.assign(globalThis, globals);
const { main } = await import(pathToFileURL(outfile).href);
let code = 1;
try {
  code = await main();
} catch (e) {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
}
process.exit(code);
