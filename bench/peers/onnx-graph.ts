// ONNX graphs for the peer benchmarks (onnxruntime-web), built in TypeScript from npm packages alone: protobufjs
// (the version onnxruntime-web itself depends on) with the subset of onnx.proto that a ModelProto of plain tensors
// needs, written as a protobufjs JSON schema. Field numbers are onnx.proto's (onnx/onnx, IR version 8).
//
// Three graphs:
//  - attentionGraph: com.microsoft MultiHeadAttention, unidirectional = 1, whose query is a learned query broadcast
//    to every position: output row k = softmax over keys 0..k of scale q.k_i -- the Aaren prefix attention.
//  - aarenModelGraph: the AarenModel (src/nn/model.ts) as ONNX ops: per block LayerNormalization -> Aaren attention
//    (keys / values projected with bias, the learned query as above, output projection with bias) + residual ->
//    LayerNormalization -> MatMul+Add -> Gelu (erf) -> MatMul+Add + residual; then a final LayerNormalization.
//  - matmulGraph: y = a @ weight.
import protobuf from 'protobufjs/light.js';
import type { AarenModelConfig } from '../../src/nn/model.js';

const I64 = 'int64';
const SCHEMA = {
  nested: {
    onnx: {
      nested: {
        ModelProto: {
          fields: {
            irVersion: { type: I64, id: 1 }, opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            producerName: { type: 'string', id: 2 }, producerVersion: { type: 'string', id: 3 }, domain: { type: 'string', id: 4 },
            modelVersion: { type: I64, id: 5 }, docString: { type: 'string', id: 6 }, graph: { type: 'GraphProto', id: 7 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: I64, id: 2 } } },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 }, name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 }, docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 }, output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 }, output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 }, opType: { type: 'string', id: 4 }, attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            domain: { type: 'string', id: 7 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 }, f: { type: 'float', id: 2 }, i: { type: I64, id: 3 }, s: { type: 'bytes', id: 4 },
            ints: { rule: 'repeated', type: I64, id: 8 }, type: { type: 'int32', id: 20 },
          },
        },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: I64, id: 1 }, dataType: { type: 'int32', id: 2 }, name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
          },
        },
        ValueInfoProto: { fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 } } },
        TypeProto: {
          fields: { tensorType: { type: 'TypeProtoTensor', id: 1 } },
        },
        TypeProtoTensor: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
        TensorShapeProto: { fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } } },
        Dimension: { fields: { dimValue: { type: I64, id: 1 }, dimParam: { type: 'string', id: 2 } } },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(SCHEMA);
const ModelProto = root.lookupType('onnx.ModelProto');

/** onnx.TensorProto.DataType and onnx.AttributeProto.AttributeType values used here. */
const FLOAT = 1;
const INT64 = 7;
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_INTS = 7;

type Attr = number | { float: number } | number[];
interface Node { op: string; inputs: string[]; outputs: string[]; domain?: string; attrs?: Record<string, Attr> }

/** A graph under construction: initializers, nodes, and unique names. */
export class GraphBuilder {
  private readonly nodes: object[] = [];
  private readonly initializers: object[] = [];
  private counter = 0;

