// `npm run bench [-- --quick | --tiny] [--backend node|chrome] [--out DIR] [--require-gpu] [--profile]`: bundled and
// started by bench/run.mjs.
import path from 'node:path';
import { requestDawnDevice } from '../harness/dawn.js';
import { adapterReport, planFor, runBench, type AdapterReport, type BenchReport, type Mode } from './bench.js';
import { isCpuAdapter, isCpuAdapterInfo } from '../src/core/device.js';
import { profileTraining } from './profile.js';
import { writeResults } from './write.js';
import { runInChromeBench } from './chrome.mjs';

const adapterText = (a: AdapterReport) => [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ');

interface Args { profile?: boolean; requireGpu?: boolean; mode: Mode; backend: 'node' | 'chrome'; out: string; investigate?: boolean; peers?: boolean }

function parseArgs(argv: string[]): Args {
  const args: Args = { mode: 'full', backend: 'node', out: path.join('bench', 'results') };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = () => {
      const eq = a.indexOf('=');
      if (eq >= 0) return a.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new Error(`${a} needs a value`);
      return next;
    };
    if (a === '--quick') args.mode = 'quick';
    else if (a === '--profile') args.profile = true;
    else if (a === '--require-gpu') args.requireGpu = true;
    else if (a === '--tiny' || a === '--smoke') args.mode = 'tiny';
    else if (a === '--no-investigate') args.investigate = false;
    else if (a === '--no-peers') args.peers = false;
    else if (a.startsWith('--backend')) {
      const b = value();
      if (b !== 'node' && b !== 'chrome') throw new Error(`--backend must be node or chrome, got ${b}`);
      args.backend = b;
    } else if (a.startsWith('--out')) args.out = value();
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench -- [--quick | --tiny] [--backend node|chrome] [--out DIR] [--no-investigate] [--no-peers] [--require-gpu] [--profile]\n' +
        '  --require-gpu: refuse to run on a CPU adapter (SwiftShader); `npm run bench:gpu` is AAREN_REAL_GPU=1 with it\n' +
        '  --profile: the kernels of one default training step and LM forward, each replayed alone (no results written)\n' +
        '  --quick: reduced sizes (< 3 min on 2 CPU cores with SwiftShader); --tiny: smoke sizes (seconds)\n' +
        '  writes DIR/latest.json (+ dated copy), latest.md, latest.svg (DIR defaults to bench/results)');
      process.exit(0);
    } else throw new Error(`unknown argument ${a} (try --help)`);
  }
  return args;
}

async function runNode(args: Args, progress: (line: string) => void): Promise<BenchReport | 'respawned'> {
  const device = await requestDawnDevice(['disable-dawn-features=timestamp_quantization'], progress);
  if (device === 'respawned') return device;
  try {
    if (args.requireGpu && isCpuAdapter(device)) throw new Error(`--require-gpu: Dawn's adapter is a CPU one (${adapterText(adapterReport(device))})`);
    return await runBench(device, { mode: args.mode, backend: 'node', progress, investigate: args.investigate });
  } finally {
    device.destroy();
  }
}

export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  if (args.profile) return profile(progress);
  const report = args.backend === 'chrome'
    ? await runInChromeBench({ mode: args.mode, investigate: args.investigate, peers: args.peers, progress })
    : await runNode(args, progress);
  if (report === 'respawned') return process.exitCode as number;
  if (args.requireGpu && isCpuAdapterInfo(report.adapter)) {
    throw new Error(`--require-gpu: the ${report.backend} run's adapter is a CPU one (${adapterText(report.adapter)}); nothing written`);
  }
  const files = await writeResults(report, args.out);
  const s = report.summary;
  const a = report.adapter;
  console.log(`\nadapter: ${adapterText(a)} (${report.backend}, ${report.timing})`);
  console.log(`summary: ${Object.entries(s).map(([k, v]) => `${k}=${Number.isInteger(v) ? v : v.toPrecision(3)}`).join('  ')}`);
  console.log(`total ${report.totalSeconds.toFixed(0)} s; wrote ${files.join(', ')}`);
  return 0;
}

/** `--profile`: the kernels of the default training step and of the LM's inference forward (bench/profile.ts). */
async function profile(progress: (line: string) => void): Promise<number> {
  const device = await requestDawnDevice(['disable-dawn-features=timestamp_quantization'], progress);
  if (device === 'respawned') return process.exitCode as number;
  try {
    const { model, batch, length } = planFor('quick').train;
    for (const line of await profileTraining(device, model, { batch, length })) console.log(line);
    return 0;
  } finally {
    device.destroy();
  }
}
