// A Dawn (Node) WebGPU device for the tests. The object create() returns must outlive every adapter and device
// made from it (MISSION.md: otherwise V8 may free Dawn's instance while its event pump runs), so it is held here.
import { create, globals } from 'webgpu';
import { requestAarenDevice } from '../src/core/device.js';

Object.assign(globalThis, globals);
process.env.VK_ICD_FILENAMES ??= '/usr/lib/chromium/vk_swiftshader_icd.json';

const gpu: GPU = create([]);
(globalThis as { __aarenDawnGpu?: GPU }).__aarenDawnGpu = gpu;

let device: Promise<GPUDevice> | undefined;

export function dawnDevice(): Promise<GPUDevice> {
  device ??= requestAarenDevice(gpu);
  return device;
}

/** Another device from the same Dawn instance (one a test may destroy, or a device factory's). */
export function newDawnDevice(): Promise<GPUDevice> {
  return requestAarenDevice(gpu);
}
