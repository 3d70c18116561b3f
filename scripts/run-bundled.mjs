// Runs a TypeScript entry in Node with Dawn's WebGPU: bundles it (the package's TypeScript sources and WGSL,
// inlined with the `?raw` plugin) with esbuild, installs Dawn's globals, then calls its `main(argv)` and exits
// with the code it returns. No prior `npm run build` is needed. Used by `npm run bench` and `npm run train`.
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as esbuild from 'esbuild';
import { wgslRawPlugin } from './wgsl-plugin.mjs';
import { describeError } from '../harness/chromium.mjs';

/** @param {{ entry: string, outfile: string, argv: string[] }} opts */
export async function runBundledMain({ entry, outfile, argv }) {
  let code = 1;
  try {
    await esbuild.build({
      entryPoints: [entry],
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
    const { main } = await import(pathToFileURL(path.resolve(outfile)).href);
    code = await main(argv);
  } catch (e) {
    console.error(describeError(e)); // with the `cause` chain: what actually failed
  }
  process.exit(code); // Dawn's event pump would keep the process alive
}
