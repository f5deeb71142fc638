import { CompileError, numel } from '../ir';
import { attrFloat, attrInt, flt, normAxis, OpDef } from './op';

/**
 * LRN: each element divided by (bias + alpha / size * the sum of squares over the `size`
 * channels around it)^beta, the window running from c - floor((size - 1) / 2) to
 * c + ceil((size - 1) / 2), cut at the first and last channels.
 */
const lrn: OpDef = {
  type: 'LRN',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `LRN ${node.name}: only float32 is supported, not ${x.dtype}`);
    if (x.shape.length < 3) throw new CompileError('invalid', `LRN ${node.name}: the input must have a batch, a channel and at least one spatial axis, got rank ${x.shape.length}`);
    const size = attrInt(node, 'size', 0);
    if (!(size >= 1)) throw new CompileError('invalid', `LRN ${node.name}: size must be at least 1, not ${size}`);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const [N, C] = x.shape;
    const S = numel(x.shape.slice(2));
    const size = attrInt(node, 'size', 1);
    const alpha = attrFloat(node, 'alpha', 0.0001);
    const beta = attrFloat(node, 'beta', 0.75);
    const bias = attrFloat(node, 'bias', 1);
    const before = Math.floor((size - 1) / 2);
    const after = Math.ceil((size - 1) / 2);
    const X = ctx.ref(node.inputs[0]);
    return `for (long n = 0; n < ${N}; n++) for (long c = 0; c < ${C}; c++) {
  const long lo = c - ${before} < 0 ? 0 : c - ${before};
  const long hi = c + ${after} > ${C - 1} ? ${C - 1} : c + ${after};
  for (long s = 0; s < ${S}; s++) {
    float sum = 0.0f;
    for (long j = lo; j <= hi; j++) { const float v = ${X}[(n * ${C} + j) * ${S} + s]; sum += v * v; }
    const long i = (n * ${C} + c) * ${S} + s;
    ${ctx.ref(node.outputs[0])}[i] = ${X}[i] / powf(${flt(bias)} + ${flt(alpha / size)} * sum, ${flt(beta)});
  }
}`;
  },
};

/** LpNormalization: each vector along `axis` (default -1) divided by its 1- or 2-norm; a vector of norm 0 gives zeros. */
const lpNormalization: OpDef = {
  type: 'LpNormalization',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `LpNormalization ${node.name}: only float32 is supported, not ${x.dtype}`);
    normAxis(attrInt(node, 'axis', -1), x.shape.length, node);
    const p = attrInt(node, 'p', 2);
    if (p !== 1 && p !== 2) throw new CompileError('invalid', `LpNormalization ${node.name}: p must be 1 or 2, not ${p}`);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const axis = normAxis(attrInt(node, 'axis', -1), x.shape.length, node);
    const p = attrInt(node, 'p', 2);
    const outer = numel(x.shape.slice(0, axis));
    const len = x.shape[axis];
    const inner = numel(x.shape.slice(axis + 1));
    if (!numel(x.shape)) return '';
    const X = ctx.ref(node.inputs[0]);
    const Y = ctx.ref(node.outputs[0]);
    const at = (j: string) => `o * ${len * inner} + ${j} * ${inner} + in`;
    return `for (long o = 0; o < ${outer}; o++) for (long in = 0; in < ${inner}; in++) {
  float s = 0.0f;
  for (long j = 0; j < ${len}; j++) { const float v = ${X}[${at('j')}]; s += ${p === 1 ? 'fabsf(v)' : 'v * v'}; }
  const float norm = ${p === 1 ? 's' : 'sqrtf(s)'};
  for (long j = 0; j < ${len}; j++) ${Y}[${at('j')}] = norm == 0.0f ? 0.0f : ${X}[${at('j')}] / norm;
}`;
  },
};

export const AXISNORM_OPS: OpDef[] = [lrn, lpNormalization];
