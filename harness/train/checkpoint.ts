// Checkpoints of `npm run train`'s loop (loop.ts): what the loop itself carries from one step to the next (the
// step, the batch generator's state, the losses so far) goes into the checkpoint's metadata next to the model's
// and AdamW's state (AarenLanguageModel.toCheckpoint), so that a run continued from a checkpoint draws the same
// batches with the same learning rates and gives the same losses, bit for bit, as the run that was never
// interrupted. TrainingRun also survives a lost device: given a device factory it makes a new device, reloads the
// last checkpoint (kept in memory) and goes on from there.
//
// Loop metadata keys (with the caller's own, besides the checkpoint's, src/optim/checkpoint.ts):
//   vocab        JSON array of the characters (as in model.safetensors)
//   training     JSON of the TrainConfig (a resume must use the same, `sample` and `eval.every` aside: see runConfig)
//   loop.step    steps done
//   loop.random  the batch generator's 32-bit state after them
//   loop.losses  JSON array of every loss so far (so the resumed run's loss curve is whole)
//   loop.validation  JSON array of the held-out evaluations so far ({ step, loss }, loop.ts ValidationPoint), so the
//                resumed run's validation curve and report are whole
//   loop.text    "<characters>:<FNV-1a hash of the token ids>" of the whole text, training and validation parts (a
//                resume must use the same)
import { AarenLanguageModel } from '../../src/nn/language-model.js';
import { AdamW } from '../../src/optim/adamw.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import type { CharVocab, TrainConfig, ValidationPoint } from './loop.js';

/** What trainCharModel's hooks may add for checkpoints and recovery. */
export interface CheckpointHooks {
  /** A checkpoint every this many steps (and none when 0 or absent). Kept in memory for recovery, and handed to
   * onCheckpoint. */
  checkpointEvery?: number;
  /** Receives each checkpoint after step `step` (1-based); the loop waits for it (e.g. an atomic file write). */
  onCheckpoint?: (bytes: Uint8Array, step: number) => Promise<void> | void;
  /** Continue from this checkpoint (one onCheckpoint received) instead of starting afresh; refused when it was
   * made with another config or text. */
  resume?: Uint8Array;
  /** Makes a new device when the current one is lost; the loop then reloads the last checkpoint (or starts over
   * when it has none) and goes on. Without it a lost device ends the run with its error. The caller owns (and
   * destroys) the devices it makes. */
  createDevice?: () => Promise<GPUDevice>;
  /** Messages about checkpoints and recovery. */
  onLog?: (line: string) => void;
}

/** Recoveries in a row without a step done in between before the loop gives up. */
const MAX_RECOVERIES = 3;

/** mulberry32 (src/core/random.ts) with its state readable, so that a checkpoint can save and restore it. */
export class SeededRandom {
  constructor(public state: number) {
    this.state = state >>> 0;
  }

