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

export interface HeldOutCurve {
  /** Held-out loss after `step` steps: a point and a line through them. */
  validation: readonly { step: number; loss: number }[];
  /** Horizontal dashed lines (e.g. the bigram and trigram baselines on the same validation text). */
  baselines?: readonly { label: string; loss: number }[];
}

const COLORS = { train: '#1f77b4', validation: '#d62728', baselines: ['#2ca02c', '#9467bd', '#8c564b'] };

/**
 * Loss (y) against step (x, 1-based): the training loss with one path vertex per step, the held-out loss (points at
 * its steps, joined) and the baselines as dashed horizontal lines, with a legend; `caption` goes under the chart.
 */
export function lossCurveSvg(losses: readonly number[], caption = '', heldOut?: HeldOutCurve): string {
  const W = 720, H = 400;
  const box = { left: 60, right: W - 20, top: 36, bottom: H - 56 };
  const n = losses.length;
  const validation = heldOut?.validation ?? [];
  const baselines = heldOut?.baselines ?? [];
  const finite = [...losses, ...validation.map((v) => v.loss), ...baselines.map((b) => b.loss)].filter(Number.isFinite);
  const lo = Math.min(0, ...finite);
  const hi = finite.length ? Math.max(...finite) * 1.05 || 1 : 1;
  const px = (step: number) => box.left + ((step - 1) / Math.max(1, n - 1)) * (box.right - box.left);
  const py = (loss: number) => box.bottom - ((loss - lo) / (hi - lo)) * (box.bottom - box.top);
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="11">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="20" text-anchor="middle" font-size="14">${heldOut ? 'training and held-out loss' : 'training loss'} (cross-entropy, nats per character)</text>`,
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
  out.push(`<path class="loss" d="${d}" fill="none" stroke="${COLORS.train}" stroke-width="1.5"/>`);
  const legend: { label: string; color: string; dash?: boolean; dot?: boolean }[] = [{ label: 'training (batch loss before each step)', color: COLORS.train }];
  if (heldOut) {
    baselines.forEach((b, i) => {
      if (!Number.isFinite(b.loss)) return;
      const color = COLORS.baselines[i % COLORS.baselines.length]!;
      const y = py(b.loss).toFixed(1);
      out.push(`<line class="baseline" data-label="${esc(b.label)}" x1="${box.left}" y1="${y}" x2="${box.right}" y2="${y}" stroke="${color}" stroke-width="1.2" stroke-dasharray="6 4"/>`);
      legend.push({ label: `${b.label} ${b.loss.toFixed(3)}`, color, dash: true });
    });
    const points = validation.filter((v) => Number.isFinite(v.loss));
    const vd = points.map((v, i) => `${i ? 'L' : 'M'}${px(v.step).toFixed(1)},${py(v.loss).toFixed(1)}`).join('');
    out.push(`<path class="validation" d="${vd}" fill="none" stroke="${COLORS.validation}" stroke-width="1.5"/>`);
    for (const v of points) out.push(`<circle class="validation-point" cx="${px(v.step).toFixed(1)}" cy="${py(v.loss).toFixed(1)}" r="3" fill="${COLORS.validation}"/>`);
    const lastPoint = points.at(-1);
    legend.push({ label: `held-out${lastPoint ? ` ${lastPoint.loss.toFixed(3)} at step ${lastPoint.step}` : ''}`, color: COLORS.validation, dot: true });
  }
  if (legend.length > 1) {
    const x = box.right - 250;
    out.push(`<rect x="${x - 8}" y="${box.top + 2}" width="256" height="${legend.length * 16 + 8}" fill="#fff" fill-opacity="0.85" stroke="#ccc"/>`);
    legend.forEach((e, i) => {
      const y = box.top + 14 + i * 16;
      out.push(`<line x1="${x}" y1="${y}" x2="${x + 24}" y2="${y}" stroke="${e.color}" stroke-width="1.5"${e.dash ? ' stroke-dasharray="6 4"' : ''}/>`);
      if (e.dot) out.push(`<circle cx="${x + 12}" cy="${y}" r="3" fill="${e.color}"/>`);
      out.push(`<text class="legend" x="${x + 30}" y="${y}" dominant-baseline="middle">${esc(e.label)}</text>`);
    });
  }
  if (caption) out.push(`<text x="${W / 2}" y="${H - 8}" text-anchor="middle" fill="#555">${esc(caption)}</text>`);
  out.push('</svg>', '');
  return out.join('\n');
}
