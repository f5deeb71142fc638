import type { Half } from './half';
import { packedBytes, type Packed } from './packed';

/**
 * The model compiler's graph IR: static shapes, a handful of dtypes, constants held as typed arrays.
 * Strings (UTF-8, NUL-terminated `const char *` elements in C) exist for the string operators at a
 * graph's edges; numeric operators refuse them.
 */
export type DType = 'float32' | 'int64' | 'int32' | 'bool' | 'float64' | 'uint8' | 'int8' | 'int16' | 'uint16' | 'uint32' | 'uint64' | 'string';

/**
 * Element types at a model's edges: the IR's, the half formats (held as float32 inside, see
 * half.ts), and the float8 and float4 formats, int4, uint4, int2 and uint2 (see packed.ts).
 */
export type IODType = DType | Half | Packed;

export type TypedArray = Float32Array | Float64Array | BigInt64Array | BigUint64Array | Int32Array | Uint32Array | Int16Array | Uint16Array | Uint8Array | Int8Array;

export interface Tensor {
  name: string;
  dtype: DType;
  shape: number[];
  /** Set when the tensor's value is known at compile time (an initializer, or folded). */
  data?: TypedArray;
  /** A string tensor's value, when known at compile time. */
  strings?: string[];
  /**
   * The shape depends on the input values: `shape` is the largest it can be, and the generated
   * code reports the actual one after each run (<name>_output_shape).
   */
  dynamic?: boolean;
  /**
   * A float32 tensor whose model type is a half format: every value it receives is rounded to
   * that format, and at the graph's edges it is 16-bit.
   */
  half?: Half;
  /** A float8, float4, int4, uint4, int2 or uint2 tensor (held as float32, int8 or uint8, see packed.ts): Cast and CastLike take it, and the graph's edges. */
  packed?: Packed;
}

export type AttrValue = number | bigint | string | number[] | bigint[] | string[] | Tensor | Subgraph;

/**
 * A graph attribute (If's branches, the body of Loop and Scan) as imported. Names it does not
 * define are the enclosing graphs'; shape inference inlines it into the graph around it.
 */
export interface Subgraph {
  kind: 'subgraph';
  name: string;
  nodes: Node[];
  /** Its own initializers. */
  initializers: Tensor[];
  /** Its formal inputs' names (a Loop's or Scan's body has them; their types are the values bound to them). */
  inputs: string[];
  outputs: string[];
}

/**
 * A block of the generated C that a node runs in, where control flow was inlined: a branch of an
 * If (run when the condition has a value) or the body of a Loop or Scan (run once per iteration).
 * Nodes of one block are consecutive; `open` enters it (given each tensor's C expression) and
 * `close` leaves it.
 */
export interface Scope {
  open(ref: (tensor: string) => string): string;
  close: string;
  /** How many times the block runs per run of the block around it, where known (a constant trip count): for estimates. */
  readonly repeats?: number;
}

export interface Node {
  op: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  /** Set by the fusion pass: what the kernel applies to its result before storing it. */
  fused?: Fusion;
  /** The blocks the node runs in, outermost first (absent: it runs once per run). */
  scope?: Scope[];
}

/**
 * An epilogue fused into a Conv, Gemm or MatMul: a scale, a bias along the last axis (MatMul + Add),
 * then a residual tensor of the output's shape added element-wise (+ Add), then a clamp (Relu,
 * Clip) or GELU.
 */
export type Activation = 'gelu' | 'silu' | 'hardswish';

/** Each fused activation's code in the kernels' epilogue (kiln_epi.act). */
export const ACTIVATION_CODES: Record<Activation, number> = { gelu: 1, silu: 2, hardswish: 3 };

/** A fused activation on the float `v`, as scalar C (the plain loops and CUDA). */
export function activationC(act: Activation, expf = 'expf'): string {
  if (act === 'gelu') return 'v = 0.5f * v * (1.0f + erff(v * 0.70710678f));';
  if (act === 'silu') return `v = v * (1.0f / (1.0f + ${expf}(-v)));`;
  return 'v = v * fmaxf(0.0f, fminf(1.0f, v / 6.0f + 0.5f));';
}

export interface Fusion {
  /** A constant the product is multiplied by first (MatMul followed by Mul or Div by a scalar). */
  scale?: number;
  biasN?: string;
  residual?: string;
  clamp?: [number, number];
  /**
   * An activation, last: GELU (the Erf form exporters emit), SiLU (Sigmoid and Mul, as exporters
   * write Swish) or HardSwish.
   */
  act?: Activation;
  /** The ONNX nodes folded into this one, for the generated C's comments. */
  ops: string[];
}

export interface Graph {
  name: string;
  opset: number;
  nodes: Node[];
  tensors: Map<string, Tensor>;
  inputs: string[];
  outputs: string[];
  producer: string;
  /** Graph outputs the model declares float16 or bfloat16. */
  outputHalf?: Record<string, Half>;
  /** Graph outputs the model declares float8, float4, int4, uint4, int2 or uint2. */
  outputPacked?: Record<string, Packed>;
  /**
   * The static shapes the model declares for its outputs and value_info tensors (every dimension a
   * number): an operator whose output shape depends on a value read at run time (axes, a shape, k,
   * pads, ...) is compiled for the declared shape and checks at run time that the value gives it.
   */
  declared?: Record<string, number[]>;
}

