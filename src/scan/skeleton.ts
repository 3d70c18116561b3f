// The generic scan skeleton: plans the passes of a scan over any operator (shaders/scan/ with an operator that
// provides the Elem interface: elem_identity, elem_combine, elem_header, ...) in either direction (the element
// source and sink map scan order to memory order). Every planning function here is pure: shape, options and
// device limits in, dispatches out, so a test reads the passes of each schedule without a device.
//
// Schedules (no workgroup ever waits on another, so all terminate without forward-progress guarantees):
//  - recurrent: one invocation per (sequence, channel block) walks the elements in order, state in registers
//    (recurrent_scan.wgsl). No barriers and no workgroup memory: the fastest on CPU adapters. The attention
//    forward (src/ops/attention/scan.ts) plans its own specialisation of it, ops/attention/recurrent_lse_scan.wgsl,
//    and so does its backward (backward.ts), ops/attention/recurrent_lse_backward_scan.wgsl.
//  - sequential: one workgroup per (sequence, channel block) walks all tiles in order, a Blelloch scan per tile and
//    the carry in the workgroup (chunk_scan with one chunk). Best on a GPU when the sequences fill it.
//  - parallel: reduce-then-scan. chunk_reduce totals each chunk of whole tiles, the totals are scanned by the same
//    scheme one level up (recursing while there are many), and chunk_scan rescans each chunk from its carry.
import { instantiate, type WgslPart } from '../core/compose.js';
import type { Dispatch, IfBound, Kernel, ScratchRef } from '../core/kernel.js';
import * as wgsl from '../core/shader-sources.js';

export type ScanSchedule = 'recurrent' | 'sequential' | 'parallel';
export const SCAN_SCHEDULES: readonly ScanSchedule[] = ['recurrent', 'sequential', 'parallel'];

/** How a channel dimension maps onto workgroups: vec4 lanes per invocation, channel blocks, tile size, and whether
 * rows of values and outputs are read and written as vec4s (headDim % 4 == 0) or as scalars. */
export interface KernelConfig {
  lanes: number;
  blocks: number;
  tile: number;
  rows: 'vec4' | 'f32';
}

const MAX_LANES = 4;
const MAX_TILE = 256;
/** Invocations per workgroup of the recurrent kernel: SwiftShader runs 4 at a time, 1 was 3.4x slower (bench). */
export const RECURRENT_WORKGROUP = 16;
/** Elements per run of the recurrent kernels' two-level sums (recurrent_scan.wgsl, recurrent_lse_scan.wgsl,
 * recurrent_lse_backward_scan.wgsl: bounds f32 rounding). */
export const RECURRENT_RUN_LENGTH = 256;
/** Workgroups that make a GPU busy: the sequential schedule when the sequences alone reach it, else parallel. */
export const TARGET_WORKGROUPS = 1024;

/** Every element (two header scalars + LANES vec4s) fits the tile in workgroup memory. */
export function kernelConfig(limits: GPUSupportedLimits, headDim: number): KernelConfig {
  const vec4s = Math.ceil(headDim / 4);
  const blocks = Math.ceil(vec4s / MAX_LANES);
  const lanes = Math.ceil(vec4s / blocks);
  const elementBytes = 16 + 16 * lanes; // struct { two f32, array<vec4<f32>, LANES> } with vec4 alignment
  let tile = MAX_TILE;
  while (tile > 2 && (tile * elementBytes > limits.maxComputeWorkgroupStorageSize || tile / 2 > limits.maxComputeInvocationsPerWorkgroup)) tile /= 2;
  return { lanes, blocks, tile, rows: headDim % 4 === 0 ? 'vec4' : 'f32' };
}

/** The schedule for `requested` ('auto': recurrent on CPU adapters; sequential when the sequences fill a GPU). */
export function chooseSchedule(requested: 'auto' | ScanSchedule, cpu: boolean, workgroups: number, targetWorkgroups = TARGET_WORKGROUPS): ScanSchedule {
  if (requested !== 'auto') return requested;
  if (cpu) return 'recurrent';
  return workgroups >= targetWorkgroups ? 'sequential' : 'parallel';
}

export interface ChunkOptions {
  /** Parallel schedule: tiles per chunk at every level (default: enough chunks to fill the device). */
  tilesPerChunk?: number;
  /** Workgroups that make the device busy (default TARGET_WORKGROUPS). */
  targetWorkgroups?: number;
}

