// The training loop of `npm run train`, shared by Node (Dawn, harness/train/cli.ts) and headless Chrome
// (harness/train/page.ts) so that both backends train the same model on the same batches.
import { AarenLanguageModel, type AarenLanguageModelConfig } from '../../src/nn/language-model.js';
import { TrainingRun, type CheckpointHooks } from './checkpoint.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { fitNgram, ngramCrossEntropy } from './ngram.js';

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
  /**
   * Held-out evaluation: the last `fraction` of the text (by characters) is the validation text, never trained on.
   * Every `every` steps (0: only at the end) and after the last step, the model's mean cross-entropy over `windows`
   * fixed windows of the validation text (validationWindows) is measured without updating anything.
   */
  eval: { fraction: number; every: number; windows: number };
}

/** The defaults of `npm run train`: about 3 minutes on SwiftShader (2 CPU cores), see docs/training.md. */
export const DEFAULT_TRAIN_CONFIG: TrainConfig = {
  model: { layers: 2, dModel: 64, heads: 4, headDim: 16, dFF: 128, recencyDecay: true, convolution: true },
  steps: 1500,
  batch: 16,
  length: 64,
  lr: 1e-2,
  warmup: 20,
  minLrRatio: 0.1,
  weightDecay: 0.01,
  clipGradNorm: 1,
  seed: 1,
  sample: { prompt: '', maxTokens: 300, temperature: 0.8, topK: 10 },
  eval: { fraction: 0.1, every: 150, windows: 256 },
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

/** The ids of a text split at its last `fraction` (by characters): the training part, then the validation part. */
export function splitIds(ids: Uint32Array, fraction: number): { train: Uint32Array; validation: Uint32Array } {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`the validation fraction must be in (0, 1), got ${fraction}`);
  const cut = ids.length - Math.round(ids.length * fraction);
  return { train: ids.subarray(0, cut), validation: ids.subarray(cut) };
}

/**
 * The fixed windows of held-out evaluation over `validationLength` ids: windows of `length` tokens (shorter if the
 * validation text is, down to 1) whose targets are the next ids, laid end to end (window j's targets end where
 * window j + 1's start: no character is scored twice); when more than `maxWindows` fit, `maxWindows` of them
 * spread evenly over the whole validation text. The same windows every time (no random draws).
 */
export function validationWindows(validationLength: number, length: number, maxWindows: number): { starts: number[]; length: number } {
  const L = Math.min(length, validationLength - 1);
  if (L < 1) throw new RangeError(`the validation text has ${validationLength} characters; held-out evaluation needs at least 2`);
  const fit = Math.floor((validationLength - 1) / L);
  const count = Math.max(1, Math.min(fit, maxWindows));
  return { starts: Array.from({ length: count }, (_, j) => Math.floor((j * fit) / count) * L), length: L };
}

/** Tokens [windows, length] starting at `starts` in `ids`, and their targets (the next ids). */
function windowsBatch(ids: Uint32Array, starts: readonly number[], length: number): { tokens: Uint32Array; targets: Uint32Array } {
  const tokens = new Uint32Array(starts.length * length);
  const targets = new Uint32Array(starts.length * length);
  starts.forEach((s, b) => {
    tokens.set(ids.subarray(s, s + length), b * length);
    targets.set(ids.subarray(s + 1, s + 1 + length), b * length);
  });
  return { tokens, targets };
}

/** Sum over rows of -log softmax(logits[row])[target], in float64. */
export function crossEntropySum(logits: Float32Array, targets: Uint32Array, vocabSize: number): number {
  let sum = 0;
  for (let r = 0; r < targets.length; r++) {
    const row = logits.subarray(r * vocabSize, (r + 1) * vocabSize);
    let max = -Infinity;
    for (let v = 0; v < vocabSize; v++) if (row[v]! > max) max = row[v]!;
    let z = 0;
    for (let v = 0; v < vocabSize; v++) z += Math.exp(row[v]! - max);
    sum += max + Math.log(z) - row[targets[r]!]!;
  }
  return sum;
}

/** Windows per forward call of held-out evaluation. */
const EVAL_CHUNK = 64;

/** The model's mean held-out cross-entropy (nats per character) over the windows: forward only, nothing updated. */
async function heldOutLoss(lm: AarenLanguageModel, ids: Uint32Array, windows: { starts: number[]; length: number }): Promise<number> {
  let sum = 0;
  for (let from = 0; from < windows.starts.length; from += EVAL_CHUNK) {
    const starts = windows.starts.slice(from, from + EVAL_CHUNK);
    const { tokens, targets } = windowsBatch(ids, starts, windows.length);
    const logits = await lm.forward(tokens, { batch: starts.length, length: windows.length });
    sum += crossEntropySum(logits, targets, lm.config.vocabSize);
  }
  return sum / (windows.starts.length * windows.length);
}

export interface Baselines {
  /** Held-out cross-entropy in nats per character of character n-gram models fit on the training split only,
   * scored on the same validation characters as the model (ngram.ts: interpolated Witten-Bell). */
  bigram: number;
  trigram: number;
  smoothing: string;
}

/** The held-out evaluation set of a text: what is scored, and the baselines on it. */
export interface HeldOut {
  trainChars: number;
  validationChars: number;
  windows: number;
  windowLength: number;
  /** Characters scored per evaluation (windows x windowLength). */
  scoredChars: number;
}

