// Browser side of `npm run train -- --backend chrome`: asks Node for the text and settings, runs the shared loop on
// navigator.gpu, and hands back the losses, the weights (base64) and the sample through exposed functions.
// Everything is event-driven (no waitForFunction), so a run of many minutes never waits on one long CDP call.
import { requestAarenDevice } from '../../src/core/device.js';
import { adapterText, trainCharModel, type TrainConfig, type TrainProgress, type TrainResult, type ValidationReport } from './loop.js';

/** What the page hands back: TrainResult with the safetensors bytes as base64. */
export type PageTrainResult = Omit<TrainResult, 'safetensors'> & { safetensorsBase64: string; adapter: string };

/** Set by puppeteer (page.exposeFunction, harness/train/chrome.mjs). */
interface Bridge {
  __trainInput(): Promise<{ text: string; config: TrainConfig; progressEvery: number; checkpointEvery: number; resumeBase64?: string }>;
  __trainCheckpoint(base64: string, step: number): Promise<void>;
  __trainLog(line: string): Promise<void>;
  __trainProgress(p: TrainProgress): Promise<void>;
  __trainValidation(v: ValidationReport): Promise<void>;
  __trainSampleText(text: string): Promise<void>;
  __trainDone(outcome: { result: PageTrainResult } | { error: string }): Promise<void>;
}
const bridge = window as unknown as Window & Bridge;

const logEl = document.getElementById('log');
const log = (line: string) => {
  if (logEl) logEl.textContent = logEl.textContent === 'loading…' ? line : `${logEl.textContent}\n${line}`;
};

function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

async function main(): Promise<PageTrainResult> {
  const { text, config, progressEvery, checkpointEvery, resumeBase64 } = await bridge.__trainInput();
  const device = await requestAarenDevice(navigator.gpu);
  try {
    const adapter = adapterText(device);
    log(`adapter: ${adapter}`);
    const result = await trainCharModel(device, text, config, {
      progressEvery,
      onProgress: (p) => {
        log(`step ${p.step}/${p.steps} loss ${p.loss.toFixed(4)}`);
        void bridge.__trainProgress(p);
      },
      onValidation: (v) => {
        log(`held-out after step ${v.step}: ${v.loss.toFixed(4)}`);
        void bridge.__trainValidation(v);
      },
      onSampleText: (t) => void bridge.__trainSampleText(t),
      // Checkpoints go to Node, which writes the file (harness/train/checkpoint-file.ts); the page keeps the last
      // one in memory for recovery from a lost device, on a new device from navigator.gpu.
      checkpointEvery,
      resume: resumeBase64 === undefined ? undefined : fromBase64(resumeBase64),
      onCheckpoint: (bytes, step) => bridge.__trainCheckpoint(toBase64(bytes), step),
      createDevice: () => requestAarenDevice(navigator.gpu),
      onLog: (line) => {
        log(line);
        void bridge.__trainLog(line);
      },
    });
    const { safetensors, ...rest } = result;
    return { ...rest, safetensorsBase64: toBase64(safetensors), adapter };
  } finally {
    device.destroy();
  }
}

main().then(
  (result) => bridge.__trainDone({ result }),
  (e: unknown) => bridge.__trainDone({ error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e) }),
);
