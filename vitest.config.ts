import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Dawn's Node binding is not safe in worker threads (dawn-gpu/node-webgpu#13): one process per file.
    pool: 'forks',
    // SwiftShader compiles each pipeline in seconds and runs kernels on 2 CPU cores.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
