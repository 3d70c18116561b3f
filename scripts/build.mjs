// Builds the package: one ESM file per public entry (dist/index.js, dist/reference.js, dist/plans.js; WGSL inlined
// as text, so it runs in a browser and in Node with no file system), the code they share in dist/chunks/, and
// dist/*.d.ts (tsc). wgsl_reflect stays an external dependency.
//
// One build with code splitting, not one bundle per entry: the entries share most of their code (plans.js is the
// main entry's building blocks), and separate bundles would each carry their own copy of it: twice the bytes for an
// app that imports both, and two instances of every module, so two per-device pipeline caches and a PreparedPlan
// from `aaren-webgpu/plans` that is not `instanceof` the main entry's. With splitting each source module exists
// once, in the entry or chunk that owns it.
import { rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { wgslRawPlugin } from './wgsl-plugin.mjs';
import './shader-sources.mjs'; // regenerates src/core/shader-sources.ts first

/** The public entries: package.json `exports` maps `.`, `./reference` and `./plans` to these files' outputs. */
export const ENTRIES = { index: 'src/index.ts', reference: 'src/reference.ts', plans: 'src/plans.ts' };

await rm('dist', { recursive: true, force: true });
await esbuild.build({
  entryPoints: ENTRIES,
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  sourcemap: true,
  external: ['wgsl_reflect', 'wgsl_reflect/*'],
  plugins: [wgslRawPlugin()],
  logLevel: 'warning',
});
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
console.log(`built ${Object.keys(ENTRIES).map((e) => `dist/${e}.js`).join(', ')} and their .d.ts`);
