// Browser side of `npm run bench -- --backend chrome`: runs the benchmarks on navigator.gpu and publishes the report.
import { requestAarenDevice } from '../src/core/device.js';
import { runBench, type BenchReport, type Mode } from './bench.js';
import { runPeers } from './peers/ort.js';

const w = window as unknown as { __benchDone?: boolean; __benchReport?: BenchReport; __benchError?: string; __benchProgress?: (line: string) => void };
const q = new URLSearchParams(location.search);
const log = document.getElementById('log');

async function start(): Promise<void> {
  const device = await requestAarenDevice(navigator.gpu);
  const progress = (line: string) => {
    if (log) log.textContent += `${line}\n`;
    void w.__benchProgress?.(line);
  };
  const mode = (q.get('mode') ?? 'quick') as Mode;
  const report = await runBench(device, { mode, backend: 'chrome', progress, investigate: q.get('investigate') === '0' ? false : undefined });
  // onnxruntime-web on the same math (bench/peers), its files served by bench/chrome.mjs under ortBase.
  const ortBase = q.get('ortBase');
  if (ortBase) {
    const peers = await runPeers(device, { mode, progress, ortBase: new URL(ortBase, location.href).href });
    report.peers = peers.report;
    Object.assign(report.summary, peers.summary);
    report.totalSeconds += peers.report.seconds;
  }
  w.__benchReport = report;
}

start().then(
  () => { w.__benchDone = true; },
  (e: unknown) => { w.__benchError = e instanceof Error ? `${e.message}\n${e.stack}` : String(e); w.__benchDone = true; },
);