  /** A float initializer (row-major). */
  constant(name: string, dims: number[], data: ArrayLike<number>): string {
    const f = Float32Array.from(data);
    if (f.length !== dims.reduce((a, b) => a * b, 1)) throw new Error(`onnx constant ${name}: ${f.length} values for dims ${dims}`);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: new Uint8Array(f.buffer) });
    return name;
  }

  /** An int64 initializer. */
  constantInt64(name: string, dims: number[], data: number[]): string {
    this.initializers.push({ name, dims, dataType: INT64, rawData: new Uint8Array(BigInt64Array.from(data.map(BigInt)).buffer) });
    return name;
  }

  /** Adds a node; returns its (first) output's name. */
  node(n: Node): string {
    const attribute = Object.entries(n.attrs ?? {}).map(([name, v]) => {
      if (Array.isArray(v)) return { name, type: ATTR_INTS, ints: v };
      if (typeof v === 'object') return { name, type: ATTR_FLOAT, f: v.float };
      return { name, type: ATTR_INT, i: v };
    });
    this.nodes.push({ input: n.inputs, output: n.outputs, name: `${n.op}_${this.counter++}`, opType: n.op, domain: n.domain ?? '', attribute });
    return n.outputs[0]!;
  }

  /** Shorthand for a one-output node named after `out` (or a fresh name). */
  op(op: string, inputs: string[], attrs?: Record<string, Attr>, domain?: string, out?: string): string {
    return this.node({ op, inputs, outputs: [out ?? `t${this.counter}`], attrs, domain });
  }

  /** Serialized ModelProto: float inputs / outputs with the given dims (strings are symbolic). */
  build(name: string, inputs: { name: string; dims: (number | string)[] }[], outputs: { name: string; dims: (number | string)[] }[]): Uint8Array {
    const valueInfo = (v: { name: string; dims: (number | string)[] }) => ({
      name: v.name,
      type: { tensorType: { elemType: FLOAT, shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
    });
    const message = ModelProto.fromObject({
      irVersion: 8,
      producerName: 'aaren-webgpu bench',
      opsetImport: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
      graph: { name, node: this.nodes, initializer: this.initializers, input: inputs.map(valueInfo), output: outputs.map(valueInfo) },
    });
    return ModelProto.encode(message).finish();
  }
}

/** The learned query [heads * headDim] broadcast to the shape of `like` ([batch, length, heads * headDim]). */
function broadcastQuery(g: GraphBuilder, query: string, like: string): string {
  return g.op('Expand', [query, g.op('Shape', [like])]);
}

function multiHeadAttention(g: GraphBuilder, q: string, k: string, v: string, heads: number, scale: number, out?: string): string {
  return g.op('MultiHeadAttention', [q, k, v], { num_heads: heads, unidirectional: 1, scale: { float: scale } }, 'com.microsoft', out);
}

/**
 * Prefix attention of a learned query: inputs key, value [batch, length, heads * headDim] (BSD, head h in columns
 * h*headDim ..), output [batch, length, heads * headDim] with row k = softmax_{i<=k}(scale q_h . k_i) v_i per head.
 */
export function attentionGraph(heads: number, headDim: number, query: ArrayLike<number>, scale: number): Uint8Array {
  const g = new GraphBuilder();
  const q = g.constant('query', [1, 1, heads * headDim], query);
  multiHeadAttention(g, broadcastQuery(g, q, 'key'), 'key', 'value', heads, scale, 'output');
  const dims = ['batch', 'length', heads * headDim];
  return g.build('aaren_prefix_attention', [{ name: 'key', dims }, { name: 'value', dims }], [{ name: 'output', dims }]);
}

/** The AarenModel with these weights as one ONNX graph: input x, output y, both [batch, length, dModel]. */
export function aarenModelGraph(config: AarenModelConfig): Uint8Array {
  const { dModel, heads, headDim, dFF } = config;
  const hd = heads * headDim;
  const scale = config.scale ?? 1 / Math.sqrt(headDim);
  const eps = config.eps ?? 1e-5;
  const g = new GraphBuilder();
  const norm = (x: string, w: { weight: Float32Array; bias: Float32Array }, name: string) =>
    g.op('LayerNormalization', [x, g.constant(`${name}.weight`, [dModel], w.weight), g.constant(`${name}.bias`, [dModel], w.bias)], { axis: -1, epsilon: { float: eps } });
  const linear = (x: string, w: Float32Array, b: Float32Array | undefined, k: number, n: number, name: string) => {
    const y = g.op('MatMul', [x, g.constant(`${name}.weight`, [k, n], w)]);
    return b ? g.op('Add', [y, g.constant(`${name}.bias`, [n], b)]) : y;
  };
  let h = 'x';
  config.weights.blocks.forEach((block, l) => {
    const p = `blocks.${l}`;
    const a = block.attention;
    const n1 = norm(h, block.ln1, `${p}.ln1`);
    const key = linear(n1, a.key, a.keyBias, dModel, hd, `${p}.attention.key`);
    const value = linear(n1, a.value, a.valueBias, dModel, hd, `${p}.attention.value`);
    const q = broadcastQuery(g, g.constant(`${p}.attention.query`, [1, 1, hd], a.query), key);
    const att = multiHeadAttention(g, q, key, value, heads, scale);
    const h1 = g.op('Add', [h, linear(att, a.output, a.outputBias, hd, dModel, `${p}.attention.output`)]);
    const n2 = norm(h1, block.ln2, `${p}.ln2`);
    const up = g.op('Gelu', [linear(n2, block.ffn.w1, block.ffn.b1, dModel, dFF, `${p}.ffn.w1`)], {}, 'com.microsoft');
    h = g.op('Add', [h1, linear(up, block.ffn.w2, block.ffn.b2, dFF, dModel, `${p}.ffn.w2`)]);
  });
  const fw = config.weights.finalNorm;
  g.op('LayerNormalization', [h, g.constant('final_norm.weight', [dModel], fw.weight), g.constant('final_norm.bias', [dModel], fw.bias)],
    { axis: -1, epsilon: { float: eps } }, undefined, 'y');
  const dims = ['batch', 'length', dModel];
  return g.build('aaren_model', [{ name: 'x', dims }], [{ name: 'y', dims }]);
}

/** y [m, n] = a [m, k] @ weight [k, n] (weight an initializer). */
export function matmulGraph(m: number, k: number, n: number, weight: ArrayLike<number>): Uint8Array {
  const g = new GraphBuilder();
  g.op('MatMul', ['a', g.constant('weight', [k, n], weight)], undefined, undefined, 'y');
  return g.build('matmul', [{ name: 'a', dims: [m, k] }], [{ name: 'y', dims: [m, n] }]);
}
