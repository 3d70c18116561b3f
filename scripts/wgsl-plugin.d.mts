import type { Plugin } from 'esbuild';

/** esbuild plugin: `import text from './x.wgsl?raw'` gives the file's text. */
export function wgslRawPlugin(): Plugin;
