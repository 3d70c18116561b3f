// Float64 CPU reference for the causal depthwise convolution (src/ops/conv.ts), written straight from the
// definitions, token by token, independent of the kernels. With x [batch, length, dModel], weights c [dModel, 4]
// (c[d * 4 + j]) and an optional history [batch, 3, dModel] (row 2 is t = -1, row 1 is t = -2, row 0 is t = -3):
//   y[b, t, d]  = x[b, t, d] + sum_{j=0..3} c[d, j] * x[b, t - j, d]          (x before t = 0 from history, or 0)
//   next history = the last 3 rows of (history ++ x) per sequence (zeros standing in for a missing history)
//   dx[b, t, d] = dy[b, t, d] + sum_{j=0..3, t + j < length} c[d, j] * dy[b, t + j, d]
//   dc[d, j]    = sum_{b, t} dy[b, t, d] * x[b, t - j, d]
// The gradient with respect to the history is not formed (training runs whole sequences from an empty history).

/** Taps of the convolution: c[d, 0..3] weighs x at t, t - 1, t - 2, t - 3. */
export const CONV_TAPS = 4;
/** Rows of history a sequence carries: the inputs at t = -3, -2, -1. */
export const CONV_HISTORY = CONV_TAPS - 1;

export interface ReferenceConvShape {
  batch: number;
  length: number;
  dModel: number;
}

/** x[b, t, d] for any t >= -3: from x for t >= 0, else from history (or 0 without one). */
function inputAt(shape: ReferenceConvShape, x: ArrayLike<number>, history: ArrayLike<number> | undefined, b: number, t: number, d: number): number {
  const { length, dModel } = shape;
  if (t >= 0) return x[(b * length + t) * dModel + d]!;
  return history ? history[(b * CONV_HISTORY + CONV_HISTORY + t) * dModel + d]! : 0;
}

/** y [batch, length, dModel]. */
export function referenceConvForward(shape: ReferenceConvShape, x: ArrayLike<number>, weight: ArrayLike<number>, history?: ArrayLike<number>): Float64Array {
  const { batch, length, dModel } = shape;
  const y = new Float64Array(batch * length * dModel);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < length; t++) {
      for (let d = 0; d < dModel; d++) {
        let s = inputAt(shape, x, history, b, t, d);
        for (let j = 0; j < CONV_TAPS; j++) s += weight[d * CONV_TAPS + j]! * inputAt(shape, x, history, b, t - j, d);
        y[(b * length + t) * dModel + d] = s;
      }
    }
  }
  return y;
}

/** The history after the block: [batch, 3, dModel], row r = input at t = length - 3 + r. */
export function referenceConvNextHistory(shape: ReferenceConvShape, x: ArrayLike<number>, history?: ArrayLike<number>): Float64Array {
  const { batch, length, dModel } = shape;
  const next = new Float64Array(batch * CONV_HISTORY * dModel);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < CONV_HISTORY; r++) {
      for (let d = 0; d < dModel; d++) next[(b * CONV_HISTORY + r) * dModel + d] = inputAt(shape, x, history, b, length - CONV_HISTORY + r, d);
    }
  }
  return next;
}

export interface ReferenceConvGradients {
  /** [batch, length, dModel] */
  gradInput: Float64Array;
  /** [dModel, 4] */
  gradWeight: Float64Array;
}

/** dx and dc from dy [batch, length, dModel] (and the forward's x, weights and history). */
export function referenceConvBackward(
  shape: ReferenceConvShape, x: ArrayLike<number>, weight: ArrayLike<number>, gradOutput: ArrayLike<number>, history?: ArrayLike<number>,
): ReferenceConvGradients {
  const { batch, length, dModel } = shape;
  const gradInput = new Float64Array(batch * length * dModel);
  const gradWeight = new Float64Array(dModel * CONV_TAPS);
  for (let b = 0; b < batch; b++) {
    for (let t = 0; t < length; t++) {
      for (let d = 0; d < dModel; d++) {
        const e = (b * length + t) * dModel + d;
        let s = gradOutput[e]!;
        for (let j = 0; j < CONV_TAPS && t + j < length; j++) s += weight[d * CONV_TAPS + j]! * gradOutput[e + j * dModel]!;
        gradInput[e] = s;
        for (let j = 0; j < CONV_TAPS; j++) gradWeight[d * CONV_TAPS + j] = gradWeight[d * CONV_TAPS + j]! + gradOutput[e]! * inputAt(shape, x, history, b, t - j, d);
      }
    }
  }
  return { gradInput, gradWeight };
}
