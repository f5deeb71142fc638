import { CompileError, DType, intRange, isBig, isInteger, makeArray, Node, numel, Tensor, toNumbers, TypedArray } from './ir';
import { jsArith } from './ops/arith';
import { attrInt, attrInts, broadcast, broadcastStrides, normAxis, stridesOf } from './ops/op';

/**
 * Compile-time evaluation of the operators that exporters use for shape arithmetic, for any
 * element type, when every input is a constant: what a model computes from its input shapes
 * (Shape, then Gather, Concat, Expand, Tile, Max, ReduceProd, Where, ...) is known once those
 * shapes are bound, even where an operator's run-time kernel takes only float32. inferShapes
 * uses it when an operator's own inference leaves such a node unfolded or refuses its types.
 */

type Value = number | bigint;
type Folded = { dtype: DType; shape: number[]; data: TypedArray }[];

/** The largest constant folded here: shape arithmetic is small, and anything larger runs. */
const MAX_ELEMENTS = 1 << 20;

function get(t: Tensor, i: number): Value {
  return (t.data as ArrayLike<Value>)[i];
}

function make(dtype: DType, shape: number[], values: (i: number) => Value): TypedArray {
  const n = numel(shape);
  const out = makeArray(dtype, n);
  for (let i = 0; i < n; i++) {
    const v = values(i);
    if (out instanceof BigInt64Array || out instanceof BigUint64Array) out[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v));
    else if (typeof v === 'bigint') (out as Float32Array)[i] = Number(v);
    else (out as Float32Array)[i] = Number(v);
  }
  return out;
}

/** The offsets into each input of output element i, inputs broadcast to `shape`. */
function broadcastIndex(inputs: Tensor[], shape: number[]): (i: number) => number[] {
  const strides = inputs.map((t) => broadcastStrides(t.shape, shape));
  return (i) => {
    const offs = new Array<number>(inputs.length).fill(0);
    let r = i;
    for (let k = shape.length - 1; k >= 0; k--) {
      const d = r % shape[k];
      r = Math.floor(r / shape[k]);
      for (let j = 0; j < inputs.length; j++) offs[j] += d * strides[j][k];
    }
    return offs;
  };
}

const isInt = (d: DType) => isInteger(d) || d === 'bool';
const cmp = (a: Value, b: Value) => (a < b ? -1 : a > b ? 1 : 0);

/** N-ary element-wise operators with numpy broadcasting. */
const ELEMENTWISE: Record<string, { out?: DType; f: (v: Value[], dtype: DType) => Value }> = {
  Max: { f: (v) => v.reduce((a, b) => (b > a || Number.isNaN(b as number) ? b : a)) },
  Min: { f: (v) => v.reduce((a, b) => (b < a || Number.isNaN(b as number) ? b : a)) },
  Sum: { f: (v, d) => (isInteger(d) ? v.reduce(jsArith(d, '+')) : (v as number[]).reduce((a, b) => a + b)) },
  Mean: { f: (v) => (v as number[]).reduce((a, b) => a + b) / v.length },
  And: { out: 'bool', f: (v) => (v[0] && v[1] ? 1 : 0) },
  Or: { out: 'bool', f: (v) => (v[0] || v[1] ? 1 : 0) },
  Xor: { out: 'bool', f: (v) => (!!v[0] !== !!v[1] ? 1 : 0) },
  Not: { out: 'bool', f: (v) => (v[0] ? 0 : 1) },
  Neg: { f: (v) => (typeof v[0] === 'bigint' ? -v[0] : -v[0]) },
  Abs: { f: (v) => (v[0] < 0 ? (typeof v[0] === 'bigint' ? -v[0] : -v[0]) : v[0]) },
  Sign: { f: (v) => (typeof v[0] === 'bigint' ? BigInt(cmp(v[0], 0n)) : Math.sign(v[0])) },
  Identity: { f: (v) => v[0] },
};

/** Integer Mod as ONNX defines it: fmod=0 takes the divisor's sign (numpy), fmod=1 the dividend's (C). */
function mod(a: Value, b: Value, fmod: boolean): Value {
  if (typeof a === 'bigint') {
    const bb = b as bigint;
    if (bb === 0n) throw new CompileError('invalid', 'Mod: division by zero in a constant');
    const r = a % bb;
    return fmod || r === 0n || (r < 0n) === (bb < 0n) ? r : r + bb;
  }
  const r = a % (b as number);
  return fmod || r === 0 || r < 0 === (b as number) < 0 ? r : r + (b as number);
}

