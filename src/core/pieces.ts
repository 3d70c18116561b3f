// Typed-array forward passes whose buffers would pass the device's limit: cut along the sequence and carried
// from piece to piece by the recurrent state (the block-wise mode), so the outputs equal those of one pass.

/**
 * Tokens per piece so that a buffer of `widestRow` floats per (sequence, position) for `batch` sequences stays
 * within `limit`: `length` itself when everything fits. A RangeError names the limit when one position does not fit.
 */
export function tokensPerPiece(what: string, batch: number, length: number, widestRow: number, limit: { bytes: number; name: string }): number {
  const bytesPerPosition = batch * widestRow * 4;
  const tokens = Math.floor(limit.bytes / bytesPerPosition);
  if (tokens < 1) {
    throw new RangeError(`${what}: one position of batch ${batch} needs buffers of ${bytesPerPosition} bytes, past the device's ${limit.name} (${limit.bytes} bytes); use a smaller batch`);
  }
  return Math.min(length, tokens);
}

/** Positions [from, to) of every sequence of a [batch, length, width] array, as a [batch, to - from, width] copy. */
function gather(x: Float32Array, batch: number, length: number, width: number, from: number, to: number): Float32Array {
  const piece = new Float32Array(batch * (to - from) * width);
  for (let b = 0; b < batch; b++) piece.set(x.subarray((b * length + from) * width, (b * length + to) * width), b * (to - from) * width);
  return piece;
}

function scatter(target: Float32Array, piece: Float32Array, batch: number, length: number, width: number, from: number, to: number): void {
  for (let b = 0; b < batch; b++) target.set(piece.subarray(b * (to - from) * width, (b + 1) * (to - from) * width), (b * length + from) * width);
}

export interface PieceRun<S> {
  x: Float32Array;
  batch: number;
  length: number;
  /** Floats per position of x and of the output. */
  width: number;
  tokensPerPiece: number;
  /** The caller's state, advanced over every piece; without one a temporary state carries the pieces. */
  state: S | undefined;
  createState: () => S & { destroy(): void };
  /** One block-wise forward of a piece from `state`, advancing it. */
  forward: (x: Float32Array, length: number, state: S) => Promise<Float32Array>;
}

export async function forwardInPieces<S>(run: PieceRun<S>): Promise<Float32Array> {
  const { x, batch, length, width } = run;
  const temporary = run.state === undefined ? run.createState() : undefined;
  const state = (run.state ?? temporary)!;
  try {
    const output = new Float32Array(x.length);
    for (let from = 0; from < length; from += run.tokensPerPiece) {
      const to = Math.min(length, from + run.tokensPerPiece);
      const y = await run.forward(gather(x, batch, length, width, from, to), to - from, state);
      scatter(output, y, batch, length, width, from, to);
    }
    return output;
  } finally {
    temporary?.destroy();
  }
}
