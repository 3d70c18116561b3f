// Host-side character n-gram baselines for `npm run train`'s held-out evaluation: bigram and trigram models fit on
// the training split, scored in nats per character on the validation text, beside the Aaren model.
//
// Smoothing: interpolated Witten-Bell (Witten & Bell 1991; Chen & Goodman 1998, section 2.5), down to the uniform
// distribution over the vocabulary:
//   p_0(c)     = 1 / V
//   p_k(c | h) = (n(h, c) + T(h) * p_{k-1}(c | h')) / (n(h) + T(h))     (h' = h without its oldest character)
// with n(h, c) the count of h followed by c in the training ids, n(h) = sum_c n(h, c) and T(h) the number of
// distinct c seen after h; a context never seen (n(h) = 0) backs off to p_{k-1} whole. It has no constant to tune
// (so nothing is fit on the validation text), and every character of the vocabulary gets a probability > 0, seen
// or not, in any context.

export interface NgramModel {
  /** 1 (unigram), 2 (bigram) or 3 (trigram): the number of characters in an n-gram. */
  order: number;
  vocabSize: number;
  /** ln p(ids[i] | the up to order - 1 ids before it). */
  logProb(ids: ArrayLike<number>, i: number): number;
}

interface Level {
  /** n(h, c) by h * V + c, h the context as a base-V number. */
  joint: Map<number, number>;
  /** n(h) and T(h) by h. */
  total: Map<number, number>;
  types: Map<number, number>;
}

/** Fits an interpolated Witten-Bell n-gram model of `order` (1-3) to token ids in [0, vocabSize). */
export function fitNgram(ids: ArrayLike<number>, vocabSize: number, order: number): NgramModel {
  if (!Number.isInteger(order) || order < 1 || order > 3) throw new RangeError(`order must be 1, 2 or 3, got ${order}`);
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize >= 2 ** 17) throw new RangeError(`vocabSize must be an integer in [1, 2^17) (keys are V^3 < 2^53), got ${vocabSize}`);
  const V = vocabSize;
  // levels[k] counts (k characters of context, next character), k = 0..order-1
  const levels: Level[] = Array.from({ length: order }, () => ({ joint: new Map(), total: new Map(), types: new Map() }));
  for (let i = 0; i < ids.length; i++) {
    const c = ids[i]!;
    if (!(c < V)) throw new RangeError(`ids[${i}] = ${c} is not below vocabSize ${V}`);
    let h = 0;
    for (let k = 0; k < order && k <= i; k++) {
      if (k > 0) h += ids[i - k]! * V ** (k - 1); // the context as base V, nearest character lowest
      const level = levels[k]!;
      const key = h * V + c;
      const n = level.joint.get(key) ?? 0;
      level.joint.set(key, n + 1);
      level.total.set(h, (level.total.get(h) ?? 0) + 1);
      if (n === 0) level.types.set(h, (level.types.get(h) ?? 0) + 1);
    }
  }
  return {
    order,
    vocabSize: V,
    logProb(seq, i) {
      const c = seq[i]!;
      if (!(c < V)) throw new RangeError(`token ${c} at ${i} is not below vocabSize ${V}`);
      let p = 1 / V;
      let h = 0;
      for (let k = 0; k < order && k <= i; k++) {
        if (k > 0) h += seq[i - k]! * V ** (k - 1);
        const level = levels[k]!;
        const n = level.total.get(h);
        if (n === undefined) break; // unseen context: so is every longer one
        const t = level.types.get(h)!;
        p = ((level.joint.get(h * V + c) ?? 0) + t * p) / (n + t);
      }
      return Math.log(p);
    },
  };
}

/** Mean -ln p(ids[i] | context) over `positions` (indices into ids), in nats per character, in float64. */
export function ngramCrossEntropy(model: NgramModel, ids: ArrayLike<number>, positions: Iterable<number>): number {
  let sum = 0;
  let count = 0;
  for (const i of positions) {
    sum -= model.logProb(ids, i);
    count++;
  }
  return count ? sum / count : NaN;
}
