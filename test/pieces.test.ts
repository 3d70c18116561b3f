// Forward passes past the buffer limit run in pieces along the sequence, carried by the state: the pieces give
// the outputs of one pass (against the float64 reference), with or without the caller's state, and the
// temporary state is released.
import { expect, test } from 'vitest';
import { dawnDevice } from './dawn.js';
import { AarenLayer } from '../src/nn/layer.js';
import { AarenModel } from '../src/nn/model.js';
import { referenceLayer, referenceModel } from '../src/reference/layer.js';
import { forwardInPieces, tokensPerPiece } from '../src/core/pieces.js';
import { compare, randomArray, randomLayerConfig, randomModelConfig, seeded, trackBuffers } from '../cases/layer.js';

const [batch, length] = [2, 50];

test('tokensPerPiece: the whole length when it fits, fewer tokens when not, a RangeError naming the limit when one position does not fit', () => {
  const limit = { bytes: 4096, name: 'maxStorageBufferBindingSize' };
  expect(tokensPerPiece('f', 2, 10, 8, limit)).toBe(10); // 2 x 10 x 8 floats = 640 bytes
  expect(tokensPerPiece('f', 2, 1000, 8, limit)).toBe(64); // 4096 / (2 x 8 x 4)
  expect(() => tokensPerPiece('f', 2, 10, 1000, limit)).toThrow(RangeError);
  expect(() => tokensPerPiece('f', 2, 10, 1000, limit)).toThrow(/maxStorageBufferBindingSize \(4096 bytes\)/);
});

test('AarenLayer forward in pieces of 7 tokens equals the reference, with and without a state', async () => {
  const device = await dawnDevice();
  const config = randomLayerConfig({ dModel: 5, heads: 2, headDim: 8, biases: true }, seeded(31));
  const layer = await AarenLayer.create(device, config);
  const x = randomArray(batch * length * 5, seeded(32));
  const ref = referenceLayer(config, x, batch, length);
  const tracker = trackBuffers(device);
  try {
    const live = tracker.live.size;
    const pieces = (state?: Parameters<typeof layer.forward>[2]) => forwardInPieces({
      x, batch, length, width: 5, tokensPerPiece: 7, state,
      createState: () => layer.createState(batch),
      forward: (xPiece, pieceLength, pieceState) => layer.forward(xPiece, { batch, length: pieceLength }, pieceState),
    });
    expect(compare(await pieces(), ref).pass).toBe(true);
    expect(tracker.live.size).toBe(live); // the temporary state is gone
    const state = layer.createState(batch);
    expect(compare(await pieces(state), ref).pass).toBe(true);
    expect(state.tokens).toBe(length);
    state.destroy();
  } finally {
    tracker.restore();
    layer.destroy();
  }
});

test('AarenModel forward in pieces of 9 tokens equals the reference', async () => {
  const device = await dawnDevice();
  const config = randomModelConfig({ layers: 2, dModel: 5, heads: 2, headDim: 4, dFF: 7, biases: true }, seeded(41));
  const model = await AarenModel.create(device, config);
  const x = randomArray(batch * length * 5, seeded(42));
  try {
    const y = await forwardInPieces({
      x, batch, length, width: 5, tokensPerPiece: 9, state: undefined,
      createState: () => model.createState(batch),
      forward: (xPiece, pieceLength, pieceState) => model.forward(xPiece, { batch, length: pieceLength }, pieceState),
    });
    expect(compare(y, referenceModel(config, x, batch, length)).pass).toBe(true);
  } finally {
    model.destroy();
  }
});
