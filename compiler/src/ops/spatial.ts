import { CompileError, Node, numel, Tensor, toNumbers } from '../ir';
import { attrFloat, attrInt, attrInts, attrString, EmitContext, floatInput, flt, InferContext, OpDef, tensorOf } from './op';

/*
 * Sampling and scattering operators of images, as plain C loops over float32 (float16 and
 * bfloat16 held as float32): RoiAlign, DeformConv (2-D), MaxUnpool and Col2Im. The ONNX reference
 * implementations (onnx.reference.ops.op_roi_align and the like) are the definitions followed.
 */

type Ctx = InferContext | EmitContext;

/** An int64 (or int32) input whose values must be known at compile time. */
function constInts(ctx: Ctx, node: Node, i: number, what: string): number[] {
  const t = tensorOf(ctx, node, i);
  if (!t) throw new CompileError('invalid', `${node.op} ${node.name}: ${what} is required`);
  if (t.dtype !== 'int64' && t.dtype !== 'int32') throw new CompileError('invalid', `${node.op} ${node.name}: ${what} must be int64, not ${t.dtype}`);
  if (!t.data) throw new CompileError('unsupported', `${node.op} ${node.name}: ${what} (${t.name}) must be known at compile time`);
  return toNumbers(t);
}

/** RoiAlign's sizes and attributes. */
function roiParams(ctx: Ctx, node: Node) {
  const bad = (what: string) => new CompileError('invalid', `RoiAlign ${node.name}: ${what}`);
  const x = floatInput(ctx, node, 0, 'X');
  const rois = floatInput(ctx, node, 1, 'rois');
  const idx = tensorOf(ctx, node, 2);
  if (!x || !rois || !idx) throw bad('X, rois and batch_indices are required');
  if (x.shape.length !== 4) throw bad(`X must be [N, C, H, W], not [${x.shape}]`);
  const R = rois.shape[0];
  if (rois.shape.length !== 2 || rois.shape[1] !== 4) throw bad(`rois must be [num_rois, 4], not [${rois.shape}]`);
  if (idx.dtype !== 'int64' || idx.shape.join() !== String(R)) throw bad(`batch_indices must be int64 [${R}], not ${idx.dtype} [${idx.shape}]`);
  const mode = attrString(node, 'mode', 'avg');
  if (mode !== 'avg' && mode !== 'max') throw bad(`mode "${mode}" is not avg or max`);
  // Opset 10 has no coordinate_transformation_mode: its ROIs are output_half_pixel's.
  const transform = attrString(node, 'coordinate_transformation_mode', ctx.opset >= 16 ? 'half_pixel' : 'output_half_pixel');
  if (transform !== 'half_pixel' && transform !== 'output_half_pixel') throw bad(`coordinate_transformation_mode "${transform}" is not half_pixel or output_half_pixel`);
  const PH = attrInt(node, 'output_height', 1);
  const PW = attrInt(node, 'output_width', 1);
  const ratio = attrInt(node, 'sampling_ratio', 0);
  if (!(PH >= 1) || !(PW >= 1) || ratio < 0) throw bad(`output_height ${PH} and output_width ${PW} must be positive, sampling_ratio ${ratio} not negative`);
  const [N, C, H, W] = x.shape;
  return { N, C, H, W, R, PH, PW, ratio, max: mode === 'max', half: transform === 'half_pixel', scale: attrFloat(node, 'spatial_scale', 1) };
}

/** One bilinear sample of a [H, W] plane at (y, x), as RoiAlign takes it: its four weighted corners summed (avg) or their largest (max); zero outside. */
const ROI_C = `static float kiln_roi_sample(const float *p, long H, long W, double y, double x, int max) {
  if (y < -1.0 || y > (double)H || x < -1.0 || x > (double)W) return 0.0f;
  if (y < 0.0) y = 0.0;
  if (x < 0.0) x = 0.0;
  long y0 = (long)y, x0 = (long)x, y1, x1;
  if (y0 >= H - 1) { y0 = y1 = H - 1; y = (double)y0; } else y1 = y0 + 1;
  if (x0 >= W - 1) { x0 = x1 = W - 1; x = (double)x0; } else x1 = x0 + 1;
  const double ly = y - (double)y0, lx = x - (double)x0, hy = 1.0 - ly, hx = 1.0 - lx;
  const double a = hy * hx * p[y0 * W + x0], b = hy * lx * p[y0 * W + x1], c = ly * hx * p[y1 * W + x0], d = ly * lx * p[y1 * W + x1];
  if (!max) return (float)(a + b + c + d);
  double m = a > b ? a : b;
  m = m > c ? m : c;
  return (float)(m > d ? m : d);
}`;

