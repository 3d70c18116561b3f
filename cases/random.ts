// Seeded random data for the tests, so every failure reproduces. Runs in Node and in the browser.

import { mulberry32, normal } from '../src/core/random.js';

export { mulberry32, normal };

export type ScorePattern = 'normal1' | 'normal30' | 'rising' | 'falling' | 'masked-runs' | 'masked-prefix' | 'huge';

export const scorePatterns: ScorePattern[] = ['normal1', 'normal30', 'rising', 'falling', 'masked-runs', 'masked-prefix', 'huge'];

/** Scores [batch, length] in one of the patterns the issue names. */
export function makeScores(pattern: ScorePattern, batch: number, length: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const scores = new Float32Array(batch * length);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < length; i++) {
      let s: number;
      switch (pattern) {
        case 'normal1': s = normal(random); break;
        case 'normal30': s = 30 * normal(random); break;
        case 'rising': s = (60 * i) / Math.max(1, length - 1) - 30 + 0.1 * normal(random); break; // each new token dominates
        case 'falling': s = 30 - (60 * i) / Math.max(1, length - 1) + 0.1 * normal(random); break; // the first token dominates
        case 'masked-runs': s = Math.floor(i / 7) % 3 === 1 ? -Infinity : normal(random); break;
        case 'masked-prefix': s = i < Math.ceil(length / 3) + b ? -Infinity : 5 * normal(random); break; // fully masked prefix
        case 'huge': s = 1e4 * (2 * random() - 1); break; // exp would overflow without the running max
      }
      scores[b * length + i] = s;
    }
  }
  return scores;
}

/** Values [count] uniform in [-magnitude, magnitude]. */
export function makeValues(count: number, magnitude: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: count }, () => magnitude * (2 * random() - 1));
}
