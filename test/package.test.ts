// The package as a user installs it: `npm pack` of the built tree (run after `npm run build`, as `npm test` does).
// Its contents, publint and arethetypeswrong on the tarball, and a consumer's bundle: importing one op must not
// carry the language model or the optimizer (tree-shaking through the entries and the WGSL parts).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { publint } from 'publint';
import ts from 'typescript';
import { afterAll, beforeAll, expect, test } from 'vitest';

const root = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, string | Record<string, string>> };
const work = mkdtempSync(join(tmpdir(), 'aaren-package-'));
let tarball = '';
let files: string[] = [];

beforeAll(() => {
  // --ignore-scripts: packing must not rebuild; the test checks the tree `npm run build` left.
  const out = execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: root, encoding: 'utf8' });
  const [info] = JSON.parse(out) as { filename: string; files: { path: string }[] }[];
  tarball = join(work, info!.filename);
  files = info!.files.map((f) => f.path);
  // The package as installed in a consumer's node_modules (its dependency wgsl_reflect from ours).
  const installed = join(work, 'node_modules', 'aaren-webgpu');
  mkdirSync(installed, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1']);
  symlinkSync(join(root, 'node_modules', 'wgsl_reflect'), join(work, 'node_modules', 'wgsl_reflect'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

test('npm pack holds the entries with their declarations, the WGSL, the docs and the README; no sources, tests or benches', () => {
  for (const entry of ['index', 'reference', 'plans']) {
    expect(files).toContain(`dist/${entry}.js`);
    expect(files).toContain(`dist/${entry}.d.ts`);
  }
  // Every target of `exports` is packed.
  for (const target of Object.values(pkg.exports).flatMap((t) => (typeof t === 'string' ? [t] : Object.values(t)))) {
    expect(files, target).toContain(target.replace(/^\.\//, ''));
  }
  expect(files).toContain('README.md');
  expect(files).toContain('package.json');
  expect(files).toContain('shaders/ops/attention/recurrent_lse_scan.wgsl'); // readable WGSL beside the bundles
  expect(files.filter((f) => f.startsWith('docs/')).length).toBeGreaterThan(0);
  expect(files.filter((f) => f.startsWith('dist/chunks/') && f.endsWith('.js')).length).toBeGreaterThan(0);
  const unexpected = files.filter((f) => /^(src|test|cases|bench|harness|scripts|node_modules|train-out)\//.test(f) || /\.test\.|^tsconfig|^vitest/.test(f));
  expect(unexpected).toEqual([]);
});

test('publint finds nothing in the tarball, suggestions included', async () => {
  const bytes = readFileSync(tarball);
  const { messages } = await publint({ pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) }, level: 'suggestion', strict: true });
  expect(messages).toEqual([]);
});

test('arethetypeswrong: every entry resolves with its types under node16 (ESM) and bundler resolution', () => {
  // Profile esm-only: the package is ESM only ("type": "module", Node >= 20, `import` conditions), so the two
  // resolutions it ignores are ones the package does not serve. `require` from CommonJS gets no entry (node16-cjs:
  // "ESM (dynamic import only)"), and node10 resolution predates `exports`, so it finds no subpath. Both are still
  // listed in the report; any problem under node16-esm or bundler fails the run.
  const cli = join(root, 'node_modules', '@arethetypeswrong', 'cli', 'dist', 'index.js');
  const run = spawnSync(process.execPath, [cli, tarball, '--profile', 'esm-only', '--format', 'json'], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
  const report = JSON.parse(run.stdout) as { analysis: { entrypoints: Record<string, unknown> }; problems: Record<string, { resolutionKind?: string; entrypoint?: string }[]> };
  expect(Object.keys(report.analysis.entrypoints).sort()).toEqual(['.', './package.json', './plans', './reference']);
  const problems = Object.values(report.problems).flat().filter((p) => p.resolutionKind !== 'node10' && p.resolutionKind !== 'node16-cjs');
  expect(problems).toEqual([]);
});

/** A consumer's browser bundle (minified, tree-shaken) of `code`, resolving aaren-webgpu to the installed tarball.
 * wgsl_reflect, a dependency of ours that any use of a kernel needs, is left out to measure this package's bytes. */
async function consumerBundle(name: string, code: string): Promise<string> {
  const entry = join(work, `${name}.mjs`);
  writeFileSync(entry, code);
  const result = await esbuild.build({
    entryPoints: [entry], bundle: true, minify: true, treeShaking: true, format: 'esm', platform: 'browser',
    write: false, external: ['wgsl_reflect', 'wgsl_reflect/*'], logLevel: 'silent',
  });
  return result.outputFiles[0]!.text;
}

// Part names (src/core/shader-sources.ts keeps each with its code) and strings of the classes that survive minifying.
const scanMarkers = ['ops/attention/recurrent_lse_scan', 'scan/chunk_scan'];
const heavyMarkers = ['optim/adamw_update', 'optim/grad_norm_partials', 'ops/loss/cross_entropy_io', 'ops/embedding/embedding_gather',
  'ops/matmul/matmul_blocked', 'ops/norm/layer_norm', 'AarenLanguageModel'];

test('a consumer that imports only prefixAttention bundles no language-model, optimizer or dense code', async () => {
  const scan = await consumerBundle('scan', "import { prefixAttention } from 'aaren-webgpu';\nglobalThis.run = prefixAttention;\n");
  for (const m of scanMarkers) expect(scan, m).toContain(m);
  for (const m of heavyMarkers) expect(scan, m).not.toContain(m);
  // The markers are the right ones: a consumer of the language model and AdamW has every one of them.
  const lm = await consumerBundle('lm', "import { AarenLanguageModel, AdamW } from 'aaren-webgpu';\nglobalThis.run = [AarenLanguageModel, AdamW];\n");
  for (const m of heavyMarkers) expect(lm, m).toContain(m);
  // Bytes, for the record (issue 18: 155,848 before the WGSL parts became separate exports, 59,805 after). The
  // bound only catches tree-shaking that broke wholesale: the language model's bundle is well above it.
  console.log(`consumer bundle bytes: prefixAttention ${scan.length}, AarenLanguageModel + AdamW ${lm.length}`);
  expect(scan.length).toBeLessThan(100_000);
  expect(lm.length).toBeGreaterThan(100_000);
});

test('the subpaths import in Node and hold what the main entry leaves out', async () => {
  const script = `
    const main = await import('aaren-webgpu');
    const reference = await import('aaren-webgpu/reference');
    const plans = await import('aaren-webgpu/plans');
    console.log(JSON.stringify({ main: Object.keys(main), reference: Object.keys(reference), plans: Object.keys(plans) }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: work, encoding: 'utf8' });
  const names = JSON.parse(out) as Record<'main' | 'reference' | 'plans', string[]>;
  expect(names.main).toEqual(expect.arrayContaining(['prefixAttention', 'PrefixScan', 'AarenLayer', 'AarenModel', 'AarenLanguageModel', 'AdamW', 'readSafetensors', 'requestAarenDevice', 'packState']));
  expect(names.reference).toEqual(expect.arrayContaining(['referenceRecurrence', 'referenceScanBackward', 'referenceModel', 'referenceAdamWStep']));
  expect(names.plans).toEqual(expect.arrayContaining(['PreparedPlan', 'rebind', 'planPrefixScan', 'planAdamW', 'planLmHead']));
  // The main entry holds no float64 reference and no plan builder.
  expect(names.main.filter((n) => /^reference|^plan|Reference$/.test(n))).toEqual([]);
  // The main entry is the short list (values only; its types are free): what a user calls.
  expect(names.main.length).toBeLessThanOrEqual(30);
});

test("the README's TypeScript examples typecheck against the packed declarations", () => {
  // Each ```ts block is a module of its own in a consumer project (type: module, NodeNext resolution, so the
  // `exports` types and top-level await are what a user gets), importing the installed tarball.
  const blocks = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!);
  expect(blocks.length).toBe(3);
  writeFileSync(join(work, 'package.json'), JSON.stringify({ type: 'module' }));
  mkdirSync(join(work, 'node_modules', '@webgpu'), { recursive: true });
  symlinkSync(join(root, 'node_modules', '@webgpu', 'types'), join(work, 'node_modules', '@webgpu', 'types'));
  const names = blocks.map((code, i) => {
    const file = join(work, `readme-${i}.ts`);
    writeFileSync(file, code);
    return file;
  });
  const program = ts.createProgram(names, {
    target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'], types: ['@webgpu/types'], strict: true, noUncheckedIndexedAccess: true, noEmit: true,
  });
  const errors = ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file ? `${d.file.fileName.slice(work.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}: ` : '';
    return where + ts.flattenDiagnosticMessageText(d.messageText, '\n');
  });
  expect(errors).toEqual([]);
});
