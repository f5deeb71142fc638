import { CompileError, Graph, Node, Tensor } from '../ir';
import { gemmRowBlock, gemmScratch, gemmSharedA, KC, MAX_SHARED_A, NR, packPanels } from '../kernels';
import { attrInt, attrInts, attrString, EmitContext, epilogueInit, fusedEpilogueLoop, loops, OpDef, stridesOf } from './op';

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

/** A 1-D window as the 2-D one over a height of 1 (the same memory layout), so 1-D ops share the 2-D kernels. */
export function as2d(spatial: number[], win: Window): { H: number; W: number } & Window {
  if (spatial.length === 2) return { H: spatial[0], W: spatial[1], ...win };
  return {
    H: 1,
    W: spatial[0],
    kernel: [1, win.kernel[0]],
    strides: [1, win.strides[0]],
    dilations: [1, win.dilations[0]],
    pads: [0, win.pads[0], 0, win.pads[1]],
    out: [1, win.out[0]],
  };
}

/**
 * C loops over the windows of an N-D sliding window (any spatial rank): `body` runs per output
 * position with `o` its offset in the output plane, and `inner` per kernel tap inside the input,
 * with `xi` the tap's offset in the input plane and `ki` its offset in the kernel.
 */
export function windowLoops(spatial: number[], win: Window, body: (inner: (tap: (xi: string, ki: string) => string) => string, o: string) => string): string {
  const d = spatial.length;
  const xs = stridesOf(spatial);
  const ks = stridesOf(win.kernel);
  const os = stridesOf(win.out);
  const o = win.out.map((_, j) => `o${j}`);
  const inner = (tap: (xi: string, ki: string) => string): string => {
    let code = tap(win.out.map((_, j) => `i${j} * ${xs[j]}`).join(' + '), win.kernel.map((_, j) => `k${j} * ${ks[j]}`).join(' + '));
    for (let j = d - 1; j >= 0; j--) {
      code = `for (long k${j} = 0; k${j} < ${win.kernel[j]}; k${j}++) {
  const long i${j} = o${j} * ${win.strides[j]} - ${win.pads[j]} + k${j} * ${win.dilations[j]};
  if (i${j} < 0 || i${j} >= ${spatial[j]}) continue;
  ${code}
}`;
    }
    return code;
  };
  return loops(win.out, () => body(inner, o.map((v, j) => `${v} * ${os[j]}`).join(' + ')), 'o');
}

/**
 * Convolution over 1, 2 or 3 spatial dimensions (NCW, NCHW, NCDHW), with groups (depthwise
 * included), strides, dilations and pads. 1-D is run as 2-D over a height of 1.
 */
const conv: OpDef = {
  type: 'Conv',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${x.dtype}`);
    const w = ctx.required(node, 1);
    if (x.shape.length < 3) throw new CompileError('invalid', `Conv ${node.name}: the input must have a batch, a channel and at least one spatial axis, got rank ${x.shape.length}`);
    if (w.shape.length !== x.shape.length) throw new CompileError('invalid', `Conv ${node.name}: weights of rank ${w.shape.length} for an input of rank ${x.shape.length}`);
    const group = attrInt(node, 'group', 1);
    if (x.shape[1] !== w.shape[1] * group) throw new CompileError('invalid', `Conv ${node.name}: ${x.shape[1]} input channels, but weights expect ${w.shape[1] * group}`);
    const win = slidingWindow(node, x, attrInts(node, 'kernel_shape') ?? w.shape.slice(2));
    ctx.output(node, 0, { dtype: 'float32', shape: [x.shape[0], w.shape[0], ...win.out] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const w = ctx.tensor(node.inputs[1]);
    const [N, C] = x.shape;
    const M = w.shape[0];
    const group = attrInt(node, 'group', 1);
    const win = slidingWindow(node, x, attrInts(node, 'kernel_shape') ?? w.shape.slice(2));
    if (x.shape.length > 4) return convND(ctx, node, win);
    const { H, W, kernel, strides, dilations, pads, out } = as2d(x.shape.slice(2), win);
    const [KH, KW] = kernel;
    const [OH, OW] = out;
    const cg = C / group;
    const mg = M / group;
    // A fused squeeze-and-excitation scale (fuse.ts): this run's weights, each input channel's times its scale.
    // (Referenced only where read: a kernel that reads the weights transformed embeds only that form.)
    let scaled: string | undefined;
    let prefix = '';
    if (node.inputs[3]) {
      const taps = (C / group) * KH * KW;
      scaled = ctx.buffer(`${node.name}: its weights, input channels scaled by ${node.inputs[3]}`, M * taps);
      prefix = `for (long m = 0; m < ${M}; m++) for (long c = 0; c < ${C}; c++) for (long k = 0; k < ${KH * KW}; k++) ${scaled}[(m * ${C} + c) * ${KH * KW} + k] = ${ctx.ref(node.inputs[1])}[(m * ${C} + c) * ${KH * KW} + k] * ${ctx.ref(node.inputs[3])}[c];\n`;
      if (group !== 1 || taps !== C * KH * KW || x.shape.length !== 4 || N !== 1) throw new Error(`Conv ${node.name}: a channel scale is fused only into a 1x1 convolution of one image`);
    }
    const fast = fastConv(ctx, node, { N, C, H, W, M, group, KH, KW, OH, OW, strides, dilations, pads }, scaled);
    if (fast) return prefix + fast;
    const Wt = scaled ?? ctx.ref(node.inputs[1]);
    const X = ctx.ref(node.inputs[0]);
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
}${fusedEpilogueLoop(ctx, node, Y, [N * M * OH * OW])}`.replace(/^/, prefix);
  },
};