/** How a level of `count` elements per sequence is cut: [chunks, tilesPerChunk]; one chunk unless parallel. */
export function chunking(count: number, tile: number, parallel: boolean, workgroupsPerChunk: number, maxGroups: number, options: ChunkOptions = {}): [number, number] {
  const tiles = Math.max(1, Math.ceil(count / tile));
  if (!parallel) return [1, tiles];
  const target = options.targetWorkgroups ?? TARGET_WORKGROUPS;
  let perChunk = options.tilesPerChunk ?? Math.ceil(tiles / Math.max(1, Math.floor(target / workgroupsPerChunk)));
  perChunk = Math.max(perChunk, Math.ceil(tiles / maxGroups));
  return [Math.ceil(tiles / perChunk), perChunk];
}

// The element-buffer accessors, one instance per binding (shaders/scan/state_load.wgsl, state_store.wgsl).
export const stateAccess = {
  carryIn: instantiate(wgsl.stateLoad, 'STATES', 'carry_in', ['carry_in_load']),
  inStates: instantiate(wgsl.stateLoad, 'STATES', 'in_states', ['in_states_load']),
  finalState: instantiate(wgsl.stateStore, 'STATES', 'final_state', ['final_state_store']),
  outStates: instantiate(wgsl.stateStore, 'STATES', 'out_states', ['out_states_store']),
} as const;

type Refs<S extends string> = Record<string, S | ScratchRef | null>;

/** What an operator brings to the skeleton. */
export interface ScanOperator<S extends string> {
  /** Parts every kernel needs first: the operator (the Elem interface) and what its source and sink share. */
  readonly common: readonly WgslPart[];
  /** Constants of the operator's parts (e.g. D_MODEL), merged into every kernel's. */
  readonly constants: Readonly<Record<string, number>>;
  /** Level 0: reads the op's inputs as elements (defines load_element), with its buffers. */
  readonly source: { readonly parts: readonly WgslPart[]; readonly buffers: Refs<S> };
  /** Level 0: writes each position's result from its prefix (defines store_prefix), with its buffers. */
  readonly sink: { readonly parts: readonly WgslPart[]; readonly buffers: Refs<S> };
}

/** The sequences and elements of one scan, and its channel mapping. */
export interface ScanGeometry {
  /** Independent sequences. */
  sequences: number;
  /** Elements per sequence. */
  count: number;
  /** Channels of the vector part (headDim). */
  channels: number;
  config: KernelConfig;
  maxGroups: number;
}

/** The state buffers of the whole scan: its carry in (optional) and the final state out (optional). */
export interface ScanEnds<S extends string> {
  carry: S | null;
  final: S | null;
}

type Level = 'elements' | 'states';
const base = (op: ScanOperator<string>): WgslPart[] => [...op.common, wgsl.stateLayout, wgsl.scanParams];
const sourceOf = (op: ScanOperator<string>, from: Level) => (from === 'elements' ? op.source.parts : [stateAccess.inStates, wgsl.loadStates]);
const sinkOf = (op: ScanOperator<string>, to: Level) => (to === 'elements' ? op.sink.parts : [stateAccess.outStates, wgsl.storeStates]);
const tiled = (op: ScanOperator<string>, config: KernelConfig) => ({ ...op.constants, LANES: config.lanes, TILE: config.tile, WORKGROUP_SIZE: config.tile / 2 });

export function chunkScanKernel(op: ScanOperator<string>, config: KernelConfig, from: Level, to: Level): Kernel {
  return {
    parts: [...base(op), stateAccess.carryIn, stateAccess.finalState, wgsl.workgroupScan, ...sourceOf(op, from), ...sinkOf(op, to), wgsl.chunkScan],
    constants: tiled(op, config),
  };
}

export function chunkReduceKernel(op: ScanOperator<string>, config: KernelConfig, from: Level): Kernel {
  return { parts: [...base(op), wgsl.workgroupReduce, ...sourceOf(op, from), ...sinkOf(op, 'states'), wgsl.chunkReduce], constants: tiled(op, config) };
}

export function recurrentKernel(op: ScanOperator<string>, config: KernelConfig): Kernel {
  return {
    parts: [...base(op), stateAccess.carryIn, stateAccess.finalState, ...op.source.parts, ...op.sink.parts, wgsl.recurrentScan],
    constants: { ...op.constants, LANES: config.lanes, WORKGROUP_SIZE: RECURRENT_WORKGROUP, RUN_LENGTH: RECURRENT_RUN_LENGTH },
  };
}

type Params<S extends string> = Record<string, number | IfBound<S>>;
const flag = <S extends string>(slot: S | null): number | IfBound<S> => (slot === null ? 0 : { ifBound: slot });

function scanParams<S extends string>(g: ScanGeometry, count: number, chunks: number, tilesPerChunk: number): Params<S> {
  return { batch: g.sequences, count, head_dim: g.channels, tiles_per_chunk: tilesPerChunk, chunks, has_carry: 0, write_final: 0 };
}

export interface ScanPasses<S extends string> {
  dispatches: Dispatch<S>[];
  /** Scratch element buffers by name, in bytes. */
  scratch: Record<string, number>;
}

