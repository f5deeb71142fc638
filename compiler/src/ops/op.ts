import type { Half } from '../half';
import type { Packed } from '../packed';
import { ACTIVATION_CODES, activationC, AttrValue, CompileError, DType, Graph, Node, Tensor, TypedArray } from '../ir';

/** What an operator sees while shapes are inferred: its inputs, and where to put its outputs. */
export interface InferContext {
  graph: Graph;
  opset: number;
  /** Input i, or undefined when the optional input is absent. */
  input(node: Node, i: number): Tensor | undefined;
  /** Input i, which must be present. */
  required(node: Node, i: number): Tensor;
  /**
   * Sets output i. A float32 output takes the half format of the node's first half input unless
   * `half` is given (even as undefined: the operator decides, as Cast does); constants are rounded to it.
   */
  output(node: Node, i: number, t: { dtype: DType; shape: number[]; data?: TypedArray; half?: Half; packed?: Packed }): void;
}

/** What an operator sees while C is generated. */
export interface EmitContext {
  opset: number;
  /** The C expression of a tensor's buffer (a pointer of its element type). */
  ref(name: string): string;
  tensor(name: string): Tensor;
  /** Makes an output share its input's buffer (reshapes and the like); false when it cannot. */
  alias(output: string, input: string): boolean;
  /** Threads the kernels may use (1: none started). */
  threads: number;
  /** Whether to use the kernel library for the hot operators (false: the plain loops, as a reference). */
  fast: boolean;
  /** A constant computed at compile time (packed weights), embedded with the weights: its C pointer (of the array's element type). */
  constant(label: string, data: Float32Array | Int8Array | Uint8Array | Int32Array): string;
  /** C at file scope (types, helper functions) that call sites share: emitted once per key, before the entry point. */
  helper(key: string, code: string): void;
  /** A zero-initialised static float buffer private to one call site: its C name. */
  buffer(label: string, floats: number): string;
  /** Kernel-library scratch of `floats` per thread (the library is included): thread 0's pointer and the per-thread stride, as C. */
  scratch(floats: number): { ptr: string; stride: string };
  /** A buffer of this many floats shared by the threads of one call (sized for the largest call): its C name. */
  shared(floats: number): string;
  /** Includes the kernel library (for kernels that need no scratch). */
  kernels(): void;
  /** For a graph output whose shape depends on the values: the C int64_t array to set its actual dims in. */
  outputShape(name: string): string | undefined;
  /** A static `char *` private to one call site that holds malloc'd memory from run to run: its C name. */
  arena(label: string): string;
  /**
   * The C statement that ends the run because an index read at run time is out of range: the
   * entry point returns RUN_ERRORS.indexOutOfRange, and the model's header says so.
   */
  indexOutOfRange(): string;
  /**
   * The C statement that ends the run because it took a branch that does not fit the input shapes
   * the model was compiled for (`branch`, as "the else_branch of If If_0"; `why`, the error that
   * inferring it gave): the entry point returns RUN_ERRORS.unfitBranch, and the model's header says so.
   */
  unfitBranch(branch: string, why: string): string;
  /**
   * The C statement that ends the run because a value read at run time gives another shape than
   * the declared one the operator was compiled for: the entry point returns RUN_ERRORS.shapeMismatch.
   */
  shapeMismatch(): string;
}

/** The non-zero values a generated <name>_run returns, and what each means (see ModelMetadata.errors). */
export const RUN_ERRORS = {
  /** Memory could not be allocated: for output strings, or on WebAssembly for the intermediate buffers (on the first run). */
  outOfMemory: 1,
  /** An index the model read at run time (Gather, GatherElements, GatherND, ScatterElements, ScatterND, RotaryEmbedding's position_ids, CumSum's and CumProd's axis, ReverseSequence's sequence_lens) was out of range; no memory outside a tensor was read or written. */
  indexOutOfRange: 2,
  /**
   * The model took a branch of an If (its condition read at run time) whose shapes do not fit the
   * input shapes it was compiled for, so that the branch could not be compiled; the outputs are then incomplete.
   */
  unfitBranch: 3,
  /**
   * A value the model read at run time that decides a shape (a reduction's axes, a shape, k, pads,
   * ...) gives another shape than the one the model declares, for which it was compiled.
   */
  shapeMismatch: 4,
} as const;

