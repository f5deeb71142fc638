import { CompileError, numel } from '../ir';
import { attrInt, normAxis, OpDef } from './op';

/**
 * Softmax and LogSoftmax. From opset 13 along one axis (default -1); before, over the
 * flattened trailing dimensions from `axis` (default 1), as those opsets define it.
 */
function softmax(type: 'Softmax' | 'LogSoftmax'): OpDef {
  return {
    type,
    infer(ctx, node) {
      const x = ctx.required(node, 0);
      if (x.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${x.dtype}`);
      normAxis(attrInt(node, 'axis', ctx.opset >= 13 ? -1 : 1), x.shape.length, node);
      ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
    },
    emit(ctx, node) {
      const x = ctx.tensor(node.inputs[0]);
      const opset13 = ctx.opset;
      const axis = normAxis(attrInt(node, 'axis', opset13 >= 13 ? -1 : 1), x.shape.length, node);
      const legacy = opset13 < 13;
      const outer = numel(x.shape.slice(0, axis));
      const len = legacy ? numel(x.shape.slice(axis)) : x.shape[axis];
      const inner = legacy ? 1 : numel(x.shape.slice(axis + 1));
      const X = ctx.ref(node.inputs[0]);
      const Y = ctx.ref(node.outputs[0]);
      if (ctx.fast && inner === 1 && len > 0) {
        ctx.kernels();
        return `kiln_softmax_rows(${X}, ${Y}, ${outer}, ${len}, ${type === 'LogSoftmax' ? 1 : 0});`;
      }
      const at = (v: string) => `(o * ${len * inner} + ${v} * ${inner} + in)`;
      // The sum in double, then (x - max) - log(sum) for LogSoftmax: exact for large x, and within a few ulp of ONNX Runtime.
      const finish = type === 'Softmax' ? `${Y}[${at('j')}] = (float)(e[j] / s);` : `${Y}[${at('j')}] = (${X}[${at('j')}] - m) - ls;`;
      return `for (long o = 0; o < ${outer}; o++) for (long in = 0; in < ${inner}; in++) {
  static float e[${len}];
  float m = -INFINITY;
  double s = 0.0;
  for (long j = 0; j < ${len}; j++) { const float v = ${X}[${at('j')}]; m = v > m ? v : m; }
  for (long j = 0; j < ${len}; j++) { e[j] = expf(${X}[${at('j')}] - m); s += e[j]; }
  ${type === 'Softmax' ? '' : 'const float ls = (float)log(s);\n  '}for (long j = 0; j < ${len}; j++) ${finish}
}`;
    },
  };
}

/**
 * Hardmax: 1 where the first largest value of each row is, 0 elsewhere. From opset 13 the rows run
 * along one axis (default -1); before, over the flattened trailing dimensions from `axis` (default 1).
 */
const hardmax: OpDef = {
  type: 'Hardmax',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `Hardmax ${node.name}: only float32 is supported, not ${x.dtype}`);
    normAxis(attrInt(node, 'axis', ctx.opset >= 13 ? -1 : 1), x.shape.length, node);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const axis = normAxis(attrInt(node, 'axis', ctx.opset >= 13 ? -1 : 1), x.shape.length, node);
    const legacy = ctx.opset < 13;
    const outer = numel(x.shape.slice(0, axis));
    const len = legacy ? numel(x.shape.slice(axis)) : x.shape[axis];
    const inner = legacy ? 1 : numel(x.shape.slice(axis + 1));
    if (!numel(x.shape)) return '';
    const X = ctx.ref(node.inputs[0]);
    const Y = ctx.ref(node.outputs[0]);
    const at = (v: string) => `o * ${len * inner} + ${v} * ${inner} + in`;
    return `for (long o = 0; o < ${outer}; o++) for (long in = 0; in < ${inner}; in++) {
  long best = 0;
  for (long j = 1; j < ${len}; j++) if (${X}[${at('j')}] > ${X}[${at('best')}]) best = j;
  for (long j = 0; j < ${len}; j++) ${Y}[${at('j')}] = j == best ? 1.0f : 0.0f;
}`;
  },
};

export const SOFTMAX_OPS: OpDef[] = [softmax('Softmax'), softmax('LogSoftmax'), hardmax];