export class CompileError extends Error {
  constructor(
    readonly code: 'malformed' | 'unsupported' | 'symbolic-dimension' | 'external-data' | 'too-large' | 'invalid',
    message: string,
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'CompileError';
  }
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export const C_TYPE: Record<DType, string> = {
  float32: 'float',
  float64: 'double',
  int64: 'int64_t',
  int32: 'int32_t',
  bool: 'uint8_t',
  uint8: 'uint8_t',
  int8: 'int8_t',
  int16: 'int16_t',
  uint16: 'uint16_t',
  uint32: 'uint32_t',
  uint64: 'uint64_t',
  string: 'const char *',
};

/** Bytes per element in memory (a string element is a pointer on 64-bit hosts; in files strings are length-prefixed). */
export const DTYPE_BYTES: Record<DType, number> = { float32: 4, float64: 8, int64: 8, int32: 4, bool: 1, uint8: 1, int8: 1, int16: 2, uint16: 2, uint32: 4, uint64: 8, string: 8 };

/** The integer element types (bool is not one: it is its own type, held as uint8_t). */
export const INTEGER_DTYPES: readonly DType[] = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'];

export function isInteger(dtype: DType): boolean {
  return INTEGER_DTYPES.includes(dtype);
}

export function isUnsigned(dtype: DType): boolean {
  return dtype === 'uint8' || dtype === 'uint16' || dtype === 'uint32' || dtype === 'uint64';
}

/** Whether constants of this type hold bigints (BigInt64Array, BigUint64Array) rather than numbers. */
export function isBig(dtype: DType): boolean {
  return dtype === 'int64' || dtype === 'uint64';
}

/** The smallest and largest value of an integer type, as bigints. */
export function intRange(dtype: DType): [bigint, bigint] {
  const bits = BigInt(DTYPE_BYTES[dtype] * 8);
  return isUnsigned(dtype) ? [0n, (1n << bits) - 1n] : [-(1n << (bits - 1n)), (1n << (bits - 1n)) - 1n];
}

/** An integer constant as a C literal of its type (the smallest int64 cannot be written as one literal). */
export function cInt(dtype: DType, v: bigint | number): string {
  const b = BigInt(v);
  if (dtype === 'int64' && b === -(1n << 63n)) return 'INT64_MIN';
  if (dtype === 'uint64') return `${b}ull`;
  if (dtype === 'int64') return `${b}ll`;
  if (dtype === 'uint32') return `${b}u`;
  return dtype === 'int32' && b === -(1n << 31n) ? 'INT32_MIN' : `${b}`;
}

/** Bytes per element at the graph's edges (in files and entry-point buffers); the 4-bit and 2-bit types are less than a byte, so count them with ioBytes. */
export const IO_BYTES: Record<IODType, number> = {
  ...DTYPE_BYTES,
  float16: 2,
  bfloat16: 2,
  float8e4m3fn: 1,
  float8e4m3fnuz: 1,
  float8e5m2: 1,
  float8e5m2fnuz: 1,
  float4e2m1: 0.5,
  int4: 0.5,
  uint4: 0.5,
  int2: 0.25,
  uint2: 0.25,
};

/** The bytes `count` elements of a type take at the graph's edges (the 4-bit and 2-bit types packed, rounded up). */
export function ioBytes(dtype: IODType, count: number): number {
  return IO_BYTES[dtype] < 1 ? packedBytes(dtype as Packed, count) : count * IO_BYTES[dtype];
}

/** The element type a tensor has at the graph's edges. */
export function ioType(t: Pick<Tensor, 'dtype' | 'half' | 'packed'>): IODType {
  return t.half ?? t.packed ?? t.dtype;
}

/** The largest tensor a model may have (elements), and the largest constant folded at compile time. */
export const MAX_TENSOR_ELEMENTS = 1 << 28;
export const MAX_FOLDED_ELEMENTS = 1 << 24;

export function makeArray(dtype: DType, n: number): TypedArray {
  // A hostile model can ask for any size; the compiler must not try to allocate it.
  if (!Number.isSafeInteger(n) || n < 0 || n > MAX_FOLDED_ELEMENTS) {
    throw new CompileError('too-large', `a constant of ${n} elements is larger than the compiler folds (${MAX_FOLDED_ELEMENTS})`);
  }
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'int32':
      return new Int32Array(n);
    case 'int8':
      return new Int8Array(n);
    case 'int16':
      return new Int16Array(n);
    case 'uint16':
      return new Uint16Array(n);
    case 'uint32':
      return new Uint32Array(n);
    case 'uint64':
      return new BigUint64Array(n);
    default:
      return new Uint8Array(n);
  }
}

/** The elements of a buffer (little-endian, as raw data and harness files hold them) as an array of the type's. */
export function arrayView(dtype: DType, buffer: ArrayBuffer): TypedArray {
  const Make: Record<Exclude<DType, 'string'>, new (b: ArrayBuffer) => TypedArray> = {
    float32: Float32Array,
    float64: Float64Array,
    int64: BigInt64Array,
    uint64: BigUint64Array,
    int32: Int32Array,
    uint32: Uint32Array,
    int16: Int16Array,
    uint16: Uint16Array,
    int8: Int8Array,
    uint8: Uint8Array,
    bool: Uint8Array,
  };
  if (dtype === 'string') throw new CompileError('invalid', 'string tensors have no raw elements');
  return new Make[dtype](buffer);
}

/** A constant's values as plain numbers (for shapes, axes and other small integer tensors). */
export function toNumbers(t: Tensor): number[] {
  if (!t.data) throw new CompileError('invalid', `${t.name} is not a constant`);
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}
