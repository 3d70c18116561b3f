// Every kernel the scan's forward and backward plans dispatch (and the layer's and model's forward) declares at most
// 8 storage buffers: WebGPU's default maxStorageBuffersPerShaderStage, what Chrome gives a device that asks for no
// more (a 9-buffer backward kernel failed there while Dawn in Node, whose adapter allows more, ran it). Read from
// the plans without a device: each kernel is composed and reflected (src/core/compose.ts) and its storage bindings
// counted, over every schedule and option combination.
import { expect, test } from 'vitest';
import { kernelKey, kernelSource, type Plan } from '../src/core/kernel.js';
import { reflectShader } from '../src/core/compose.js';
import { planPrefixScan } from '../src/ops/attention/scan.js';
import { planPrefixScanBackward } from '../src/ops/attention/backward.js';
import { planLayerForward } from '../src/nn/layer.js';
import { planModelForward } from '../src/nn/model.js';
import { SCAN_SCHEDULES } from '../src/scan/skeleton.js';
import { planLmEmbed, planLmEmbedBackward, planLmHead, planLmHeadTrain } from '../src/nn/language-model.js';
import { planAdamW } from '../src/optim/adamw.js';

/** WebGPU's default limits (the spec's table): what a device gets when it requests nothing. */
const DEFAULT_LIMITS = {
  maxStorageBuffersPerShaderStage: 8,
  maxComputeWorkgroupStorageSize: 16384,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBufferBindingSize: 134217728,
  maxBufferSize: 268435456,
} as unknown as GPUSupportedLimits;
/** A larger adapter's limits (more workgroup memory: other tiles and lanes). */
const LARGE_LIMITS = { ...DEFAULT_LIMITS, maxComputeWorkgroupStorageSize: 32768, maxComputeInvocationsPerWorkgroup: 1024 } as unknown as GPUSupportedLimits;

const counted = new Map<string, { storage: number; where: string }>();
function countPlan(plan: Plan<string>, where: string): void {
  for (const d of plan.dispatches) {
    const key = kernelKey(d.kernel);
    if (counted.has(key)) continue;
    const storage = reflectShader(kernelSource(d.kernel)).bindings.filter((b) => b.kind !== 'uniform').length;
    counted.set(key, { storage, where });
  }
}

test('every scan forward/backward, layer/model forward, language-model and AdamW kernel binds at most 8 storage buffers', () => {
  const headDims = [1, 3, 4, 16, 17, 64, 256];
  const shapes = [{ batch: 2, length: 1 }, { batch: 2, length: 300 }, { batch: 1, length: 5000 }];
  for (const limits of [DEFAULT_LIMITS, LARGE_LIMITS]) {
    for (const cpu of [true, false]) {
      const device = { limits, cpu };
      for (const headDim of headDims) {
        for (const { batch, length } of shapes) {
          const shape = { batch, length, headDim };
          for (const schedule of ['auto', ...SCAN_SCHEDULES] as const) {
            for (const chunks of [{}, { tilesPerChunk: 1 }, { targetWorkgroups: 1 }]) {
              const where = `${schedule} d${headDim} n${length} cpu ${cpu} ${JSON.stringify(chunks)}`;
              for (const decay of [false, true]) {
                countPlan(planPrefixScanBackward(shape, { schedule, decay, ...chunks }, device), `backward ${where}${decay ? ' decay' : ''}`);
                for (const outputs of ['all', 'last'] as const) {
                  for (const saveStats of outputs === 'all' ? [false, true] : [false]) {
                    countPlan(planPrefixScan(shape, { schedule, outputs, saveStats, decay, ...chunks }, device), `forward ${outputs}${saveStats ? ' saveStats' : ''} ${where}${decay ? ' decay' : ''}`);
                  }
                }
              }
            }
          }
          for (const schedule of SCAN_SCHEDULES) {
            for (const residual of [false, true]) {
              for (const order of [{}, { decay: true, conv: true }]) {
                countPlan(planLayerForward({ dModel: 8, heads: 2, headDim, outputBias: true, ...order }, batch, length, schedule, residual, device), `layer ${schedule} d${headDim} ${JSON.stringify(order)}`);
              }
            }
            countPlan(planModelForward({ layers: 1, dModel: 8, heads: 2, headDim, dFF: 16, eps: 1e-5, layer: [{ dModel: 8, heads: 2, headDim, outputBias: true }] }, batch, length, schedule, device), `model ${schedule} d${headDim}`);
          }
        }
        // The language model's own kernels (its blocks' training plans are counted in test/model-backward.test.ts).
        for (const rows of [1, 4, 300]) {
          for (const vocabSize of [1, 63, 64, 300]) {
            const dims = { vocabSize, dModel: 8 };
            for (const plan of [planLmEmbed(rows, dims, device), planLmHead(rows, dims, device), planLmHeadTrain(rows, dims, device), planLmEmbedBackward(dims, device)]) countPlan(plan, `lm rows ${rows} vocab ${vocabSize} cpu ${cpu}`);
          }
        }
        countPlan(planAdamW([[3, 4], [5]], { clipGradNorm: 1 }, device), `adamw cpu ${cpu}`);
      }
    }
  }
  // The check covers the backward's kernels (the pre-pass, the scan of each schedule, sum_partials and both ends).
  const names = [...counted.keys()].join('\n');
  for (const part of ['grad_carry', 'grad_terms', 'recurrent_scan', 'chunk_scan', 'chunk_reduce', 'sum_partials', 'grad_finish', 'decay_grad', 'decay_rates', 'conv_forward', 'store_stats', 'embedding_backward', 'cross_entropy_rows', 'cross_entropy_workgroup', 'adamw_update']) expect(names).toContain(part);
  const over = [...counted.entries()].filter(([, c]) => c.storage > 8).map(([key, c]) => `${c.storage} storage buffers: ${c.where}: ${key}`);
  expect(over, over.join('\n')).toEqual([]);
  console.log(`${counted.size} kernels, at most ${Math.max(...[...counted.values()].map((c) => c.storage))} storage buffers each`);
});
