// Browser side of the harness: get a WebGPU device, run the shared cases, publish everything on `window`
// so that puppeteer (run-in-chrome.mjs) or a person with devtools can read it.
import type { CaseOptions, CaseResult } from '../cases/scan.js';
import { runAllCases } from '../cases/all.js';

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  description: string;
  device: string;
  features: string[];
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
  /** The device's maxStorageBuffersPerShaderStage: the page leaves it at WebGPU's default, 8, so every case runs
   * under the binding limit a device made by another library may have. */
  storageBuffersPerStage?: number;
}

declare global {
  interface Window {
    __aarenResults: CaseResult[];
    __aarenDone: boolean;
    __aarenError?: string;
    __aarenAdapter?: AdapterSummary;
    __aarenGpuErrors: string[];
    /** Set by puppeteer (page.exposeFunction) to stream results as they finish; absent in a plain browser. */
    __aarenOnResult?: (r: CaseResult) => unknown;
  }
}

window.__aarenResults = [];
window.__aarenDone = false;
window.__aarenGpuErrors = [];

const logEl = document.getElementById('log');
function log(line: string): void {
  if (logEl) logEl.textContent = logEl.textContent === 'loading…' ? line : `${logEl.textContent}\n${line}`;
}

function readOptions(): CaseOptions {
  const q = new URLSearchParams(location.search);
  const quick = q.get('quick');
  const filter = q.get('filter');
  return {
    quick: quick !== null && quick !== '0' && quick !== 'false',
    ...(filter ? { filter } : {}),
  };
}

// Ask for the adapter's full limits, not the defaults: big test buffers and workgroups need them. Not the storage
// buffers per stage: WebGPU's default of 8 is what the kernels must fit (test/browser.test.ts checks it).
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
] as const;
const WANTED_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups'];

async function getDevice(): Promise<GPUDevice> {
  if (!navigator.gpu) throw new Error('navigator.gpu is missing: WebGPU is disabled or this is not a secure context');
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) throw new Error('navigator.gpu.requestAdapter() returned null: no WebGPU adapter');
  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) requiredLimits[name] = adapter.limits[name];
  const info = adapter.info;
  window.__aarenAdapter = {
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description,
    device: info.device,
    features: [...adapter.features].map(String).sort(),
    ...(info.subgroupMinSize !== undefined ? { subgroupMinSize: info.subgroupMinSize } : {}),
    ...(info.subgroupMaxSize !== undefined ? { subgroupMaxSize: info.subgroupMaxSize } : {}),
  };
  const device = await adapter.requestDevice({ requiredFeatures: features, requiredLimits });
  window.__aarenAdapter.storageBuffersPerStage = device.limits.maxStorageBuffersPerShaderStage;
  // Validation errors outside an error scope would otherwise only show as console warnings.
  device.addEventListener('uncapturederror', (ev) => {
    const msg = (ev as GPUUncapturedErrorEvent).error.message;
    window.__aarenGpuErrors.push(msg);
    console.error(`WebGPU uncaptured error: ${msg}`);
  });
  void device.lost.then((info) => {
    if (info.reason !== 'destroyed' && !window.__aarenDone) {
      window.__aarenError = `WebGPU device lost: ${info.message}`;
    }
  });
  return device;
}

async function main(): Promise<void> {
  const options = readOptions();
  const device = await getDevice();
  const a = window.__aarenAdapter;
  log(`adapter: ${a?.vendor} ${a?.architecture} ${a?.description}; options: ${JSON.stringify(options)}`);
  const results = await runAllCases(device, options, (r) => {
    window.__aarenResults.push(r);
    log(`${r.pass ? 'PASS' : 'FAIL'} ${r.kernel} ${r.shape} maxAbs=${r.maxAbsError} tol=${r.tolerance}${r.error ? ` error=${r.error}` : ''}`);
    void window.__aarenOnResult?.(r);
  });
  window.__aarenResults = results; // the returned list is authoritative
  window.__aarenDone = true;
  log(`done: ${results.filter((r) => r.pass).length}/${results.length} passed`);
  device.destroy();
}

main().catch((e: unknown) => {
  const msg = e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e);
  window.__aarenError = msg;
  log(`ERROR: ${msg}`);
});
