#!/usr/bin/env node
// `npm run train`: bundles harness/train/cli.ts with esbuild into harness/train/.build/ and runs it
// (scripts/run-bundled.mjs). `npm run train -- --help` lists the flags.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBundledMain } from '../scripts/run-bundled.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.INIT_CWD ??= process.cwd(); // cli.ts resolves --text and --out against it
process.chdir(root);
await runBundledMain({ entry: path.join(root, 'harness', 'train', 'cli.ts'), outfile: path.join(root, 'harness', 'train', '.build', 'cli.mjs'), argv: process.argv.slice(2) });
