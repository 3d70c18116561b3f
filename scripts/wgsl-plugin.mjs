// esbuild plugin: `import src from './foo.wgsl?raw'` yields the file's text, the way Vite/vitest do,
// so the same source bundles for the browser harness and the package build.
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** @returns {import('esbuild').Plugin} */
export function wgslRawPlugin() {
  return {
    name: 'wgsl-raw',
    setup(build) {
      build.onResolve({ filter: /\.wgsl\?raw$/ }, (args) => ({
        path: path.resolve(args.resolveDir, args.path.slice(0, -'?raw'.length)),
        namespace: 'wgsl-raw',
      }));
      build.onLoad({ filter: /.*/, namespace: 'wgsl-raw' }, async (args) => ({
        contents: await readFile(args.path, 'utf8'),
        loader: 'text',
        watchFiles: [args.path], // rebuild when a shader changes while serving
      }));
    },
  };
}
