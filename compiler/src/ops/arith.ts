import { C_TYPE, CompileError, DType, DTYPE_BYTES, isBig, isInteger, isUnsigned, Node, TypedArray } from '../ir';
import { attrString, EmitContext } from './op';

/**
 * Element arithmetic shared by the operators that accumulate (CumSum, Einsum, the scatter
 * reductions), in C and, for folding constants, in JavaScript. Signed integers wrap as two's
 * complement (in C through unsigned arithmetic, so an overflow is never undefined behaviour).
 */

/** A value of some element type, as a typed array holds it. */
export type Value = number | bigint;

/** Reads and writes elements of any typed array (a BigInt64Array holds bigints, the rest numbers). */
export function values(a: TypedArray): { [i: number]: Value; length: number } {
  return a as unknown as { [i: number]: Value; length: number };
}

export const NUMERIC: ReadonlySet<DType> = new Set(['float32', 'float64', 'int64', 'uint64', 'int32', 'uint32', 'int16', 'uint16', 'int8', 'uint8']);

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

/** The unsigned C type integer arithmetic of a type is done in (at least 32 bits, so that nothing is promoted to int). */
function cUnsigned(dtype: DType): string {
  return DTYPE_BYTES[dtype] === 8 ? 'uint64_t' : 'uint32_t';
}

/** C for `a op b` in a tensor's element type; integers wrap (in unsigned arithmetic, so an overflow is never undefined behaviour). */
export function cArith(dtype: DType, op: '+' | '-' | '*', a: string, b: string): string {
  if (isInteger(dtype)) return `(${C_TYPE[dtype]})((${cUnsigned(dtype)})(${a}) ${op} (${cUnsigned(dtype)})(${b}))`;
  return `(${a}) ${op} (${b})`;
}

/**
 * C for an integer `a / b`, truncated: a division by zero gives 0 (as numpy does, where C would
 * trap), and the smallest signed value divided by -1 wraps to itself.
 */
export function cIntDiv(dtype: DType, a: string, b: string): string {
  if (isUnsigned(dtype)) return `(${b}) == 0 ? 0 : (${C_TYPE[dtype]})((${a}) / (${b}))`;
  return `(${b}) == 0 ? 0 : (${b}) == -1 ? ${cArith(dtype, '-', '0', a)} : (${C_TYPE[dtype]})((${a}) / (${b}))`;
}

/** A value wrapped to an integer type's range, as storing it in that type does in C (exact for bigints and safe integers). */
export function wrapInt(dtype: DType, v: Value): Value {
  const bits = DTYPE_BYTES[dtype] * 8;
  const b = typeof v === 'bigint' ? v : BigInt(v);
  const w = isUnsigned(dtype) ? BigInt.asUintN(bits, b) : BigInt.asIntN(bits, b);
  return isBig(dtype) ? w : Number(w);
}

/** JavaScript for `a op b` in a tensor's element type (a float result is rounded by the typed array it is stored in). */
export function jsArith(dtype: DType, op: '+' | '-' | '*'): (a: Value, b: Value) => Value {
  if (isBig(dtype)) {
    const f = op === '+' ? (a: bigint, b: bigint) => a + b : op === '-' ? (a: bigint, b: bigint) => a - b : (a: bigint, b: bigint) => a * b;
    return (a, b) => wrapInt(dtype, f(a as bigint, b as bigint));
  }
  if (isInteger(dtype)) {
    // Math.imul keeps the low 32 bits of the product exactly, where a float product would round them.
    if (op === '*') return (a, b) => wrapInt(dtype, Math.imul(a as number, b as number));
    return op === '+' ? (a, b) => wrapInt(dtype, (a as number) + (b as number)) : (a, b) => wrapInt(dtype, (a as number) - (b as number));
  }
  return op === '+' ? (a, b) => (a as number) + (b as number) : op === '-' ? (a, b) => (a as number) - (b as number) : (a, b) => (a as number) * (b as number);
}

