import { onnx } from 'onnx-proto';
import { Half, halfToFloat32 } from './half';
import { Packed, packedBytes, packedHeldType, unpack } from './packed';
import { arrayView, CompileError, DType, DTYPE_BYTES, Graph, makeArray, MAX_TENSOR_ELEMENTS, MAX_FOLDED_ELEMENTS, Node, Subgraph, Tensor, TypedArray } from './ir';

export interface ImportOptions {
  /** Values for symbolic input dimensions, or whole input shapes, by input name. */
  inputShapes?: Record<string, number[]>;
  /** Largest model accepted, checked before parsing. */
  maxBytes?: number;
  /**
   * Inputs frozen to known values, as if the exporter had made them initializers: the model is
   * specialised for them (shapes, axes, pads, scales), and they are no longer inputs.
   */
  constantInputs?: Record<string, Tensor>;
}

const DT = onnx.TensorProto.DataType;
const DTYPES: Partial<Record<number, DType>> = {
  [DT.FLOAT]: 'float32',
  [DT.DOUBLE]: 'float64',
  [DT.INT64]: 'int64',
  [DT.INT32]: 'int32',
  [DT.BOOL]: 'bool',
  [DT.UINT8]: 'uint8',
  [DT.INT8]: 'int8',
  [DT.INT16]: 'int16',
  [DT.UINT16]: 'uint16',
  [DT.UINT32]: 'uint32',
  [DT.UINT64]: 'uint64',
  [DT.STRING]: 'string',
};

const HALVES: Partial<Record<number, Half>> = { [DT.FLOAT16]: 'float16', [DT.BFLOAT16]: 'bfloat16' };

/** The float8 and float4 formats, int4, uint4, int2 and uint2, by their ONNX codes (newer than the protobuf definitions this reads with). */
const PACKED_CODES: Partial<Record<number, Packed>> = { 17: 'float8e4m3fn', 18: 'float8e4m3fnuz', 19: 'float8e5m2', 20: 'float8e5m2fnuz', 21: 'uint4', 22: 'int4', 23: 'float4e2m1', 25: 'uint2', 26: 'int2' };
/** Names of the element types the compiler does not take, for its messages. */
const OTHER_NAMES: Partial<Record<number, string>> = { 24: 'FLOAT8E8M0', 27: 'FLOAT6E2M3', 28: 'FLOAT6E3M2' };

/** An ONNX element type as the IR holds it: half formats are float32 tensors marked `half`; float8 and float4 float32, int4 and int2 int8, uint4 and uint2 uint8, marked `packed` (packed.ts). */
export function elementType(code: number): { dtype: DType; half?: Half; packed?: Packed } | undefined {
  const half = HALVES[code];
  if (half) return { dtype: 'float32', half };
  const packed = PACKED_CODES[code];
  if (packed) return { dtype: packedHeldType(packed), packed };
  const d = DTYPES[code];
  return d ? { dtype: d } : undefined;
}

function dtypeOf(code: number, what: string): { dtype: DType; half?: Half; packed?: Packed } {
  const d = elementType(code);
  if (!d) throw new CompileError('unsupported', `${what} has element type ${DT[code] ?? OTHER_NAMES[code] ?? code}, which is not supported (float32, float16, bfloat16, float64, int64, uint64, int32, uint32, int16, uint16, int8, uint8, bool, string are; float8, float4, int4, uint4, int2 and uint2 by Cast and CastLike)`);
  return d;
}