export const RUN_ERROR_MEANINGS: Record<number, string> = {
  [RUN_ERRORS.outOfMemory]: 'memory could not be allocated (for output strings, or on WebAssembly for the intermediate buffers)',
  [RUN_ERRORS.indexOutOfRange]: 'an index was out of range',
  [RUN_ERRORS.unfitBranch]: 'the model took a branch of an If that does not fit the input shapes it was compiled for',
  [RUN_ERRORS.shapeMismatch]: 'a value read at run time (axes, a shape, k, pads, ...) gives another output shape than the one the model declares and was compiled for',
};

export interface OpDef {
  type: string;
  infer(ctx: InferContext, node: Node): void;
  /** C statements; omitted for ops that are always folded to constants. */
  emit?(ctx: EmitContext, node: Node): string;
}

/**
 * The shape the model declares for an output whose shape depends on a value known only at run time
 * (`what`, as "the axes"); without one, the operator cannot be compiled for static shapes.
 */
export function declaredShape(ctx: InferContext, node: Node, i: number, what: string): number[] {
  const shape = ctx.graph.declared?.[node.outputs[i]];
  if (!shape) {
    throw new CompileError('unsupported', `${node.op} ${node.name}: ${what} must be known at compile time, or the model must declare the shape of output ${node.outputs[i]} (then ${what} is read at run time and checked against it)`);
  }
  return [...shape];
}

/** Input i of a node, while shapes are inferred or C is emitted; undefined when the optional input is absent. */
export function tensorOf(ctx: InferContext | EmitContext, node: Node, i: number): Tensor | undefined {
  const name = node.inputs[i];
  if (!name) return undefined;
  const t = 'graph' in ctx ? ctx.graph.tensors.get(name) : ctx.tensor(name);
  if (!t) throw new CompileError('invalid', `${node.op} ${node.name}: input ${name} is not produced by any earlier node`);
  return t;
}

