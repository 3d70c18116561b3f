// Token embedding, forward and backward side by side (shaders/ops/embedding/):
//   forward  x[r, :] = table[tokens[r], :]                       (embedding_gather)
//   backward gradTable[v, :] = sum over rows r with tokens[r] = v of gradX[r, :]   (embedding_backward)
// The backward reads a CSR index of each token's rows that the host builds from the tokens it already holds
// (tokenRowIndex), so it needs no atomics and no search: the same tokens give the same bits.
import type { Dispatch } from '../core/kernel.js';
import * as wgsl from '../core/shader-sources.js';
import type { PlanLimits } from './attention/scan.js';
import { packFor } from './elementwise.js';

const WORKGROUP = 64;

export type EmbeddingSlot = 'tokens' | 'table' | 'x';
export type EmbeddingBackwardSlot = 'tokenOffsets' | 'tokenRows' | 'gradX' | 'gradTable';

function groups(count: number, device: PlanLimits): [number, number, number] {
  return [Math.max(1, Math.min(Math.ceil(count / WORKGROUP), device.limits.maxComputeWorkgroupsPerDimension)), 1, 1];
}

/** x [rows, dModel] from tokens [rows] u32 and table [vocab, dModel] (pure). */
export function planEmbedding(rows: number, dModel: number, vocab: number, device: PlanLimits): Dispatch<EmbeddingSlot> {
  const pack = packFor(dModel);
  const count = (rows * dModel) / pack.floats;
  return {
    kernel: { parts: [pack.part, wgsl.embeddingGather], constants: { WORKGROUP_SIZE: WORKGROUP } },
    params: { count, d_model: dModel, vocab },
    buffers: { tokens: 'tokens', table: 'table', x: 'x' },
    workgroups: groups(count, device),
  };
}

/** gradTable [vocab, dModel] (overwritten) from gradX [rows, dModel] and the index of tokenRowIndex (pure). */
export function planEmbeddingBackward(vocab: number, dModel: number, device: PlanLimits): Dispatch<EmbeddingBackwardSlot> {
  const count = vocab * dModel;
  return {
    kernel: { parts: [wgsl.embeddingBackward], constants: { WORKGROUP_SIZE: WORKGROUP } },
    params: { count, d_model: dModel },
    buffers: { token_offsets: 'tokenOffsets', token_rows: 'tokenRows', grad_x: 'gradX', grad_table: 'gradTable' },
    workgroups: groups(count, device),
  };
}

/**
 * The rows of each token, as CSR: token v's rows are rows[offsets[v] .. offsets[v + 1]), increasing. Tokens must
 * be checked ids in [0, vocab) (checkTargets). A counting sort: O(rows + vocab).
 */
export function tokenRowIndex(tokens: ArrayLike<number>, vocab: number): { offsets: Uint32Array<ArrayBuffer>; rows: Uint32Array<ArrayBuffer> } {
  const offsets = new Uint32Array(vocab + 1);
  for (let r = 0; r < tokens.length; r++) offsets[tokens[r]! + 1] = offsets[tokens[r]! + 1]! + 1;
  for (let v = 0; v < vocab; v++) offsets[v + 1] = offsets[v + 1]! + offsets[v]!;
  const next = offsets.slice(0, vocab);
  const rows = new Uint32Array(tokens.length);
  for (let r = 0; r < tokens.length; r++) {
    const v = tokens[r]!;
    rows[next[v]!] = r;
    next[v] = next[v]! + 1;
  }
  return { offsets, rows };
}
