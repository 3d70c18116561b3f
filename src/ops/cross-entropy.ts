// The fused softmax cross-entropy of a language model's head, recorded into a caller's compute pass:
// logits [rows, vocab] f32 and targets [rows] u32 -> gradLogits [rows, vocab] = (softmax(logits) - onehot) / rows
// and the mean loss over rows in a 1-float `loss` buffer. Two dispatches (shaders/ops/loss/): a row pass that
// writes the gradient and each row's loss into a scratch, either cross_entropy_rows (an invocation per row,
// barrier-free: CPU adapters, and vocabularies under 64) or cross_entropy_workgroup (a workgroup per row with tree
// reductions: GPUs), then cross_entropy_mean (one workgroup, a fixed order). No atomics: the same logits give the
// same bits.
//
// Stable for any finite logits (the row max is subtracted before exp). Non-finite logits give a NaN loss (the
// caller refuses the step). The op cannot see the host's tokens: callers check targets with checkTargets first.
import { type Plan, PreparedPlan } from '../core/kernel.js';
import * as wgsl from '../core/shader-sources.js';
import { isCpuAdapter } from '../core/device.js';
import { checkInteger, checkStorageBuffer } from '../core/validate.js';
import type { PlanLimits } from './attention/scan.js';

const ROW_WORKGROUP = 64;
const MEAN_WORKGROUP = 256;

export type CrossEntropySlot = 'logits' | 'targets' | 'gradLogits' | 'loss';

/** The two passes of the cross-entropy of `rows` rows over `vocab` classes (pure); `device.cpu` picks the
 * barrier-free per-row kernel. */
export function planCrossEntropy(rows: number, vocab: number, device: PlanLimits): Plan<CrossEntropySlot> {
  checkInteger('rows', rows, 0);
  checkInteger('vocab', vocab, 1);
  const max = device.limits.maxComputeWorkgroupsPerDimension;
  const mean = {
    kernel: { parts: [wgsl.crossEntropyMean], constants: { WORKGROUP_SIZE: MEAN_WORKGROUP } },
    params: { rows },
    buffers: { row_loss: rows === 0 ? null : { scratch: 'rowLoss' }, loss: 'loss' as const },
    workgroups: [1, 1, 1] as const,
  };
  if (rows === 0) return { dispatches: [mean], scratch: {}, optional: [] };
  const perRow = device.cpu || vocab < ROW_WORKGROUP;
  return {
    dispatches: [
      {
        kernel: perRow
          ? { parts: [wgsl.crossEntropyIo, wgsl.crossEntropyRows], constants: { WORKGROUP_SIZE: ROW_WORKGROUP } }
          : { parts: [wgsl.crossEntropyIo, wgsl.crossEntropyWorkgroup], constants: { WORKGROUP_SIZE: ROW_WORKGROUP } },
        // inv_rows = fl(1 / rows): one rounding, within the gradient's bound (test/optim.test.ts).
        params: { rows, vocab, inv_rows: 1 / rows },
        buffers: { logits: 'logits', targets: 'targets', grad_logits: 'gradLogits', row_loss: { scratch: 'rowLoss' } },
        workgroups: [Math.min(perRow ? Math.ceil(rows / ROW_WORKGROUP) : rows, max), 1, 1],
      },
      mean,
    ],
    scratch: { rowLoss: rows * 4 },
    optional: [],
  };
}

/**
 * Host check of next-token targets before any GPU work: every entry an integer in [0, vocab); a RangeError names
 * `name[i]` otherwise (a TypeError when `targets` is not array-like).
 */
export function checkTargets(name: string, targets: ArrayLike<number>, vocab: number): void {
  if (typeof targets !== 'object' || targets === null || typeof targets.length !== 'number') {
    throw new TypeError(`${name} must be an array of token ids, got ${targets === null ? 'null' : typeof targets}`);
  }
  checkInteger('vocab', vocab, 1);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (!Number.isInteger(t) || t < 0 || t >= vocab) throw new RangeError(`${name}[${i}] = ${t} is outside [0, ${vocab})`);
  }
}

/** Mean softmax cross-entropy and its gradient with respect to the logits, GPU-resident. */
export class CrossEntropyOp {
  private constructor(readonly rows: number, readonly vocab: number, private readonly prepared: PreparedPlan<CrossEntropySlot>) {}

  /** `options.cpu`: the kernel family (default isCpuAdapter(device)), as LayerNormOp. */
  static async create(device: GPUDevice, rows: number, vocab: number, options: { cpu?: boolean } = {}): Promise<CrossEntropyOp> {
    const plan = planCrossEntropy(rows, vocab, { limits: device.limits, cpu: options.cpu ?? isCpuAdapter(device) });
    return new CrossEntropyOp(rows, vocab, await PreparedPlan.create(device, plan, 'aaren cross entropy'));
  }

  /**
   * Records both passes: logits [rows, vocab] f32, targets [rows] u32 (checked on the host by the caller:
   * checkTargets), gradLogits [rows, vocab] f32 (overwritten), loss [1] f32 (overwritten with the mean).
   */
  encode(pass: GPUComputePassEncoder, buffers: Record<CrossEntropySlot, GPUBuffer>): void {
    const cells = this.rows * this.vocab * 4;
    checkStorageBuffer('logits', buffers.logits, cells);
    checkStorageBuffer('targets', buffers.targets, this.rows * 4);
    checkStorageBuffer('gradLogits', buffers.gradLogits, cells);
    checkStorageBuffer('loss', buffers.loss, 4);
    this.prepared.encode(pass, buffers);
  }

  destroy(): void {
    this.prepared.destroy();
  }
}
