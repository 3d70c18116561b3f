// onnxruntime-web's dist/ (bundles and .wasm files) for the bench page: linked into bench/.build/ort so that the
// bench's esbuild server (bench/chrome.mjs, servedir bench/) serves it; nothing is fetched from the network.
import { createRequire } from 'node:module';
import { lstat, mkdir, readlink, rm, symlink } from 'node:fs/promises';
import path from 'node:path';

/** Links the dist folder under `benchDir`/.build/ort; returns its URL path ('/.build/ort/'). */
export async function serveOrtDist(benchDir) {
  const dist = path.dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  const link = path.join(benchDir, '.build', 'ort');
  await mkdir(path.dirname(link), { recursive: true });
  const current = await lstat(link).then((s) => (s.isSymbolicLink() ? readlink(link) : 'not a link'), () => undefined);
  if (current !== dist) {
    if (current !== undefined) await rm(link, { recursive: true, force: true });
    await symlink(dist, link, 'dir');
  }
  return '/.build/ort/';
}