/** The plain loop for convolutions of three or more spatial dimensions. */
function convND(ctx: EmitContext, node: Node, win: Window): string {
  const x = ctx.tensor(node.inputs[0]);
  const w = ctx.tensor(node.inputs[1]);
  const [N, C] = x.shape;
  const M = w.shape[0];
  const spatial = x.shape.slice(2);
  const group = attrInt(node, 'group', 1);
  const cg = C / group;
  const mg = M / group;
  const inPlane = spatial.reduce((a, b) => a * b, 1);
  const outPlane = win.out.reduce((a, b) => a * b, 1);
  const taps = win.kernel.reduce((a, b) => a * b, 1);
  const X = ctx.ref(node.inputs[0]);
  const Y = ctx.ref(node.outputs[0]);
  const bias = node.inputs[2] ? `${ctx.ref(node.inputs[2])}[m]` : '0.0f';
  return `for (long n = 0; n < ${N}; n++) for (long m = 0; m < ${M}; m++) {
  const long g = m / ${mg};
  const float *wm = ${ctx.ref(node.inputs[1])} + m * ${cg * taps};
  float *ym = ${Y} + (n * ${M} + m) * ${outPlane};
  ${windowLoops(spatial, win, (inner, o) => `float s = ${bias};
  for (long c = 0; c < ${cg}; c++) {
    const float *xc = ${X} + (n * ${C} + g * ${cg} + c) * ${inPlane};
    const float *wc = wm + c * ${taps};
    ${inner((xi, ki) => `s += xc[${xi}] * wc[${ki}];`)}
  }
  ym[${o}] = s;`)}
}${fusedEpilogueLoop(ctx, node, Y, [N * M * outPlane])}`;
}

/** Winograd F(2x2, 3x3) weights: U = G g G^T per (output, input) channel pair, as [16][M][C]. */
export function winogradWeights(w: Float32Array, M: number, C: number): Float32Array {
  const G = [
    [1, 0, 0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0, 0, 1],
  ];
  const u = new Float32Array(16 * M * C);
  for (let m = 0; m < M; m++) {
    for (let c = 0; c < C; c++) {
      const g = (r: number, q: number) => w[((m * C + c) * 3 + r) * 3 + q];
      for (let xi = 0; xi < 4; xi++) {
        for (let nu = 0; nu < 4; nu++) {
          let v = 0;
          for (let r = 0; r < 3; r++) for (let q = 0; q < 3; q++) v += G[xi][r] * g(r, q) * G[nu][q];
          u[((xi * 4 + nu) * M + m) * C + c] = v;
        }
      }
    }
  }
  return u;
}

interface ConvShape {
  N: number;
  C: number;
  H: number;
  W: number;
  M: number;
  group: number;
  KH: number;
  KW: number;
  OH: number;
  OW: number;
  strides: number[];
  dilations: number[];
  pads: number[];
}

/** Largest im2col buffer (floats) the strided path uses before it falls back to the direct loop. */
const MAX_IM2COL = 1 << 24;

