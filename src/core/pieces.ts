// Typed-array forward passes whose buffers would pass the device's limit: cut along the sequence and carried
// from piece to piece by the recurrent state (the block-wise mode), so the outputs equal those of one pass.

/** A piece of a typed-array call: sequences [batchStart, batchStart + batch), positions [lengthStart, lengthStart + length). */
export interface Piece {
  batchStart: number;
  batch: number;
  lengthStart: number;
  length: number;
}

/** The largest k in [1, hi] with ok(k), for ok monotone and ok(1) true. */
function largest(hi: number, ok: (k: number) => boolean): number {
  let lo = 1;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (ok(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The one piece splitter of every typed-array call: cuts [batch, length] so that `fits(batch, length)` holds for
 * each piece. With `splitBatch`, groups of whole sequences while one sequence fits (at most `maxBatch`), else each
 * sequence alone cut along its length; without, every piece holds all sequences and is cut along the length.
 * Along the length the state carries the recurrence from piece to piece, so the outputs equal one pass.
 * `refuse` is called (and must throw) when not even one position fits.
 */
export function cutIntoPieces(batch: number, length: number, fits: (batch: number, length: number) => boolean,
  options: { splitBatch: boolean; maxBatch?: number; refuse: () => never }): Piece[] {
  const pieces: Piece[] = [];
  if (options.splitBatch && fits(1, length)) {
    const per = largest(Math.min(batch, options.maxBatch ?? batch), (b) => fits(b, length));
    for (let b = 0; b < batch; b += per) pieces.push({ batchStart: b, batch: Math.min(per, batch - b), lengthStart: 0, length });
    return pieces;
  }
  const rows = options.splitBatch ? 1 : batch;
  if (!fits(rows, 1)) options.refuse();
  const per = largest(length, (n) => fits(rows, n));
  for (let b = 0; b < batch; b += rows) {
    for (let n = 0; n < length; n += per) pieces.push({ batchStart: b, batch: rows, lengthStart: n, length: Math.min(per, length - n) });
  }
  return pieces;
}

/**
 * Tokens per piece so that a buffer of `widestRow` floats per (sequence, position) for `batch` sequences stays
 * within `limit`: `length` itself when everything fits. A RangeError names the limit when one position does not fit.
 */
export function tokensPerPiece(what: string, batch: number, length: number, widestRow: number, limit: { bytes: number; name: string }): number {
  const bytesPerPosition = batch * widestRow * 4;
  return cutIntoPieces(batch, length, (b, n) => b * n * widestRow * 4 <= limit.bytes, {
    splitBatch: false,
    refuse: () => {
      throw new RangeError(`${what}: one position of batch ${batch} needs buffers of ${bytesPerPosition} bytes, past the device's ${limit.name} (${limit.bytes} bytes); use a smaller batch`);
    },
  })[0]!.length;
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
  /** One block-wise forward of a piece from `state`, advancing it (no state: one piece, nothing to carry). */
  forward: (x: Float32Array, length: number, state: S | undefined) => Promise<Float32Array>;
}

export async function forwardInPieces<S>(run: PieceRun<S>): Promise<Float32Array> {
  const { x, batch, length, width } = run;
  if (run.tokensPerPiece >= length) return run.forward(x, length, run.state);
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