function long(v: number | { toNumber(): number } | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

function bigOf(v: number | { toString(): string }): bigint {
  return BigInt(typeof v === 'number' ? v : v.toString());
}

/** An ONNX TensorProto as an IR constant; external data is refused. */
export function tensorFromProto(t: onnx.ITensorProto, fallbackName = ''): Tensor {
  const name = t.name || fallbackName;
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (t.externalData && t.externalData.length)) {
    throw new CompileError('external-data', `initializer ${name} keeps its data in an external file, which is not accepted: embed the weights in the model`);
  }
  const { dtype, half, packed } = dtypeOf(t.dataType ?? 0, `initializer ${name}`);
  const shape = (t.dims ?? []).map(long);
  const n = shape.reduce((a, b) => a * b, 1);
  if (packed) {
    // A byte per float8 element, two 4-bit or four 2-bit elements to a byte: in raw_data, or a byte per int32_data entry.
    if (!Number.isSafeInteger(n) || n > MAX_FOLDED_ELEMENTS) throw new CompileError('too-large', `initializer ${name} has more than ${MAX_FOLDED_ELEMENTS} elements`);
    const want = packedBytes(packed, n);
    const bytes = t.rawData && t.rawData.length ? Uint8Array.from(t.rawData) : Uint8Array.from(t.int32Data ?? [], (v) => Number(v) & 0xff);
    if (bytes.length !== want) throw new CompileError('malformed', `initializer ${name}: ${bytes.length} bytes of data for ${n} elements of ${packed}`);
    return { name, dtype, shape, data: unpack(packed, bytes, n), packed };
  }
  if (half) {
    // 16-bit elements: in raw_data, or one per int32_data entry (the low 16 bits).
    if (!Number.isSafeInteger(n) || n > MAX_FOLDED_ELEMENTS) throw new CompileError('too-large', `initializer ${name} has more than ${MAX_FOLDED_ELEMENTS} elements`);
    let bits: Uint16Array;
    if (t.rawData && t.rawData.length) {
      if (t.rawData.length !== n * 2) throw new CompileError('malformed', `initializer ${name}: ${t.rawData.length} bytes of data for ${n} elements of ${half}`);
      const copy = new Uint8Array(t.rawData.length);
      copy.set(t.rawData);
      bits = new Uint16Array(copy.buffer);
    } else {
      const given = t.int32Data ?? [];
      if (given.length !== n) throw new CompileError('malformed', `initializer ${name}: ${given.length} values for shape [${shape.join(', ')}]`);
      bits = Uint16Array.from(given, (v) => Number(v) & 0xffff);
    }
    return { name, dtype, shape, data: halfToFloat32(half, bits), half };
  }
  if (dtype === 'string') {
    if ((t.stringData ?? []).length !== n) throw new CompileError('malformed', `initializer ${name}: ${(t.stringData ?? []).length} strings for shape [${shape.join(', ')}]`);
    return { name, dtype, shape, strings: (t.stringData ?? []).map((b) => Buffer.from(b).toString('utf8')) };
  }
  let data: TypedArray;
  if (t.rawData && t.rawData.length) {
    const raw = t.rawData;
    const copy = new Uint8Array(raw.length);
    copy.set(raw);
    const bytesPer = DTYPE_BYTES[dtype];
    if (copy.length !== n * bytesPer) throw new CompileError('malformed', `initializer ${name}: ${copy.length} bytes of data for ${n} elements of ${dtype}`);
    const b = copy.buffer;
    data = arrayView(dtype, b);
  } else {
    // Without raw_data: float, double and int64 have their own fields; uint32 and uint64 are in uint64_data; the narrower integers and bool in int32_data.
    const src: ArrayLike<number | { toString(): string }> =
      dtype === 'float32' ? (t.floatData ?? []) : dtype === 'float64' ? (t.doubleData ?? []) : dtype === 'int64' ? (t.int64Data ?? []) : dtype === 'uint32' || dtype === 'uint64' ? (t.uint64Data ?? []) : (t.int32Data ?? []);
    if (src.length !== n) throw new CompileError('malformed', `initializer ${name}: ${src.length} values for shape [${shape.join(', ')}]`);
    data = makeArray(dtype, n);
    for (let i = 0; i < n; i++) {
      if (data instanceof BigInt64Array || data instanceof BigUint64Array) data[i] = bigOf(src[i]);
      else {
        const v = src[i];
        (data as Float32Array)[i] = typeof v === 'number' ? v : Number(bigOf(v));
      }
    }
  }
  return { name, dtype, shape, data };
}

function attrValue(a: onnx.IAttributeProto, node: string): Node['attrs'][string] {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.FLOAT:
      return a.f ?? 0;
    case T.INT:
      return long(a.i as number);
    case T.STRING:
      return Buffer.from(a.s ?? []).toString('utf8');
    case T.TENSOR:
      return tensorFromProto(a.t!, `${node}.${a.name}`);
    case T.FLOATS:
      return [...(a.floats ?? [])];
    case T.INTS:
      return (a.ints ?? []).map((v) => long(v as number));
    case T.STRINGS:
      return (a.strings ?? []).map((s) => Buffer.from(s).toString('utf8'));
    case T.GRAPH:
      return subgraphFromProto(a.g ?? {}, `${node}.${a.name}`);
    default:
      throw new CompileError('unsupported', `node ${node}: attribute ${a.name} has a type (${T[a.type ?? 0]}) that is not supported`);
  }
}

/** The operators of the ai.onnx.ml domain the compiler takes (their names are not those of any ai.onnx operator). */
const ML_OPS: ReadonlySet<string> = new Set(['Binarizer']);

/** A node of a graph or subgraph: operators of other domains are refused. */
function nodeFromProto(n: onnx.INodeProto, i: number): Node {
  const training = n.domain === 'ai.onnx.preview.training' && n.opType === 'Gradient';
  const preview = n.domain === 'ai.onnx.preview' && n.opType === 'FlexAttention';
  const ml = n.domain === 'ai.onnx.ml' && ML_OPS.has(n.opType ?? '');
  if (n.domain && n.domain !== 'ai.onnx' && !training && !preview && !ml) throw new CompileError('unsupported', `node ${n.name || i} uses the operator domain "${n.domain}", which is not supported`);
  const name = n.name || `${n.opType}_${i}`;
  const attrs: Node['attrs'] = {};
  for (const a of n.attribute ?? []) attrs[a.name ?? ''] = attrValue(a, name);
  return { op: n.opType ?? '', name, inputs: [...(n.input ?? [])], outputs: [...(n.output ?? [])], attrs };
}

