// Training checkpoints: one safetensors file with a module's weights under their usual names (what its
// toSafetensors writes, so fromSafetensors loads a checkpoint as plain weights), AdamW's moments as
// `exp_avg.{name}` and `exp_avg_sq.{name}` for every parameter, and in the metadata the optimizer's step count and
// options and the caller's own strings (a data loader's position, a seed, ...). Generic over `parameters()`: a
// module that gains a tensor gains its moments here with no change.
//
// Metadata keys the checkpoint owns (a caller's key of the same name is refused):
//   format, scale, eps            the model's own (as toSafetensors writes them)
//   checkpoint                    the layout's version, "1"
//   checkpoint.model              the module's class, e.g. "AarenLanguageModel" (another class's checkpoint is refused)
//   optimizer                     "AdamW"
//   optimizer.step                the applied steps, a decimal integer
//   optimizer.options             JSON { lr, betas, eps, weightDecay, clipGradNorm? } (JSON numbers round-trip exactly)
//
// Reading validates everything that can be checked on the host before a device is touched (parseCheckpoint):
// the format, the metadata, every moment's parameter, shape and finiteness. What needs the module (its exact
// parameter list) is checked by AdamW.fromState before any moment is written.
import { readSafetensors, writeSafetensors, type SafetensorsFile } from '../io/safetensors.js';
import { AdamW, checkAdamWState, resolveAdamWOptions, type AdamWResolvedOptions, type AdamWState } from './adamw.js';
import type { NamedParameter, Trainable } from '../nn/parameters.js';

export const CHECKPOINT_VERSION = '1';
const MODEL_KEYS = ['format', 'scale', 'eps'] as const;
/** Metadata keys a checkpoint writes itself; a caller's metadata may not use them. */
export const CHECKPOINT_KEYS: readonly string[] = [...MODEL_KEYS, 'checkpoint', 'checkpoint.model', 'optimizer', 'optimizer.step', 'optimizer.options'];
const EXP_AVG = 'exp_avg.';
const EXP_AVG_SQ = 'exp_avg_sq.';

/** What fromCheckpoint resolves with. */
export interface Checkpoint<M> {
  model: M;
  optimizer: AdamW;
  /** The caller's metadata as given to toCheckpoint (the checkpoint's own keys left out). */
  metadata: Record<string, string>;
}

/** A checkpoint read and checked on the host, before any GPU work. */
export interface ParsedCheckpoint {
  /** The whole file; its weight tensors (every name without an exp_avg prefix) and model metadata. */
  file: SafetensorsFile;
  optimizer: AdamWState;
  metadata: Record<string, string>;
}

/** Checks a caller's checkpoint metadata: an object of strings using none of CHECKPOINT_KEYS. */
export function checkCheckpointMetadata(metadata: unknown): Record<string, string> {
  if (metadata === undefined) return {};
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) throw new TypeError('metadata must be an object of strings');
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new TypeError(`metadata['${key}'] must be a string, got ${typeof value}`);
    if (CHECKPOINT_KEYS.includes(key)) throw new RangeError(`metadata['${key}']: the checkpoint writes that key itself (reserved: ${CHECKPOINT_KEYS.join(', ')})`);
  }
  return { ...(metadata as Record<string, string>) };
}

/**
 * The checkpoint of `module` trained by `optimizer` (made for it): reads back the weights and the moments, and
 * writes them with `modelMetadata` (the module's own, as its toSafetensors writes it) and the caller's `metadata`.
 */
export async function writeCheckpoint(module: Trainable, optimizer: AdamW, kind: string, read: () => Promise<Record<string, Float32Array>>,
  modelMetadata: Record<string, string>, metadata?: Record<string, string>): Promise<Uint8Array> {
  if (!(optimizer instanceof AdamW) || optimizer.module !== module) throw new TypeError(`optimizer must be an AdamW created for this ${kind} (AdamW.create(device, model, options))`);
  const user = checkCheckpointMetadata(metadata);
  const state = await optimizer.exportState();
  const weights = await read();
  const params: NamedParameter[] = module.parameters();
  const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
  for (const p of params) tensors[p.name] = { shape: [...p.shape], data: weights[p.name]! };
  for (const p of params) tensors[EXP_AVG + p.name] = { shape: [...p.shape], data: state.moments[p.name]!.expAvg };
  for (const p of params) tensors[EXP_AVG_SQ + p.name] = { shape: [...p.shape], data: state.moments[p.name]!.expAvgSq };
  return writeSafetensors(tensors, {
    ...user,
    ...modelMetadata,
    checkpoint: CHECKPOINT_VERSION,
    'checkpoint.model': kind,
    optimizer: 'AdamW',
    'optimizer.step': String(state.step),
    'optimizer.options': JSON.stringify(state.options),
  });
}

/**
 * Reads a checkpoint of a `kind` module and checks it on the host: a safetensors file (a truncated one is refused
 * by the reader), the checkpoint's metadata, a step count and valid options, and for every weight its exp_avg and
 * exp_avg_sq, of its shape, finite (exp_avg_sq >= 0); a moment whose weight is not in the file is refused.
 */
