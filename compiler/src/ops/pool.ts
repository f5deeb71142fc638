import { CompileError, Node } from '../ir';
import { as2d, slidingWindow, Window, windowLoops } from './conv';
import { attrInt, attrInts, EmitContext, OpDef } from './op';

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
      // With count_include_pad, the divisor counts the pads but not what lies past them (ceil_mode).
      const padH = `(oh * ${strides[0]} - ${pads[0]})`;
      const padW = `(ow * ${strides[1]} - ${pads[1]})`;
      const divisor = includePad
        ? `(float)((( ${padH} + ${KH} < ${H + pads[2]} ? ${padH} + ${KH} : ${H + pads[2]}) - (${padH} > -${pads[0]} ? ${padH} : -${pads[0]})) * ((${padW} + ${KW} < ${W + pads[3]} ? ${padW} + ${KW} : ${W + pads[3]}) - (${padW} > -${pads[1]} ? ${padW} : -${pads[1]})))`
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
  // With count_include_pad, the divisor counts the pads but not what lies past them (ceil_mode).
  const extent = (j: number) => {
    const start = `(o${j} * ${win.strides[j]} - ${win.pads[j]})`;
    return `((${start} + ${win.kernel[j]} < ${spatial[j] + win.pads[j + d]} ? ${start} + ${win.kernel[j]} : ${spatial[j] + win.pads[j + d]}) - (${start} > -${win.pads[j]} ? ${start} : -${win.pads[j]}))`;
  };
  const divisor = includePad ? `(float)(${spatial.map((_, j) => extent(j)).join(' * ')})` : '(float)count';
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
    return `for (long i = 0; i < ${nc}; i++) { float s = 0.0f; for (long j = 0; j < ${hw}; j++) s += ${ctx.ref(node.inputs[0])}[i * ${hw} + j]; ${ctx.ref(node.outputs[0])}[i] = s / ${hw}.0f; }`;
  },
};

export const POOL_OPS: OpDef[] = [pool('MaxPool'), pool('AveragePool'), globalAveragePool];