  /** A uniform number in [0, 1): the same sequence as mulberry32(seed). */
  readonly next = (): number => {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** "<count>:<FNV-1a 32 of the ids>": tells a different training text apart. */
export function textFingerprint(ids: Uint32Array): string {
  let h = 0x811c9dc5;
  for (const id of ids) {
    for (let k = 0; k < 4; k++) {
      h ^= (id >>> (8 * k)) & 0xff;
      h = Math.imul(h, 0x01000193) >>> 0;
    }
  }
  return `${ids.length}:${h.toString(16).padStart(8, '0')}`;
}

/**
 * The part of the config that must match for a resume to continue the same run. Not the sample. Of `eval`:
 * `fraction` decides which characters are trained on (the batches), so it must match; `windows` decides what a
 * held-out loss measures, and the checkpoint's evaluations (loop.validation) must be comparable with the resumed
 * run's, so it must match too; `every` only decides when the loop evaluates (evaluation updates nothing and draws
 * nothing from the batch generator), so it may differ.
 */
function runConfig(config: TrainConfig): Record<string, unknown> {
  const { sample: _sample, eval: heldOut, ...rest } = config;
  return { ...rest, eval: heldOut === undefined ? undefined : { fraction: heldOut.fraction, windows: heldOut.windows } };
}

/** A device is lost when `lost` settles soon after a failed call. */
async function isLost(device: GPUDevice): Promise<GPUDeviceLostInfo | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), 2000)));
  try {
    return await Promise.race([device.lost, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The model, optimizer and loop position of a training run, with its checkpoints and recovery. */
export class TrainingRun {
  /** Steps done (the next step's 0-based index). */
  step = 0;
  /** The loss of every step done. */
  losses: number[] = [];
  /** The held-out evaluations done (the loop adds them, before the step's checkpoint). */
  validation: ValidationPoint[] = [];
  private last?: Uint8Array;
  private recoveries = 0;

  private constructor(
    public device: GPUDevice,
    public lm: AarenLanguageModel,
    public optimizer: AdamW,
    private random: SeededRandom,
    private readonly context: { config: TrainConfig; vocab: CharVocab; ids: Uint32Array; hooks: CheckpointHooks },
  ) {}

  /** The batch generator (sampleWindows' `random`). */
  get nextRandom(): () => number {
    return this.random.next;
  }

  /** A fresh run (seeded weights, AdamW, the batch generator at config.seed), or hooks.resume's. */
  static async start(device: GPUDevice, config: TrainConfig, vocab: CharVocab, ids: Uint32Array, hooks: CheckpointHooks): Promise<TrainingRun> {
    if (hooks.checkpointEvery !== undefined && !(Number.isInteger(hooks.checkpointEvery) && hooks.checkpointEvery >= 0)) {
      throw new RangeError(`checkpointEvery must be an integer >= 0, got ${hooks.checkpointEvery}`);
    }
    const context = { config, vocab, ids, hooks };
    const run = hooks.resume ? await TrainingRun.load(device, hooks.resume, context) : await TrainingRun.fresh(device, context);
    run.last = hooks.resume;
    return run;
  }

  private static async fresh(device: GPUDevice, context: TrainingRun['context']): Promise<TrainingRun> {
    const { config, vocab } = context;
    const lm = await AarenLanguageModel.create(device, { ...config.model, vocabSize: vocab.chars.length, seed: config.seed });
    try {
      const optimizer = await AdamW.create(device, lm, { lr: config.lr, weightDecay: config.weightDecay, clipGradNorm: config.clipGradNorm });
      return new TrainingRun(device, lm, optimizer, new SeededRandom(config.seed), context);
    } catch (error) {
      lm.destroy();
      throw error;
    }
  }

  private static async load(device: GPUDevice, bytes: Uint8Array, context: TrainingRun['context']): Promise<TrainingRun> {
    const { config, vocab, ids } = context;
    // Everything the loop reads is checked before the model is made (fromCheckpoint checks the rest on the host).
    const meta = readSafetensors(bytes).metadata;
    const json = (key: string): unknown => {
      try {
        return JSON.parse(meta[key] ?? '');
      } catch {
        throw new RangeError(`resume: the checkpoint has no valid "${key}" metadata (not a checkpoint of npm run train?)`);
      }
    };
    const saved = json('training') as TrainConfig;
    if (typeof saved !== 'object' || saved === null) throw new RangeError('resume: the checkpoint has no valid "training" metadata (not a checkpoint of npm run train?)');
    const [want, had] = [runConfig(config), runConfig(saved)];
    for (const key of new Set([...Object.keys(want), ...Object.keys(had)])) {
      const [a, b] = [JSON.stringify(had[key]), JSON.stringify(want[key])];
      if (a !== b) throw new RangeError(`resume: the checkpoint was trained with ${key} ${a}, this run has ${key} ${b} (resume with the interrupted run's settings)`);
    }
    if (JSON.stringify(json('vocab')) !== JSON.stringify(vocab.chars)) throw new RangeError('resume: the checkpoint\'s vocabulary is not this text\'s (resume with the interrupted run\'s --text)');
    if (meta['loop.text'] !== textFingerprint(ids)) throw new RangeError(`resume: the checkpoint was trained on another text (${meta['loop.text']}, this one is ${textFingerprint(ids)})`);
    const step = Number(meta['loop.step']);
    if (!/^\d+$/.test(meta['loop.step'] ?? '') || step > config.steps) throw new RangeError(`resume: loop.step ${JSON.stringify(meta['loop.step'])} is not a step count in [0, ${config.steps}]`);
    if (!/^\d+$/.test(meta['loop.random'] ?? '') || Number(meta['loop.random']) > 0xffffffff) throw new RangeError(`resume: loop.random ${JSON.stringify(meta['loop.random'])} is not a 32-bit state`);
    const losses = json('loop.losses');
    if (!Array.isArray(losses) || losses.length !== step || !losses.every((l) => typeof l === 'number')) throw new RangeError(`resume: loop.losses must hold ${step} numbers`);
    const validation = json('loop.validation');
    const isPoint = (p: unknown, i: number, all: unknown[]): boolean => {
      const { step: at, loss } = (p ?? {}) as Partial<ValidationPoint>;
      const before = i === 0 ? 0 : (all[i - 1] as ValidationPoint).step;
      return typeof p === 'object' && p !== null && Number.isInteger(at) && at! > before && at! <= step && typeof loss === 'number';
    };
    if (!Array.isArray(validation) || !validation.every(isPoint)) throw new RangeError(`resume: loop.validation must be a list of { step, loss } at increasing steps in [1, ${step}]`);
    const { model, optimizer } = await AarenLanguageModel.fromCheckpoint(device, bytes);
    const run = new TrainingRun(device, model, optimizer, new SeededRandom(Number(meta['loop.random'])), context);
    run.step = step;
    run.losses = losses as number[];
    run.validation = (validation as ValidationPoint[]).map(({ step: at, loss }) => ({ step: at, loss }));
    return run;
  }

  /** Records a step's loss (the step is done). */
  record(loss: number): void {
    this.losses.push(loss);
    this.step += 1;
    this.recoveries = 0;
  }

  /** Writes a checkpoint when one is due after the steps done (every checkpointEvery steps, and after the last). */
  async checkpointIfDue(): Promise<void> {
    const every = this.context.hooks.checkpointEvery ?? 0;
    if (every > 0 && (this.step % every === 0 || this.step === this.context.config.steps)) await this.checkpoint();
  }

  /** The run's checkpoint now (between steps), kept for recovery and handed to onCheckpoint. */
  async checkpoint(): Promise<Uint8Array> {
    const bytes = await this.lm.toCheckpoint(this.optimizer, {
      vocab: JSON.stringify(this.context.vocab.chars),
      training: JSON.stringify(this.context.config),
      'loop.step': String(this.step),
      'loop.random': String(this.random.state),
      'loop.losses': JSON.stringify(this.losses),
      'loop.validation': JSON.stringify(this.validation),
      'loop.text': textFingerprint(this.context.ids),
    });
    this.last = bytes;
    await this.context.hooks.onCheckpoint?.(bytes, this.step);
    return bytes;
  }

  /**
   * After a failed step: when the device was lost and a factory is given, makes a new device and continues from
   * the last checkpoint (or from the start); otherwise rethrows `error`.
   */
  async recover(error: unknown): Promise<void> {
    const lost = await isLost(this.device);
    const { hooks } = this.context;
    if (!lost || !hooks.createDevice) throw error;
    if (++this.recoveries > MAX_RECOVERIES) throw new Error(`training: the device was lost ${MAX_RECOVERIES} times in a row without a step done; giving up`, { cause: error });
    hooks.onLog?.(`device lost at step ${this.step + 1} (${lost.reason}${lost.message ? `: ${lost.message}` : ''}); making a new device and continuing from ${this.last ? 'the last checkpoint' : 'the start'}`);
    this.optimizer.destroy();
    this.lm.destroy();
    const device = await hooks.createDevice();
    const next = this.last ? await TrainingRun.load(device, this.last, this.context) : await TrainingRun.fresh(device, this.context);
    this.device = device;
    this.lm = next.lm;
    this.optimizer = next.optimizer;
    this.random = next.random;
    this.step = next.step;
    this.losses = next.losses;
    this.validation = next.validation;
    hooks.onLog?.(`continuing at step ${this.step + 1} on the new device`);
  }

  /** Frees the model and optimizer (not the devices: the one given and createDevice's belong to the caller). */
  destroy(): void {
    this.optimizer.destroy();
    this.lm.destroy();
  }
}
