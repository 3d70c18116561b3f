// Locate Debian's chromium, launch it headless with WebGPU on (SwiftShader unless a real GPU is asked for), and
// wait for a page's long run with short protocol calls only. Used by every runner that drives Chromium: the
// harness (run-in-chrome.mjs), the bench's Chrome backend (bench/chrome.mjs) and `npm run train -- --backend
// chrome` (harness/train/chrome.mjs).
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
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

/** The longest any one DevTools-protocol call may take. Every call the runners make is short (a navigation, a
 * poll of a flag, a binding's reply, reading the results), so the length of a run is bounded only by its own
 * deadline (waitForPage). Puppeteer's default, 180 s, applied to one call held open for the whole run
 * (waitForFunction with timeout 0), is what ended `npm start` after three minutes on a 2-core machine. */
export const PROTOCOL_TIMEOUT_MS = 60_000;

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

/**
 * @param {{ useSwiftShader?: boolean, executablePath?: string, extraArgs?: string[], protocolTimeoutMs?: number }} [opts]
 * @returns {Promise<import('puppeteer').Browser>}
 */
export async function launchBrowser({
  useSwiftShader = DEFAULT_USE_SWIFTSHADER,
  executablePath = findChromium(),
  extraArgs = [],
  protocolTimeoutMs = PROTOCOL_TIMEOUT_MS,
} = {}) {
  return puppeteer.launch({
    executablePath,
    headless: true,
    args: [...chromiumArgs({ useSwiftShader }), ...extraArgs],
    protocolTimeout: protocolTimeoutMs,
  });
}

/** A protocol call that ran past `protocolTimeout` (puppeteer's ProtocolError "... timed out. Increase ..."). */
function isProtocolTimeout(/** @type {unknown} */ e) {
  return e instanceof Error && e.name === 'ProtocolError' && /timed out/.test(e.message);
}

/**
 * The one deadline of a page run, and what else can end it early: the page crashing or Chromium exiting.
 * `expired` rejects at `deadlineAt` (epoch ms) with `timeoutMessage()`; `ended` rejects on either of them.
 * @param {import('puppeteer').Page} page
 * @param {{ deadlineAt: number, timeoutMessage: () => string }} opts
 */
export function pageRun(page, { deadlineAt, timeoutMessage }) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {Promise<never>} */
  const ended = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(timeoutMessage())), Math.max(0, deadlineAt - Date.now()));
    page.on('error', (err) => reject(new Error('the Chromium page crashed', { cause: err })));
    page.browser().on('disconnected', () => reject(new Error('Chromium exited before the page finished')));
  });
  ended.catch(() => {}); // read through race() below; never an unhandled rejection
  return {
    ended,
    /** @template T @param {Promise<T>} p @returns {Promise<T>} p, unless the run ends first */
    race: (p) => Promise.race([p, ended]),
    dispose: () => clearTimeout(timer),
  };
}

/**
 * Polls `check` in the page with short `page.evaluate` calls until it returns something truthy, and resolves with
 * that; rejects when `run` ends (deadline, crash, exit). A poll that times out because the page's main thread is
 * busy (a long synchronous float64 reference) is retried: only the run's deadline ends the wait.
 * @template T
 * @param {import('puppeteer').Page} page
 * @param {() => T} check evaluated in the page
 * @param {ReturnType<typeof pageRun>} run
 * @param {number} [pollMs]
 * @returns {Promise<NonNullable<Awaited<T>>>}
 */
export async function waitForPage(page, check, run, pollMs = 250) {
  for (;;) {
    try {
      const value = await run.race(page.evaluate(check));
      if (value) return /** @type {NonNullable<Awaited<T>>} */ (value);
    } catch (e) {
      if (!isProtocolTimeout(e)) throw e;
    }
    await run.race(sleep(pollMs));
  }
}

/** An error's message followed by its `cause` chain, one "caused by" line each (what actually failed). */
export function describeError(/** @type {unknown} */ e) {
  const lines = [];
  for (let cur = e, depth = 0; cur !== undefined && cur !== null && depth < 8; depth++) {
    const text = cur instanceof Error ? (depth === 0 ? (cur.stack ?? cur.message) : `${cur.name}: ${cur.message}`) : String(cur);
    lines.push(depth === 0 ? text : `  caused by ${text}`);
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return lines.join('\n');
}
