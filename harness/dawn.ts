// A WebGPU device in Node from Dawn (the `webgpu` package), for the bundled runners (bench/cli.ts, harness/train/cli.ts).
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { create, globals } from 'webgpu';
import { requestAarenDevice } from '../src/core/device.js';

const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

// Dawn's instance: must stay referenced for as long as its adapter and device are used (MISSION.md).
let gpu: GPU | undefined;

/**
 * The adapter's device with the package's limits; uncaptured WebGPU errors go to `log`. Without any Vulkan
 * driver it runs this same command again on SwiftShader (a CPU Vulkan, when Debian's chromium ships it) and
 * resolves 'respawned' with process.exitCode set to the child's status.
 */
export async function requestDawnDevice(flags: string[], log: (line: string) => void): Promise<GPUDevice | 'respawned'> {
  Object.assign(globalThis, globals);
  gpu = create(flags);
  (globalThis as { __aarenDawnGpu?: GPU }).__aarenDawnGpu = gpu;
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    if (process.env.AAREN_REAL_GPU === '1') {
      throw new Error('WebGPU: no adapter found and AAREN_REAL_GPU=1 (is a Vulkan driver for the GPU installed? vulkaninfo --summary lists them)');
    }
    if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER_ICD)) {
      log(`no WebGPU adapter; retrying on SwiftShader (VK_ICD_FILENAMES=${SWIFTSHADER_ICD})`);
      const child = spawnSync(process.execPath, process.argv.slice(1), { stdio: 'inherit', env: { ...process.env, VK_ICD_FILENAMES: SWIFTSHADER_ICD } });
      process.exitCode = child.status ?? 1;
      return 'respawned';
    }
    throw new Error('WebGPU: no adapter found (set VK_ICD_FILENAMES to a Vulkan ICD, e.g. SwiftShader\'s)');
  }
  const device = await requestAarenDevice(gpu);
  device.addEventListener('uncapturederror', (e) => log(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));
  return device;
}

/** Another device from the instance requestDawnDevice made (after a lost device: the training loop's factory). */
export async function requestAnotherDawnDevice(log: (line: string) => void): Promise<GPUDevice> {
  if (!gpu) throw new Error('requestAnotherDawnDevice: call requestDawnDevice first');
  const device = await requestAarenDevice(gpu);
  device.addEventListener('uncapturederror', (e) => log(`WebGPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));
  return device;
}