export interface ValidationPoint {
  /** Steps (updates) done when it was measured. */
  step: number;
  /** Mean held-out cross-entropy, nats per character. */
  loss: number;
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

export interface ValidationReport extends ValidationPoint {
  steps: number;
  baselines: Baselines;
  /** This evaluation's time. */
  seconds: number;
}

export interface TrainResult {
  vocab: string[];
  /** The loss of every step, before its update. */
  losses: number[];
  /** Held-out loss at every `config.eval.every` steps and after the last. */
  validation: ValidationPoint[];
  baselines: Baselines;
  heldOut: HeldOut;
  /** The trained weights, with the vocabulary (JSON array) and the model/training config in the metadata. */
  safetensors: Uint8Array;
  prompt: string;
  sample: string;
  /** Training only (not the held-out evaluations, not the sample). */
  trainSeconds: number;
  /** All held-out evaluations together. */
  evalSeconds: number;
  /** After the first step, whose time is mostly pipeline compilation. */
  tokensPerSecond: number;
}

export interface TrainHooks extends CheckpointHooks {
  /** Called every `progressEvery` steps and at the first and last. */
  onProgress?: (p: TrainProgress) => void;
  progressEvery?: number;
  /** Called after each held-out evaluation. */
  onValidation?: (v: ValidationReport) => void;
  /** The sample's prompt, then each sampled character as soon as it is generated. */
  onSampleText?: (text: string) => void;
}

/**
 * Trains a character-level AarenLanguageModel on the first 90% of `text` (config.eval.fraction), measuring its
 * held-out loss on the rest beside bigram and trigram baselines, then samples from it with `step` (generate).
 * The vocabulary is the whole text's, so the validation text is encodable.
 */
export async function trainCharModel(device: GPUDevice, text: string, config: TrainConfig, hooks: TrainHooks = {}): Promise<TrainResult> {
  const vocab = buildVocab(text);
  const ids = vocab.encode(text);
  const { batch, length, steps } = config;
  const { train, validation } = splitIds(ids, config.eval.fraction);
  const windows = validationWindows(validation.length, length, config.eval.windows);
  const heldOut: HeldOut = {
    trainChars: train.length, validationChars: validation.length,
    windows: windows.starts.length, windowLength: windows.length, scoredChars: windows.starts.length * windows.length,
  };
  // The characters the model is scored on, as indices into ids: each n-gram sees the text's own characters before
  // them as context (the window's, then the text's before the window).
  const scored: number[] = [];
  for (const s of windows.starts) for (let j = 1; j <= windows.length; j++) scored.push(train.length + s + j);
  const baselines: Baselines = {
    bigram: ngramCrossEntropy(fitNgram(train, vocab.chars.length, 2), ids, scored),
    trigram: ngramCrossEntropy(fitNgram(train, vocab.chars.length, 3), ids, scored),
    smoothing: 'interpolated Witten-Bell down to uniform, fit on the training split',
  };
  // The prompt must be in the vocabulary; by default the text's first character.
  const prompt = config.sample.prompt || vocab.chars[ids[0]!]!;
  const promptIds = vocab.encode(prompt);
  // Checkpoints, resume and recovery from a lost device: harness/train/checkpoint.ts.
  const run = await TrainingRun.start(device, config, vocab, ids, hooks);
  try {
    const every = hooks.progressEvery ?? 1;
    const start = performance.now();
    let evalMs = 0; // left out of the training times and rates
    let last = { time: start, step: run.step };
    let afterFirst = start;
    const first = run.step;
    while (run.step < steps) {
      const step = run.step;
      run.optimizer.lr = learningRate(config, step);
      // Training windows come from the training part only: no validation character is ever an input or a target.
      const { tokens, targets } = sampleWindows(train, batch, length, run.nextRandom);
      try {
        const loss = await run.lm.trainStep(tokens, targets, { batch, length }, run.optimizer);
        run.record(loss);
        const now = performance.now() - evalMs;
        if (step === first) afterFirst = now;
        if (step === first || step === steps - 1 || (step + 1) % every === 0) {
          hooks.onProgress?.({
            step: step + 1, steps, loss, lr: run.optimizer.lr,
            tokensPerSecond: ((step + 1 - last.step) * batch * length) / ((now - last.time) / 1000),
            elapsedSeconds: (now - start) / 1000,
          });
          last = { time: now, step: step + 1 };
        }
        // Held-out evaluation before the step's checkpoint, so that the checkpoint holds it (loop.validation) and a
        // resumed run's curve is whole. Forward only, on fixed windows: it draws nothing from the batch generator.
        if (step === steps - 1 || (config.eval.every > 0 && (step + 1) % config.eval.every === 0)) {
          const t0 = performance.now();
          const point = { step: step + 1, loss: await heldOutLoss(run.lm, validation, windows) };
          const seconds = (performance.now() - t0) / 1000;
          evalMs += seconds * 1000;
          run.validation.push(point);
          hooks.onValidation?.({ ...point, steps, baselines, seconds });
        }
        await run.checkpointIfDue();
      } catch (error) {
        await run.recover(error); // a lost device: a new one, from the last checkpoint; else rethrows
        last = { time: performance.now() - evalMs, step: run.step };
        continue;
      }
    }
    const end = performance.now() - evalMs;
    const lm = run.lm;
    const losses = run.losses;
    const points = run.validation;
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
      validation: points,
      baselines,
      heldOut,
      safetensors: withMetadata(trained, {
        vocab: JSON.stringify(vocab.chars),
        training: JSON.stringify({ ...config, heldOut, validation: points, baselines }),
      }),
      prompt,
      sample: vocab.decode(generated),
      trainSeconds: (end - start) / 1000,
      evalSeconds: evalMs / 1000,
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