function reduceAxes(node: Node, x: Tensor, inputs: Tensor[], opset: number): number[] {
  const fromInput = inputs[1]?.data ? toNumbers(inputs[1]) : undefined;
  const axes = fromInput ?? attrInts(node, 'axes');
  if (!axes || axes.length === 0) return attrInt(node, 'noop_with_empty_axes', 0) && (fromInput || opset >= 18 || node.op === 'ReduceSum') ? [] : x.shape.map((_, i) => i);
  return axes.map((a) => normAxis(a, x.shape.length, node));
}

/** Integers wrap as the C does (jsArith); an empty Max or Min of integers is the type's smallest or largest value. */
const add = (d: DType) => (isInteger(d) ? jsArith(d, '+') : (a: Value, v: Value) => (a as number) + (v as number));
const REDUCE: Record<string, { init: (d: DType) => Value; step: (d: DType) => (a: Value, v: Value) => Value; end?: (a: Value, n: number) => Value }> = {
  ReduceSum: { init: (d) => (isBig(d) ? 0n : 0), step: add },
  ReduceProd: { init: (d) => (isBig(d) ? 1n : 1), step: (d) => (isInteger(d) ? jsArith(d, '*') : (a, v) => (a as number) * (v as number)) },
  ReduceMax: { init: (d) => (d === 'bool' ? 0 : isInteger(d) ? (isBig(d) ? intRange(d)[0] : Number(intRange(d)[0])) : -Infinity), step: () => (a, v) => (v > a ? v : a) },
  ReduceMin: { init: (d) => (d === 'bool' ? 1 : isInteger(d) ? (isBig(d) ? intRange(d)[1] : Number(intRange(d)[1])) : Infinity), step: () => (a, v) => (v < a ? v : a) },
  ReduceMean: { init: (d) => (isBig(d) ? 0n : 0), step: add, end: (a, n) => (typeof a === 'bigint' ? (n ? a / BigInt(n) : 0n) : a / n) },
};

