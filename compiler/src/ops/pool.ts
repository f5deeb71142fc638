import { CompileError, Node } from '../ir';
import { as2d, slidingWindow, Window, windowLoops } from './conv';
import { attrFloat, attrInt, attrInts, EmitContext, flt, OpDef } from './op';

/**
 * With count_include_pad, the divisor along one axis as a C expression: the window's taps (k
 * of them, `dilation` apart) that fall on the input or its explicit pads, so not those that lie
 * past the end pad, which only ceil_mode makes (ONNX Runtime and the ONNX reference count them
 * so). `o` is the output index; `limit` is the input's size plus the end pad. A window starts at
 * or after the begin pad, so only its end is cut.
 */
export function padTaps(o: string, stride: number, padBegin: number, k: number, dilation: number, limit: number): string {
  const room = `(${limit} - (${o} * ${stride} - ${padBegin}))`;
  return dilation === 1 ? `(${room} < ${k} ? ${room} : ${k})` : `(${room} < ${(k - 1) * dilation + 1} ? (${room} + ${dilation - 1}) / ${dilation} : ${k})`;
}

function pool(type: 'MaxPool' | 'AveragePool'): OpDef {
  return {
    type,
    infer(ctx, node) {
      const x = ctx.required(node, 0);
      if (x.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${x.dtype}`);
      if (x.shape.length < 3) throw new CompileError('invalid', `${type} ${node.name}: the input must have a batch, a channel and at least one spatial axis, got rank ${x.shape.length}`);
      if (node.outputs[1]) throw new CompileError('unsupported', `${type} ${node.name}: the Indices output is not supported`);
      const kernel = attrInts(node, 'kernel_shape');
      if (!kernel) throw new CompileError('invalid', `${type} ${node.name}: kernel_shape is required`);
      const win = slidingWindow(node, x, kernel);
      ctx.output(node, 0, { dtype: 'float32', shape: [x.shape[0], x.shape[1], ...win.out] });
    },
    emit(ctx, node) {
      const x = ctx.tensor(node.inputs[0]);
      const [N, C] = x.shape;
      const win = slidingWindow(node, x, attrInts(node, 'kernel_shape')!);
      const includePad = attrInt(node, 'count_include_pad', 0) === 1;
      if (x.shape.length > 4) return poolND(ctx, node, win, type === 'MaxPool', includePad);
      const { H, W, kernel, strides, dilations, pads, out } = as2d(x.shape.slice(2), win);
      const [KH, KW] = kernel;
      const [OH, OW] = out;
      const X = ctx.ref(node.inputs[0]);
      const Y = ctx.ref(node.outputs[0]);
      const max = type === 'MaxPool';
      const divisor = includePad
        ? `(float)(${padTaps('oh', strides[0], pads[0], KH, dilations[0], H + pads[2])} * ${padTaps('ow', strides[1], pads[1], KW, dilations[1], W + pads[3])})`
        : '(float)count';
      return `for (long nc = 0; nc < ${N * C}; nc++) {
  const float *xc = ${X} + nc * ${H * W};
  float *yc = ${Y} + nc * ${OH * OW};
  for (long oh = 0; oh < ${OH}; oh++) for (long ow = 0; ow < ${OW}; ow++) {
    float acc = ${max ? '-INFINITY' : '0.0f'};
    long count = 0;
    for (long kh = 0; kh < ${KH}; kh++) {
      const long ih = oh * ${strides[0]} - ${pads[0]} + kh * ${dilations[0]};
      if (ih < 0 || ih >= ${H}) continue;
      for (long kw = 0; kw < ${KW}; kw++) {
        const long iw = ow * ${strides[1]} - ${pads[1]} + kw * ${dilations[1]};
        if (iw < 0 || iw >= ${W}) continue;
        const float v = xc[ih * ${W} + iw];
        ${max ? 'acc = v > acc ? v : acc;' : 'acc += v;'}
        count++;
      }
    }
    (void)count;
    yc[oh * ${OW} + ow] = ${max ? 'acc' : `acc / ${divisor}`};
  }
}`;
    },
  };
}

/** The plain loop for pooling over three or more spatial dimensions. */
function poolND(ctx: EmitContext, node: Node, win: Window, max: boolean, includePad: boolean): string {
  const x = ctx.tensor(node.inputs[0]);
  const spatial = x.shape.slice(2);
  const d = spatial.length;
  const inPlane = spatial.reduce((a, b) => a * b, 1);
  const outPlane = win.out.reduce((a, b) => a * b, 1);
  const divisor = includePad ? `(float)(${spatial.map((_, j) => padTaps(`o${j}`, win.strides[j], win.pads[j], win.kernel[j], win.dilations[j], spatial[j] + win.pads[j + d])).join(' * ')})` : '(float)count';
  return `for (long nc = 0; nc < ${x.shape[0] * x.shape[1]}; nc++) {
  const float *xc = ${ctx.ref(node.inputs[0])} + nc * ${inPlane};
  float *yc = ${ctx.ref(node.outputs[0])} + nc * ${outPlane};
  ${windowLoops(spatial, win, (inner, o) => `float acc = ${max ? '-INFINITY' : '0.0f'};
  long count = 0;
  ${inner((xi) => `{ const float v = xc[${xi}]; ${max ? 'acc = v > acc ? v : acc;' : 'acc += v;'} count++; }`)}
  (void)count;
  yc[${o}] = ${max ? 'acc' : `acc / ${divisor}`};`)}
}`;
}

const globalAveragePool: OpDef = {
  type: 'GlobalAveragePool',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${x.dtype}`);
    if (x.shape.length < 3) throw new CompileError('invalid', `GlobalAveragePool ${node.name}: rank ${x.shape.length}`);
    ctx.output(node, 0, { dtype: 'float32', shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const nc = x.shape[0] * x.shape[1];
    const hw = x.shape.slice(2).reduce((a, b) => a * b, 1);
    // Sixteen partial sums a plane, which the loop's vectors hold (one running sum would wait on each add).
    const X = ctx.ref(node.inputs[0]);
    return `for (long i = 0; i < ${nc}; i++) {
  const float *x = ${X} + i * ${hw};
  float p[16] = {0};
  long j = 0;
  for (; j + 16 <= ${hw}; j += 16) for (int l = 0; l < 16; l++) p[l] += x[j + l];
  for (int l = 0; j + l < ${hw}; l++) p[l] += x[j + l];
  for (int w = 8; w >= 1; w /= 2) for (int l = 0; l < w; l++) p[l] += p[l + w];
  ${ctx.ref(node.outputs[0])}[i] = p[0] / ${hw}.0f;
}`;
  },
};

const globalMaxPool: OpDef = {
  type: 'GlobalMaxPool',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${x.dtype}`);
    if (x.shape.length < 3) throw new CompileError('invalid', `GlobalMaxPool ${node.name}: the input must have a batch, a channel and at least one spatial axis, got rank ${x.shape.length}`);
    ctx.output(node, 0, { dtype: 'float32', shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const nc = x.shape[0] * x.shape[1];
    const hw = x.shape.slice(2).reduce((a, b) => a * b, 1);
    const X = ctx.ref(node.inputs[0]);
    return `for (long i = 0; i < ${nc}; i++) { float m = -INFINITY; for (long j = 0; j < ${hw}; j++) { const float v = ${X}[i * ${hw} + j]; m = v > m ? v : m; } ${ctx.ref(node.outputs[0])}[i] = m; }`;
  },
};

/** The p of LpPool and LpNormalization (an integer since opset 2, a float before): its C accumulation and finish. */
export function lpNorm(p: number, node: { op: string; name: string }): { term: (v: string) => string; root: (s: string) => string } {
  if (!(p > 0) || !Number.isFinite(p)) throw new CompileError('invalid', `${node.op} ${node.name}: p must be positive, not ${p}`);
  if (p === 1) return { term: (v) => `fabsf(${v})`, root: (s) => s };
  if (p === 2) return { term: (v) => `${v} * ${v}`, root: (s) => `sqrtf(${s})` };
  return { term: (v) => `powf(fabsf(${v}), ${flt(p)})`, root: (s) => `powf(${s}, ${flt(1 / p)})` };
}

/**
 * LpPool: the p-norm of each window, (sum of |x|^p over the taps that fall on the input)^(1/p),
 * the pads counting as zeros; with strides, dilations, explicit or automatic pads and ceil_mode,
 * over any number of spatial dimensions.
 */
const lpPool: OpDef = {
  type: 'LpPool',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${x.dtype}`);
    if (x.shape.length < 3) throw new CompileError('invalid', `LpPool ${node.name}: the input must have a batch, a channel and at least one spatial axis, got rank ${x.shape.length}`);
    const kernel = attrInts(node, 'kernel_shape');
    if (!kernel) throw new CompileError('invalid', `LpPool ${node.name}: kernel_shape is required`);
    if (kernel.length !== x.shape.length - 2) throw new CompileError('invalid', `LpPool ${node.name}: kernel_shape has ${kernel.length} dimensions for ${x.shape.length - 2} spatial ones`);
    lpNorm(attrFloat(node, 'p', 2), node);
    const win = slidingWindow(node, x, kernel);
    ctx.output(node, 0, { dtype: 'float32', shape: [x.shape[0], x.shape[1], ...win.out] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const spatial = x.shape.slice(2);
    const win = slidingWindow(node, x, attrInts(node, 'kernel_shape')!);
    const { term, root } = lpNorm(attrFloat(node, 'p', 2), node);
    const inPlane = spatial.reduce((a, b) => a * b, 1);
    const outPlane = win.out.reduce((a, b) => a * b, 1);
    return `for (long nc = 0; nc < ${x.shape[0] * x.shape[1]}; nc++) {
  const float *xc = ${ctx.ref(node.inputs[0])} + nc * ${inPlane};
  float *yc = ${ctx.ref(node.outputs[0])} + nc * ${outPlane};
  ${windowLoops(spatial, win, (inner, o) => `float acc = 0.0f;
  ${inner((xi) => `{ const float v = xc[${xi}]; acc += ${term('v')}; }`)}
  yc[${o}] = ${root('acc')};`)}
}`;
  },
};

export const POOL_OPS: OpDef[] = [pool('MaxPool'), pool('AveragePool'), globalAveragePool, globalMaxPool, lpPool];
