// Central finite differences, the judge of every float64 backward reference (test/reference-backward.test.ts,
// test/conv.test.ts): h = 1e-6 * max(1, |x|) (the step actually taken is (x+h) - x, exactly representable).
// Truncation error is O(h^2 f''') ~ 1e-12 relative and rounding error ~ 1e-16 |f| / h ~ 1e-10 |f| for the
// O(1)..O(100) losses used, so a check asks |grad - fd| <= FD_TOL * max(1, max|grad|) with FD_TOL = 1e-6: three or
// more orders of magnitude above the FD noise, far below any real error (a wrong term is O(max|grad|)).
import { expect } from 'vitest';

export const FD_TOL = 1e-6;

/** Central differences of f at x for the listed indices (all by default); returns the max error and max |grad|. */
export function fdError(f: (x: Float64Array) => number, x0: ArrayLike<number>, grad: ArrayLike<number>, indices?: number[]): { err: number; scale: number } {
  const x = Float64Array.from(x0);
  let err = 0;
  let scale = 0;
  for (let i = 0; i < grad.length; i++) scale = Math.max(scale, Math.abs(grad[i]!));
  for (const i of indices ?? Array.from({ length: x.length }, (_, j) => j)) {
    const xi = x[i]!;
    const h = 1e-6 * Math.max(1, Math.abs(xi));
    x[i] = xi + h;
    const up = f(x);
    const hUp = x[i]! - xi;
    x[i] = xi - h;
    const down = f(x);
    const hDown = xi - x[i]!;
    x[i] = xi;
    const fd = (up - down) / (hUp + hDown);
    err = Math.max(err, Math.abs(fd - grad[i]!));
  }
  return { err, scale };
}

export function expectFd(f: (x: Float64Array) => number, x0: ArrayLike<number>, grad: ArrayLike<number>, label: string, indices?: number[]): void {
  const { err, scale } = fdError(f, x0, grad, indices);
  expect(err, `${label}: max |grad - fd| = ${err}, max |grad| = ${scale}`).toBeLessThanOrEqual(FD_TOL * Math.max(1, scale));
}