/** Bytes of `count` elements of `channels` channels in the element-buffer layout (state_layout.wgsl). */
export function elementBytes(count: number, channels: number): number {
  return count * 16 * (1 + Math.ceil(channels / 4));
}

/**
 * The passes of a many-to-many scan: the result at every position through the operator's sink, from `ends.carry`
 * when it is bound, writing `ends.final` when it is bound.
 */
export function planScan<S extends string>(op: ScanOperator<S>, g: ScanGeometry, schedule: ScanSchedule, ends: ScanEnds<S>, options: ChunkOptions = {}): ScanPasses<S> {
  const { config } = g;
  const out: ScanPasses<S> = { dispatches: [], scratch: {} };
  if (g.sequences === 0 || g.count === 0) return out;
  const stateBuffers = { carry_in: ends.carry, final_state: ends.final };
  if (schedule === 'recurrent') {
    out.dispatches.push({
      kernel: recurrentKernel(op, config),
      params: { ...scanParams<S>(g, g.count, 1, 1), has_carry: flag(ends.carry), write_final: flag(ends.final) },
      buffers: { ...op.source.buffers, ...op.sink.buffers, ...stateBuffers },
      workgroups: [Math.ceil(config.blocks / RECURRENT_WORKGROUP), g.sequences, 1],
    });
    return out;
  }
  const parallel = schedule === 'parallel';
  const workgroupsPerChunk = g.sequences * config.blocks;
  let level = 0;
  // Scans `count` elements per sequence from `from` into `to`, starting each sequence from `carry`.
  const scanLevel = (from: Level, fromBuffer: ScratchRef | null, count: number, to: Level, toBuffer: ScratchRef | null, carry: S | null, top: boolean) => {
    const [chunks, tilesPerChunk] = chunking(count, config.tile, parallel, workgroupsPerChunk, g.maxGroups, options);
    const sourceBuffers: Refs<S> = from === 'elements' ? op.source.buffers : { in_states: fromBuffer };
    let carries: S | ScratchRef | null = carry;
    const params = scanParams<S>(g, count, chunks, tilesPerChunk);
    if (chunks > 1) {
      const n = level++;
      const totals = { scratch: `chunk totals ${n}` };
      const carried = { scratch: `chunk carries ${n}` };
      out.scratch[totals.scratch] = out.scratch[carried.scratch] = elementBytes(g.sequences * chunks, g.channels);
      out.dispatches.push({
        kernel: chunkReduceKernel(op, config, from), params: { ...params },
        buffers: { ...sourceBuffers, out_states: totals }, workgroups: [chunks, config.blocks, g.sequences],
      });
      scanLevel('states', totals, chunks, 'states', carried, carry, false);
      carries = carried;
      params.has_carry = 1;
    } else {
      params.has_carry = flag(carry);
    }
    if (top) params.write_final = flag(ends.final);
    out.dispatches.push({
      kernel: chunkScanKernel(op, config, from, to), params,
      buffers: { ...sourceBuffers, ...(to === 'elements' ? op.sink.buffers : { out_states: toBuffer }), carry_in: carries, final_state: top ? ends.final : null },
      workgroups: [chunks, config.blocks, g.sequences],
    });
  };
  scanLevel('elements', null, g.count, 'elements', null, ends.carry, true);
  return out;
}

/**
 * The passes of a reduction of every sequence to one element (many-to-one): chunk totals, level after level,
 * until one per sequence; returns them with the name of the scratch buffer that holds the totals.
 */
export function planReduce<S extends string>(op: ScanOperator<S>, g: ScanGeometry, schedule: ScanSchedule, options: ChunkOptions = {}): ScanPasses<S> & { totals: ScratchRef } {
  const { config } = g;
  const out: ScanPasses<S> = { dispatches: [], scratch: {} };
  let from: Level = 'elements';
  let fromBuffer: ScratchRef | null = null;
  let count = g.count;
  for (let level = 0; ; level++) {
    const [chunks, tilesPerChunk] = chunking(count, config.tile, schedule === 'parallel', g.sequences * config.blocks, g.maxGroups, options);
    const totals = { scratch: `totals ${level}` };
    out.scratch[totals.scratch] = elementBytes(g.sequences * chunks, g.channels);
    out.dispatches.push({
      kernel: chunkReduceKernel(op, config, from), params: scanParams<S>(g, count, chunks, tilesPerChunk),
      buffers: { ...(from === 'elements' ? op.source.buffers : { in_states: fromBuffer }), out_states: totals },
      workgroups: [chunks, config.blocks, g.sequences],
    });
    if (chunks === 1) return { ...out, totals };
    from = 'states';
    fromBuffer = totals;
    count = chunks;
  }
}
