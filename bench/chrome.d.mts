import type { BenchReport, Mode } from './bench.js';

export interface ChromeBenchOptions {
  mode: Mode;
  investigate?: boolean;
  /** Run the onnxruntime-web peers (bench/peers); default: except in tiny mode. */
  peers?: boolean;
  progress: (line: string) => void;
  /** Whole-run deadline; default 30 minutes. */
  timeoutMs?: number;
  /** Longest any one DevTools-protocol call may take (harness/chromium.mjs PROTOCOL_TIMEOUT_MS by default). */
  protocolTimeoutMs?: number;
}

export function runInChromeBench(opts: ChromeBenchOptions): Promise<BenchReport>;
