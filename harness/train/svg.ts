// The loss curve of `npm run train` as a small standalone SVG line chart (no charting dependency).

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** About `count` round tick values covering [lo, hi] (1, 2 or 5 times a power of ten apart). */
function ticks(lo: number, hi: number, count: number): number[] {
  const raw = (hi - lo) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

/** Loss (y) against step (x, 1-based), one path vertex per step; `caption` goes under the chart. */
export function lossCurveSvg(losses: readonly number[], caption = ''): string {
  const W = 720, H = 400;
  const box = { left: 60, right: W - 20, top: 36, bottom: H - 56 };
  const n = losses.length;
  const finite = losses.filter(Number.isFinite);
  const lo = Math.min(0, ...finite);
  const hi = finite.length ? Math.max(...finite) * 1.05 || 1 : 1;
  const px = (step: number) => box.left + ((step - 1) / Math.max(1, n - 1)) * (box.right - box.left);
  const py = (loss: number) => box.bottom - ((loss - lo) / (hi - lo)) * (box.bottom - box.top);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">training loss (cross-entropy, nats per character)</text>`,
  ];
  for (const t of ticks(lo, hi, 6)) {
    out.push(`<line x1="${box.left}" y1="${py(t).toFixed(1)}" x2="${box.right}" y2="${py(t).toFixed(1)}" stroke="#eee"/>`);
    out.push(`<text x="${box.left - 6}" y="${py(t).toFixed(1)}" text-anchor="end" dominant-baseline="middle">${t}</text>`);
  }
  for (const t of ticks(1, Math.max(n, 2), 8).filter((t) => t >= 1 && t <= Math.max(n, 1))) {
    out.push(`<text x="${px(t).toFixed(1)}" y="${box.bottom + 16}" text-anchor="middle">${t}</text>`);
  }
  out.push(
    `<path d="M${box.left},${box.top}V${box.bottom}H${box.right}" fill="none" stroke="#333"/>`,
    `<text x="${(box.left + box.right) / 2}" y="${box.bottom + 32}" text-anchor="middle">step</text>`,
  );
  // A non-finite loss breaks the line rather than drawing it off the chart.
  let d = '';
  let pen = false;
  losses.forEach((loss, i) => {
    if (!Number.isFinite(loss)) return void (pen = false);
    d += `${pen ? 'L' : 'M'}${px(i + 1).toFixed(1)},${py(loss).toFixed(1)}`;
    pen = true;
  });
  out.push(`<path class="loss" d="${d}" fill="none" stroke="#1f77b4" stroke-width="1.5"/>`);
  if (caption) out.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle" fill="#555">${esc(caption)}</text>`);
  out.push('</svg>', '');
  return out.join('\n');
}
