import { CompileError, Node, numel } from '../ir';
import { requireIndexType } from './arith';
import { attrInt, OpDef, stridesOf } from './op';

/** ReverseSequence's batch and time axes (0 and 1, in either order). */
function axesOf(node: Node, rank: number): { batch: number; time: number } {
  const batch = attrInt(node, 'batch_axis', 1);
  const time = attrInt(node, 'time_axis', 0);
  if (rank < 2) throw new CompileError('invalid', `ReverseSequence ${node.name}: the input must have rank 2 or more, not ${rank}`);
  if ((batch !== 0 && batch !== 1) || (time !== 0 && time !== 1) || batch === time) throw new CompileError('invalid', `ReverseSequence ${node.name}: batch_axis ${batch} and time_axis ${time} must be 0 and 1, in either order`);
  return { batch, time };
}

/**
 * ReverseSequence: for each batch entry b, the first sequence_lens[b] steps along the time axis
 * reversed, the rest copied. The lengths are read at run time; one below 0 or beyond the time
 * axis ends the run with RUN_ERRORS.indexOutOfRange.
 */
const reverseSequence: OpDef = {
  type: 'ReverseSequence',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const lens = ctx.required(node, 1);
    const { batch } = axesOf(node, x.shape.length);
    requireIndexType(node, lens.dtype, 'sequence_lens');
    if (lens.shape.length !== 1 || lens.shape[0] !== x.shape[batch]) throw new CompileError('invalid', `ReverseSequence ${node.name}: sequence_lens must have shape [${x.shape[batch]}], not [${lens.shape}]`);
    ctx.output(node, 0, { dtype: x.dtype, shape: [...x.shape] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const { batch, time } = axesOf(node, x.shape.length);
    const s = stridesOf(x.shape);
    const [B, T] = [x.shape[batch], x.shape[time]];
    const inner = numel(x.shape.slice(2));
    if (!numel(x.shape)) return '';
    const X = ctx.ref(node.inputs[0]);
    const Y = ctx.ref(node.outputs[0]);
    return `for (long b = 0; b < ${B}; b++) {
  const int64_t len = (int64_t)${ctx.ref(node.inputs[1])}[b];
  if (len < 0 || len > ${T}) ${ctx.indexOutOfRange()}
  for (long t = 0; t < ${T}; t++) {
    const long from = t < len ? (long)len - 1 - t : t;
    memcpy(${Y} + b * ${s[batch]} + t * ${s[time]}, ${X} + b * ${s[batch]} + from * ${s[time]}, sizeof(*${Y}) * ${inner});
  }
}`;
  },
};

export const REVERSE_OPS: OpDef[] = [reverseSequence];