/**
 * The kernel for a convolution with constant weights, chosen by shape: depthwise direct; a GEMM
 * (weights x input) reading the input in place for 1x1 and every stride-1 convolution (on a
 * zero-padded copy of the input whose rows are wider, so every row of the implicit im2col matrix
 * is a contiguous slice of it); im2col + GEMM for the rest. undefined: the generic loop.
 */
function fastConv(ctx: EmitContext, node: Node, s: ConvShape, scaled?: string): string | undefined {
  const w = ctx.tensor(node.inputs[1]);
  const b = node.inputs[2] ? ctx.tensor(node.inputs[2]) : undefined;
  if (!ctx.fast || !(w.data instanceof Float32Array) || (b && !(b.data instanceof Float32Array))) return undefined;
  const { N, C, H, W, M, group, KH, KW, OH, OW, strides, dilations, pads } = s;
  const [sh, sw] = strides;
  const [dh, dw] = dilations;
  const [pt, pl, pb, pr] = pads;
  if (pads.some((p) => p < 0)) return undefined;
  const X = ctx.ref(node.inputs[0]);
  const Y = ctx.ref(node.outputs[0]);
  const res = node.fused?.residual ? ctx.ref(node.fused.residual) : undefined;
  const biasM = b ? ctx.ref(node.inputs[2]) : undefined;
  const plane = M * OH * OW;
  if (group === C && group === M && w.shape[1] === 1 && C > 1) {
    // Depthwise: a zero-padded plane per channel, 16 output columns per vector.
    const hp = Math.max(H + pt, (OH - 1) * sh + (KH - 1) * dh + 1);
    const wp = Math.ceil(OW / NR) * NR * sw + (KW - 1) * dw + NR + 1;
    if (W + pl > wp) return undefined;
    // Planes of 16 columns or fewer: 16 channels at a time (kiln_dw_blocked), every lane busy. Measured on one AVX2 core:
    // 14x14x672 5x5 with SiLU 1.29 ms in rows, 0.75 blocked; 7x7x1152 0.71 and 0.36; at 28x28 and wider, rows were faster.
    const blocked = OW <= 16 && !res && KH * KW <= 49;
    const bh = blocked ? (OH - 1) * sh + (KH - 1) * dh + 1 : 0;
    const bw = blocked ? (OW - 1) * sw + (KW - 1) * dw + 1 : 0;
    const sc = ctx.scratch(blocked ? (bh * bw + OH * OW) * NR : hp * wp);
    let wb = '0';
    if (blocked) {
      const taps = KH * KW;
      const data = new Float32Array(Math.ceil(C / NR) * taps * NR);
      const src = w.data as Float32Array;
      for (let c = 0; c < C; c++) for (let k = 0; k < taps; k++) data[(Math.floor(c / NR) * taps + k) * NR + (c % NR)] = src[c * taps + k];
      wb = ctx.constant(`${node.inputs[1]} (16 channels interleaved)`, data);
    }
    return `for (long n = 0; n < ${N}; n++) {
  kiln_dw_args d = { .x = ${X} + n * ${C * H * W}, .w = ${blocked ? '0' : ctx.ref(node.inputs[1])}, .y = ${Y} + n * ${plane}, .C = ${C}, .H = ${H}, .W = ${W}, .OH = ${OH}, .OW = ${OW},
    .KH = ${KH}, .KW = ${KW}, .sh = ${sh}, .sw = ${sw}, .dh = ${dh}, .dw = ${dw}, .pt = ${pt}, .pl = ${pl}, .hp = ${hp}, .wp = ${wp}, .bh = ${bh}, .bw = ${bw}, .wb = ${wb},
    .e = ${epilogueInit(node, { biasM, res: res && `${res} + n * ${plane}` })}, .scratch = ${sc.ptr}, .scratch_floats = ${sc.stride} };
  kiln_dwconv(&d);
}`;
  }
  if (group !== 1) return undefined;
  const K = C * KH * KW;
  const P = OH * OW;
  // (Threads take whole panels of output channels: at least two each.)
  const pointwise = KH === 1 && KW === 1 && sh === 1 && sw === 1;
  if (!scaled && !pointwise && M >= 2 * NR * Math.max(1, ctx.threads) - NR + 1 && P <= PIXEL_ROWS_MAX && P * K <= MAX_IM2COL) return pixelRowsConv(ctx, node, s, X, Y, res, b?.data as Float32Array | undefined);
  const mc = gemmRowBlock(M, K);
  const gemm = (b: string, koff: string, ldb: number, n: number, wpad: number) => {
    const sc = ctx.scratch(gemmScratch(mc, K));
    const shared = ctx.threads > 1 && gemmSharedA(M, K) <= MAX_SHARED_A ? `, .apacked = ${ctx.shared(gemmSharedA(M, K))}` : '';
    return `kiln_gemm_args g = { .M = ${M}, .N = ${n}, .K = ${K}, .a = ${scaled ?? ctx.ref(node.inputs[1])}, .lda = ${K},
    .b = ${b}, .koff = ${koff}, .ldb = ${ldb}, .sn = 1, .c = ${Y} + n * ${plane}, .ldc = ${OH * OW}, .wp = ${wpad}, .ow = ${OW}, .mc = ${mc},
    .e = ${epilogueInit(node, { biasM, res: res && `${res} + n * ${plane}` })}, .scratch = ${sc.ptr}, .scratch_floats = ${sc.stride}${shared} };
  kiln_gemm(&g);`;
  };
  if (sh === 1 && sw === 1 && KH === 3 && KW === 3 && dh === 1 && dw === 1 && C >= 16 && M >= 16 && OH >= 4 && OW >= 8) {
    // Winograd F(2x2, 3x3): 2.25x fewer multiplications; the weights are transformed here.
    const th = Math.ceil(OH / 2);
    const twp = Math.ceil(Math.ceil(OW / 2) / NR) * NR;
    const hp = 2 * th + 2;
    const wp = 2 * twp + 2 + 2 * NR;
    const u = winogradWeights(w.data, M, C);
    const xp = ctx.buffer(`${node.name}: zero-padded input`, C * hp * wp);
    const wsc = ctx.scratch(16 * C * twp + 16 * M * twp + 2 * KC * NR + 2 * M * NR);
    return `static const long koff[${C}] = {${Array.from({ length: C }, (_, c) => c * twp).join(',')}};
for (long n = 0; n < ${N}; n++) {
  kiln_wino_args w = { .x = ${X} + n * ${C * H * W}, .y = ${Y} + n * ${plane}, .u = ${ctx.constant(`${node.inputs[1]} (Winograd)`, u)}, .C = ${C}, .H = ${H}, .W = ${W}, .M = ${M}, .OH = ${OH}, .OW = ${OW},
    .pt = ${pt}, .pl = ${pl}, .th = ${th}, .twp = ${twp}, .hp = ${hp}, .wp = ${wp}, .xp = ${xp}, .koff = koff,
    .e = ${epilogueInit(node, { biasM, res: res && `${res} + n * ${plane}` })}, .scratch = ${wsc.ptr}, .scratch_floats = ${wsc.stride} };
  kiln_wino(&w);
}`;
  }
  if (sh === 1 && sw === 1) {
    const padded = pt || pl || pb || pr;
    const hp = H + pt + pb;
    const wp = W + pl + pr;
    const koff: number[] = [];
    for (let c = 0; c < C; c++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) koff.push(c * hp * wp + kh * dh * wp + kw * dw);
    const cols = (OH - 1) * wp + OW;
    const table = `static const long koff[${K}] = {${koff.join(',')}};`;
    if (!padded) {
      return `${table}
for (long n = 0; n < ${N}; n++) {
  ${gemm(`${X} + n * ${C * H * W}`, 'koff', 0, cols, wp === OW ? 0 : wp)}
}`;
    }
    const xp = ctx.buffer(`${node.name}: zero-padded input`, C * hp * wp);
    return `${table}
for (long n = 0; n < ${N}; n++) {
  for (long c = 0; c < ${C}; c++) for (long h = 0; h < ${H}; h++) memcpy(${xp} + (c * ${hp} + h + ${pt}) * ${wp} + ${pl}, ${X} + ((n * ${C} + c) * ${H} + h) * ${W}, ${W * 4});
  ${gemm(xp, 'koff', 0, cols, wp)}
}`;
  }
  if (K * OH * OW > MAX_IM2COL) return undefined;
  const col = ctx.buffer(`${node.name}: im2col`, K * OH * OW);
  return `for (long n = 0; n < ${N}; n++) {
  for (long c = 0; c < ${C}; c++) for (long kh = 0; kh < ${KH}; kh++) for (long kw = 0; kw < ${KW}; kw++) {
    float *dst = ${col} + ((c * ${KH} + kh) * ${KW} + kw) * ${OH * OW};
    const float *xc = ${X} + (n * ${C} + c) * ${H * W};
    for (long oh = 0; oh < ${OH}; oh++) {
      const long ih = oh * ${sh} - ${pt} + kh * ${dh};
      for (long ow = 0; ow < ${OW}; ow++) {
        const long iw = ow * ${sw} - ${pl} + kw * ${dw};
        dst[oh * ${OW} + ow] = ih >= 0 && ih < ${H} && iw >= 0 && iw < ${W} ? xc[ih * ${W} + iw] : 0.0f;
      }
    }
  }
  ${gemm(col, '0', OH * OW, OH * OW, 0)}
}`;
}