/**
 * RoiAlign (opsets 10 and 16): each region of interest (rois, with batch_indices read at run time:
 * one out of range ends the run with error 2) pooled to output_height x output_width bins, each
 * the average or maximum of a grid of bilinear samples (sampling_ratio per side, or as many as the
 * bin is wide); half_pixel shifts the region by half a pixel, output_half_pixel makes it at least 1 x 1.
 */
const roiAlign: OpDef = {
  type: 'RoiAlign',
  infer(ctx, node) {
    const { C, R, PH, PW } = roiParams(ctx, node);
    ctx.output(node, 0, { dtype: 'float32', shape: [R, C, PH, PW] });
  },
  emit(ctx, node) {
    const { N, C, H, W, R, PH, PW, ratio, max, half, scale } = roiParams(ctx, node);
    if (!R || !C) return '';
    ctx.helper('roialign', ROI_C);
    const [X, Rois, I] = [0, 1, 2].map((i) => ctx.ref(node.inputs[i]));
    const Y = ctx.ref(node.outputs[0]);
    const off = half ? '0.5' : '0.0';
    const grid = (size: string, bins: number) => (ratio > 0 ? String(ratio) : `(long)ceil(${size} / ${bins}.0)`);
    const pool = max
      ? `float v = 0.0f; int first = 1;
        for (long iy = 0; iy < gh; iy++) for (long ix = 0; ix < gw; ix++) {
          const float s = kiln_roi_sample(p, ${H}, ${W}, sh + ph * bh + (iy + 0.5) * bh / gh, sw + pw * bw + (ix + 0.5) * bw / gw, 1);
          if (first || s > v) v = s;
          first = 0;
        }`
      : `double acc = 0.0;
        for (long iy = 0; iy < gh; iy++) for (long ix = 0; ix < gw; ix++) acc += kiln_roi_sample(p, ${H}, ${W}, sh + ph * bh + (iy + 0.5) * bh / gh, sw + pw * bw + (ix + 0.5) * bw / gw, 0);
        const float v = (float)(acc / count);`;
    return `for (long n = 0; n < ${R}; n++) if (${I}[n] < 0 || ${I}[n] >= ${N}) ${ctx.indexOutOfRange()}
for (long n = 0; n < ${R}; n++) {
  const float *roi = ${Rois} + n * 4;
  const double sw = roi[0] * (double)${flt(scale)} - ${off}, sh = roi[1] * (double)${flt(scale)} - ${off};
  double rw = roi[2] * (double)${flt(scale)} - ${off} - sw, rh = roi[3] * (double)${flt(scale)} - ${off} - sh;${half ? '' : '\n  if (!(rw >= 1.0)) rw = 1.0;\n  if (!(rh >= 1.0)) rh = 1.0;'}
  const double bh = rh / ${PH}, bw = rw / ${PW};
  const long gh = ${grid('rh', PH)}, gw = ${grid('rw', PW)};
  const double count = gh * gw > 1 ? (double)(gh * gw) : 1.0;
  (void)count;
  for (long c = 0; c < ${C}; c++) {
    const float *p = ${X} + (${I}[n] * ${C} + c) * ${H * W};
    for (long ph = 0; ph < ${PH}; ph++) for (long pw = 0; pw < ${PW}; pw++) {
      ${pool}
      ${Y}[((n * ${C} + c) * ${PH} + ph) * ${PW} + pw] = v;
    }
  }
}`;
  },
};

