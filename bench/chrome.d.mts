import type { BenchReport, Mode } from './bench.js';

export interface ChromeBenchOptions {
  mode: Mode;
  investigate?: boolean;
  progress: (line: string) => void;
  timeoutMs?: number;
}

export function runInChromeBench(opts: ChromeBenchOptions): Promise<BenchReport>;
