import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The longest test files first, in this order (measured on 2 CPU cores, SwiftShader: the Chrome suite about 4 minutes,
 * one test whose compiling happens in Chrome's own processes; the others 1.5 to 5 minutes). Without a cache of
 * earlier runs, as in CI, vitest starts the largest files first, which put the Chrome suite last: it then ran alone
 * with one core idle. Any file not named here keeps vitest's order, after these. */
const LONGEST_FIRST = ['browser', 'model-backward', 'scan-backward', 'scan', 'properties', 'chrome-runners', 'language-model', 'layer'];

class LongestFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const rank = (f: TestSpecification) => {
      const i = LONGEST_FIRST.findIndex((name) => f.moduleId.endsWith(`/test/${name}.test.ts`));
      return i < 0 ? LONGEST_FIRST.length : i;
    };
    return sorted.sort((a, b) => rank(a) - rank(b)); // stable: the others keep vitest's order
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
    sequence: { sequencer: LongestFirst },
    // SwiftShader compiles each pipeline in seconds and runs kernels on 2 CPU cores.
    // With two files sharing the cores, the longest tests (the layer backward on every schedule) take up to ~2 min.
    testTimeout: 300_000,
    hookTimeout: 300_000,
  },
});