/** DeformConv's sizes and attributes (2-D only). */
function deformParams(ctx: Ctx, node: Node) {
  const bad = (what: string) => new CompileError('invalid', `DeformConv ${node.name}: ${what}`);
  const x = floatInput(ctx, node, 0, 'X');
  const w = floatInput(ctx, node, 1, 'W');
  const offset = floatInput(ctx, node, 2, 'offset');
  if (!x || !w || !offset) throw bad('X, W and offset are required');
  if (x.shape.length !== 4) throw new CompileError('unsupported', `DeformConv ${node.name}: only 2-D convolution (X of rank 4) is supported, not X [${x.shape}]`);
  const [N, Ci, H, W] = x.shape;
  const group = attrInt(node, 'group', 1);
  const og = attrInt(node, 'offset_group', 1);
  const [Co, Cg] = w.shape;
  const [kh, kw] = attrInts(node, 'kernel_shape') ?? w.shape.slice(2);
  if (w.shape.length !== 4 || w.shape[2] !== kh || w.shape[3] !== kw) throw bad(`W [${w.shape}] does not fit kernel_shape [${kh}, ${kw}]`);
  if (!(group >= 1) || Cg * group !== Ci || Co % group !== 0) throw bad(`W [${w.shape}] and group ${group} do not fit X [${x.shape}]`);
  if (!(og >= 1) || Ci % og !== 0) throw bad(`offset_group ${og} must divide the ${Ci} input channels`);
  const [sh, sw] = attrInts(node, 'strides') ?? [1, 1];
  const [dh, dw] = attrInts(node, 'dilations') ?? [1, 1];
  const [pt, pl, pb, pr] = attrInts(node, 'pads') ?? [0, 0, 0, 0];
  const OH = Math.floor((H + pt + pb - ((kh - 1) * dh + 1)) / sh) + 1;
  const OW = Math.floor((W + pl + pr - ((kw - 1) * dw + 1)) / sw) + 1;
  if (!(OH >= 1) || !(OW >= 1)) throw bad(`the output would be empty (${OH} x ${OW})`);
  if (offset.shape.join() !== `${N},${og * kh * kw * 2},${OH},${OW}`) throw bad(`offset must be [${N}, ${og * kh * kw * 2}, ${OH}, ${OW}], not [${offset.shape}]`);
  const bias = floatInput(ctx, node, 3, 'B');
  if (bias && bias.shape.join() !== String(Co)) throw bad(`B must be [${Co}], not [${bias.shape}]`);
  const mask = floatInput(ctx, node, 4, 'mask');
  if (mask && mask.shape.join() !== `${N},${og * kh * kw},${OH},${OW}`) throw bad(`mask must be [${N}, ${og * kh * kw}, ${OH}, ${OW}], not [${mask.shape}]`);
  return { N, Ci, H, W, Co, Cg, group, og, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW, bias: !!bias, mask: !!mask };
}

/** A bilinear sample of a [H, W] plane at (y, x), the corners outside it zero. */
const DEFORM_C = `static float kiln_deform_sample(const float *p, long H, long W, float y, float x) {
  const float fy = floorf(y), fx = floorf(x);
  const long y0 = (long)fy, x0 = (long)fx;
  const float ly = y - fy, lx = x - fx;
  float v = 0.0f;
  for (int a = 0; a < 2; a++) for (int b = 0; b < 2; b++) {
    const long yy = y0 + a, xx = x0 + b;
    if (yy < 0 || yy >= H || xx < 0 || xx >= W) continue;
    v += (a ? ly : 1.0f - ly) * (b ? lx : 1.0f - lx) * p[yy * W + xx];
  }
  return v;
}`;

/**
 * DeformConv (opsets 19 and 22), 2-D: a grouped convolution whose every kernel tap samples the
 * input bilinearly at its place shifted by offset (read at run time, per offset group of input
 * channels), times mask where given, plus the bias.
 */
