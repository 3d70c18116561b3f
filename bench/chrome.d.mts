import type { BenchReport, Mode } from './bench.js';

export interface ChromeBenchOptions {
  mode: Mode;
  investigate?: boolean;
  /** Run the onnxruntime-web peers (bench/peers); default: except in tiny mode. */
  peers?: boolean;
  progress: (line: string) => void;
  timeoutMs?: number;
}

export function runInChromeBench(opts: ChromeBenchOptions): Promise<BenchReport>;
