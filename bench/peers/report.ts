// The peers' part of the bench report (bench/report.ts): a markdown section and SVG text lines.
import type { BenchReport } from '../bench.js';

const fmt = (x: number | undefined, digits = 3) => (x === undefined ? 'n/a' : Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(digits)) : String(x));

const NOT_RUN = 'The onnxruntime-web peers run only with `--backend chrome` (its WebGPU EP needs a browser\'s navigator.gpu; ' +
  'Node has no ORT WebGPU), and not in tiny mode or with `--no-peers`: the peer figures are absent from this run.';

/** Summary rows for the peer figures (or the line saying why they are absent). */
export function peerSummaryRows(r: BenchReport): string[] {
  const s = r.summary;
  if (!r.peers) return [];
  const row = (name: string, value: number | undefined, what: string) => `| \`${name}\` | ${fmt(value)} | > 1 | ${what} |`;
  return [
    row('ortWebgpuOverAarenAttention4096', s.ortWebgpuOverAarenAttention4096, 'ORT WebGPU MultiHeadAttention (causal, learned query) time / aaren prefix scan time, B1 H8 D64 N4096'),
    row('ortWasmOverAarenAttention1024', s.ortWasmOverAarenAttention1024, 'ORT wasm (1 thread) MultiHeadAttention time / aaren prefix scan time (WebGPU), N1024'),
    row('ortWebgpuOverAarenModel', s.ortWebgpuOverAarenModel, 'ORT WebGPU time / AarenModel time, same weights (2 layers, dModel 256): the smaller of B16xN64 and B1xN1024'),
    row('matmulVsOrtWebgpu', s.matmulVsOrtWebgpu, 'aaren MatmulOp GFLOP/s / ORT WebGPU MatMul GFLOP/s, 1024x256x1024'),
  ];
}

export function renderPeersMarkdown(r: BenchReport): string[] {
  const p = r.peers;
  const lines = ['## Peers: onnxruntime-web on the same math', ''];
  if (!p) return [...lines, NOT_RUN, ''];
  lines.push(`- onnxruntime-web ${p.ortVersion}: WebGPU EP from ${p.webgpuBundle}; wasm EP from ${p.wasmBundle}`);
  lines.push(`- **subgroups were hidden from ORT** (its WebGPU device: ${p.ortDeviceFeatures.join(', ') || 'no features'})`);
  lines.push(`- timing: ${p.timing}; ${p.seconds.toFixed(0)} s in all`, '');
  lines.push('| peer | level | shape | median ms | min ms | max ms | reps | rel. error vs float64 | GFLOP/s |', '|---|---|---|---:|---:|---:|---:|---:|---:|');
  for (const x of p.rows) {
    lines.push(`| ${x.peer} | ${x.level} | ${x.shape} | ${fmt(x.medianMs, 4)} | ${fmt(x.minMs, 4)} | ${fmt(x.maxMs, 4)} | ${x.reps} | ${x.relError.toExponential(1)} | ${x.gflops === undefined ? '' : fmt(x.gflops)} |`);
  }
  lines.push('');
  for (const note of p.notes) lines.push(`- ${note}`);
  if (p.errors.length > 0) {
    lines.push('', 'Peer runs that failed or did not match the reference (not timed):', '');
    for (const e of p.errors) lines.push(`- ${e.split('\n')[0]}`);
  }
  lines.push('');
  return lines;
}

/** One or two lines of text for the SVG's foot. */
export function peersSvgLines(r: BenchReport): string[] {
  const s = r.summary;
  if (!r.peers) return ['onnxruntime-web peers: not run (--backend chrome only)'];
  return [
    `vs onnxruntime-web ${r.peers.ortVersion} (subgroups hidden from ORT): ORT WebGPU / aaren attention N4096 ${fmt(s.ortWebgpuOverAarenAttention4096)}, ` +
      `ORT wasm / aaren attention N1024 ${fmt(s.ortWasmOverAarenAttention1024)}, ORT WebGPU / AarenModel ${fmt(s.ortWebgpuOverAarenModel)}, ` +
      `matmul GFLOP/s aaren / ORT ${fmt(s.matmulVsOrtWebgpu)}`,
  ];
}
