import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Dawn's Node binding is not safe in worker threads (dawn-gpu/node-webgpu#13): one process per file.
    pool: 'forks',
    // Two files at a time: SwiftShader compiles each pipeline on one thread, so on a 2-core machine a second file
    // uses the core the first leaves idle while compiling (vitest's default here is one).
    maxWorkers: 2,
    // SwiftShader compiles each pipeline in seconds and runs kernels on 2 CPU cores.
    // With two files sharing the cores, the longest tests (the layer backward on every schedule) take up to ~2 min.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
