// The recurrent state (m, u, w) of a batch of sequences, on the host and in GPU state buffers.
//
// GPU layout (shaders/state_layout.wgsl): state b starts at float b * stateStrideFloats(headDim): the header
// (m, u, 0, 0), then w in ceil(headDim / 4) * 4 floats, zero-padded. An empty state (no unmasked token) has
// u = 0, w = 0 and, on the GPU, m = -3.4028235e38 (the lowest f32, standing for -Infinity; -Infinity is also
// accepted on input).

export interface ScanState {
  batch: number;
  headDim: number;
  /** [batch] running maximum score; -Infinity for an empty state. */
  m: Float32Array;
  /** [batch] sum of exp(s_i - m). */
  u: Float32Array;
  /** [batch, headDim] sum of exp(s_i - m) v_i. */
  w: Float32Array;
}

export const MASKED_SCORE = -3.4028234663852886e38;

export function stateStrideFloats(headDim: number): number {
  return 4 * (1 + Math.ceil(headDim / 4));
}

export function stateBytes(batch: number, headDim: number): number {
  return batch * stateStrideFloats(headDim) * 4;
}

export function emptyState(batch: number, headDim: number): ScanState {
  return { batch, headDim, m: new Float32Array(batch).fill(-Infinity), u: new Float32Array(batch), w: new Float32Array(batch * headDim) };
}

export function packState(state: ScanState): Float32Array {
  const stride = stateStrideFloats(state.headDim);
  const packed = new Float32Array(state.batch * stride);
  for (let b = 0; b < state.batch; b++) {
    packed[b * stride] = state.m[b]!;
    packed[b * stride + 1] = state.u[b]!;
    packed.set(state.w.subarray(b * state.headDim, (b + 1) * state.headDim), b * stride + 4);
  }
  return packed;
}

export function unpackState(packed: Float32Array, batch: number, headDim: number): ScanState {
  const stride = stateStrideFloats(headDim);
  const state = emptyState(batch, headDim);
  for (let b = 0; b < batch; b++) {
    const u = packed[b * stride + 1]!;
    state.u[b] = u;
    state.m[b] = u > 0 ? packed[b * stride]! : -Infinity;
    state.w.set(packed.subarray(b * stride + 4, b * stride + 4 + headDim), b * headDim);
  }
  return state;
}
