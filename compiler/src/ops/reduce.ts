import { C_TYPE, cInt, CompileError, DType, intRange, isInteger, isUnsigned, Node, numel, Tensor, toNumbers } from '../ir';
import { cArith, NUMERIC } from './arith';
import { attrInt, attrInts, loops, normAxis, offset, OpDef, stridesOf } from './op';

type Kind = 'ReduceMean' | 'ReduceSum' | 'ReduceMax' | 'ReduceMin' | 'ReduceProd' | 'ReduceL1' | 'ReduceL2' | 'ReduceLogSum' | 'ReduceLogSumExp' | 'ReduceSumSquare';

/**
 * Per kind: the start value, how an element joins the accumulator, and the final transform, in
 * C that both the C and the CUDA backends emit (as `float acc = <init>;`, so init may declare
 * more floats after the first).
 */
export const REDUCE_KINDS: Record<Kind, { init: string; acc: string; fin: (count: number) => string }> = {
  ReduceMean: { init: '0.0f', acc: 'acc += v;', fin: (n) => `acc / ${n}.0f` },
  ReduceSum: { init: '0.0f', acc: 'acc += v;', fin: () => 'acc' },
  ReduceMax: { init: '-INFINITY', acc: 'acc = v > acc ? v : acc;', fin: () => 'acc' },
  ReduceMin: { init: 'INFINITY', acc: 'acc = v < acc ? v : acc;', fin: () => 'acc' },
  ReduceProd: { init: '1.0f', acc: 'acc *= v;', fin: () => 'acc' },
  ReduceL1: { init: '0.0f', acc: 'acc += fabsf(v);', fin: () => 'acc' },
  ReduceL2: { init: '0.0f', acc: 'acc += v * v;', fin: () => 'sqrtf(acc)' },
  ReduceLogSum: { init: '0.0f', acc: 'acc += v;', fin: () => 'logf(acc)' },
  // m + log(sum of e^(v - m)), m the running maximum (the sum is rescaled when it grows): e^v alone overflows above
  // about 88 and underflows below about -104.
  ReduceLogSumExp: {
    init: '0.0f, m = -INFINITY',
    acc: 'if (v > m) { acc = acc * expf(m - v) + 1.0f; m = v; } else if (v == m) acc += 1.0f; else acc += expf(v - m);',
    fin: () => 'm + logf(acc)',
  },
  ReduceSumSquare: { init: '0.0f', acc: 'acc += v * v;', fin: () => 'acc' },
};

/**
 * The reductions ONNX defines on integers, in the element type: sums and products wrap as two's
 * complement; an empty Max gives the type's smallest value and an empty Min its largest; Mean
 * divides the sum by the count, truncating (as ONNX Runtime). bool takes Max and Min (any, all).
 */
const INTEGER_KINDS: Partial<Record<Kind, { init: (d: DType) => string; acc: (d: DType) => string; fin?: (n: number) => string }>> = {
  ReduceSum: { init: () => '0', acc: (d) => `acc = ${cArith(d, '+', 'acc', 'v')};` },
  ReduceMean: { init: () => '0', acc: (d) => `acc = ${cArith(d, '+', 'acc', 'v')};`, fin: (n) => (n ? `acc / ${n}` : '0') },
  ReduceProd: { init: () => '1', acc: (d) => `acc = ${cArith(d, '*', 'acc', 'v')};` },
  ReduceSumSquare: { init: () => '0', acc: (d) => `acc = ${cArith(d, '+', 'acc', cArith(d, '*', 'v', 'v'))};` },
  ReduceL1: { init: () => '0', acc: (d) => `acc = ${cArith(d, '+', 'acc', isUnsigned(d) ? 'v' : `v < 0 ? ${cArith(d, '-', '0', 'v')} : v`)};` },
  ReduceMax: { init: (d) => (d === 'bool' ? '0' : cInt(d, intRange(d)[0])), acc: () => 'acc = v > acc ? v : acc;' },
  ReduceMin: { init: (d) => (d === 'bool' ? '1' : cInt(d, intRange(d)[1])), acc: () => 'acc = v < acc ? v : acc;' },
};

/** Axes from the attribute (older opsets) or the second input (ReduceSum 13+, the rest 18+). */
function axesOf(lookup: (name: string) => Tensor, node: Node, rank: number): number[] {
  const fromInput = node.inputs[1] ? toNumbers(lookup(node.inputs[1])) : undefined;
  const axes = fromInput ?? attrInts(node, 'axes');
  if (!axes || axes.length === 0) return attrInt(node, 'noop_with_empty_axes', 0) ? [] : [...Array(rank).keys()];
  return axes.map((a) => normAxis(a, rank, node));
}

