// Writes a BenchReport as the contract's files: <dir>/latest.json (+ a dated copy), latest.md and latest.svg.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchReport } from './bench.js';
import { renderMarkdown, renderSvg } from './report.js';

export async function writeResults(report: BenchReport, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const json = `${JSON.stringify(report, null, 2)}\n`;
  const stamp = report.date.slice(0, 19).replace(/:/g, '-');
  const files = {
    'latest.json': json,
    [`${stamp}-${report.backend}-${report.mode}.json`]: json,
    'latest.md': renderMarkdown(report),
    'latest.svg': renderSvg(report),
  };
  const written: string[] = [];
  for (const [name, text] of Object.entries(files)) {
    const file = path.join(dir, name);
    await writeFile(file, text);
    written.push(file);
  }
  return written;
}
