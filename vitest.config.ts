import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The Chrome suite first: it is one test of about 4 minutes whose compiling happens in Chrome's own processes, so
 * started last (vitest's default order puts small files last) it ran alone at the end with one core idle. */
class ChromeSuiteFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const first = (f: TestSpecification) => f.moduleId.endsWith('/test/browser.test.ts');
    return [...sorted.filter(first), ...sorted.filter((f) => !first(f))];
  }
}

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Dawn's Node binding is not safe in worker threads (dawn-gpu/node-webgpu#13): forked processes.
    pool: 'forks',
    // Files share their process (and so test/dawn.ts's device and its pipeline cache): nearly all of the suite's
    // time is SwiftShader compiling pipelines, seconds each, and with a process per file each file compiled its
    // own (1,143 compiles in 23 processes). A test that needs an empty cache or a device of its own makes one
    // (newDawnDevice).
    isolate: false,
    // Two processes at a time: SwiftShader compiles each pipeline on one thread, so on a 2-core machine a second
    // process uses the core the first leaves idle while compiling (vitest's default here is one).
    maxWorkers: 2,
    sequence: { sequencer: ChromeSuiteFirst },
    // SwiftShader compiles each pipeline in seconds and runs kernels on 2 CPU cores.
    // With two files sharing the cores, the longest tests (the layer backward on every schedule) take up to ~2 min.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
