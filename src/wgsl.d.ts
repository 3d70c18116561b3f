// WGSL sources are imported as text: vite/vitest understand `?raw`, and scripts/wgsl-plugin.mjs does the same
// for esbuild, so the built package carries its shaders inline and needs no file system.
declare module '*.wgsl?raw' {
  const source: string;
  export default source;
}

declare module 'wgsl_reflect/wgsl_reflect.module.js' {
  export * from 'wgsl_reflect';
}
