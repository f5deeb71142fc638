import { CompileError, makeArray, Node, numel, Tensor, toNumbers } from '../ir';
import { cArith, jsArith, NUMERIC, values, zeroOf } from './arith';
import { attrInt, EmitContext, normAxis, OpDef } from './op';

type Cumulative = 'CumSum' | 'CumProd';

/** The axis input (int32 or int64, one value): checked, or undefined when it is read at run time. */
function cumAxis(node: Node, x: Tensor, axisT: Tensor): number | undefined {
  if (axisT.dtype !== 'int64' && axisT.dtype !== 'int32') throw new CompileError('invalid', `${node.op} ${node.name}: axis must be int64 or int32, not ${axisT.dtype}`);
  if (numel(axisT.shape) !== 1) throw new CompileError('invalid', `${node.op} ${node.name}: axis must hold one value, not ${numel(axisT.shape)}`);
  if (x.shape.length === 0) throw new CompileError('invalid', `${node.op} ${node.name}: the input must have rank 1 or more`);
  return axisT.data ? normAxis(toNumbers(axisT)[0], x.shape.length, node) : undefined;
}

/** The identity of the accumulation, as a constant of the type holds it. */
function unit(op: Cumulative, x: Tensor) {
  if (op === 'CumSum') return zeroOf(x.dtype);
  return typeof zeroOf(x.dtype) === 'bigint' ? 1n : 1;
}

/**
 * The C of a cumulative sum or product along one axis: `outer`, `D` and `inner` are C
 * expressions (literals, or variables when the axis is read at run time).
 */
function cumC(ctx: EmitContext, node: Node, op: Cumulative, outer: string, D: string, inner: string): string {
  const x = ctx.tensor(node.inputs[0]);
  const exclusive = attrInt(node, 'exclusive', 0) === 1;
  const reverse = attrInt(node, 'reverse', 0) === 1;
  const X = ctx.ref(node.inputs[0]);
  const Y = ctx.ref(node.outputs[0]);
  // Row d of each outer block, in the order the accumulation runs; the first row is the input's (or the identity when exclusive).
  const row = (d: string) => `(o * ${D} + ${reverse ? `${D} - 1 - ${d}` : d}) * ${inner}`;
  const first = exclusive ? `${Y}[p + i] = ${op === 'CumSum' ? 0 : 1};` : `${Y}[p + i] = ${X}[p + i];`;
  const next = cArith(x.dtype, op === 'CumSum' ? '+' : '*', `${Y}[q + i]`, exclusive ? `${X}[q + i]` : `${X}[p + i]`);
  return `for (long o = 0; o < ${outer}; o++) {
  long p = ${row('0')};
  for (long i = 0; i < ${inner}; i++) ${first}
  for (long d = 1; d < ${D}; d++) {
    const long q = p;
    p = ${row('d')};
    for (long i = 0; i < ${inner}; i++) ${Y}[p + i] = ${next};
  }
}`;
}

/**
 * CumSum and CumProd along one axis, inclusive or exclusive (of the elements before), forwards or
 * in reverse: each result is the one before combined with the next element, in the element type,
 * as ONNX Runtime does it (integers wrap). The axis may be read at run time: the output's shape
 * does not depend on it, and one out of range ends the run with RUN_ERRORS.indexOutOfRange.
 */
function cumulative(op: Cumulative): OpDef {
  return {
    type: op,
    infer(ctx, node) {
      const x = ctx.required(node, 0);
      if (!NUMERIC.has(x.dtype)) throw new CompileError('unsupported', `${op} ${node.name}: ${x.dtype} tensors are not supported`);
      const axis = cumAxis(node, x, ctx.required(node, 1));
      let data;
      if (x.data && axis !== undefined) {
        const exclusive = attrInt(node, 'exclusive', 0) === 1;
        const reverse = attrInt(node, 'reverse', 0) === 1;
        const D = x.shape[axis];
        const inner = numel(x.shape.slice(axis + 1));
        const outer = numel(x.shape.slice(0, axis));
        data = makeArray(x.dtype, numel(x.shape));
        const y = values(data);
        const v = values(x.data);
        const combine = jsArith(x.dtype, op === 'CumSum' ? '+' : '*');
        const first = unit(op, x);
        for (let o = 0; o < outer; o++) {
          for (let i = 0; i < inner; i++) {
            let prev = -1;
            for (let d = 0; d < D; d++) {
              const p = (o * D + (reverse ? D - 1 - d : d)) * inner + i;
              y[p] = prev < 0 ? (exclusive ? first : v[p]) : combine(y[prev], exclusive ? v[prev] : v[p]);
              prev = p;
            }
          }
        }
      }
      ctx.output(node, 0, { dtype: x.dtype, shape: [...x.shape], data });
    },
    emit(ctx, node) {
      const x = ctx.tensor(node.inputs[0]);
      if (!numel(x.shape)) return '';
      const axisT = ctx.tensor(node.inputs[1]);
      const axis = cumAxis(node, x, axisT);
      if (axis !== undefined) return cumC(ctx, node, op, `${numel(x.shape.slice(0, axis))}`, `${x.shape[axis]}`, `${numel(x.shape.slice(axis + 1))}`);
      const r = x.shape.length;
      return `static const long dims[${r}] = { ${x.shape.join(', ')} };
int64_t axis = (int64_t)${ctx.ref(node.inputs[1])}[0];
if (axis < 0) axis += ${r};
if (axis < 0 || axis >= ${r}) ${ctx.indexOutOfRange()}
long outer = 1, inner = 1;
for (int64_t k = 0; k < axis; k++) outer *= dims[k];
for (int64_t k = axis + 1; k < ${r}; k++) inner *= dims[k];
const long D = dims[axis];
${cumC(ctx, node, op, 'outer', 'D', 'inner')}`;
    },
  };
}

export const CUMSUM_OPS: OpDef[] = [cumulative('CumSum'), cumulative('CumProd')];