/** A graph attribute (If's branches, Loop's and Scan's body): its nodes, initializers, inputs and outputs. */
function subgraphFromProto(g: onnx.IGraphProto, what: string): Subgraph {
  const initializers = (g.initializer ?? []).map((t) => tensorFromProto(t));
  const inputs = (g.input ?? []).map((vi) => vi.name ?? '');
  if ((g.sparseInitializer ?? []).length) throw new CompileError('unsupported', `${what}: sparse initializers are not supported`);
  return { kind: 'subgraph', name: g.name || what, nodes: (g.node ?? []).map(nodeFromProto), initializers, inputs, outputs: (g.output ?? []).map((o) => o.name ?? '') };
}

/**
 * Reads an ONNX model into the IR. Malformed bytes, external data, unknown element types and
 * symbolic dimensions the request did not bind are CompileErrors that say what to fix.
 */
export function importOnnx(bytes: Uint8Array, opts: ImportOptions = {}): Graph {
  const max = opts.maxBytes ?? 512 * 1024 * 1024;
  if (bytes.length > max) throw new CompileError('too-large', `the model is ${bytes.length} bytes; the limit is ${max}`);
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new CompileError('malformed', `not a valid ONNX model: ${(e as Error).message}`);
  }
  const g = model.graph;
  if (!g) throw new CompileError('malformed', 'the model has no graph');
  const opset = long((model.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx')?.version as number) || 1;
  const tensors = new Map<string, Tensor>();
  for (const init of g.initializer ?? []) {
    const t = tensorFromProto(init);
    tensors.set(t.name, t);
  }
  const inputs: string[] = [];
  const unbound: string[] = [];
  for (const vi of g.input ?? []) {
    const name = vi.name ?? '';
    if (tensors.has(name)) continue; // an initializer also listed as an input (older exporters)
    const frozen = opts.constantInputs?.[name];
    if (frozen) {
      tensors.set(name, { ...frozen, name });
      continue;
    }
    const tt = vi.type?.tensorType;
    if (!tt) throw new CompileError('unsupported', `input ${name} is not a tensor`);
    const { dtype, half, packed } = dtypeOf(tt.elemType ?? 0, `input ${name}`);
    const given = opts.inputShapes?.[name];
    // No shape at all (not even a rank) is unknown, not a scalar: inputShapes must give it, of any rank.
    const declared = tt.shape != null;
    const dims = tt.shape?.dim ?? [];
    let shape: number[];
    if (given) {
      if (declared && (given.length !== dims.length || given.some((d, i) => dims[i].dimValue != null && long(dims[i].dimValue as number) > 0 && long(dims[i].dimValue as number) !== d))) {
        throw new CompileError('invalid', `inputShapes.${name} = [${given.join(', ')}] does not fit the model's shape [${dims.map((d) => d.dimParam || long(d.dimValue as number)).join(', ')}]`);
      }
      shape = given;
    } else if (!declared) {
      unbound.push(`${name}[*]`);
      shape = [];
    } else {
      shape = dims.map((d) => {
        const v = long(d.dimValue as number);
        if (d.dimParam || v <= 0) unbound.push(`${name}[${d.dimParam || '?'}]`);
        return v;
      });
    }
    if (shape.reduce((a, b) => a * b, 1) > MAX_TENSOR_ELEMENTS) throw new CompileError('too-large', `input ${name} [${shape.join(', ')}] has more than ${MAX_TENSOR_ELEMENTS} elements`);
    tensors.set(name, { name, dtype, shape, ...(half ? { half } : {}), ...(packed ? { packed } : {}) });
    inputs.push(name);
  }
  if (unbound.length) {
    const whole = unbound.some((u) => u.endsWith('[*]')) ? ' ([*]: the model declares no shape for that input, so give all of it)' : '';
    throw new CompileError('symbolic-dimension', `the model has symbolic input dimensions: ${unbound.join(', ')}${whole}; bind them with inputShapes (for example {"${unbound[0].split('[')[0]}": [1, ...]})`, unbound);
  }
  const nodes: Node[] = (g.node ?? []).map(nodeFromProto);
  const outputHalf: Record<string, Half> = {};
  const outputPacked: Record<string, Packed> = {};
  const declared: Record<string, number[]> = {};
  for (const vi of [...(g.output ?? []), ...(g.valueInfo ?? [])]) {
    const dims = vi.type?.tensorType?.shape?.dim;
    if (!vi.name || !dims || dims.some((d) => d.dimParam || d.dimValue == null || long(d.dimValue as number) < 0)) continue;
    declared[vi.name] = dims.map((d) => long(d.dimValue as number));
  }
  for (const o of g.output ?? []) {
    const half = HALVES[o.type?.tensorType?.elemType ?? 0];
    if (half && o.name) outputHalf[o.name] = half;
    const packed = PACKED_CODES[o.type?.tensorType?.elemType ?? 0];
    if (packed && o.name) outputPacked[o.name] = packed;
  }
  return { name: g.name || 'model', opset, nodes, tensors, inputs, outputs: (g.output ?? []).map((o) => o.name ?? ''), producer: model.producerName ?? '', outputHalf, outputPacked, declared };
}
