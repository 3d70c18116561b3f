// Numerical limits of prefixAttention against the float64 recurrence (src/reference.ts), on the Dawn device of
// this machine: the worst error, relative to the scale of the values (max |gpu - ref| / max|v|), as the length
// grows (headDim 1 up to 2^22 tokens, headDim 64 up to 2^16) and as the scores spread (N(0, sigma), sigma 1 to
// 1e30, and ramps where every token rescales the state). Not part of CI: run
// `node bench/accuracy.mjs [--quick] [--schedule recurrent|sequential|parallel]` (default: all three).
// Prints a markdown table.
import * as esbuild from 'esbuild';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { create, globals } from 'webgpu';
import { wgslRawPlugin } from '../scripts/wgsl-plugin.mjs';

const quick = process.argv.includes('--quick');
const root = new URL('..', import.meta.url).pathname;

// Bundle the sources (WGSL inlined) so that this script runs on the TypeScript tree without a build step.
const bundle = await esbuild.build({
  stdin: {
    contents: `export { prefixAttention, prefixAttentionLast } from './src/ops/attention/scan.ts';
      export { referenceRecurrence } from './src/reference/scan.ts';
      export { requestAarenDevice } from './src/core/device.ts';
      export { mulberry32, normal } from './src/core/random.ts';`,
    resolveDir: root,
    loader: 'ts',
  },
  bundle: true,
  format: 'esm',
  platform: 'node',
  write: false,
  external: ['webgpu'],
  plugins: [wgslRawPlugin()],
  logLevel: 'warning',
});
const file = join(await mkdtemp(join(tmpdir(), 'aaren-accuracy-')), 'bundle.mjs');
await writeFile(file, bundle.outputFiles[0].text);
Object.assign(globalThis, globals); // GPUBufferUsage and friends, used at module level by the bundle
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';
const { prefixAttention, referenceRecurrence, requestAarenDevice, mulberry32, normal } = await import(pathToFileURL(file).href);
const gpu = create([]); // kept alive for the whole run (MISSION.md)
globalThis.__aarenAccuracyGpu = gpu;
const device = await requestAarenDevice(gpu);

function makeInput({ batch, length, headDim, scores: pattern, sigma, positive }, seed) {
  const random = mulberry32(seed);
  const scores = new Float32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < length; i++) {
      const t = i / Math.max(1, length - 1);
      let s;
      if (pattern === 'normal') s = sigma * normal(random);
      else if (pattern === 'rising') s = sigma * (2 * t - 1) + 0.1 * normal(random); // every token takes the max: rescale each step
      else if (pattern === 'creeping') s = sigma * t; // a new maximum at every token, the weights near uniform
      else if (pattern === 'masked-prefix') s = i < length / 2 ? -Infinity : sigma * normal(random);
      scores[b * length + i] = s;
    }
  }
  // Signed values average out; positive ones (in [0.5, 1]) make every rounding error of the sums line up.
  const values = Float32Array.from({ length: batch * length * headDim }, () => (positive ? 0.5 + 0.5 * random() : 2 * random() - 1));
  return { batch, length, headDim, scores, values };
}

async function measure(c, schedule) {
  const input = makeInput(c, 1234 + c.length);
  const options = schedule === 'parallel' ? { schedule, tilesPerChunk: 1 } : { schedule };
  const start = performance.now();
  const out = await prefixAttention(device, input, options);
  const ms = performance.now() - start;
  const ref = referenceRecurrence(input).outputs;
  let scale = 0;
  for (const v of input.values) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  let nonzeroMasked = 0;
  for (let i = 0; i < out.length; i++) {
    const d = Math.abs(out[i] - ref[i]);
    worst = Number.isNaN(d) ? Infinity : Math.max(worst, d);
    if (ref[i] === 0 && out[i] !== 0 && c.scores === 'masked-prefix') nonzeroMasked++;
  }
  return { rel: worst / scale, ms, nonzeroMasked };
}

const cases = [];
const lengths1 = quick ? [10, 14, 18, 20] : [10, 12, 14, 16, 18, 20, 21, 22];
for (const p of lengths1) cases.push({ group: 'length, headDim 1', batch: 1, length: 2 ** p, headDim: 1, scores: 'normal', sigma: 1 });
for (const p of quick ? [16, 20] : [12, 16, 20, 22]) cases.push({ group: 'length, headDim 1, v in [0.5, 1]', batch: 1, length: 2 ** p, headDim: 1, scores: 'normal', sigma: 1, positive: true });
for (const p of quick ? [10, 16] : [10, 12, 14, 16]) cases.push({ group: 'length, headDim 64', batch: 1, length: 2 ** p, headDim: 64, scores: 'normal', sigma: 1 });
for (const sigma of [1, 10, 100, 1e3, 1e4, 1e5, 1e10, 1e30]) cases.push({ group: 'spread N(0, sigma)', batch: 4, length: 2 ** 14, headDim: 8, scores: 'normal', sigma });
for (const sigma of [10, 1e4]) cases.push({ group: 'spread, v in [0.5, 1]', batch: 4, length: 2 ** 14, headDim: 8, scores: 'normal', sigma, positive: true });
for (const sigma of [30, 1e4, 1e30]) cases.push({ group: 'rising ramp +-sigma', batch: 4, length: 2 ** 14, headDim: 8, scores: 'rising', sigma });
for (const p of quick ? [20] : [20, 22]) cases.push({ group: 'creeping maximum, v in [0.5, 1]', batch: 1, length: 2 ** p, headDim: 1, scores: 'creeping', sigma: 0.5, positive: true });
cases.push({ group: 'masked prefix (half)', batch: 4, length: 2 ** 14, headDim: 8, scores: 'masked-prefix', sigma: 1e4 });

const only = process.argv.indexOf('--schedule');
const schedules = only >= 0 ? [process.argv[only + 1]] : ['recurrent', 'sequential', 'parallel'];
console.log(`device: ${device.adapterInfo?.description || device.adapterInfo?.vendor || 'unknown'}; error = max|gpu - ref| / max|v|, ref = float64 recurrence`);
console.log(`| case | batch x length x headDim | scores | ${schedules.join(' | ')} |`);
console.log(`|---|---|---|${schedules.map(() => '---').join('|')}|`);
let worstOverall = 0;
for (const c of cases) {
  const cells = [];
  for (const schedule of schedules) {
    try {
      const r = await measure(c, schedule);
      worstOverall = Math.max(worstOverall, r.rel);
      cells.push(`${r.rel.toExponential(2)}${r.nonzeroMasked ? ` (${r.nonzeroMasked} masked outputs not 0!)` : ''} (${(r.ms / 1000).toFixed(2)} s)`);
    } catch (error) {
      cells.push(`error: ${String(error.message).split('\n')[0]}`);
    }
  }
  const scoreText = c.scores === 'normal' ? `N(0, ${c.sigma})` : `${c.scores} ${c.sigma}`;
  console.log(`| ${c.group} | ${c.batch} x 2^${Math.log2(c.length)} x ${c.headDim} | ${scoreText} | ${cells.join(' | ')} |`);
}
console.log(`worst: ${worstOverall.toExponential(2)}`);
process.exit(0);