/**
 * Output planes of at most this many pixels are computed with the pixels as the GEMM's rows and
 * the output channels as its columns (pixelRowsConv). The planes it was measured on (one thread,
 * a 2-core AMD EPYC Zen 5 with AVX-512) are ResNet's and GoogLeNet's 7x7 and 14x14 ones; the
 * bound itself (between 196 and 784 pixels) has not been tuned.
 */
export const PIXEL_ROWS_MAX = 256;

/**
 * A convolution with few output pixels, as C^T (pixels x output channels) = im2col^T (pixels x K)
 * x W^T (K x output channels): the weights are the vector operand, packed at compile time in
 * panels of 16 output channels, and each pixel's row of the explicit im2col is broadcast. The
 * usual orientation (output channels as rows, pixels as 16-wide columns) wastes the columns past
 * the last pixel (a 7x7 plane fills 49 of 64) and broadcasts every weight for only 16 or 32
 * pixels; here no column is wasted and each weight loaded serves up to 12 pixels. The results
 * are stored transposed, into the output's channel planes. Not for 1x1 stride-1 convolutions,
 * which read their input in place the usual way (the transposed copy cost more than it saved).
 */
function pixelRowsConv(ctx: EmitContext, node: Node, s: ConvShape, X: string, Y: string, res: string | undefined, bias: Float32Array | undefined): string {
  const { N, C, H, W, M, KH, KW, OH, OW, strides, dilations, pads } = s;
  const [sh, sw] = strides;
  const [dh, dw] = dilations;
  const [pt, pl] = pads;
  const K = C * KH * KW;
  const P = OH * OW;
  const plane = M * P;
  const w = ctx.tensor(node.inputs[1]).data as Float32Array;
  const packed = ctx.constant(`${node.inputs[1]} (packed panels of output channels)`, packPanels(w, K, M, 1, K));
  let biasN: string | undefined;
  if (bias) {
    const padded = new Float32Array(Math.ceil(M / NR) * NR);
    padded.set(bias.subarray(0, M));
    biasN = ctx.constant(`${node.inputs[2]} (padded)`, padded);
  }
  const col = ctx.buffer(`${node.name}: im2col, a row per pixel`, P * K);
  // One block of rows, all the pixels: the weights (the larger operand here) then stream through once.
  const mc = P;
  const sc = ctx.scratch(gemmScratch(mc, K));
  const shared = ctx.threads > 1 && gemmSharedA(P, K) <= MAX_SHARED_A ? `, .apacked = ${ctx.shared(gemmSharedA(P, K))}` : '';
  const fill = `for (long oh = 0; oh < ${OH}; oh++) for (long ow = 0; ow < ${OW}; ow++) {
    float *dst = ${col} + (oh * ${OW} + ow) * ${K};
    for (long c = 0; c < ${C}; c++) for (long kh = 0; kh < ${KH}; kh++) {
      const long ih = oh * ${sh} - ${pt} + kh * ${dh};
      const int row = ih >= 0 && ih < ${H};
      for (long kw = 0; kw < ${KW}; kw++) {
        const long iw = ow * ${sw} - ${pl} + kw * ${dw};
        *dst++ = row && iw >= 0 && iw < ${W} ? x[(c * ${H} + ih) * ${W} + iw] : 0.0f;
      }
    }
  }`;
  return `for (long n = 0; n < ${N}; n++) {
  const float *x = ${X} + n * ${C * H * W};
  ${fill}
  kiln_gemm_args g = { .M = ${P}, .N = ${M}, .K = ${K}, .a = ${col}, .lda = ${K}, .bpacked = ${packed}, .c = ${Y} + n * ${plane}, .ct = ${P}, .mc = ${mc},
    .e = ${epilogueInit(node, { biasN, res: res && `${res} + n * ${plane}` })}, .scratch = ${sc.ptr}, .scratch_floats = ${sc.stride}${shared} };
  kiln_gemm(&g);
}`;
}

