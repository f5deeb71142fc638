import { CompileError, makeArray, Node, numel, Tensor, toNumbers } from '../ir';
import { cArith, jsArith, NUMERIC, values, zeroOf } from './arith';
import { attrInt, normAxis, OpDef } from './op';

/** CumSum's axis: an input (int32 or int64, one value) that must be known at compile time. */
function cumsumAxis(node: Node, x: Tensor, axisT: Tensor): number {
  if (axisT.dtype !== 'int64' && axisT.dtype !== 'int32') throw new CompileError('invalid', `CumSum ${node.name}: axis must be int64 or int32, not ${axisT.dtype}`);
  if (!axisT.data) throw new CompileError('unsupported', `CumSum ${node.name}: the axis (${axisT.name}) must be known at compile time`);
  if (axisT.data.length !== 1) throw new CompileError('invalid', `CumSum ${node.name}: axis must hold one value, not ${axisT.data.length}`);
  if (x.shape.length === 0) throw new CompileError('invalid', `CumSum ${node.name}: the input must have rank 1 or more`);
  return normAxis(toNumbers(axisT)[0], x.shape.length, node);
}

/**
 * CumSum along one axis, inclusive or exclusive (the sum of the elements before), forwards or in
 * reverse: each sum is the one before plus the next element, in the element type, as ONNX
 * Runtime adds them (integers wrap).
 */
const cumsum: OpDef = {
  type: 'CumSum',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (!NUMERIC.has(x.dtype)) throw new CompileError('unsupported', `CumSum ${node.name}: ${x.dtype} tensors are not supported`);
    const axis = cumsumAxis(node, x, ctx.required(node, 1));
    let data;
    if (x.data) {
      const exclusive = attrInt(node, 'exclusive', 0) === 1;
      const reverse = attrInt(node, 'reverse', 0) === 1;
      const D = x.shape[axis];
      const inner = numel(x.shape.slice(axis + 1));
      const outer = numel(x.shape.slice(0, axis));
      data = makeArray(x.dtype, numel(x.shape));
      const y = values(data);
      const v = values(x.data);
      const add = jsArith(x.dtype, '+');
      const zero = zeroOf(x.dtype);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let prev = -1;
          for (let d = 0; d < D; d++) {
            const p = (o * D + (reverse ? D - 1 - d : d)) * inner + i;
            y[p] = prev < 0 ? (exclusive ? zero : v[p]) : add(y[prev], exclusive ? v[prev] : v[p]);
            prev = p;
          }
        }
      }
    }
    ctx.output(node, 0, { dtype: x.dtype, shape: [...x.shape], data });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const axis = cumsumAxis(node, x, ctx.tensor(node.inputs[1]));
    const exclusive = attrInt(node, 'exclusive', 0) === 1;
    const reverse = attrInt(node, 'reverse', 0) === 1;
    const D = x.shape[axis];
    const inner = numel(x.shape.slice(axis + 1));
    const outer = numel(x.shape.slice(0, axis));
    if (!numel(x.shape)) return '';
    const X = ctx.ref(node.inputs[0]);
    const Y = ctx.ref(node.outputs[0]);
    // Row d of each outer block, in the order the sums run; the first row is the input's (or zero when exclusive).
    const row = (d: string) => `(o * ${D} + ${reverse ? `${D - 1} - ${d}` : d}) * ${inner}`;
    const first = exclusive ? `${Y}[p + i] = 0;` : `${Y}[p + i] = ${X}[p + i];`;
    const next = cArith(x.dtype, '+', `${Y}[q + i]`, exclusive ? `${X}[q + i]` : `${X}[p + i]`);
    return `for (long o = 0; o < ${outer}; o++) {
  long p = ${row('0')};
  for (long i = 0; i < ${inner}; i++) ${first}
  for (long d = 1; d < ${D}; d++) {
    const long q = p;
    p = ${row('d')};
    for (long i = 0; i < ${inner}; i++) ${Y}[p + i] = ${next};
  }
}`;
  },
};

export const CUMSUM_OPS: OpDef[] = [cumsum];
