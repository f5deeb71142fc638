import { CompileError, Node, numel } from '../ir';
import { attrFloat, attrInt, broadcastStrides, flt, normAxis, OpDef, stridesOf } from './op';

/**
 * BatchNormalization over the channel axis (1): with the given mean and variance, or, with
 * training_mode=1 (opset 14), with the batch's own (over every axis but the channel, in double),
 * when the optional outputs are the running mean and variance, the inputs' moved toward the
 * batch's by 1 - momentum. The older training outputs (before opset 14) are refused.
 */
const batchNorm: OpDef = {
  type: 'BatchNormalization',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${x.dtype}`);
    const training = attrInt(node, 'training_mode', 0) === 1;
    if (!training && node.outputs.slice(1).some(Boolean)) throw new CompileError('unsupported', `BatchNormalization ${node.name}: training-mode outputs are supported from opset 14 (training_mode=1), not these`);
    if (x.shape.length < 2) throw new CompileError('invalid', `BatchNormalization ${node.name}: the input must have rank 2 or more (N, C, ...), not ${x.shape.length}`);
    for (let i = 1; i < 5; i++) if (ctx.required(node, i).shape.join() !== String(x.shape[1])) throw new CompileError('invalid', `BatchNormalization ${node.name}: input ${i} must have ${x.shape[1]} elements`);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
    for (const i of [1, 2]) if (node.outputs[i]) ctx.output(node, i, { dtype: 'float32', shape: [x.shape[1]] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const C = x.shape[1];
    const inner = numel(x.shape.slice(2));
    const outer = x.shape[0];
    const [X, S, B, M, V] = node.inputs.map((n) => ctx.ref(n));
    const eps = flt(attrFloat(node, 'epsilon', 1e-5));
    const Y = ctx.ref(node.outputs[0]);
    if (attrInt(node, 'training_mode', 0) === 1) {
      const momentum = attrFloat(node, 'momentum', 0.9);
      const count = outer * inner;
      const running = [1, 2].map((i) => (node.outputs[i] ? ctx.ref(node.outputs[i]) : undefined));
      if (!count) return '';
      return `for (long c = 0; c < ${C}; c++) {
  double mean = 0.0, var = 0.0;
  for (long n = 0; n < ${outer}; n++) { const float *xc = ${X} + (n * ${C} + c) * ${inner}; for (long i = 0; i < ${inner}; i++) mean += xc[i]; }
  mean /= ${count}.0;
  for (long n = 0; n < ${outer}; n++) { const float *xc = ${X} + (n * ${C} + c) * ${inner}; for (long i = 0; i < ${inner}; i++) { const double d = xc[i] - mean; var += d * d; } }
  var /= ${count}.0;
  const double k = ${S}[c] / sqrt(var + (double)${eps});
  for (long n = 0; n < ${outer}; n++) {
    const float *xc = ${X} + (n * ${C} + c) * ${inner};
    float *yc = ${Y} + (n * ${C} + c) * ${inner};
    for (long i = 0; i < ${inner}; i++) yc[i] = (float)((xc[i] - mean) * k + ${B}[c]);
  }${running[0] ? `
  ${running[0]}[c] = (float)(${M}[c] * ${momentum} + mean * (1.0 - ${momentum}));` : ''}${running[1] ? `
  ${running[1]}[c] = (float)(${V}[c] * ${momentum} + var * (1.0 - ${momentum}));` : ''}
}`;
    }
    return `for (long n = 0; n < ${outer}; n++) for (long c = 0; c < ${C}; c++) {
  const float k = ${S}[c] / sqrtf(${V}[c] + ${eps});
  const float d = ${B}[c] - ${M}[c] * k;
  const float *xc = ${X} + (n * ${C} + c) * ${inner};
  float *yc = ${Y} + (n * ${C} + c) * ${inner};
  for (long i = 0; i < ${inner}; i++) yc[i] = xc[i] * k + d;
}`;
  },
};

/**
 * LayerNormalization over the trailing axes from `axis` (opset 17), with the optional Mean and
 * InvStdDev outputs (float32, of X's leading dims then ones), taken in double when asked for.
 * stash_type 1 (float) only.
 */
const layerNorm: OpDef = {
  type: 'LayerNormalization',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 (float16 and bfloat16 held as float32) is supported, not ${x.dtype}`);
    const stash = attrInt(node, 'stash_type', 1);
    if (stash !== 1) throw new CompileError('unsupported', `LayerNormalization ${node.name}: stash_type ${stash} is not supported (1, float, is)`);
    const axis = normAxis(attrInt(node, 'axis', -1), x.shape.length, node);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
    // Mean and InvStdDev are float (stash_type 1) whatever X's format.
    for (const i of [1, 2]) if (node.outputs[i]) ctx.output(node, i, { dtype: 'float32', shape: x.shape.map((d, k) => (k < axis ? d : 1)), half: undefined });
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
    const [meanOut, invOut] = [1, 2].map((i) => (node.outputs[i] ? ctx.ref(node.outputs[i]) : undefined));
    if (meanOut || invOut) {
      if (!inner) return '';
      return `for (long o = 0; o < ${outer}; o++) {
  const float *x = ${X} + o * ${inner};
  float *y = ${Y} + o * ${inner};
${momentsC('x', inner).replace(/^/gm, '  ')}
  const double inv = 1.0 / sqrt(var + (double)${eps});${meanOut ? `
  ${meanOut}[o] = (float)mean;` : ''}${invOut ? `
  ${invOut}[o] = (float)inv;` : ''}
  for (long i = 0; i < ${inner}; i++) y[i] = (float)((x[i] - mean) * inv) * ${ctx.ref(node.inputs[1])}[i % ${sn}]${bias ? ` + ${bias}[i % ${bn}]` : ''};
}`;
    }
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