export const CONV_OPS: OpDef[] = [conv];

/**
 * The convolutions whose input and output the fused kernels can take as they are: a depthwise
 * convolution the depthwise kernel runs, or a 1x1 convolution (stride 1, no padding) run as one
 * GEMM. Both with constant float weights. undefined for any other node.
 */
export function convKind(node: Node, tensor: (name: string) => Tensor | undefined): 'depthwise' | 'pointwise' | undefined {
  if (node.op !== 'Conv') return undefined;
  const x = tensor(node.inputs[0]);
  const w = tensor(node.inputs[1]);
  const b = node.inputs[2] ? tensor(node.inputs[2]) : undefined;
  if (!x || !w || x.shape.length !== 4 || !(w.data instanceof Float32Array) || (node.inputs[2] && !(b?.data instanceof Float32Array))) return undefined;
  const group = attrInt(node, 'group', 1);
  const { kernel, strides, dilations, pads, out } = slidingWindow(node, x, attrInts(node, 'kernel_shape') ?? w.shape.slice(2));
  if (pads.some((p) => p < 0)) return undefined;
  const [, C, , W] = x.shape;
  const M = w.shape[0];
  if (group === C && group === M && w.shape[1] === 1 && C > 1) {
    // As fastConv's depthwise path, with no dilation and at most 16 rows in the kernel.
    const wp = Math.ceil(out[1] / NR) * NR * strides[1] + (kernel[1] - 1) + NR + 1;
    return W + pads[1] > wp || dilations.some((d) => d !== 1) || kernel[0] > 16 ? undefined : 'depthwise';
  }
  if (group === 1 && kernel.every((k) => k === 1) && strides.every((s) => s === 1) && pads.every((p) => p === 0)) return 'pointwise';
  return undefined;
}

