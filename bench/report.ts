// Renders a BenchReport as markdown tables and as a hand-written SVG chart (no dependencies).
import type { BenchReport, ResultRow } from './bench.js';
import { peerSummaryRows, peersSvgLines, renderPeersMarkdown } from './peers/report.js';

const fmt = (x: number, digits = 3) => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(1) : x.toPrecision(digits)) : String(x));

function bytesText(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function adapterText(r: BenchReport): string {
  const a = r.adapter;
  return [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'unknown adapter';
}

export function renderMarkdown(r: BenchReport): string {
  const s = r.summary;
  const c = r.config;
  const lines: string[] = [];
  lines.push(`# aaren-webgpu microbenchmarks`, '');
  lines.push(`- adapter: **${adapterText(r)}**`);
  lines.push(`- backend: ${r.backend}, mode: ${r.mode}${r.quick ? ' (--quick)' : ''}, timing: ${r.timing}, date: ${r.date}, total ${r.totalSeconds.toFixed(0)} s`);
  lines.push(`- scan: batch ${c.batch} x headDim ${c.headDim}, schedule chosen by 'auto': ${c.scanSchedule}`);
  lines.push(`- layer: dModel ${c.layer.dModel}, heads ${c.layer.heads}, headDim ${c.layer.headDim}; step batch ${c.stepBatch}`, '');
  lines.push('## Summary', '');
  lines.push('| figure | value | target | what it compares |', '|---|---|---|---|');
  const row = (name: string, value: number, target: string, what: string) => lines.push(`| \`${name}\` | ${fmt(value)} | ${target} | ${what} |`);
  row('scanVsCopy', s.scanVsCopy, '>= 0.8', `scan bytes/s / copy bytes/s, L = ${c.anchorLength}`);
  row('endToEndVsCopy', s.endToEndVsCopy, '>= 0.7', `upload + copy + readback time / typed prefixAttention time (wall clock), L = ${c.anchorLength}`);
  row('scanBackwardVsForward', s.scanBackwardVsForward, '<= 2.5', `scan backward time / forward time (GPU-resident), L = ${c.anchorLength}`);
  row('decayForwardCost', s.decayForwardCost, '<= 1.1', `forward scan with recency decay / without, L = ${c.anchorLength}`);
  row('decayBackwardCost', s.decayBackwardCost, '<= 1.1', `backward scan with recency decay (and d rate) / without, L = ${c.anchorLength}`);
  const t = c.train;
  const lmText = t ? `LM vocab ${t.model.vocabSize}, ${t.model.layers} x dModel ${t.model.dModel} (${t.model.heads} x ${t.model.headDim} heads, dFF ${t.model.dFF}), batch ${t.batch} x length ${t.length}` : '';
  if (s.trainTokensPerSecond !== undefined) row('trainTokensPerSecond', s.trainTokensPerSecond, 'higher', `tokens / s of trainStep (forward, loss, backward, AdamW), ${lmText}`);
  if (s.trainStepVsForward !== undefined) row('trainStepVsForward', s.trainStepVsForward, '>= 2.5', 'trainStep time / the LM\'s inference forward time, same shape (typed calls, wall clock)');
  if (s.fmaPeakGflops !== undefined) row('fmaPeakGflops', s.fmaPeakGflops, 'the ceiling', 'GFLOP/s of a register-only vec4 multiply-add kernel, this run (bench/shaders/fma_peak.wgsl)');
  if (s.trainMfu !== undefined) row('trainMfu', s.trainMfu, '>= 0.35', `model FLOPs (6 x parameters but the embedding, + the scan's) x tokens/s of trainStep / fmaPeakGflops, ${lmText}`);
  const tl = c.trainLarge;
  if (s.trainMfuLarge !== undefined && tl) row('trainMfuLarge', s.trainMfuLarge, 'report', `the same, ${tl.model.layers} x dModel ${tl.model.dModel} (${tl.model.heads} x ${tl.model.headDim} heads, dFF ${tl.model.dFF}), batch ${tl.batch} x length ${tl.length}`);
  row('parallelVsNaive', s.parallelVsNaive, '>= 50', `naive quadratic time / scan time, L = ${c.naiveAnchorLength}`);
  row('parallelVsSequential', s.parallelVsSequential, '> 1 on a GPU', `sequential recurrence time / scan time, L = ${c.anchorLength}`);
  row('stepGrowth', s.stepGrowth, '<= 1.2', `Aaren step time at P = ${c.stepP.includes(16384) ? 16384 : c.stepP.at(-1)} / at P = ${c.stepP[0]}`);
  row('kvCacheStepVsAaren', s.kvCacheStepVsAaren, '>= 20', `KV-cache decode step / Aaren step, P = ${c.stepP.includes(16384) ? 16384 : c.stepP.at(-1)}`);
  lines.push(`| \`stateBytes\` | ${s.stateBytes} (${bytesText(s.stateBytes)}) | constant | Aaren state (m, u, w per head, and its update buffer) |`);
  lines.push(`| \`kvCacheBytes\` | ${s.kvCacheBytes} (${bytesText(s.kvCacheBytes)}) | grows with P | K and V cache at that P |`);
  lines.push(...peerSummaryRows(r), '');

  const table = (title: string, rows: ResultRow[], lengthName = 'length') => {
    if (rows.length === 0) return;
    lines.push(`## ${title}`, '');
    lines.push(`| kernel | batch | ${lengthName} | headDim | median ms | min ms | max ms | GB/s | reps |`, '|---|---:|---:|---:|---:|---:|---:|---:|---:|');
    for (const x of rows) {
      lines.push(`| ${x.kernel} | ${x.batch} | ${x.length} | ${x.headDim} | ${fmt(x.medianMs, 4)} | ${fmt(x.minMs, 4)} | ${fmt(x.maxMs, 4)} | ${fmt(x.gbPerSec)} | ${x.reps} |`);
    }
    lines.push('');
  };
  const order = ['copy', 'scan', 'sequential', 'naive'];
  table('Scan and alternatives', r.results.filter((x) => order.includes(x.kernel)).sort((a, b) => order.indexOf(a.kernel) - order.indexOf(b.kernel) || a.length - b.length));
  table('End to end: typed prefixAttention vs upload + copy kernel + readback of the same bytes (wall clock)', r.results.filter((x) => x.kernel === 'upload-copy-read' || x.kernel === 'prefix-attention'));
  table('Aaren layer forward', r.results.filter((x) => x.kernel === 'layer-forward'));
  table('Training: a language-model train step vs its forward (wall clock, typed calls)', r.results.filter((x) => x.kernel.startsWith('lm-')));
  table('Decode: Aaren step vs KV-cache step', r.results.filter((x) => x.kernel === 'step' || x.kernel === 'kv-step').sort((a, b) => a.length - b.length || a.kernel.localeCompare(b.kernel)), 'P');
  table('Investigation: every scan schedule (and copy) at one length; step-scan = the Aaren step\'s scan alone, no projections', r.investigation);
  lines.push('GB/s counts compulsory traffic: copy, scan, sequential and naive all move the scan\'s bytes (scores + values read, ' +
    'outputs written), so for naive it is an effective rate; upload-copy-read and prefix-attention: the scan\'s bytes, wall clock ' +
    'with uploads and readback; layer-forward: x read, y written, weights read once; ' +
    'step: state read and written, weights, x and y; kv-step: the K and V cache read; lm-forward and lm-train-step (lm-large-*: the larger model): the parameters read once.', '');
  lines.push(...renderPeersMarkdown(r));
  lines.push('![time vs length](latest.svg)', '');
  return lines.join('\n');
}

// --- SVG -------------------------------------------------------------------------------------------------------

const COLORS: Record<string, string> = {
  copy: '#7f7f7f', scan: '#1f77b4', naive: '#d62728', sequential: '#2ca02c', step: '#1f77b4', 'kv-step': '#d62728',
};

interface Series { name: string; points: [number, number][] }

function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) ticks.push(10 ** e);
  return ticks;
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function panel(x0: number, y0: number, w: number, h: number, title: string, xLabel: string, series: Series[]): string {
  const pts = series.flatMap((s) => s.points);
  if (pts.length === 0) return '';
  const xs = pts.map((p) => p[0]);
  const ys = pts.map((p) => p[1]);
  const xLo = Math.min(...xs) / 1.5, xHi = Math.max(...xs) * 1.5;
  const yTicks = logTicks(Math.min(...ys), Math.max(...ys));
  const yLo = yTicks[0]!, yHi = yTicks[yTicks.length - 1]!;
  const left = x0 + 60, right = x0 + w - 10, top = y0 + 30, bottom = y0 + h - 45;
  const px = (x: number) => left + ((Math.log(x) - Math.log(xLo)) / (Math.log(xHi) - Math.log(xLo))) * (right - left);
  const py = (y: number) => bottom - ((Math.log(y) - Math.log(yLo)) / (Math.log(yHi) - Math.log(yLo))) * (bottom - top);
  const out: string[] = [];
  out.push(`<text x="${(left + right) / 2}" y="${y0 + 18}" text-anchor="middle" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#000"/>`);
  for (const t of yTicks) {
    const y = py(t).toFixed(1);
    out.push(`<line x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${left - 5}" y="${y}" text-anchor="end" dominant-baseline="middle">${t >= 1 ? t : t.toPrecision(1)}</text>`);
  }
  const xTicks = [...new Set(xs)].sort((a, b) => a - b);
  for (const t of xTicks) {
    const x = px(t).toFixed(1);
    out.push(`<line x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 4}" stroke="#000"/>`);
    out.push(`<text x="${x}" y="${bottom + 16}" text-anchor="middle">${t}</text>`);
  }
  out.push(`<text x="${(left + right) / 2}" y="${bottom + 34}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(${x0 + 14} ${(top + bottom) / 2}) rotate(-90)" text-anchor="middle">time (ms, log)</text>`);
  series.forEach((s, i) => {
    const color = COLORS[s.name] ?? '#9467bd';
    const sorted = [...s.points].sort((a, b) => a[0] - b[0]);
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${sorted.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')}"/>`);
    for (const [x, y] of sorted) out.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = top + 12 + 16 * i;
    out.push(`<line x1="${left + 10}" y1="${ly}" x2="${left + 30}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<text x="${left + 35}" y="${ly}" dominant-baseline="middle">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

export function renderSvg(r: BenchReport): string {
  const seriesOf = (names: string[]) =>
    names.map((name) => ({ name, points: r.results.filter((x) => x.kernel === name).map((x) => [x.length, x.medianMs] as [number, number]) }));
  const s = r.summary;
  const train = s.trainTokensPerSecond ? [`training (${r.config.train.batch} x ${r.config.train.length} tokens a step): trainStep ${fmt(s.trainTokensPerSecond)} tokens/s, ${fmt(s.trainStepVsForward)}x the forward's time`] : [];
  const foot = [...train, ...peersSvgLines(r)];
  const W = 960, H = 420 + 16 * foot.length;
  const left = panel(0, 0, W / 2, 400, `scan vs alternatives (batch ${r.config.batch}, headDim ${r.config.headDim})`, 'sequence length (log)',
    seriesOf(['copy', 'scan', 'sequential', 'naive']));
  const right = panel(W / 2, 0, W / 2, 400, `decode step (dModel ${r.config.layer.dModel}, ${r.config.layer.heads} heads)`, 'tokens seen / cached P (log)',
    seriesOf(['step', 'kv-step']));
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    left,
    right,
    ...foot.map((line, i) => `<text x="${W / 2}" y="${414 + 16 * i}" text-anchor="middle" fill="#555">${esc(line)}</text>`),
    `<text x="${W / 2}" y="${H - 6}" text-anchor="middle" fill="#555">${esc(adapterText(r))} · ${esc(r.backend)} · ${esc(r.timing)} · ${esc(r.date.slice(0, 10))}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
