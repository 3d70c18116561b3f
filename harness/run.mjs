#!/usr/bin/env node
// `npm start`: run the correctness cases in headless Chromium and print a table.
// Flags: --quick, --filter=TEXT, --timeout=SECONDS. Exits 1 if any case fails or none ran.
import { runInChrome } from './run-in-chrome.mjs';
import { describeError } from './chromium.mjs';

function parseArgs(argv) {
  const opts = { quick: false, filter: undefined, timeoutMs: undefined };
  for (const a of argv) {
    if (a === '--quick') opts.quick = true;
    else if (a.startsWith('--filter=')) opts.filter = a.slice('--filter='.length);
    else if (a.startsWith('--timeout=')) {
      opts.timeoutMs = Number(a.slice('--timeout='.length)) * 1000;
      if (!(opts.timeoutMs > 0)) throw new Error(`--timeout must be a positive number of seconds, got ${a}`);
    }
    else if (a === '--help' || a === '-h') {
      console.log('usage: node harness/run.mjs [--quick] [--filter=TEXT] [--timeout=SECONDS]');
      process.exit(0);
    } else throw new Error(`unknown argument: ${a} (try --help)`);
  }
  return opts;
}

const num = (x) => (Number.isFinite(x) ? (x === 0 ? '0' : x.toExponential(2)) : String(x));
const COLUMNS = [
  ['kernel', (r) => r.kernel],
  ['shape', (r) => r.shape],
  ['max abs err', (r) => num(r.maxAbsError)],
  ['max rel err', (r) => num(r.maxRelError)],
  ['tolerance', (r) => num(r.tolerance)],
  ['ms', (r) => r.ms.toFixed(1)],
  ['result', (r) => (r.pass ? 'PASS' : 'FAIL')],
];

function printTable(results) {
  const rows = results.map((r) => COLUMNS.map(([, f]) => f(r)));
  const widths = COLUMNS.map(([h], i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  console.log(line(COLUMNS.map(([h]) => h)));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  for (const r of results) if (r.error) console.log(`\n${r.kernel} ${r.shape}: ${r.error}`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  let n = 0;
  const { adapter, results, gpuErrors } = await runInChrome({
    ...opts,
    onResult: (r) => process.stderr.write(`  [${++n}] ${r.pass ? 'PASS' : 'FAIL'} ${r.kernel} ${r.shape}\n`),
  });
  const a = adapter ?? {};
  console.log(`\nadapter: vendor=${a.vendor || '?'} architecture=${a.architecture || '?'} description=${a.description || '?'}`);
  if (a.features) console.log(`features: ${a.features.join(', ')}${a.subgroupMinSize ? ` (subgroup size ${a.subgroupMinSize}-${a.subgroupMaxSize})` : ''}`);
  console.log('');
  printTable(results);
  const failed = results.filter((r) => !r.pass);
  console.log(`\n${results.length - failed.length}/${results.length} passed`);
  if (gpuErrors.length) console.log(`\n${gpuErrors.length} uncaptured WebGPU error(s):\n  ${gpuErrors.join('\n  ')}`);
  if (results.length === 0) console.log('no cases ran (check --filter)');
  return failed.length === 0 && results.length > 0 && gpuErrors.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    console.error(describeError(e));
    process.exit(1);
  },
);