/**
 * The expanded tensor from which an inverted residual runs as one kernel. A row at a time the
 * project's and expand's GEMMs are as wide as a row (7 to 112 columns in 16-wide vectors), and
 * the depthwise convolution cannot be vectorised across rows; that only pays when the expanded
 * tensor would not stay in the cache. Measured on MobileNetV2 at 224x224 (expanded tensors of up
 * to 4.6 MiB), one thread on a 2-core EPYC with AVX2: the three kernels apart took 27 ms, the
 * fused blocks 34 ms; fused only where 112 columns wide, 29 ms.
 */
export const INVERTED_RESIDUAL_BYTES = 16 * 2 ** 20;

/** A MobileNetV2 inverted residual: a 1x1 expand, a depthwise convolution and a 1x1 project, each the only reader of the one before. */
export interface InvertedResidual {
  expand: Node;
  depthwise: Node;
  project: Node;
}

/**
 * The inverted residuals of a graph (after fusion), which the kernel library runs as one kernel
 * (kiln_ir) a row of output at a time: the expanded and depthwise tensors, the largest of the
 * block, never go to memory in full. The expand and depthwise take no residual (their
 * epilogues are bias and clamp or GELU); the project may. Intermediates are float32 (not half)
 * and not graph outputs.
 */
export function invertedResiduals(graph: Graph, nodes: Node[], minExpandedBytes = INVERTED_RESIDUAL_BYTES): InvertedResidual[] {
  const tensor = (n: string) => graph.tensors.get(n);
  const readers = new Map<string, { node: Node; slot: number }[]>();
  const read = (name: string, node: Node, slot: number) => readers.set(name, [...(readers.get(name) ?? []), { node, slot }]);
  for (const node of nodes) {
    node.inputs.forEach((n, i) => n && read(n, node, i));
    if (node.fused?.residual) read(node.fused.residual, node, -1);
  }
  const outputs = new Set(graph.outputs);
  /** The one node that reads an intermediate, as its data input; undefined if there is not exactly one. */
  const onlyReader = (name: string): Node | undefined => {
    const t = tensor(name);
    const r = readers.get(name) ?? [];
    if (!t || t.data || t.half || t.dtype !== 'float32' || outputs.has(name) || r.length !== 1 || r[0].slot !== 0) return undefined;
    return r[0].node;
  };
  const found: InvertedResidual[] = [];
  const taken = new Set<Node>();
  for (const expand of nodes) {
    if (taken.has(expand) || expand.fused?.residual || expand.inputs[3] || convKind(expand, tensor) !== 'pointwise') continue;
    const depthwise = onlyReader(expand.outputs[0]);
    if (!depthwise || depthwise.fused?.residual || convKind(depthwise, tensor) !== 'depthwise') continue;
    const project = onlyReader(depthwise.outputs[0]);
    if (!project || project.inputs[3] || convKind(project, tensor) !== 'pointwise') continue;
    if (tensor(expand.outputs[0])!.shape.reduce((a, b) => a * b, 1) * 4 < minExpandedBytes) continue;
    found.push({ expand, depthwise, project });
    for (const n of [expand, depthwise, project]) taken.add(n);
  }
  return found;
}

