// Builds the package: dist/index.js (one ESM bundle, WGSL inlined as text, so it runs in a browser and in Node
// with no file system) and dist/*.d.ts (tsc). wgsl_reflect stays an external dependency.
import { rm } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { wgslRawPlugin } from './wgsl-plugin.mjs';
import './shader-sources.mjs'; // regenerates src/core/shader-sources.ts first

await rm('dist', { recursive: true, force: true });
await esbuild.build({
  entryPoints: ['src/index.ts'],
  outfile: 'dist/index.js',
  bundle: true,
  format: 'esm',
  platform: 'neutral',
  target: 'es2022',
  sourcemap: true,
  external: ['wgsl_reflect', 'wgsl_reflect/*'],
  plugins: [wgslRawPlugin()],
  logLevel: 'warning',
});
execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
console.log('built dist/index.js and dist/index.d.ts');