const deformConv: OpDef = {
  type: 'DeformConv',
  infer(ctx, node) {
    const { N, Co, OH, OW } = deformParams(ctx, node);
    ctx.output(node, 0, { dtype: 'float32', shape: [N, Co, OH, OW] });
  },
  emit(ctx, node) {
    const { N, Ci, H, W, Co, Cg, group, og, kh, kw, sh, sw, dh, dw, pt, pl, OH, OW, bias, mask } = deformParams(ctx, node);
    ctx.helper('deformconv', DEFORM_C);
    const [X, Wt, Off, Bi, Mk] = [0, 1, 2, 3, 4].map((i) => (node.inputs[i] ? ctx.ref(node.inputs[i]) : ''));
    const Y = ctx.ref(node.outputs[0]);
    const K = kh * kw;
    const plane = OH * OW;
    return `for (long n = 0; n < ${N}; n++) for (long oc = 0; oc < ${Co}; oc++) for (long i = 0; i < ${OH}; i++) for (long j = 0; j < ${OW}; j++) {
  float acc = ${bias ? `${Bi}[oc]` : '0.0f'};
  for (long cl = 0; cl < ${Cg}; cl++) {
    const long ic = oc / ${Co / group} * ${Cg} + cl, g = ic / ${Ci / og};
    const float *p = ${X} + (n * ${Ci} + ic) * ${H * W};
    for (long k = 0; k < ${K}; k++) {
      const long at = i * ${OW} + j;
      const float dy = ${Off}[((n * ${og} + g) * ${K * 2} + k * 2) * ${plane} + at], dx = ${Off}[((n * ${og} + g) * ${K * 2} + k * 2 + 1) * ${plane} + at];
      const float y = (float)(i * ${sh} - ${pt} + k / ${kw} * ${dh}) + dy, x = (float)(j * ${sw} - ${pl} + k % ${kw} * ${dw}) + dx;
      acc += ${Wt}[(oc * ${Cg} + cl) * ${K} + k] * kiln_deform_sample(p, ${H}, ${W}, y, x)${mask ? ` * ${Mk}[((n * ${og} + g) * ${K} + k) * ${plane} + at]` : ''};
    }
  }
  ${Y}[((n * ${Co} + oc) * ${OH} + i) * ${OW} + j] = acc;
}`;
  },
};

/** MaxUnpool's shapes: the one its indices address, and the output (output_shape, which must be a constant, when given). */
function unpoolParams(ctx: Ctx, node: Node) {
  const bad = (what: string) => new CompileError('invalid', `MaxUnpool ${node.name}: ${what}`);
  const x = floatInput(ctx, node, 0, 'X');
  const idx = tensorOf(ctx, node, 1);
  if (!x || !idx) throw bad('X and I are required');
  if (idx.dtype !== 'int64' || idx.shape.join() !== x.shape.join()) throw bad(`I must be int64 of X's shape [${x.shape}], not ${idx.dtype} [${idx.shape}]`);
  const kernel = attrInts(node, 'kernel_shape');
  const r = x.shape.length - 2;
  if (!kernel || kernel.length !== r) throw bad(`kernel_shape must give ${r} dimensions`);
  const strides = attrInts(node, 'strides') ?? kernel.map(() => 1);
  const pads = attrInts(node, 'pads') ?? kernel.map(() => [0, 0]).flat();
  const inferred = [x.shape[0], x.shape[1], ...kernel.map((k, d) => (x.shape[d + 2] - 1) * strides[d] - (pads[d] + pads[r + d]) + k)];
  if (inferred.some((d) => !(d >= 0))) throw bad(`the unpooled shape [${inferred}] is not valid`);
  const out = node.inputs[2] ? constInts(ctx, node, 2, 'output_shape') : inferred;
  if (out.length !== inferred.length || out.some((d, i) => d < inferred[i])) throw bad(`output_shape [${out}] must be at least [${inferred}]`);
  return { x, inferred, out };
}

/**
 * MaxUnpool: zeros, with each element of X written where its index in I (read at run time; one
 * out of range ends the run with error 2, before anything is written) puts it in the unpooled shape,
 * which sits at the start of each dimension of output_shape where that is larger.
 */
