#!/usr/bin/env node
// `npm run bench`: bundles bench/cli.ts (and the package's TypeScript sources and WGSL, inlined with the `?raw`
// plugin) with esbuild into bench/.build/, then runs it. No prior `npm run build` is needed.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { wgslRawPlugin } from '../scripts/wgsl-plugin.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
const outfile = path.join(root, 'bench', '.build', 'cli.mjs');
await esbuild.build({
  entryPoints: [path.join(root, 'bench', 'cli.ts')],
  outfile,
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external', // webgpu, puppeteer, esbuild, wgsl_reflect come from node_modules
  sourcemap: 'inline',
  plugins: [wgslRawPlugin()],
  logLevel: 'warning',
});
// The bundle uses WebGPU's global enums (GPUBufferUsage, ...) at module scope: install Dawn's before loading it.
const { globals } = await import('webgpu');
Object.assign(globalThis, globals);
const { main } = await import(pathToFileURL(outfile).href);
let code = 1;
try {
  code = await main(process.argv.slice(2));
} catch (e) {
  console.error(e instanceof Error ? e.stack ?? e.message : e);
}
process.exit(code); // Dawn's event pump would keep the process alive
