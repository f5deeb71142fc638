import { CompileError, Node, Tensor } from '../ir';
import { attrInt, attrInts, attrString, OpDef } from './op';

export interface Window {
  kernel: number[];
  strides: number[];
  dilations: number[];
  /** Begin pads then end pads, per spatial dimension. */
  pads: number[];
  out: number[];
}

/** Output size and pads of a sliding window, with auto_pad and ceil_mode as ONNX defines them. */
export function slidingWindow(node: Node, x: Tensor, kernel: number[]): Window {
  const spatial = x.shape.slice(2);
  const n = spatial.length;
  const strides = attrInts(node, 'strides') ?? new Array(n).fill(1);
  const dilations = attrInts(node, 'dilations') ?? new Array(n).fill(1);
  let pads = attrInts(node, 'pads') ?? new Array(2 * n).fill(0);
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const ceil = attrInt(node, 'ceil_mode', 0);
  const out: number[] = [];
  if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    pads = new Array(2 * n).fill(0);
    for (let i = 0; i < n; i++) {
      const o = Math.ceil(spatial[i] / strides[i]);
      const total = Math.max(0, (o - 1) * strides[i] + (kernel[i] - 1) * dilations[i] + 1 - spatial[i]);
      const small = Math.floor(total / 2);
      pads[i] = autoPad === 'SAME_UPPER' ? small : total - small;
      pads[i + n] = total - pads[i];
      out.push(o);
    }
  } else {
    if (autoPad === 'VALID') pads = new Array(2 * n).fill(0);
    for (let i = 0; i < n; i++) {
      const span = spatial[i] + pads[i] + pads[i + n] - ((kernel[i] - 1) * dilations[i] + 1);
      let o = (ceil ? Math.ceil(span / strides[i]) : Math.floor(span / strides[i])) + 1;
      // A window that would start entirely in the end padding is dropped (as ONNX Runtime does).
      if (ceil && (o - 1) * strides[i] >= spatial[i] + pads[i]) o--;
      if (o < 1) throw new CompileError('invalid', `${node.op} ${node.name}: the window is larger than the padded input`);
      out.push(o);
    }
  }
  return { kernel, strides, dilations, pads, out };
}

/** 2-D convolution, NCHW, with groups (depthwise included), strides, dilations and pads. */
const conv: OpDef = {
  type: 'Conv',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${x.dtype}`);
    const w = ctx.required(node, 1);
    if (x.shape.length !== 4) throw new CompileError('unsupported', `Conv ${node.name}: only 2-D convolution (NCHW) is supported, got rank ${x.shape.length}`);
    const group = attrInt(node, 'group', 1);
    if (x.shape[1] !== w.shape[1] * group) throw new CompileError('invalid', `Conv ${node.name}: ${x.shape[1]} input channels, but weights expect ${w.shape[1] * group}`);
    const win = slidingWindow(node, x, attrInts(node, 'kernel_shape') ?? w.shape.slice(2));
    ctx.output(node, 0, { dtype: 'float32', shape: [x.shape[0], w.shape[0], ...win.out] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const w = ctx.tensor(node.inputs[1]);
    const [N, C, H, W] = x.shape;
    const M = w.shape[0];
    const group = attrInt(node, 'group', 1);
    const { kernel, strides, dilations, pads, out } = slidingWindow(node, x, attrInts(node, 'kernel_shape') ?? w.shape.slice(2));
    const [KH, KW] = kernel;
    const [OH, OW] = out;
    const cg = C / group;
    const mg = M / group;
    const X = ctx.ref(node.inputs[0]);
    const Wt = ctx.ref(node.inputs[1]);
    const Y = ctx.ref(node.outputs[0]);
    const bias = node.inputs[2] ? `${ctx.ref(node.inputs[2])}[m]` : '0.0f';
    return `for (long n = 0; n < ${N}; n++) for (long m = 0; m < ${M}; m++) {
  const long g = m / ${mg};
  const float *wm = ${Wt} + m * ${cg * KH * KW};
  float *ym = ${Y} + (n * ${M} + m) * ${OH * OW};
  for (long oh = 0; oh < ${OH}; oh++) for (long ow = 0; ow < ${OW}; ow++) {
    float s = ${bias};
    for (long c = 0; c < ${cg}; c++) {
      const float *xc = ${X} + (n * ${C} + g * ${cg} + c) * ${H * W};
      const float *wc = wm + c * ${KH * KW};
      for (long kh = 0; kh < ${KH}; kh++) {
        const long ih = oh * ${strides[0]} - ${pads[0]} + kh * ${dilations[0]};
        if (ih < 0 || ih >= ${H}) continue;
        for (long kw = 0; kw < ${KW}; kw++) {
          const long iw = ow * ${strides[1]} - ${pads[1]} + kw * ${dilations[1]};
          if (iw < 0 || iw >= ${W}) continue;
          s += xc[ih * ${W} + iw] * wc[kh * ${KW} + kw];
        }
      }
    }
    ym[oh * ${OW} + ow] = s;
  }
}`;
  },
};

export const CONV_OPS: OpDef[] = [conv];
