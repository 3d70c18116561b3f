#!/usr/bin/env node
// `npm run bench`: bundles bench/cli.ts with esbuild into bench/.build/ and runs it (scripts/run-bundled.mjs).
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBundledMain } from '../scripts/run-bundled.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);
await runBundledMain({ entry: path.join(root, 'bench', 'cli.ts'), outfile: path.join(root, 'bench', '.build', 'cli.mjs'), argv: process.argv.slice(2) });
