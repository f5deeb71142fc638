import { C_TYPE, CompileError, makeArray, Node, numel, Tensor, toNumbers } from '../ir';
import { NUMERIC, Value, values } from './arith';
import { attrInt, EmitContext, InferContext, normAxis, OpDef } from './op';

/** Below this k, TopK keeps its best k by insertion; from it on, it sorts the whole row. */
const INSERTION_MAX_K = 16;

/** TopK's parameters: k (an input since opset 10, which must be known at compile time; an attribute before), axis, largest. */
function topkParams(ctx: InferContext | EmitContext, node: Node, x: Tensor) {
  if (x.shape.length === 0) throw new CompileError('invalid', `TopK ${node.name}: the input must have rank 1 or more`);
  const axis = normAxis(attrInt(node, 'axis', -1), x.shape.length, node);
  let k: number;
  if (node.inputs[1]) {
    const t = 'graph' in ctx ? ctx.graph.tensors.get(node.inputs[1]) : ctx.tensor(node.inputs[1]);
    if (!t) throw new CompileError('invalid', `TopK ${node.name}: input ${node.inputs[1]} is not produced by any earlier node`);
    if (t.dtype !== 'int64') throw new CompileError('invalid', `TopK ${node.name}: K must be int64, not ${t.dtype}`);
    if (numel(t.shape) !== 1) throw new CompileError('invalid', `TopK ${node.name}: K must hold one value, not ${numel(t.shape)}`);
    // K read at run time (emitting only): the declared output shape gives it, and the generated code checks it.
    if (!t.data && !('graph' in ctx)) k = ctx.tensor(node.outputs[0] || node.outputs[1]).shape[axis];
    else if (!t.data) throw new CompileError('unsupported', `TopK ${node.name}: K (${t.name}) must be known at compile time, as the outputs' shape depends on it`);
    else k = toNumbers(t)[0];
  } else {
    if (node.attrs.k === undefined) throw new CompileError('invalid', `TopK ${node.name}: no K`);
    k = attrInt(node, 'k', 0);
  }
  if (k < 0 || k > x.shape[axis]) throw new CompileError('invalid', `TopK ${node.name}: K ${k} is outside [0, ${x.shape[axis]}] (the axis' length)`);
  return { axis, k, largest: attrInt(node, 'largest', 1) === 1 };
}

/**
 * TopK: the k largest (or smallest) elements along an axis, and their int64 indices, best first;
 * equal values in the order of their indices, as ONNX Runtime breaks ties. With sorted=0 ONNX
 * leaves the order open: they come sorted. NaN counts as larger than any number.
 */
const topk: OpDef = {
  type: 'TopK',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (!NUMERIC.has(x.dtype)) throw new CompileError('unsupported', `TopK ${node.name}: ${x.dtype} tensors are not supported`);
    const { axis, k, largest } = topkParams(ctx, node, x);
    const shape = [...x.shape];
    shape[axis] = k;
    let vals;
    let inds;
    if (x.data) {
      const D = x.shape[axis];
      const inner = numel(x.shape.slice(axis + 1));
      const outer = numel(x.shape.slice(0, axis));
      vals = makeArray(x.dtype, numel(shape));
      inds = makeArray('int64', numel(shape));
      const v = values(x.data);
      const y = values(vals);
      const isNaN = (a: Value) => typeof a === 'number' && Number.isNaN(a);
      // Whether a sorts strictly before b (a stable sort then keeps equal values in index order).
      const before = (a: Value, b: Value) => (largest ? a > b || (isNaN(a) && !isNaN(b)) : a < b || (isNaN(b) && !isNaN(a)));
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const at = (d: number) => (o * D + d) * inner + i;
          const order = Array.from({ length: D }, (_, d) => d).sort((a, b) => (before(v[at(a)], v[at(b)]) ? -1 : before(v[at(b)], v[at(a)]) ? 1 : 0));
          for (let r = 0; r < k; r++) {
            y[(o * k + r) * inner + i] = v[at(order[r])];
            (inds as BigInt64Array)[(o * k + r) * inner + i] = BigInt(order[r]);
          }
        }
      }
    }
    ctx.output(node, 0, { dtype: x.dtype, shape, data: vals });
    ctx.output(node, 1, { dtype: 'int64', shape: [...shape], data: inds });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const { axis, k, largest } = topkParams(ctx, node, x);
    const D = x.shape[axis];
    const inner = numel(x.shape.slice(axis + 1));
    const outer = numel(x.shape.slice(0, axis));
    if (k === 0 || outer * inner === 0) return '';
    const X = ctx.ref(node.inputs[0]);
    const vOut = node.outputs[0] ? ctx.ref(node.outputs[0]) : undefined;
    const iOut = node.outputs[1] ? ctx.ref(node.outputs[1]) : undefined;
    const float = x.dtype === 'float32' || x.dtype === 'float64';
    // Whether element a of the row sorts strictly before element b.
    const at = (a: string) => `x[${a} * ${inner}]`;
    const nan = (a: string) => (float ? `${at(a)} != ${at(a)}` : '0');
    const before = (a: string, b: string) =>
      float ? (largest ? `(${at(a)} > ${at(b)} || (${nan(a)} && !(${nan(b)})))` : `(${at(a)} < ${at(b)} || (${nan(b)} && !(${nan(a)})))`) : `(${at(a)} ${largest ? '>' : '<'} ${at(b)})`;
    const select =
      k <= INSERTION_MAX_K
        ? // The best k so far, best first: a later element goes before the ones it beats strictly.
          `long n = 0;
  for (long d = 0; d < ${D}; d++) {
    if (n == ${k} && !${before('d', `idx[${k - 1}]`)}) continue;
    long p = n < ${k} ? n++ : ${k - 1};
    while (p > 0 && ${before('d', 'idx[p - 1]')}) { idx[p] = idx[p - 1]; p--; }
    idx[p] = d;
  }`
        : // A stable merge sort of the row's indices, bottom up.
          `for (long d = 0; d < ${D}; d++) idx[d] = d;
  for (long w = 1; w < ${D}; w *= 2) {
    for (long lo = 0; lo < ${D}; lo += 2 * w) {
      const long mid = lo + w < ${D} ? lo + w : ${D}, hi = lo + 2 * w < ${D} ? lo + 2 * w : ${D};
      long a = lo, b = mid, t = lo;
      while (a < mid && b < hi) tmp[t++] = ${before('idx[b]', 'idx[a]')} ? idx[b++] : idx[a++];
      while (a < mid) tmp[t++] = idx[a++];
      while (b < hi) tmp[t++] = idx[b++];
    }
    memcpy(idx, tmp, sizeof idx);
  }`;
    const stores = [vOut ? `${vOut}[(o * ${k} + r) * ${inner} + i] = ${at('idx[r]')};` : '', iOut ? `${iOut}[(o * ${k} + r) * ${inner} + i] = (int64_t)idx[r];` : ''].filter(Boolean).join(' ');
    return `static long idx[${k <= INSERTION_MAX_K ? k : D}];${k <= INSERTION_MAX_K ? '' : `\nstatic long tmp[${D}];`}
for (long o = 0; o < ${outer}; o++) for (long i = 0; i < ${inner}; i++) {
  const ${C_TYPE[x.dtype]} *x = ${X} + o * ${D * inner} + i;
  ${select}
  for (long r = 0; r < ${k}; r++) { ${stores} }
}`;
  },
};

export const TOPK_OPS: OpDef[] = [topk];
