import { C_TYPE, cInt, CompileError, DType, intRange, isInteger, isUnsigned, Node, numel, Tensor, toNumbers } from '../ir';
import { cArith, NUMERIC } from './arith';
import { attrInt, attrInts, declaredShape, EmitContext, loops, normAxis, offset, OpDef, stridesOf } from './op';

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
  const t = node.inputs[1] ? lookup(node.inputs[1]) : undefined;
  const fromInput = t ? (numel(t.shape) === 0 ? [] : toNumbers(t)) : undefined;
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
      const takes = x.dtype === 'float32' || x.dtype === 'float64' || (int && (isInteger(x.dtype) || (x.dtype === 'bool' && (type === 'ReduceMax' || type === 'ReduceMin') && ctx.opset >= 20)));
      const kinds = ['float32', 'float64', ...(int ? ['the integer types'] : []), ...(type === 'ReduceMax' || type === 'ReduceMin' ? ['from opset 20, bool'] : [])];
      if (!takes) throw new CompileError('unsupported', `${node.op} ${node.name}: ${x.dtype} is not supported (it takes ${kinds.join(', ')})`);
      const axesT = ctx.input(node, 1);
      const axesInputFrom = type === 'ReduceSum' ? 13 : 18;
      if (axesT && ctx.opset < axesInputFrom) throw new CompileError('invalid', `${type} ${node.name}: axes is an input from opset ${axesInputFrom}; at opset ${ctx.opset} it is the "axes" attribute`);
      const keep = attrInt(node, 'keepdims', 1) === 1;
      if (runtimeAxes(axesT)) {
        const shape = declaredShape(ctx, node, 0, 'the axes');
        if (keep ? shape.length !== x.shape.length : shape.length > x.shape.length) throw new CompileError('invalid', `${type} ${node.name}: the declared output shape [${shape}] has a rank that no reduction of [${x.shape}] gives`);
        ctx.output(node, 0, { dtype: x.dtype, shape });
        return;
      }
      const axes = axesOf((n) => ctx.graph.tensors.get(n)!, node, x.shape.length);
      const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
      ctx.output(node, 0, { dtype: x.dtype, shape });
    },
    emit(ctx, node) {
      const x = ctx.tensor(node.inputs[0]);
      const axesT = node.inputs[1] ? ctx.tensor(node.inputs[1]) : undefined;
      if (runtimeAxes(axesT) || x.dtype === 'float64') return emitGeneral(ctx, node, type);
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

/** Whether a reduction's axes are an input whose values are known only at run time (not an empty one, whose meaning its shape gives). */
function runtimeAxes(axesT: Tensor | undefined): axesT is Tensor {
  return !!axesT && !axesT.data && numel(axesT.shape) > 0;
}

/** The float reductions in double, as `acc` joins `v` (LogSumExp after a pass for the maximum, `m`), and the final value. */
const DOUBLE_KINDS: Record<Kind, { init: string; acc: string; fin: string }> = {
  ReduceMean: { init: '0.0', acc: 'acc += v;', fin: 'count ? acc / (double)count : NAN' },
  ReduceSum: { init: '0.0', acc: 'acc += v;', fin: 'acc' },
  ReduceMax: { init: '-INFINITY', acc: 'acc = v > acc ? v : acc;', fin: 'acc' },
  ReduceMin: { init: 'INFINITY', acc: 'acc = v < acc ? v : acc;', fin: 'acc' },
  ReduceProd: { init: '1.0', acc: 'acc *= v;', fin: 'acc' },
  ReduceL1: { init: '0.0', acc: 'acc += fabs(v);', fin: 'acc' },
  ReduceL2: { init: '0.0', acc: 'acc += v * v;', fin: 'sqrt(acc)' },
  ReduceLogSum: { init: '0.0', acc: 'acc += v;', fin: 'log(acc)' },
  ReduceLogSumExp: { init: '0.0', acc: 'acc += exp(v - m);', fin: 'm + log(acc)' },
  ReduceSumSquare: { init: '0.0', acc: 'acc += v * v;', fin: 'acc' },
};

/**
 * A reduction whose axes may be read at run time: each axis is checked (out of range ends the run
 * with the index error), the shape they give is checked against the output's, which the model
 * declares (another ends the run with the shape error), then every input element joins its
 * output's accumulator through strides computed from the axes. Floats accumulate in double.
 */
function emitGeneral(ctx: EmitContext, node: Node, type: Kind): string {
  const x = ctx.tensor(node.inputs[0]);
  const y = ctx.tensor(node.outputs[0]);
  const axesT = node.inputs[1] ? ctx.tensor(node.inputs[1]) : undefined;
  const R = x.shape.length;
  const keep = attrInt(node, 'keepdims', 1) === 1 ? 1 : 0;
  const X = ctx.ref(node.inputs[0]);
  const Y = ctx.ref(node.outputs[0]);
  const float = x.dtype === 'float32' || x.dtype === 'float64';
  const int = INTEGER_KINDS[type];
  const A = float ? 'double' : C_TYPE[x.dtype];
  const k = float ? DOUBLE_KINDS[type] : { init: int!.init(x.dtype), acc: int!.acc(x.dtype), fin: type === 'ReduceMean' ? 'count ? acc / count : 0' : 'acc' };
  const ON = Math.max(1, numel(y.shape));
  const setAxes = runtimeAxes(axesT)
    ? `for (long j = 0; j < ${numel(axesT.shape)}; j++) { int64_t a = (int64_t)${ctx.ref(axesT.name)}[j]; if (a < 0) a += ${R}; if (a < 0 || a >= ${R}) ${ctx.indexOutOfRange()} red[a] = 1; }`
    : axesOf((n) => ctx.tensor(n), node, R).map((a) => `red[${a}] = 1;`).join(' ');
  const xs = stridesOf(x.shape);
  const pass = (body: string) => loops(x.shape, (idx) => `{ const long o = ${idx.map((v, d) => `${v} * ost[${d}]`).join(' + ') || '0'}; const ${A} v = (${A})${X}[${offset(idx, xs)}]; ${body} }`);
  const lse = type === 'ReduceLogSumExp' && float;
  return `{
  int red[${Math.max(1, R)}] = {0};
  ${setAxes}
  static const long dims[${Math.max(1, R)}] = { ${x.shape.join(', ') || '0'} };
  static const long out[${Math.max(1, y.shape.length)}] = { ${y.shape.join(', ') || '0'} };
  long ost[${Math.max(1, R)}] = {0}, count = 1, s = 1;
  int q = ${y.shape.length};
  for (int d = ${R - 1}; d >= 0; d--) {
    if (red[d]) { count *= dims[d]; if (${keep} && (--q < 0 || out[q] != 1)) ${ctx.shapeMismatch()} }
    else { if (--q < 0 || out[q] != dims[d]) ${ctx.shapeMismatch()} ost[d] = s; s *= dims[d]; }
  }
  if (q != 0) ${ctx.shapeMismatch()}
  static ${A} kacc[${ON}];${lse ? `\n  static double kmax[${ON}];\n  for (long o = 0; o < ${ON}; o++) kmax[o] = -INFINITY;\n  ${pass('if (v > kmax[o]) kmax[o] = v;')}` : ''}
  for (long o = 0; o < ${ON}; o++) kacc[o] = ${k.init};
  ${pass(`${lse ? 'const double m = kmax[o]; ' : ''}${A} acc = kacc[o]; ${k.acc} kacc[o] = acc;`)}
  for (long o = 0; o < ${numel(y.shape)}; o++) { ${lse ? 'const double m = kmax[o]; ' : ''}const ${A} acc = kacc[o]; ${Y}[o] = (${C_TYPE[y.dtype]})(${k.fin}); }
  (void)count;
}`;
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