/** Input i, which must be float32 (float16 and bfloat16 are held as float32) when present. */
export function floatInput(ctx: InferContext | EmitContext, node: Node, i: number, what: string): Tensor | undefined {
  const t = tensorOf(ctx, node, i);
  if (t && t.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: ${what} must be float32, float16 or bfloat16, not ${t.dtype}`);
  return t;
}

export function attrInt(node: Node, name: string, fallback: number): number {
  const v = node.attrs[name];
  return v === undefined ? fallback : Number(v as number);
}

export function attrFloat(node: Node, name: string, fallback: number): number {
  const v = node.attrs[name];
  return v === undefined ? fallback : Number(v as number);
}

export function attrInts(node: Node, name: string): number[] | undefined {
  const v = node.attrs[name] as AttrValue | undefined;
  return v === undefined ? undefined : (v as number[]).map(Number);
}

export function attrString(node: Node, name: string, fallback: string): string {
  const v = node.attrs[name];
  return v === undefined ? fallback : String(v);
}

export function normAxis(axis: number, rank: number, node: Node): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new CompileError('invalid', `${node.op} ${node.name}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

export function stridesOf(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** numpy-style broadcasting of several shapes. */
export function broadcast(shapes: number[][], node: Node): number[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    let d = 1;
    for (const s of shapes) {
      const v = s[s.length - rank + i] ?? 1;
      if (v === 1) continue;
      if (d !== 1 && d !== v) throw new CompileError('invalid', `${node.op} ${node.name}: shapes ${shapes.map((x) => `[${x.join(',')}]`).join(' and ')} do not broadcast`);
      d = v;
    }
    out.push(d);
  }
  return out;
}

/** Strides of an input broadcast to an output shape: 0 along broadcast dimensions. */
export function broadcastStrides(inShape: number[], outShape: number[]): number[] {
  const s = stridesOf(inShape);
  const pad = outShape.length - inShape.length;
  return outShape.map((_, i) => (i < pad || inShape[i - pad] === 1 ? 0 : s[i - pad]));
}

/** Nested C loops over a shape, with `body` given the index variables. */
export function loops(shape: number[], body: (idx: string[]) => string, prefix = 'i'): string {
  const idx = shape.map((_, k) => `${prefix}${k}`);
  let code = body(idx);
  for (let k = shape.length - 1; k >= 0; k--) code = `for (long ${idx[k]} = 0; ${idx[k]} < ${shape[k]}; ${idx[k]}++) {\n${code}\n}`;
  return code;
}

export function offset(idx: string[], strides: number[]): string {
  const terms = idx.map((v, k) => (strides[k] === 0 ? '' : strides[k] === 1 ? v : `${v} * ${strides[k]}`)).filter(Boolean);
  return terms.length ? terms.join(' + ') : '0';
}

/** A float literal C reads back exactly. */
export function flt(v: number): string {
  if (Number.isNaN(v)) return 'NAN';
  if (!Number.isFinite(v)) return v > 0 ? 'INFINITY' : '-INFINITY';
  return `${v.toPrecision(9)}f`;
}

/** Applies a fused epilogue (bias along the last axis, residual, clamp) to a computed output, for the generic kernels. */
export function fusedEpilogueLoop(ctx: EmitContext, node: Node, y: string, shape: number[]): string {
  const f = node.fused;
  if (!f || (!f.biasN && !f.residual && !f.clamp && !f.act && f.scale === undefined)) return '';
  const n = shape.reduce((a, b) => a * b, 1);
  const N = shape[shape.length - 1] ?? 1;
  const terms = [f.scale === undefined ? `${y}[i]` : `${y}[i] * ${flt(f.scale)}`];
  if (f.biasN) terms.push(`${ctx.ref(f.biasN)}[i % ${N}]`);
  if (f.residual) terms.push(`${ctx.ref(f.residual)}[i]`);
  let body = `float v = ${terms.join(' + ')};`;
  if (f.clamp) {
    if (f.clamp[0] !== -Infinity) body += ` v = v < ${flt(f.clamp[0])} ? ${flt(f.clamp[0])} : v;`;
    if (f.clamp[1] !== Infinity) body += ` v = v > ${flt(f.clamp[1])} ? ${flt(f.clamp[1])} : v;`;
  }
  if (f.act) body += ` ${activationC(f.act)}`;
  return `\nfor (long i = 0; i < ${n}; i++) { ${body} ${y}[i] = v; }`;
}

/** The kiln_epi initialiser of a fused epilogue: `res` is the C pointer of the residual for this call, biasM/biasN constants. */
export function epilogueInit(node: Node, parts: { biasM?: string; biasN?: string; res?: string }): string {
  const f = node.fused;
  const fields: string[] = [];
  if (parts.biasM) fields.push(`.bias_m = ${parts.biasM}`);
  if (parts.biasN) fields.push(`.bias_n = ${parts.biasN}`);
  if (parts.res) fields.push(`.res = ${parts.res}`);
  if (f?.clamp) fields.push(`.clamp = 1, .lo = ${flt(f.clamp[0])}, .hi = ${flt(f.clamp[1])}`);
  if (f?.scale !== undefined) fields.push(`.scaled = 1, .alpha = ${flt(f.scale)}`);
  if (f?.act) fields.push(`.act = ${ACTIVATION_CODES[f.act]}`);
  return `{ ${fields.join(', ')} }`;
}
