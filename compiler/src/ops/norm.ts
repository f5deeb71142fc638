import { CompileError, numel } from '../ir';
import { attrFloat, attrInt, flt, normAxis, OpDef } from './op';

/** Inference-time batch normalization over the channel axis (1). */
const batchNorm: OpDef = {
  type: 'BatchNormalization',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${x.dtype}`);
    if (node.outputs.slice(1).some(Boolean)) throw new CompileError('unsupported', `BatchNormalization ${node.name}: training-mode outputs are not supported`);
    for (let i = 1; i < 5; i++) if (ctx.required(node, i).shape.join() !== String(x.shape[1])) throw new CompileError('invalid', `BatchNormalization ${node.name}: input ${i} must have ${x.shape[1]} elements`);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const C = x.shape[1];
    const inner = numel(x.shape.slice(2));
    const outer = x.shape[0];
    const [X, S, B, M, V] = node.inputs.map((n) => ctx.ref(n));
    const eps = flt(attrFloat(node, 'epsilon', 1e-5));
    return `for (long n = 0; n < ${outer}; n++) for (long c = 0; c < ${C}; c++) {
  const float k = ${S}[c] / sqrtf(${V}[c] + ${eps});
  const float d = ${B}[c] - ${M}[c] * k;
  const float *xc = ${X} + (n * ${C} + c) * ${inner};
  float *yc = ${ctx.ref(node.outputs[0])} + (n * ${C} + c) * ${inner};
  for (long i = 0; i < ${inner}; i++) yc[i] = xc[i] * k + d;
}`;
  },
};

/** LayerNormalization over the trailing axes from `axis` (opset 17). */
const layerNorm: OpDef = {
  type: 'LayerNormalization',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${x.dtype}`);
    if (node.outputs.slice(1).some(Boolean)) throw new CompileError('unsupported', `LayerNormalization ${node.name}: the Mean and InvStdDev outputs are not supported`);
    normAxis(attrInt(node, 'axis', -1), x.shape.length, node);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const axis = normAxis(attrInt(node, 'axis', -1), x.shape.length, node);
    const outer = numel(x.shape.slice(0, axis));
    const inner = numel(x.shape.slice(axis));
    const scale = ctx.tensor(node.inputs[1]);
    const sn = numel(scale.shape);
    const bias = node.inputs[2] ? ctx.ref(node.inputs[2]) : null;
    const bn = node.inputs[2] ? numel(ctx.tensor(node.inputs[2]).shape) : 1;
    const X = ctx.ref(node.inputs[0]);
    const Y = ctx.ref(node.outputs[0]);
    const eps = flt(attrFloat(node, 'epsilon', 1e-5));
    if (ctx.fast && inner > 0) {
      ctx.kernels();
      return `kiln_layernorm_rows(${X}, ${Y}, ${outer}, ${inner}, ${ctx.ref(node.inputs[1])}, ${sn}, ${bias ?? '0'}, ${bn}, ${eps});`;
    }
    return `for (long o = 0; o < ${outer}; o++) {
  const float *xo = ${X} + o * ${inner};
  float *yo = ${Y} + o * ${inner};
  float mean = 0.0f, var = 0.0f;
  for (long i = 0; i < ${inner}; i++) mean += xo[i];
  mean /= ${inner}.0f;
  for (long i = 0; i < ${inner}; i++) { const float d = xo[i] - mean; var += d * d; }
  var /= ${inner}.0f;
  const float inv = 1.0f / sqrtf(var + ${eps});
  for (long i = 0; i < ${inner}; i++) yo[i] = (xo[i] - mean) * inv * ${ctx.ref(node.inputs[1])}[i % ${sn}]${bias ? ` + ${bias}[i % ${bn}]` : ''};
}`;
  },
};

export const NORM_OPS: OpDef[] = [batchNorm, layerNorm];