/** C for an inverted residual (see invertedResiduals), in place of its three convolutions. */
export function emitInvertedResidual(ctx: EmitContext, ir: InvertedResidual): string {
  const { expand, depthwise, project } = ir;
  const [N, C, H, W] = ctx.tensor(expand.inputs[0]).shape;
  const E = ctx.tensor(expand.inputs[1]).shape[0];
  const M = ctx.tensor(project.inputs[1]).shape[0];
  const wd = ctx.tensor(depthwise.inputs[1]);
  const { kernel, strides, pads, out } = slidingWindow(depthwise, ctx.tensor(depthwise.inputs[0]), attrInts(depthwise, 'kernel_shape') ?? wd.shape.slice(2));
  const [KH, KW] = kernel;
  const [sh, sw] = strides;
  const [OH, OW] = out;
  const [pt, pl] = pads;
  // A ring row: zeros, then W values from an aligned column, zeros; as wide as the depthwise kernel's vectors read.
  const lead = Math.ceil(pl / NR) * NR;
  const wp = Math.ceil(Math.max(lead + W, lead - pl + Math.ceil(OW / NR) * NR * sw + (KW - 1) + NR + 1) / NR) * NR;
  const sc = ctx.scratch(E * KH * wp + Math.ceil((E * OW) / NR) * NR + 2 * KC * NR + 2 * Math.max(E, M) * NR);
  // With threads, pieces of rows: each starts its ring afresh (KH - 1 rows expanded again), so not too many.
  const chunk = ctx.threads > 1 ? Math.max(1, Math.ceil(OH / (2 * ctx.threads))) : OH;
  const bias = (n: Node) => (n.inputs[2] ? ctx.ref(n.inputs[2]) : undefined);
  const res = project.fused?.residual ? ctx.ref(project.fused.residual) : undefined;
  const X = ctx.ref(expand.inputs[0]);
  const Y = ctx.ref(project.outputs[0]);
  return `static const long koff2[${E}] = {${Array.from({ length: E }, (_, e) => e * OW).join(',')}};
for (long n = 0; n < ${N}; n++) {
  kiln_ir_args r = { .x = ${X} + n * ${C * H * W}, .y = ${Y} + n * ${M * OH * OW}, .C = ${C}, .H = ${H}, .W = ${W}, .E = ${E}, .M = ${M}, .OH = ${OH}, .OW = ${OW},
    .wexp = ${ctx.ref(expand.inputs[1])}, .wdw = ${ctx.ref(depthwise.inputs[1])}, .wproj = ${ctx.ref(project.inputs[1])},
    .KH = ${KH}, .KW = ${KW}, .sh = ${sh}, .sw = ${sw}, .pt = ${pt}, .pl = ${pl}, .lead = ${lead}, .wp = ${wp},
    .e1 = ${epilogueInit(expand, { biasM: bias(expand) })},
    .ed = ${epilogueInit(depthwise, { biasM: bias(depthwise) })},
    .e2 = ${epilogueInit(project, { biasM: bias(project), res: res && `${res} + n * ${M * OH * OW}` })},
    .koff2 = koff2, .scratch = ${sc.ptr}, .scratch_floats = ${sc.stride}, .chunk = ${chunk} };
  kiln_ir(&r);
}`;
}
