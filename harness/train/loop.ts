// The training loop of `npm run train`, shared by Node (Dawn, harness/train/cli.ts) and headless Chrome
// (harness/train/page.ts) so that both backends train the same model on the same batches.
import { AarenLanguageModel, type AarenLanguageModelConfig } from '../../src/nn/language-model.js';
import { TrainingRun, type CheckpointHooks } from './checkpoint.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';

/** A character vocabulary: the text's distinct code points, sorted by code point (token id = index). */
export interface CharVocab {
  chars: string[];
  encode(text: string): Uint32Array;
  decode(ids: ArrayLike<number>): string;
}

export function buildVocab(text: string): CharVocab {
  // By code point, not UTF-16 unit: a surrogate pair is one character, and astral ones sort after the BMP.
  const chars = [...new Set(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  return vocabOf(chars);
}

/** The vocabulary saved with a model (safetensors metadata `vocab`, or vocab.json). */
export function vocabOf(chars: string[]): CharVocab {
  const index = new Map(chars.map((c, i) => [c, i]));
  return {
    chars,
    encode(text) {
      const out = new Uint32Array([...text].length);
      let i = 0;
      for (const c of text) {
        const id = index.get(c);
        if (id === undefined) throw new RangeError(`character ${JSON.stringify(c)} (U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) is not in the vocabulary`);
        out[i++] = id;
      }
      return out;
    },
    decode: (ids) => Array.from(ids, (id) => chars[id] ?? '\uFFFD').join(''),
  };
}

export interface TrainConfig {
  model: Omit<AarenLanguageModelConfig, 'vocabSize' | 'seed' | 'schedule'>;
  steps: number;
  batch: number;
  length: number;
  /** Peak learning rate: linear warmup over `warmup` steps, then cosine decay to lr * minLrRatio at the last step. */
  lr: number;
  warmup: number;
  minLrRatio: number;
  weightDecay: number;
  clipGradNorm: number;
  /** Seeds the initial weights, the batch windows and the sample. */
  seed: number;
  sample: { prompt: string; maxTokens: number; temperature: number; topK: number };
}

/** The defaults of `npm run train`: about 3 minutes on SwiftShader (2 CPU cores), see README "Training". */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  model: { layers: 2, dModel: 64, heads: 4, headDim: 16, dFF: 128 },
  steps: 300,
  batch: 16,
  length: 64,
  lr: 1e-2,
  warmup: 20,
  minLrRatio: 0.1,
  weightDecay: 0.01,
  clipGradNorm: 1,
  seed: 1,
  sample: { prompt: '', maxTokens: 300, temperature: 0.8, topK: 10 },
};

/** The learning rate of step `step` (0-based). */
export function learningRate(config: Pick<TrainConfig, 'lr' | 'warmup' | 'minLrRatio' | 'steps'>, step: number): number {
  const { lr, warmup, minLrRatio, steps } = config;
  if (step < warmup) return (lr * (step + 1)) / warmup;
  const decaySteps = Math.max(1, steps - 1 - warmup);
  const progress = Math.min(1, (step - warmup) / decaySteps);
  return lr * (minLrRatio + (1 - minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Draws `batch` random windows of `length` tokens and their next tokens (targets are the inputs shifted by one). */
export function sampleWindows(ids: Uint32Array, batch: number, length: number, random: () => number): { tokens: Uint32Array; targets: Uint32Array } {
  const starts = ids.length - length; // a window needs length + 1 ids
  if (starts < 1) throw new RangeError(`the text has ${ids.length} characters; training windows of length ${length} need at least ${length + 1}`);
  const tokens = new Uint32Array(batch * length);
  const targets = new Uint32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    const s = Math.floor(random() * starts);
    tokens.set(ids.subarray(s, s + length), b * length);
    targets.set(ids.subarray(s + 1, s + 1 + length), b * length);
  }
  return { tokens, targets };
}

export interface TrainProgress {
  /** 1-based. */
  step: number;
  steps: number;
  loss: number;
  lr: number;
  /** Over the steps since the previous report (the first step includes compiling the pipelines). */
  tokensPerSecond: number;
  elapsedSeconds: number;
}

export interface TrainResult {
  vocab: string[];
  /** The loss of every step, before its update. */
  losses: number[];
  /** The trained weights, with the vocabulary (JSON array) and the model/training config in the metadata. */
  safetensors: Uint8Array;
  prompt: string;
  sample: string;
  /** Training only (not the sample). */
  trainSeconds: number;
  /** After the first step, whose time is mostly pipeline compilation. */
  tokensPerSecond: number;
}

export interface TrainHooks extends CheckpointHooks {
  /** Called every `progressEvery` steps and at the first and last. */
  onProgress?: (p: TrainProgress) => void;
  progressEvery?: number;
  /** The sample's prompt, then each sampled character as soon as it is generated. */
  onSampleText?: (text: string) => void;
}

/** Trains a character-level AarenLanguageModel on `text`, then samples from it with `step` (generate). */
export async function trainCharModel(device: GPUDevice, text: string, config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const vocab = buildVocab(text);
  const ids = vocab.encode(text);
  const { batch, length, steps } = config;
  // The prompt must be in the vocabulary; by default the text's first character.
  const prompt = config.sample.prompt || vocab.chars[ids[0]!]!;
  const promptIds = vocab.encode(prompt);
  // Checkpoints, resume and recovery from a lost device: harness/train/checkpoint.ts.
  const run = await TrainingRun.start(device, config, vocab, ids, hooks);
  try {
    const every = hooks.progressEvery ?? 1;
    const start = performance.now();
    let last = { time: start, step: run.step };
    let afterFirst = start;
    const first = run.step;
    while (run.step < steps) {
      const step = run.step;
      run.optimizer.lr = learningRate(config, step);
      const { tokens, targets } = sampleWindows(ids, batch, length, run.nextRandom);
      let loss: number;
      try {
        loss = await run.lm.trainStep(tokens, targets, { batch, length }, run.optimizer);
        await run.completed(loss); // the loss recorded, and a checkpoint when one is due
      } catch (error) {
        await run.recover(error); // a lost device: a new one, from the last checkpoint; else rethrows
        last = { time: performance.now(), step: run.step };
        continue;
      }
      const now = performance.now();
      if (step === first) afterFirst = now;
      if (step === first || step === steps - 1 || (step + 1) % every === 0) {
        hooks.onProgress?.({
          step: step + 1, steps, loss, lr: run.optimizer.lr,
          tokensPerSecond: ((step + 1 - last.step) * batch * length) / ((now - last.time) / 1000),
          elapsedSeconds: (now - start) / 1000,
        });
        last = { time: now, step: step + 1 };
      }
    }
    const end = performance.now();
    const lm = run.lm;
    const losses = run.losses;
    const trained = await lm.toSafetensors();
    hooks.onSampleText?.(prompt);
    const generated = await lm.generate(promptIds, {
      ...config.sample,
      seed: config.seed,
      onToken: (token) => hooks.onSampleText?.(vocab.chars[token]!),
    });
    const done = steps - first;
    return {
      vocab: vocab.chars,
      losses,
      safetensors: withMetadata(trained, { vocab: JSON.stringify(vocab.chars), training: JSON.stringify(config) }),
      prompt,
      sample: vocab.decode(generated),
      trainSeconds: (end - start) / 1000,
      tokensPerSecond: done > 1 ? ((done - 1) * batch * length) / ((end - afterFirst) / 1000) : (done * batch * length) / ((end - start) / 1000),
    };
  } finally {
    run.destroy();
  }
}

/** The same tensors with more string metadata (the model itself writes only its format, scale and eps). */
function withMetadata(bytes: Uint8Array, extra: Record<string, string>): Uint8Array {
  const file = readSafetensors(bytes);
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const [name, t] of file.tensors) tensors[name] = { shape: t.shape, data: t.data };
  return writeSafetensors(tensors, { ...file.metadata, ...extra });
}

/** "vendor / architecture / description" of the device's adapter, as far as it says. */
export function adapterText(device: GPUDevice): string {
  const info = (device as GPUDevice & { adapterInfo?: GPUAdapterInfo }).adapterInfo;
  return [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' / ') || 'unknown adapter';
}