/**
 * C that declares `mean` and `var` (doubles): the mean and the (population) variance of the `n`
 * floats at `x`, in two passes accumulated in double (four partial sums each), so that long rows
 * (an audio frame of 16000 samples, a group of channels) and rows far from zero keep their digits.
 */
function momentsC(x: string, n: string | number): string {
  return `double mean, var;
{
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  long i = 0;
  for (; i + 4 <= ${n}; i += 4) { s0 += ${x}[i]; s1 += ${x}[i + 1]; s2 += ${x}[i + 2]; s3 += ${x}[i + 3]; }
  for (; i < ${n}; i++) s0 += ${x}[i];
  mean = ((s0 + s1) + (s2 + s3)) / (double)${n};
  s0 = s1 = s2 = s3 = 0.0;
  for (i = 0; i + 4 <= ${n}; i += 4) {
    const double d0 = ${x}[i] - mean, d1 = ${x}[i + 1] - mean, d2 = ${x}[i + 2] - mean, d3 = ${x}[i + 3] - mean;
    s0 += d0 * d0; s1 += d1 * d1; s2 += d2 * d2; s3 += d3 * d3;
  }
  for (; i < ${n}; i++) { const double d = ${x}[i] - mean; s0 += d * d; }
  var = ((s0 + s1) + (s2 + s3)) / (double)${n};
}`;
}

