// Locate Debian's chromium and launch it headless with WebGPU on (SwiftShader unless a real GPU is asked for).
import { existsSync } from 'node:fs';
import puppeteer from 'puppeteer';

const CANDIDATES = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** @returns {string} path of a Chromium/Chrome executable */
export function findChromium() {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (!existsSync(fromEnv)) throw new Error(`CHROMIUM_PATH=${fromEnv} does not exist`);
    return fromEnv;
  }
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found) return found;
  throw new Error(
    `No Chromium found (looked at $CHROMIUM_PATH, ${CANDIDATES.join(', ')}). ` +
      'On Debian/Ubuntu install it with: apt-get install -y chromium libvulkan1 ' +
      '(puppeteer is configured not to download its own browser), or set CHROMIUM_PATH to a Chrome/Chromium binary.',
  );
}

/** Real GPU only when AAREN_REAL_GPU=1; otherwise SwiftShader, the CPU Vulkan that Debian's chromium ships. */
export const DEFAULT_USE_SWIFTSHADER = process.env.AAREN_REAL_GPU !== '1';

const COMMON_ARGS = [
  '--no-sandbox', // we run as root in CI containers
  '--enable-unsafe-webgpu', // WebGPU is not on by default on Linux
  '--enable-features=Vulkan',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
];
const SWIFTSHADER_ARGS = ['--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader'];

/** @param {{ useSwiftShader?: boolean }} [opts] @returns {string[]} */
export function chromiumArgs({ useSwiftShader = DEFAULT_USE_SWIFTSHADER } = {}) {
  return useSwiftShader ? [...COMMON_ARGS, ...SWIFTSHADER_ARGS] : [...COMMON_ARGS];
}

/** @param {{ useSwiftShader?: boolean, executablePath?: string }} [opts] @returns {Promise<import('puppeteer').Browser>} */
export async function launchBrowser({ useSwiftShader = DEFAULT_USE_SWIFTSHADER, executablePath = findChromium() } = {}) {
  return puppeteer.launch({
    executablePath,
    headless: true,
    args: chromiumArgs({ useSwiftShader }),
  });
}
