// Types for run-in-chrome.mjs, so strict TypeScript (test/browser.test.ts) can import it.
import type { CaseResult } from '../cases/scan.js';
import type { AdapterSummary } from './page.js';

export interface RunInChromeOptions {
  quick?: boolean;
  filter?: string;
  /** Called as each case finishes, before the run ends. */
  onResult?: (r: CaseResult) => void;
  /** Whole-run deadline (launch to results); default 30 minutes. The only deadline: no single protocol call is
   * held open for the run. */
  timeoutMs?: number;
  /** Longest any one DevTools-protocol call may take (harness/chromium.mjs PROTOCOL_TIMEOUT_MS by default). */
  protocolTimeoutMs?: number;
  /** Default: true unless AAREN_REAL_GPU=1. */
  useSwiftShader?: boolean;
  /** Where page console errors/warnings go; default stderr. */
  log?: (line: string) => void;
}

export interface RunInChromeResult {
  adapter: AdapterSummary | undefined;
  results: CaseResult[];
  /** WebGPU errors raised outside any error scope (validation errors the cases did not catch). */
  gpuErrors: string[];
}

export function runInChrome(options?: RunInChromeOptions): Promise<RunInChromeResult>;
