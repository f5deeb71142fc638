import { CompileError, numel, toNumbers } from '../ir';
import { foldConstant } from '../fold';
import { loops, offset, OpDef, stridesOf } from './op';

/** Tile: the input repeated along each axis (repeats a constant); folded when the input is one too. */
const tile: OpDef = {
  type: 'Tile',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const r = ctx.required(node, 1);
    if (!r.data) throw new CompileError('unsupported', `Tile ${node.name}: the repeats must be known at compile time`);
    const reps = toNumbers(r);
    if (reps.length !== x.shape.length || reps.some((v) => !Number.isInteger(v) || v < 0)) {
      throw new CompileError('invalid', `Tile ${node.name}: repeats [${reps}] must be ${x.shape.length} counts of zero or more, one per axis of the input`);
    }
    const shape = x.shape.map((d, k) => d * reps[k]);
    const folded = x.data ? foldConstant(node, [x, r], ctx.opset) : undefined;
    ctx.output(node, 0, folded?.[0] ?? { dtype: x.dtype, shape });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const out = ctx.tensor(node.outputs[0]);
    if (numel(out.shape) === 0) return '';
    const xs = stridesOf(x.shape);
    // Output index i_k reads input index i_k mod d_k: loops over the output, the modulo per axis.
    return loops(out.shape, (idx) => `${ctx.ref(node.outputs[0])}[${offset(idx, stridesOf(out.shape))}] = ${ctx.ref(node.inputs[0])}[${idx.map((v, k) => (x.shape[k] === out.shape[k] ? `${v} * ${xs[k]}` : x.shape[k] === 1 ? '' : `(${v} % ${x.shape[k]}) * ${xs[k]}`)).filter(Boolean).join(' + ') || '0'}];`);
  },
};

export const TILE_OPS: OpDef[] = [tile];
