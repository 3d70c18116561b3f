// Types for chrome.mjs, so harness/train/cli.ts can import it.
import type { TrainConfig, TrainProgress, TrainResult, ValidationReport } from './loop.js';

export interface TrainInChromeOptions {
  text: string;
  config: TrainConfig;
  progressEvery: number;
  onProgress: (p: TrainProgress) => void;
  onValidation: (v: ValidationReport) => void;
  onSampleText: (text: string) => void;
  /** Page console errors/warnings. */
  log: (line: string) => void;
  /** Checkpoints every N steps (harness/train/checkpoint.ts): the page hands each one's bytes to onCheckpoint
   * in Node (which writes the file); 0 or absent: none. */
  checkpointEvery?: number;
  onCheckpoint?: (bytes: Uint8Array, step: number) => Promise<void> | void;
  /** A checkpoint to continue from (sent to the page). */
  resume?: Uint8Array;
  /** Recovery messages (a lost device: the page makes a new one from navigator.gpu and reloads the last checkpoint). */
  onLog?: (line: string) => void;
  /** Whole-run deadline; default 1 hour. */
  timeoutMs?: number;
  /** Longest any one DevTools-protocol call may take (harness/chromium.mjs PROTOCOL_TIMEOUT_MS by default). */
  protocolTimeoutMs?: number;
}

export function trainInChrome(options: TrainInChromeOptions): Promise<TrainResult & { adapter: string }>;