function float32Only(node: { op: string; name: string }, dtype: string): void {
  if (dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${dtype}`);
}

/** A per-channel (or per-group) parameter: a tensor of `n` elements, of rank 1. */
function checkVector(node: { op: string; name: string }, t: { name: string; shape: number[] }, what: string, n: number): void {
  if (t.shape.length !== 1 || t.shape[0] !== n) throw new CompileError('invalid', `${node.op} ${node.name}: ${what} (${t.name}) must have shape [${n}], not [${t.shape.join(', ')}]`);
}

/**
 * InstanceNormalization: each channel of each instance normalised over its spatial dimensions
 * (any number of them), then scaled and shifted per channel. Mean and variance are taken in
 * double, and the result is formed in double, so that a long row (16000 audio samples) or one far
 * from zero loses nothing; timm's GroupNorm(1) and wav2vec2's GroupNorm export as this.
 */
const instanceNorm: OpDef = {
  type: 'InstanceNormalization',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    float32Only(node, x.dtype);
    if (x.shape.length < 3) throw new CompileError('invalid', `InstanceNormalization ${node.name}: the input must have rank 3 or more (N, C, D1, ...), not ${x.shape.length}`);
    checkVector(node, ctx.required(node, 1), 'scale', x.shape[1]);
    checkVector(node, ctx.required(node, 2), 'B', x.shape[1]);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const C = x.shape[1];
    const S = numel(x.shape.slice(2));
    const [X, Sc, B] = node.inputs.map((n) => ctx.ref(n));
    const eps = attrFloat(node, 'epsilon', 1e-5);
    if (S === 0) return '';
    return `for (long nc = 0; nc < ${x.shape[0] * C}; nc++) {
  const float *x = ${X} + nc * ${S};
  float *y = ${ctx.ref(node.outputs[0])} + nc * ${S};
${momentsC('x', S).replace(/^/gm, '  ')}
  const double k = (double)${Sc}[nc % ${C}] / sqrt(var + (double)${flt(eps)});
  const double b = ${B}[nc % ${C}];
  for (long i = 0; i < ${S}; i++) y[i] = (float)((x[i] - mean) * k + b);
}`;
  },
};

/**
 * GroupNormalization: the channels of each instance in num_groups groups, each group normalised
 * over its channels and spatial dimensions together, then scaled and shifted: per group in opset
 * 18 (scale and bias of num_groups), per channel from opset 21 (of C). stash_type 1 (float) or 11
 * (double) asks for at least float precision; the moments are taken in double either way.
 */
const groupNorm: OpDef = {
  type: 'GroupNormalization',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    float32Only(node, x.dtype);
    if (x.shape.length < 2) throw new CompileError('invalid', `GroupNormalization ${node.name}: the input must have rank 2 or more (N, C, ...), not ${x.shape.length}`);
    const { perChannel } = groupParams(ctx.opset, node, x.shape);
    const n = perChannel ? x.shape[1] : attrInt(node, 'num_groups', 0);
    checkVector(node, ctx.required(node, 1), 'scale', n);
    checkVector(node, ctx.required(node, 2), 'bias', n);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const { G, perChannel } = groupParams(ctx.opset, node, x.shape);
    const C = x.shape[1];
    const S = numel(x.shape.slice(2));
    const cg = C / G;
    const [X, Sc, B] = node.inputs.map((n) => ctx.ref(n));
    const eps = attrFloat(node, 'epsilon', 1e-5);
    if (S === 0 || C === 0) return '';
    const p = perChannel ? `g * ${cg} + c` : 'g';
    return `for (long n = 0; n < ${x.shape[0]}; n++) for (long g = 0; g < ${G}; g++) {
  const float *x = ${X} + (n * ${G} + g) * ${cg * S};
  float *y = ${ctx.ref(node.outputs[0])} + (n * ${G} + g) * ${cg * S};
${momentsC('x', cg * S).replace(/^/gm, '  ')}
  const double inv = 1.0 / sqrt(var + (double)${flt(eps)});
  for (long c = 0; c < ${cg}; c++) {
    const double k = inv * ${Sc}[${p}], b = ${B}[${p}];
    for (long i = c * ${S}; i < (c + 1) * ${S}; i++) y[i] = (float)((x[i] - mean) * k + b);
  }
}`;
  },
};

function groupParams(opset: number, node: Node, shape: number[]): { G: number; perChannel: boolean } {
  const G = attrInt(node, 'num_groups', 0);
  const C = shape[1];
  if (!(G > 0) || C % G !== 0) throw new CompileError('invalid', `GroupNormalization ${node.name}: num_groups ${G} must be positive and divide the ${C} channels`);
  const stash = attrInt(node, 'stash_type', 1);
  if (stash !== 1 && stash !== 11) throw new CompileError('unsupported', `GroupNormalization ${node.name}: stash_type ${stash} (float and double are supported)`);
  return { G, perChannel: opset >= 21 };
}

/**
 * RMSNormalization (opset 23): x / sqrt(mean(x^2) + epsilon) * scale over the trailing axes from
 * `axis`, the mean of squares taken in double; scale broadcasts to the normalised shape.
 */
const rmsNorm: OpDef = {
  type: 'RMSNormalization',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    float32Only(node, x.dtype);
    rmsParams(node, x.shape, ctx.required(node, 1).shape);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const { outer, inner, scaleAt } = rmsParams(node, x.shape, ctx.tensor(node.inputs[1]).shape);
    const [X, Sc] = node.inputs.map((n) => ctx.ref(n));
    const eps = attrFloat(node, 'epsilon', 1e-5);
    if (inner === 0) return '';
    return `for (long o = 0; o < ${outer}; o++) {
  const float *x = ${X} + o * ${inner};
  float *y = ${ctx.ref(node.outputs[0])} + o * ${inner};
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  long i = 0;
  for (; i + 4 <= ${inner}; i += 4) { s0 += (double)x[i] * x[i]; s1 += (double)x[i + 1] * x[i + 1]; s2 += (double)x[i + 2] * x[i + 2]; s3 += (double)x[i + 3] * x[i + 3]; }
  for (; i < ${inner}; i++) s0 += (double)x[i] * x[i];
  const double inv = 1.0 / sqrt(((s0 + s1) + (s2 + s3)) / ${inner}.0 + (double)${flt(eps)});
  for (i = 0; i < ${inner}; i++) y[i] = (float)(x[i] * inv) * ${Sc}[${scaleAt('i')}];
}`;
  },
};

/** RMSNormalization's axis split, and the C index into scale of normalised element `i` (scale broadcast to the trailing axes). */
function rmsParams(node: Node, shape: number[], scaleShape: number[]) {
  const axis = normAxis(attrInt(node, 'axis', -1), shape.length, node);
  const stash = attrInt(node, 'stash_type', 1);
  if (stash !== 1 && stash !== 11) throw new CompileError('unsupported', `RMSNormalization ${node.name}: stash_type ${stash} (float and double are supported)`);
  const normShape = shape.slice(axis);
  const inner = numel(normShape);
  // Leading ones of scale beyond the normalised axes broadcast away; the rest must broadcast to them.
  let s = [...scaleShape];
  while (s.length > normShape.length && s[0] === 1) s = s.slice(1);
  const bad = () => new CompileError('invalid', `RMSNormalization ${node.name}: scale [${scaleShape.join(', ')}] does not broadcast to the normalised shape [${normShape.join(', ')}]`);
  if (s.length > normShape.length) throw bad();
  s.forEach((d, k) => {
    if (d !== 1 && d !== normShape[normShape.length - s.length + k]) throw bad();
  });
  const strides = broadcastStrides(s, normShape);
  const inStrides = stridesOf(normShape);
  const scaleAt = (i: string): string => {
    if (numel(s) === inner) return i;
    if (numel(s) === 1) return '0';
    return strides.map((st, k) => (st === 0 ? '' : `(${i} / ${inStrides[k]} % ${normShape[k]}) * ${st}`)).filter(Boolean).join(' + ') || '0';
  };
  return { outer: numel(shape.slice(0, axis)), inner, scaleAt };
}

NORM_OPS.push(instanceNorm, groupNorm, rmsNorm);