export function parseCheckpoint(bytes: ArrayBuffer | Uint8Array, kind: string): ParsedCheckpoint {
  const file = readSafetensors(bytes);
  const meta = file.metadata;
  const what = `checkpoint`;
  if (meta.checkpoint === undefined) throw new RangeError(`${what}: no "checkpoint" metadata: these are plain weights (fromSafetensors), not a training checkpoint`);
  if (meta.checkpoint !== CHECKPOINT_VERSION) throw new RangeError(`${what}: layout version ${JSON.stringify(meta.checkpoint)} is not supported (this package reads ${CHECKPOINT_VERSION})`);
  if (meta['checkpoint.model'] !== kind) throw new RangeError(`${what}: this is a checkpoint of ${meta['checkpoint.model'] === undefined ? 'an unnamed model' : `an ${meta['checkpoint.model']}`}, not of an ${kind}`);
  if (meta.optimizer !== 'AdamW') throw new RangeError(`${what}: optimizer ${JSON.stringify(meta.optimizer)} is not supported (AdamW)`);
  const stepText = meta['optimizer.step'];
  if (stepText === undefined || !/^\d+$/.test(stepText) || !Number.isSafeInteger(Number(stepText))) {
    throw new RangeError(`${what}: metadata optimizer.step must be a non-negative integer, got ${JSON.stringify(stepText)}`);
  }
  let options: AdamWResolvedOptions;
  try {
    options = JSON.parse(meta['optimizer.options'] ?? '') as AdamWResolvedOptions;
  } catch {
    throw new RangeError(`${what}: metadata optimizer.options is not JSON: ${JSON.stringify(meta['optimizer.options'])}`);
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new RangeError(`${what}: metadata optimizer.options must be a JSON object`);
  try {
    options = resolveAdamWOptions(options, 'optimizer.options.');
  } catch (error) {
    throw new RangeError(`${what}: ${(error as Error).message}`);
  }

  const moments: AdamWState['moments'] = {};
  const weights: { name: string; shape: number[] }[] = [];
  for (const [name, t] of file.tensors) {
    const prefix = name.startsWith(EXP_AVG) ? EXP_AVG : name.startsWith(EXP_AVG_SQ) ? EXP_AVG_SQ : undefined;
    if (prefix === undefined) {
      weights.push({ name, shape: t.shape });
      continue;
    }
    const param = name.slice(prefix.length);
    const weight = file.tensors.get(param);
    if (weight === undefined || param.startsWith(EXP_AVG) || param.startsWith(EXP_AVG_SQ)) {
      throw new RangeError(`${what}: tensor ${name} is a moment of parameter ${param}, which the checkpoint does not have`);
    }
    if (t.shape.length !== weight.shape.length || t.shape.some((d, i) => d !== weight.shape[i])) {
      throw new RangeError(`${what}: tensor ${name} has shape [${t.shape.join(', ')}], but parameter ${param} has shape [${weight.shape.join(', ')}]`);
    }
    const entry = (moments[param] ??= { shape: [...weight.shape], expAvg: undefined!, expAvgSq: undefined! });
    if (prefix === EXP_AVG) entry.expAvg = t.data;
    else entry.expAvgSq = t.data;
  }
  for (const w of weights) {
    const entry = moments[w.name];
    if (entry?.expAvg === undefined) throw new RangeError(`${what}: parameter ${w.name} has no tensor ${EXP_AVG}${w.name}`);
    if (entry.expAvgSq === undefined) throw new RangeError(`${what}: parameter ${w.name} has no tensor ${EXP_AVG_SQ}${w.name}`);
  }
  const optimizer: AdamWState = { step: Number(stepText), options, moments };
  try {
    checkAdamWState(optimizer, weights);
  } catch (error) {
    throw new RangeError(`${what}: ${(error as Error).message}`);
  }
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(meta)) if (!CHECKPOINT_KEYS.includes(key)) metadata[key] = value;
  return { file, optimizer, metadata };
}

/**
 * The rest of a fromCheckpoint once `model` was made from the checkpoint's weights: the optimizer (AdamW.fromState,
 * which checks the moments against model.parameters() first), then, when steps were applied, model.encodeRefresh
 * on the GPU, so that what the model derives from its weights has the bits an uninterrupted run's refresh gave it
 * (load computes them on the host). Destroys the model when anything fails.
 */
export async function finishCheckpoint<M extends Trainable & { readonly device: GPUDevice; destroy(): void }>(model: M, parsed: ParsedCheckpoint): Promise<Checkpoint<M>> {
  try {
    let optimizer: AdamW;
    try {
      optimizer = await AdamW.fromState(model.device, model, parsed.optimizer);
    } catch (error) {
      if (error instanceof RangeError || error instanceof TypeError) {
        const E = error instanceof RangeError ? RangeError : TypeError;
        throw new E(`checkpoint: ${error.message.replace(/^state\./, 'optimizer state ')}`);
      }
      throw error;
    }
    if (parsed.optimizer.step > 0) {
      const encoder = model.device.createCommandEncoder({ label: 'aaren checkpoint refresh' });
      model.encodeRefresh(encoder);
      model.device.queue.submit([encoder.finish()]);
    }
    return { model, optimizer, metadata: parsed.metadata };
  } catch (error) {
    model.destroy();
    throw error;
  }
}
