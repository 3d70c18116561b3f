// Float64 CPU reference for torch.optim.AdamW (amsgrad=False, maximize=False) and
// torch.nn.utils.clip_grad_norm_ (2-norm), to check the GPU optimizer against.
//
// Per parameter, step t = 1, 2, ...:
//   p <- p - lr * wd * p                                   (decoupled weight decay, only where decays(name))
//   m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
//   p <- p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
// Clipping first, as torch: total = sqrt(sum over every gradient of g^2); every gradient is multiplied by
// min(1, max / (total + 1e-6)) (torch multiplies by clamp(max / (total + 1e-6), max=1), also when it is 1).

export interface ReferenceAdamWOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** max_norm of clip_grad_norm_; no clipping when absent. */
  clipGradNorm?: number;
}

export interface ReferenceAdamWState {
  /** Steps taken so far (torch's state['step']). */
  step: number;
  /** exp_avg by name. */
  m: Record<string, Float64Array>;
  /** exp_avg_sq by name. */
  v: Record<string, Float64Array>;
}

export function referenceAdamWState(): ReferenceAdamWState {
  return { step: 0, m: {}, v: {} };
}

/**
 * The usual decay rule: 2-D parameters decay (attention query/key/value/output, ffn w1/w2, token_embedding,
 * lm_head.weight); biases and LayerNorm weights and biases do not.
 */
export function referenceDecays(name: string): boolean {
  if (name === 'token_embedding' || name === 'lm_head.weight') return true;
  return /\.attention\.(query|key|value|output|conv)$/.test(name) || /\.ffn\.w[12]$/.test(name);
}

/** torch.nn.utils.clip_grad_norm_'s total 2-norm and the factor it multiplies every gradient by. */
export function referenceClipGradNorm(grads: Record<string, ArrayLike<number>>, maxNorm: number): { totalNorm: number; scale: number } {
  let sum = 0;
  for (const g of Object.values(grads)) for (let i = 0; i < g.length; i++) sum += g[i]! * g[i]!;
  const totalNorm = Math.sqrt(sum);
  return { totalNorm, scale: Math.min(1, maxNorm / (totalNorm + 1e-6)) };
}

/**
 * One AdamW step: updates `params` and `state` in place (grads are not modified; clipping scales a copy).
 * Every name in `params` must have a gradient of the same length in `grads`. Returns the gradients' total 2-norm
 * (before clipping) and the clipping factor applied (1 without clipping).
 */
export function referenceAdamWStep(
  params: Record<string, Float64Array>, grads: Record<string, ArrayLike<number>>, state: ReferenceAdamWState, options: ReferenceAdamWOptions,
  decays: (name: string) => boolean,
): { gradNorm: number; clipScale: number } {
  const { lr, eps, weightDecay } = options;
  const [b1, b2] = options.betas;
  for (const name of Object.keys(params)) {
    const g = grads[name];
    if (!g || g.length !== params[name]!.length) throw new RangeError(`grads.${name} must have ${params[name]!.length} entries, got ${g ? g.length : 'none'}`);
  }
  const clip = referenceClipGradNorm(Object.fromEntries(Object.keys(params).map((n) => [n, grads[n]!])), options.clipGradNorm ?? Infinity);
  const clipScale = options.clipGradNorm === undefined ? 1 : clip.scale;
  state.step += 1;
  const t = state.step;
  const bc1 = 1 - b1 ** t;
  const bc2Sqrt = Math.sqrt(1 - b2 ** t);
  const stepSize = lr / bc1;
  for (const [name, p] of Object.entries(params)) {
    const g = grads[name]!;
    const m = (state.m[name] ??= new Float64Array(p.length));
    const v = (state.v[name] ??= new Float64Array(p.length));
    const decay = decays(name) ? 1 - lr * weightDecay : 1;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! * clipScale;
      p[i] = p[i]! * decay;
      m[i] = b1 * m[i]! + (1 - b1) * gi;
      v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
      p[i] = p[i]! - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / bc2Sqrt + eps);
    }
  }
  return { gradNorm: clip.totalNorm, clipScale };
}