export function foldConstant(node: Node, inputs: (Tensor | undefined)[], opset: number): Folded | undefined {
  const present = inputs.filter((t): t is Tensor => !!t);
  if (present.length === 0 || present.some((t) => !t.data || t.dtype === 'string' || numel(t.shape) > MAX_ELEMENTS)) return undefined;
  const x = present[0];
  const ew = ELEMENTWISE[node.op];
  if (ew) {
    const shape = broadcast(present.map((t) => t.shape), node);
    if (numel(shape) > MAX_ELEMENTS) return undefined;
    const at = broadcastIndex(present, shape);
    const dtype = ew.out ?? x.dtype;
    return [{ dtype, shape, data: make(dtype, shape, (i) => ew.f(at(i).map((o, j) => get(present[j], o)), x.dtype)) }];
  }
  switch (node.op) {
    case 'Mod': {
      const fmod = attrInt(node, 'fmod', 0) === 1;
      if (!fmod && !isInt(x.dtype)) return undefined;
      const shape = broadcast(present.map((t) => t.shape), node);
      const at = broadcastIndex(present, shape);
      return [{ dtype: x.dtype, shape, data: make(x.dtype, shape, (i) => { const [a, b] = at(i); return mod(get(present[0], a), get(present[1], b), fmod); }) }];
    }
    case 'Clip': {
      const lo = inputs[1] ? get(inputs[1], 0) : undefined;
      const hi = inputs[2] ? get(inputs[2], 0) : undefined;
      return [{ dtype: x.dtype, shape: [...x.shape], data: make(x.dtype, x.shape, (i) => { let v = get(x, i); if (lo !== undefined && v < lo) v = lo; if (hi !== undefined && v > hi) v = hi; return v; }) }];
    }
    case 'Expand': {
      if (!inputs[1]) return undefined;
      const target = toNumbers(inputs[1]);
      const shape = broadcast([x.shape, target], node);
      if (numel(shape) > MAX_ELEMENTS) return undefined;
      const at = broadcastIndex([x], shape);
      return [{ dtype: x.dtype, shape, data: make(x.dtype, shape, (i) => get(x, at(i)[0])) }];
    }
    case 'Tile': {
      if (!inputs[1]) return undefined;
      const reps = toNumbers(inputs[1]);
      if (reps.length !== x.shape.length || reps.some((r) => r < 0)) throw new CompileError('invalid', `Tile ${node.name}: repeats [${reps}] do not fit an input of rank ${x.shape.length}`);
      const shape = x.shape.map((d, k) => d * reps[k]);
      if (numel(shape) > MAX_ELEMENTS) return undefined;
      const xs = stridesOf(x.shape);
      return [{ dtype: x.dtype, shape, data: make(x.dtype, shape, (i) => {
        let r = i;
        let o = 0;
        for (let k = shape.length - 1; k >= 0; k--) {
          o += ((r % shape[k]) % x.shape[k]) * xs[k];
          r = Math.floor(r / shape[k]);
        }
        return get(x, o);
      }) }];
    }
    case 'Transpose': {
      const perm = attrInts(node, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
      const shape = perm.map((p) => x.shape[p]);
      const xs = stridesOf(x.shape);
      return [{ dtype: x.dtype, shape, data: make(x.dtype, shape, (i) => {
        let r = i;
        let o = 0;
        for (let k = shape.length - 1; k >= 0; k--) {
          o += (r % shape[k]) * xs[perm[k]];
          r = Math.floor(r / shape[k]);
        }
        return get(x, o);
      }) }];
    }
    case 'Split': {
      const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
      const outs = node.outputs.length;
      const given = inputs[1] ? toNumbers(inputs[1]) : attrInts(node, 'split');
      const dim = x.shape[axis];
      const size = given ?? (() => {
        const per = Math.ceil(dim / outs);
        return Array.from({ length: outs }, (_, k) => Math.max(0, Math.min(per, dim - k * per)));
      })();
      if (size.length !== outs || size.reduce((a, b) => a + b, 0) !== dim) throw new CompileError('invalid', `Split ${node.name}: sizes [${size}] do not add up to ${dim}`);
      const inner = numel(x.shape.slice(axis + 1));
      let start = 0;
      return size.map((s) => {
        const shape = x.shape.map((d, k) => (k === axis ? s : d));
        const from = start;
        start += s;
        return { dtype: x.dtype, shape, data: make(x.dtype, shape, (i) => {
          const a = Math.floor(i / (s * inner));
          const rest = i % (s * inner);
          return get(x, a * dim * inner + from * inner + rest);
        }) };
      });
    }
    case 'ArgMax':
    case 'ArgMin': {
      const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
      const keep = attrInt(node, 'keepdims', 1) === 1;
      const last = attrInt(node, 'select_last_index', 0) === 1;
      const dim = x.shape[axis];
      const inner = numel(x.shape.slice(axis + 1));
      const shape = keep ? x.shape.map((d, k) => (k === axis ? 1 : d)) : x.shape.filter((_, k) => k !== axis);
      const sign = node.op === 'ArgMax' ? 1 : -1;
      return [{ dtype: 'int64', shape, data: make('int64', shape, (i) => {
        const a = Math.floor(i / inner);
        const b = i % inner;
        let best = 0;
        for (let j = 1; j < dim; j++) {
          const c = cmp(get(x, (a * dim + j) * inner + b), get(x, (a * dim + best) * inner + b)) * sign;
          if (c > 0 || (c === 0 && last)) best = j;
        }
        return best;
      }) }];
    }
  }
  const red = REDUCE[node.op];
  if (red) {
    const axes = reduceAxes(node, x, inputs as Tensor[], opset);
    const keep = attrInt(node, 'keepdims', 1) === 1;
    if (axes.length === 0) return [{ dtype: x.dtype, shape: [...x.shape], data: x.data! }];
    const shape = keep ? x.shape.map((d, k) => (axes.includes(k) ? 1 : d)) : x.shape.filter((_, k) => !axes.includes(k));
    const full = x.shape.map((d, k) => (axes.includes(k) ? 1 : d));
    const acc: Value[] = new Array(numel(full)).fill(red.init(x.dtype));
    const step = red.step(x.dtype);
    const fs = stridesOf(full);
    const n = numel(x.shape);
    for (let i = 0; i < n; i++) {
      let r = i;
      let o = 0;
      for (let k = x.shape.length - 1; k >= 0; k--) {
        const d = r % x.shape[k];
        r = Math.floor(r / x.shape[k]);
        if (!axes.includes(k)) o += d * fs[k];
      }
      acc[o] = step(acc[o], get(x, i));
    }
    const count = n / Math.max(1, numel(full));
    return [{ dtype: x.dtype, shape, data: make(x.dtype, shape, (i) => (red.end ? red.end(acc[i], count) : acc[i])) }];
  }
  return undefined;
}