const maxUnpool: OpDef = {
  type: 'MaxUnpool',
  infer(ctx, node) {
    const { out } = unpoolParams(ctx, node);
    ctx.output(node, 0, { dtype: 'float32', shape: out });
  },
  emit(ctx, node) {
    const { x, inferred, out } = unpoolParams(ctx, node);
    const [X, I] = [ctx.ref(node.inputs[0]), ctx.ref(node.inputs[1])];
    const Y = ctx.ref(node.outputs[0]);
    const n = numel(x.shape);
    const total = numel(inferred);
    let code = `for (long i = 0; i < ${n}; i++) if (${I}[i] < 0 || ${I}[i] >= ${total}) ${ctx.indexOutOfRange()}
memset(${Y}, 0, sizeof(float) * ${numel(out)});`;
    if (!n) return `${code}\n(void)${X};`;
    // The output's offset of a flat index into the unpooled shape, dimension by dimension from the last.
    let at = '';
    let stride = 1;
    for (let d = inferred.length - 1; d >= 0; d--) {
      const inner = numel(inferred.slice(d + 1));
      at += ` + (${I}[i] / ${inner} % ${inferred[d]}) * ${stride}`;
      stride *= out[d];
    }
    code += `\nfor (long i = 0; i < ${n}; i++) ${Y}[0${at}] = ${X}[i];`;
    return code;
  },
};

/** Col2Im's shapes: image and block shapes (constants), and the attributes. */
function col2imParams(ctx: Ctx, node: Node) {
  const bad = (what: string) => new CompileError('invalid', `Col2Im ${node.name}: ${what}`);
  const x = floatInput(ctx, node, 0, 'input');
  if (!x) throw bad('input is required');
  const image = constInts(ctx, node, 1, 'image_shape');
  const block = constInts(ctx, node, 2, 'block_shape');
  const r = image.length;
  if (block.length !== r || r < 1) throw bad(`image_shape [${image}] and block_shape [${block}] must have one length`);
  const strides = attrInts(node, 'strides') ?? image.map(() => 1);
  const dil = attrInts(node, 'dilations') ?? image.map(() => 1);
  const pads = attrInts(node, 'pads') ?? image.map(() => [0, 0]).flat();
  if (x.shape.length !== 3) throw bad(`input must be [N, C * prod(block_shape), L], not [${x.shape}]`);
  const K = numel(block);
  const [N, CK, L] = x.shape;
  const blocks = image.map((s, d) => Math.floor((s + pads[d] + pads[r + d] - dil[d] * (block[d] - 1) - 1) / strides[d]) + 1);
  if (CK % K !== 0 || numel(blocks) !== L || blocks.some((b) => !(b >= 1))) throw bad(`input [${x.shape}] does not fit image_shape [${image}] and block_shape [${block}] (${blocks.join(' x ')} blocks)`);
  return { N, C: CK / K, K, L, r, image, block, blocks, strides, dil, pads };
}

/** Col2Im (opset 18): the sum of the sliding blocks of the input put back at their places in the image. */
const col2im: OpDef = {
  type: 'Col2Im',
  infer(ctx, node) {
    const { N, C, image } = col2imParams(ctx, node);
    ctx.output(node, 0, { dtype: 'float32', shape: [N, C, ...image] });
  },
  emit(ctx, node) {
    const { N, C, K, L, image, block, blocks, strides, dil, pads } = col2imParams(ctx, node);
    const X = ctx.ref(node.inputs[0]);
    const Y = ctx.ref(node.outputs[0]);
    const P = numel(image);
    // Per dimension: the image coordinate of kernel tap k and block l, checked against the image.
    const dims = image.map((s, d) => {
      const kIdx = `(k / ${numel(block.slice(d + 1))} % ${block[d]})`;
      const lIdx = `(l / ${numel(blocks.slice(d + 1))} % ${blocks[d]})`;
      return `const long q${d} = ${lIdx} * ${strides[d]} - ${pads[d]} + ${kIdx} * ${dil[d]}; if (q${d} < 0 || q${d} >= ${s}) continue;`;
    });
    const at = image.map((_, d) => `q${d} * ${numel(image.slice(d + 1))}`).join(' + ');
    return `memset(${Y}, 0, sizeof(float) * ${N * C * P});
for (long n = 0; n < ${N}; n++) for (long c = 0; c < ${C}; c++) for (long k = 0; k < ${K}; k++) for (long l = 0; l < ${L}; l++) {
  ${dims.join('\n  ')}
  ${Y}[(n * ${C} + c) * ${P} + ${at}] += ${X}[((n * ${C} + c) * ${K} + k) * ${L} + l];
}`;
  },
};

export const SPATIAL_OPS: OpDef[] = [roiAlign, deformConv, maxUnpool, col2im];