function reduce(type: Kind): OpDef {
  return {
    type,
    infer(ctx, node) {
      const x = ctx.required(node, 0);
      const int = INTEGER_KINDS[type];
      const takes = x.dtype === 'float32' || (int && (isInteger(x.dtype) || (x.dtype === 'bool' && (type === 'ReduceMax' || type === 'ReduceMin') && ctx.opset >= 20)));
      const kinds = ['float32', ...(int ? ['the integer types'] : []), ...(type === 'ReduceMax' || type === 'ReduceMin' ? ['from opset 20, bool'] : [])];
      if (!takes) throw new CompileError('unsupported', `${node.op} ${node.name}: ${x.dtype} is not supported (it takes ${kinds.join(', ')})`);
      const axesT = ctx.input(node, 1);
      const axesInputFrom = type === 'ReduceSum' ? 13 : 18;
      if (axesT && ctx.opset < axesInputFrom) throw new CompileError('invalid', `${type} ${node.name}: axes is an input from opset ${axesInputFrom}; at opset ${ctx.opset} it is the "axes" attribute`);
      if (axesT && !axesT.data) throw new CompileError('unsupported', `${type} ${node.name}: axes must be a constant`);
      const axes = axesOf((n) => ctx.graph.tensors.get(n)!, node, x.shape.length);
      const keep = attrInt(node, 'keepdims', 1) === 1;
      const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
      ctx.output(node, 0, { dtype: x.dtype, shape });
    },
    emit(ctx, node) {
      const x = ctx.tensor(node.inputs[0]);
      const axes = axesOf((n) => ctx.tensor(n), node, x.shape.length);
      const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const reduced = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
      const xs = stridesOf(x.shape);
      const ks = stridesOf(kept);
      const count = numel(reduced);
      const X = ctx.ref(node.inputs[0]);
      const Y = ctx.ref(node.outputs[0]);
      const int = x.dtype !== 'float32' ? INTEGER_KINDS[type]! : undefined;
      const T = int ? C_TYPE[x.dtype] : 'float';
      const init = int ? int.init(x.dtype) : REDUCE_KINDS[type].init;
      const acc = int ? int.acc(x.dtype) : REDUCE_KINDS[type].acc;
      const fin = int ? (int.fin?.(count) ?? 'acc') : REDUCE_KINDS[type].fin(count);
      return loops(kept, (o) => {
        const inner = loops(reduced, (r) => `const ${T} v = ${X}[${offset(o.map((v, k) => (axes.includes(k) ? r[k] : v)), xs)}]; ${acc}`, 'r');
        return `${T} acc = ${init};\n${inner}\n${Y}[${offset(o, ks)}] = ${fin};`;
      });
    },
  };
}

/** ArgMax and ArgMin along one axis, as int64 indices (first or last of equal values). */
function arg(type: 'ArgMax' | 'ArgMin'): OpDef {
  return {
    type,
    infer(ctx, node) {
      const x = ctx.required(node, 0);
      if (!NUMERIC.has(x.dtype)) throw new CompileError('unsupported', `${type} ${node.name}: ${x.dtype} is not supported`);
      const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
      const keep = attrInt(node, 'keepdims', 1) === 1;
      ctx.output(node, 0, { dtype: 'int64', shape: x.shape.flatMap((d, i) => (i === axis ? (keep ? [1] : []) : [d])) });
    },
    emit(ctx, node) {
      const x = ctx.tensor(node.inputs[0]);
      const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
      const outer = numel(x.shape.slice(0, axis));
      const len = x.shape[axis];
      const inner = numel(x.shape.slice(axis + 1));
      const last = attrInt(node, 'select_last_index', 0) === 1;
      const better = type === 'ArgMax' ? (last ? '>=' : '>') : last ? '<=' : '<';
      return `for (long o = 0; o < ${outer}; o++) for (long in = 0; in < ${inner}; in++) {
  const ${C_TYPE[x.dtype]} *p = ${ctx.ref(node.inputs[0])} + o * ${len * inner} + in;
  long best = 0;
  for (long j = 1; j < ${len}; j++) if (p[j * ${inner}] ${better} p[best * ${inner}]) best = j;
  ${ctx.ref(node.outputs[0])}[o * ${inner} + in] = best;
}`;
    },
  };
}

export const REDUCE_OPS: OpDef[] = [
  ...(['ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'] as const).map(reduce),
  arg('ArgMax'),
  arg('ArgMin'),
];
