// The float64 references agree with each other: the recurrence (what the kernels are checked against) and the
// quadratic softmax over each prefix are independent formulations of the same outputs.
import { expect, test } from 'vitest';
import { combineReference, identityState, referenceQuadratic, referenceRecurrence } from '../src/reference/scan.js';
import { makeScores, makeValues, scorePatterns } from '../cases/random.js';

test.each(scorePatterns)('recurrence equals softmax over each prefix (%s scores)', (pattern) => {
  const input = { batch: 3, length: 97, headDim: 5, scores: makeScores(pattern, 3, 97, 11), values: makeValues(3 * 97 * 5, 10, 12) };
  const recurrent = referenceRecurrence(input).outputs;
  const quadratic = referenceQuadratic(input);
  for (let i = 0; i < recurrent.length; i++) expect(Math.abs(recurrent[i]! - quadratic[i]!)).toBeLessThan(1e-9);
});

test('a fully masked prefix outputs 0, and a masked token does not change the output', () => {
  const input = { batch: 1, length: 3, headDim: 1, scores: new Float32Array([-Infinity, 2, -Infinity]), values: new Float32Array([5, 7, 9]) };
  expect(Array.from(referenceRecurrence(input).outputs)).toEqual([0, 7, 7]);
  expect(Array.from(referenceQuadratic(input))).toEqual([0, 7, 7]);
});

test('the operator has identity (-inf, 0, 0) and merges two tokens into their softmax', () => {
  const a = { m: 1, u: 1, w: Float64Array.of(3) };
  const b = { m: 2, u: 1, w: Float64Array.of(5) };
  expect(combineReference(a, identityState(1))).toEqual(a);
  expect(combineReference(identityState(1), identityState(1)).u).toBe(0);
  const ab = combineReference(a, b);
  const expected = (3 * Math.exp(1) + 5 * Math.exp(2)) / (Math.exp(1) + Math.exp(2));
  expect(ab.w[0]! / ab.u).toBeCloseTo(expected, 12);
});