/** JavaScript for the integer division cIntDiv makes. */
export function jsIntDiv(dtype: DType): (a: Value, b: Value) => Value {
  return (a, b) => {
    if (typeof a === 'bigint') return b === 0n ? 0n : wrapInt(dtype, a / (b as bigint));
    return b === 0 ? 0 : wrapInt(dtype, Math.trunc(a / (b as number)));
  };
}

/** Zero of a type, as its constants hold it. */
export function zeroOf(dtype: DType): Value {
  return isBig(dtype) ? 0n : 0;
}

export type Reduction = 'none' | 'add' | 'mul' | 'max' | 'min';

/** The scatter operators' reduction attribute: add and mul since opset 16, max and min since 18. */
export function reductionOf(ctx: { opset: number }, node: Node, dtype: DType): Reduction {
  const r = attrString(node, 'reduction', 'none');
  const since: Record<string, number> = { none: 0, add: 16, mul: 16, max: 18, min: 18 };
  if (!(r in since)) throw new CompileError('invalid', `${node.op} ${node.name}: reduction '${r}' is not one of none, add, mul, max, min`);
  if (ctx.opset < since[r]) throw new CompileError('invalid', `${node.op} ${node.name}: reduction '${r}' is defined from opset ${since[r]}, and the model's opset is ${ctx.opset}`);
  if (r !== 'none' && !NUMERIC.has(dtype)) throw new CompileError('unsupported', `${node.op} ${node.name}: reduction '${r}' on ${dtype} tensors is not supported`);
  return r as Reduction;
}

/** C that combines the value already in place (`y`) with an update (`u`). */
export function cReduce(r: Reduction, dtype: DType, y: string, u: string): string {
  switch (r) {
    case 'none':
      return u;
    case 'add':
      return cArith(dtype, '+', y, u);
    case 'mul':
      return cArith(dtype, '*', y, u);
    case 'max':
      return `(${u} > ${y} ? ${u} : ${y})`;
    case 'min':
      return `(${u} < ${y} ? ${u} : ${y})`;
  }
}

/** The same, in JavaScript, for folding. */
export function jsReduce(r: Reduction, dtype: DType): (y: Value, u: Value) => Value {
  switch (r) {
    case 'none':
      return (_, u) => u;
    case 'add':
      return jsArith(dtype, '+');
    case 'mul':
      return jsArith(dtype, '*');
    case 'max':
      return (y, u) => (u > y ? u : y);
    case 'min':
      return (y, u) => (u < y ? u : y);
  }
}

/**
 * The C that reads index `v` into int64_t `k` and counts a negative one from the end of an axis of
 * `d`. Indices read at run time are checked too: one out of range ends the run with
 * RUN_ERRORS.indexOutOfRange. Constant ones were checked at compile time.
 */
export function indexC(ctx: EmitContext, k: string, v: string, d: number, checked: boolean): string {
  const read = `int64_t ${k} = (int64_t)${v}; if (${k} < 0) ${k} += ${d};`;
  return checked ? `${read} if (${k} < 0 || ${k} >= ${d}) ${ctx.indexOutOfRange()}` : read;
}

/** Checks constant indices (negative ones counted from the end) against the axis each is for. */
export function checkIndices(node: Node, idx: number[], dims: (j: number) => number): void {
  idx.forEach((v, j) => {
    const d = dims(j);
    if (v < -d || v >= d) throw new CompileError('invalid', `${node.op} ${node.name}: index ${v} is out of range for an axis of ${d}`);
  });
}

/** A tensor's values must be integers of 64 or 32 bits. */
export function requireIndexType(node: Node, dtype: DType, what: string, int32 = true): void {
  if (dtype !== 'int64' && !(int32 && dtype === 'int32')) throw new CompileError('invalid', `${node.op} ${node.name}: ${what} must be int64${int32 ? ' or int32' : ''}, not ${dtype}`);
}
