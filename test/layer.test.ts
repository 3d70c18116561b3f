// The Aaren layer on Dawn (SwiftShader): the shared cases of test/layer-cases.ts plus Node-side checks of the
// state contract, validation and buffer ownership.
import { describe, expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { AarenLayer } from '../src/layer.js';
import { referenceLayer, referenceLayerState } from '../src/layer-reference.js';
import { stateBytes } from '../src/state.js';
import { compare, randomArray, randomLayerConfig, runLayerCases, seeded } from './layer-cases.js';

describe('AarenLayer', () => {
  test('layer cases vs float64 reference', async () => {
    const device = await dawnDevice();
    const results = await runLayerCases(device, {});
    for (const r of results.filter((r) => r.kernel.startsWith('aaren-layer'))) {
      console.log(`${r.kernel} ${r.shape} rel ${r.maxRelError.toExponential(2)} ${r.ms.toFixed(0)} ms`);
    }
    for (const r of results) expect(r.pass, `${r.kernel} ${r.shape}: ${r.error ?? `max abs ${r.maxAbsError} > ${r.tolerance}`}`).toBe(true);
  }, 120_000);
});
