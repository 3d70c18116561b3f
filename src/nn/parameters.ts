// The training contract between modules (AarenModel, AarenLanguageModel), the optimizer (src/optim/adamw.ts) and
// trainStep: a module lists its raw trainable tensors on the GPU by safetensors name; a trainer runs a forward that
// keeps what the backward needs and then the backward, writing one gradient buffer per parameter.

/** One trainable tensor of a module, on the GPU, f32 row-major. */
export interface NamedParameter {
  /** The safetensors name (`blocks.0.attention.query`, `final_norm.bias`, `token_embedding`, ...). */
  readonly name: string;
  /** Its shape as in the safetensors file; AdamW decays exactly the tensors with two or more dimensions. */
  readonly shape: readonly number[];
  /** The parameter itself (STORAGE | COPY_SRC | COPY_DST), updated in place by the optimizer. */
  readonly buffer: GPUBuffer;
}

/** What AdamW needs from a module. */
export interface Trainable {
  parameters(): NamedParameter[];
  /** Records whatever the module derives from its parameters (fused projections) after they changed on the GPU. */
  encodeRefresh(encoder: GPUCommandEncoder): void;
}

/** A forward that saves activations, and its backward, for one (batch, length), GPU-resident. */
export interface ModelTrainer {
  readonly batch: number;
  readonly length: number;
  /** One buffer per parameter, by its name, the parameter's size; overwritten by each encodeBackward. */
  readonly gradients: Readonly<Record<string, GPUBuffer>>;
  /** x [batch, length, dModel] -> output [batch, length, dModel], keeping what encodeBackward reads. */
  encodeForward(encoder: GPUCommandEncoder, buffers: { x: GPUBuffer; output: GPUBuffer }): void;
  /** The backward of the last encodeForward: writes gradInput [batch, length, dModel] and every gradient. It reads
   * that forward's x buffer again (weight gradients, the first LayerNorm's backward): keep its contents until these
   * commands ran, and give a gradInput that is neither x nor gradOutput. */
  encodeBackward(encoder: GPUCommandEncoder, buffers: { gradOutput: GPUBuffer; gradInput: GPUBuffer }): void;
  destroy(): void;
}
