import { onnx } from 'onnx-proto';
import { halfBits } from '../src/half';

type Attr = number | number[] | string | { floats: number[] } | { strings: string[] } | { tensor: onnx.ITensorProto } | { graph: onnx.IGraphProto };

/** Builds small ONNX models in code, for tests and benchmarks: no downloads, no Python. */
export class ModelBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly inits: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private n = 0;

  /** `prefix` begins every name the builder makes (a subgraph's, so that they differ from the outer graph's). */
  constructor(
    private readonly opset = 17,
    private readonly prefix = '',
  ) {}

  private vi(name: string, shape: (number | string)[] | null, elemType = onnx.TensorProto.DataType.FLOAT): onnx.IValueInfoProto {
    return { name, type: { tensorType: { elemType, ...(shape ? { shape: { dim: shape.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } : {}) } } };
  }

  /** An input; a null shape declares none at all (not even a rank). */
  input(name: string, shape: (number | string)[] | null, elemType = onnx.TensorProto.DataType.FLOAT): string {
    this.inputs.push(this.vi(name, shape, elemType));
    return name;
  }

  output(name: string, elemType = onnx.TensorProto.DataType.FLOAT): void {
    this.outputs.push(this.vi(name, null, elemType));
  }

  weight(name: string, shape: number[], values: ArrayLike<number>): string {
    const data = Float32Array.from(values);
    this.inits.push({ name, dims: shape, dataType: onnx.TensorProto.DataType.FLOAT, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  int64(name: string, values: number[]): string {
    const data = BigInt64Array.from(values.map(BigInt));
    this.inits.push({ name, dims: [values.length], dataType: onnx.TensorProto.DataType.INT64, rawData: new Uint8Array(data.buffer) });
    return name;
  }

  node(op: string, inputs: string[], attrs: Record<string, Attr> = {}, outputs = 1): string[] {
    const outs = Array.from({ length: outputs }, () => `${this.prefix}${op.toLowerCase()}_${this.n++}`);
    const T = onnx.AttributeProto.AttributeType;
    const attribute = Object.entries(attrs).map(([name, v]): onnx.IAttributeProto => {
      if (typeof v === 'number') return Number.isInteger(v) && !name.match(/alpha|beta|epsilon|min|max|value/) ? { name, type: T.INT, i: v } : { name, type: T.FLOAT, f: v };
      if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
      if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
      if ('floats' in v) return { name, type: T.FLOATS, floats: v.floats };
      if ('strings' in v) return { name, type: T.STRINGS, strings: v.strings.map((x) => new TextEncoder().encode(x)) };
      if ('graph' in v) return { name, type: T.GRAPH, g: v.graph };
      return { name, type: T.TENSOR, t: v.tensor };
    });
    this.nodes.push({ opType: op, name: `${this.prefix}${op}_${this.n}`, input: inputs, output: outs, attribute });
    return outs;
  }

  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    return this.node(op, inputs, attrs)[0];
  }

  /** The graph alone, as a subgraph attribute takes it (If's branches, the body of Loop and Scan). */
  graph(name = 'body'): onnx.IGraphProto {
    return { name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs };
  }

  build(name = 'test'): Uint8Array {
    return onnx.ModelProto.encode({
      irVersion: 8,
      producerName: 'kiln-tests',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: { name, node: this.nodes, initializer: this.inits, input: this.inputs, output: this.outputs },
    }).finish();
  }
}

/** Deterministic weights: seeded, scaled like a trained layer (about 1/sqrt(fan-in)). */
export function randomWeights(seed: number, n: number, scale: number): Float32Array {
  let a = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

/**
 * The same model in a half format, as float16 converters make one: every float32 initializer,
 * Constant, input, output and Cast target becomes float16 (or bfloat16).
 */
export function toHalfModel(bytes: Uint8Array, kind: 'float16' | 'bfloat16' = 'float16'): Uint8Array {
  const DT = onnx.TensorProto.DataType;
  const target = kind === 'float16' ? DT.FLOAT16 : DT.BFLOAT16;
  const model = onnx.ModelProto.decode(bytes);
  const convert = (t: onnx.ITensorProto): void => {
    if (t.dataType !== DT.FLOAT) return;
    const values = t.rawData && t.rawData.length ? new Float32Array(Uint8Array.from(t.rawData).buffer) : Float32Array.from(t.floatData ?? []);
    const bits = Uint16Array.from(values, (v) => halfBits(kind, v));
    t.dataType = target;
    t.floatData = [];
    t.rawData = new Uint8Array(bits.buffer);
  };
  const g = model.graph!;
  for (const t of g.initializer ?? []) convert(t);
  for (const vi of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) {
    if (vi.type?.tensorType?.elemType === DT.FLOAT) vi.type.tensorType.elemType = target;
  }
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      if (a.t) convert(a.t);
      if (n.opType === 'Cast' && a.name === 'to' && Number(a.i) === DT.FLOAT) a.i = target;
    }
  }
  return onnx.ModelProto.encode(model).finish();
}

/**
 * Whether a value matches ONNX Runtime's exactly where exactness is defined (NaN for NaN, the same
 * infinity, the same signed zero) and within a relative tolerance elsewhere.
 */
export function sameAsReference(got: number, want: number, rtol = 1e-6): boolean {
  if (Number.isNaN(want)) return Number.isNaN(got);
  if (!Number.isFinite(want) || want === 0) return Object.is(got, want);
  return Math.abs(got - want) <= rtol * Math.abs(want);
}
