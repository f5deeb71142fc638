import { HALF_C, Half, halfBits, halfValue } from '../half';
import { elementType } from '../import';
import { C_TYPE, CompileError, DType, makeArray, MAX_FOLDED_ELEMENTS, Node, numel, Tensor, TypedArray } from '../ir';
import { slidingWindow, Window } from './conv';
import { attrInt, attrInts, broadcast, broadcastStrides, EmitContext, InferContext, loops, normAxis, offset, OpDef, stridesOf } from './op';
import { packQPanels, qgemmCode, qgemmDepth, qgemmPanels, QGemmCall } from './qgemm';

/*
 * Quantization: QuantizeLinear and DequantizeLinear (per tensor, per axis and blocked; folded
 * when their inputs are constants, so a QDQ model's int8 weights become float weights at compile
 * time), DynamicQuantizeLinear, and the integer operators of QOperator models (MatMulInteger,
 * ConvInteger, QLinearMatMul, QLinearConv) on the integer GEMM of qgemm.ts. Rounding is half to
 * even and results saturate, as ONNX defines them; the integer sums are exact, and
 * requantization is ONNX Runtime's: the int32 sum (plus the bias) as float, times
 * x_scale * w_scale / y_scale, clamped, rounded, plus the zero point.
 */

/** The integer types a quantized tensor may have, and their ranges (int16 and uint16 where the IR has them). */
const QRANGE: Record<string, [number, number]> = { int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535] };

function cType(dtype: string): string | undefined {
  return (C_TYPE as Record<string, string>)[dtype];
}

function quantRange(node: Node, dtype: string, what: string): [number, number] {
  const r = QRANGE[dtype];
  if (!r || !cType(dtype)) throw new CompileError('unsupported', `${node.op} ${node.name}: ${what} is ${dtype}; int8 and uint8${cType('int16') ? ', int16 and uint16' : ''} are supported`);
  return r;
}

/** Round half to even (the C side: rintf, or the magic-number add, in the default rounding mode). */
export function rint(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The quantization of one value as the C does it: v (already divided by the scale) clamped to [lo - z, hi - z] (NaN to the low end), rounded, plus z. */
function quantizeValue(v: number, z: number, lo: number, hi: number): number {
  let w = v >= lo - z ? v : lo - z;
  w = w <= hi - z ? w : hi - z;
  return rint(w) + z;
}

/**
 * The C helper every quantizing kernel shares: v clamped to [lo, hi] (NaN to lo) and rounded half
 * to even. lo and hi are whole numbers within 2^22, so adding and subtracting 1.5 x 2^23 rounds
 * exactly, in the default rounding mode, with no library call.
 */
const QROUND_C = `/* v clamped to [lo, hi] (NaN gives lo), rounded half to even; lo and hi whole numbers within 2^22. */
static inline int32_t kiln_qround(float v, float lo, float hi) {
  v = v >= lo ? v : lo;
  v = v <= hi ? v : hi;
  return (int32_t)((v + 12582912.0f) - 12582912.0f);
}`;

function qround(ctx: EmitContext): void {
  ctx.helper('qround', QROUND_C);
}

/**
 * Where the scale and zero point of each element come from: one for the tensor, one per index
 * along `axis` (a 1-D scale), or one per block of `block` indices along it (a scale of the
 * input's rank). The input is viewed as [outer, D, inner].
 */
interface QLayout {
  kind: 'tensor' | 'axis' | 'block';
  outer: number;
  D: number;
  inner: number;
  /** Blocks along the axis (blocked only). */
  S: number;
  block: number;
}

function qlayout(ctx: InferContext | EmitContext, node: Node, x: Tensor, s: Tensor, z: Tensor | undefined): QLayout {
  const n = numel(x.shape);
  if (z && numel(z.shape) !== numel(s.shape)) throw new CompileError('invalid', `${node.op} ${node.name}: the zero point's shape [${z.shape}] differs from the scale's [${s.shape}]`);
  if (numel(s.shape) === 1) return { kind: 'tensor', outer: 1, D: 1, inner: n, S: 1, block: 0 };
  if (ctx.opset < 13) throw new CompileError('invalid', `${node.op} ${node.name}: before opset 13 the scale must be a scalar`);
  if (z && z.shape.join() !== s.shape.join()) throw new CompileError('invalid', `${node.op} ${node.name}: the zero point's shape [${z.shape}] differs from the scale's [${s.shape}]`);
  const axis = normAxis(attrInt(node, 'axis', 1), x.shape.length, node);
  const block = ctx.opset >= 21 ? attrInt(node, 'block_size', 0) : 0;
  const D = x.shape[axis];
  const outer = numel(x.shape.slice(0, axis));
  const inner = numel(x.shape.slice(axis + 1));
  if (block < 0) throw new CompileError('invalid', `${node.op} ${node.name}: block_size ${block} is negative`);
  if (block > 0) {
    const S = s.shape[axis];
    const fits = s.shape.length === x.shape.length && s.shape.every((d, k) => k === axis || d === x.shape[k]) && S === Math.ceil(D / block);
    if (!fits) throw new CompileError('invalid', `${node.op} ${node.name}: a scale of shape [${s.shape}] does not block [${x.shape}] by ${block} along axis ${axis}`);
    return { kind: 'block', outer, D, inner, S, block };
  }
  if (s.shape.length !== 1 || s.shape[0] !== D) throw new CompileError('invalid', `${node.op} ${node.name}: a per-axis scale must be 1-D of ${D} elements (axis ${axis} of [${x.shape}]), not [${s.shape}]`);
  return { kind: 'axis', outer, D, inner, S: D, block: 0 };
}

/** The scale's index of element (o, d, i), in JS. */
function paramIndex(L: QLayout, o: number, d: number, i: number): number {
  return L.kind === 'tensor' ? 0 : L.kind === 'axis' ? d : (o * L.S + Math.floor(d / L.block)) * L.inner + i;
}

/** Loops over x as [outer, D, inner], with `body` given the element's offset and its scale's index, as C. */
function layoutLoops(L: QLayout, body: (i: string, p: string) => string): string {
  if (L.kind === 'tensor') return `for (long i = 0; i < ${L.outer * L.D * L.inner}; i++) {\n  ${body('i', '0')}\n}`;
  const p = L.kind === 'axis' ? 'd' : `(o * ${L.S} + d / ${L.block}) * ${L.inner} + j`;
  return `for (long o = 0; o < ${L.outer}; o++) for (long d = 0; d < ${L.D}; d++) for (long j = 0; j < ${L.inner}; j++) {
  const long i = (o * ${L.D} + d) * ${L.inner} + j;
  ${body('i', p)}
}`;
}

function foldable(...ts: (Tensor | undefined)[]): boolean {
  return ts.every((t) => !t || t.data) && ts.some(Boolean);
}

function nums(t: Tensor): ArrayLike<number> {
  return t.data as unknown as ArrayLike<number>;
}

/** The half format a division runs in (QuantizeLinear): the precision attribute's, else x's and the scale's where both are that format. */
function divisionHalf(ctx: InferContext | EmitContext, node: Node, x: Tensor, s: Tensor): Half | undefined {
  const p = ctx.opset >= 23 ? attrInt(node, 'precision', 0) : 0;
  if (p) {
    const t = elementType(p);
    if (!t || t.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: precision ${p} is not supported (float, float16 and bfloat16 are)`);
    return t.half;
  }
  return x.half && x.half === s.half ? x.half : undefined;
}

/** y = saturate(round(x / y_scale) + y_zero_point). */
const quantizeLinear: OpDef = {
  type: 'QuantizeLinear',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const s = ctx.required(node, 1);
    const z = ctx.input(node, 2);
    if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new CompileError('unsupported', `QuantizeLinear ${node.name}: x is ${x.dtype}; float32, float16, bfloat16 and int32 are supported`);
    if (s.dtype !== 'float32') throw new CompileError('unsupported', `QuantizeLinear ${node.name}: the scale is ${s.dtype}; float32, float16 and bfloat16 are supported`);
    let dtype: string = 'uint8';
    const od = ctx.opset >= 21 ? attrInt(node, 'output_dtype', 0) : 0;
    if (od) {
      const t = elementType(od);
      if (!t || t.half) throw new CompileError('unsupported', `QuantizeLinear ${node.name}: output_dtype ${od} is not supported (int8 and uint8${cType('int16') ? ', int16 and uint16' : ''} are)`);
      dtype = t.dtype;
    }
    if (z) {
      if (od && z.dtype !== dtype) throw new CompileError('invalid', `QuantizeLinear ${node.name}: output_dtype ${dtype} differs from the zero point's type ${z.dtype}`);
      dtype = z.dtype;
    }
    const [lo, hi] = quantRange(node, dtype, 'the output');
    const L = qlayout(ctx, node, x, s, z);
    let data: TypedArray | undefined;
    const n = numel(x.shape);
    if (foldable(x, s, z) && n <= MAX_FOLDED_ELEMENTS) {
      const half = divisionHalf(ctx, node, x, s);
      const xs = nums(x);
      const ss = nums(s);
      const zs = z ? nums(z) : undefined;
      data = makeArray(dtype as DType, n);
      for (let o = 0; o < L.outer; o++) {
        for (let d = 0; d < L.D; d++) {
          for (let j = 0; j < L.inner; j++) {
            const i = (o * L.D + d) * L.inner + j;
            const p = paramIndex(L, o, d, j);
            let v = Math.fround(Math.fround(xs[i]) / ss[p]);
            if (half) v = halfValue(half, halfBits(half, v));
            (data as Uint8Array)[i] = quantizeValue(v, zs ? zs[p] : 0, lo, hi);
          }
        }
      }
    }
    ctx.output(node, 0, { dtype: dtype as DType, shape: [...x.shape], data });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const s = ctx.tensor(node.inputs[1]);
    const z = node.inputs[2] ? ctx.tensor(node.inputs[2]) : undefined;
    const y = ctx.tensor(node.outputs[0]);
    const [lo, hi] = QRANGE[y.dtype];
    const L = qlayout(ctx, node, x, s, z);
    const half = divisionHalf(ctx, node, x, s);
    qround(ctx);
    const X = ctx.ref(node.inputs[0]);
    const S = ctx.ref(node.inputs[1]);
    const Z = z ? ctx.ref(node.inputs[2]) : undefined;
    const Y = ctx.ref(node.outputs[0]);
    const T = cType(y.dtype);
    const quot = (i: string, p: string) => (half ? `${HALF_C[half].round}((float)${X}[${i}] / ${S}[${p}])` : `(float)${X}[${i}] / ${S}[${p}]`);
    if (L.kind === 'tensor') {
      return `const float s = ${S}[0];
const int32_t z = ${Z ? `(int32_t)${Z}[0]` : '0'};
const float lo = (float)(${lo} - z), hi = (float)(${hi} - z);
for (long i = 0; i < ${numel(x.shape)}; i++) ${Y}[i] = (${T})(kiln_qround(${half ? `${HALF_C[half].round}((float)${X}[i] / s)` : `(float)${X}[i] / s`}, lo, hi) + z);`;
    }
    return layoutLoops(L, (i, p) => {
      const zv = Z ? `(int32_t)${Z}[${p}]` : '0';
      return `const int32_t z = ${zv};
  ${Y}[${i}] = (${T})(kiln_qround(${quot(i, p)}, (float)(${lo} - z), (float)(${hi} - z)) + z);`;
    });
  },
};

/** y = (x - x_zero_point) * x_scale, in the scale's type (or output_dtype's, opset 23). */
const dequantizeLinear: OpDef = {
  type: 'DequantizeLinear',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const s = ctx.required(node, 1);
    const z = ctx.input(node, 2);
    if (x.dtype !== 'int32') quantRange(node, x.dtype, 'x');
    if (z && z.dtype !== x.dtype) throw new CompileError('invalid', `DequantizeLinear ${node.name}: the zero point is ${z.dtype}, x is ${x.dtype}`);
    if (s.dtype !== 'float32') throw new CompileError('unsupported', `DequantizeLinear ${node.name}: the scale is ${s.dtype}; float32, float16 and bfloat16 are supported`);
    let half: Half | undefined = s.half;
    const od = ctx.opset >= 23 ? attrInt(node, 'output_dtype', 0) : 0;
    if (od) {
      const t = elementType(od);
      if (!t || t.dtype !== 'float32') throw new CompileError('unsupported', `DequantizeLinear ${node.name}: output_dtype ${od} is not supported (float, float16 and bfloat16 are)`);
      half = t.half;
    }
    const L = qlayout(ctx, node, x, s, z);
    const n = numel(x.shape);
    let data: Float32Array | undefined;
    if (foldable(x, s, z) && n <= MAX_FOLDED_ELEMENTS) {
      const xs = nums(x);
      const ss = nums(s);
      const zs = z ? nums(z) : undefined;
      data = new Float32Array(n);
      for (let o = 0; o < L.outer; o++) {
        for (let d = 0; d < L.D; d++) {
          for (let j = 0; j < L.inner; j++) {
            const i = (o * L.D + d) * L.inner + j;
            const p = paramIndex(L, o, d, j);
            data[i] = Math.fround(Math.fround(xs[i] - (zs ? zs[p] : 0)) * ss[p]);
          }
        }
      }
    }
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape], data, half });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const s = ctx.tensor(node.inputs[1]);
    const z = node.inputs[2] ? ctx.tensor(node.inputs[2]) : undefined;
    const L = qlayout(ctx, node, x, s, z);
    const X = ctx.ref(node.inputs[0]);
    const S = ctx.ref(node.inputs[1]);
    const Z = z ? ctx.ref(node.inputs[2]) : undefined;
    const Y = ctx.ref(node.outputs[0]);
    // int32 minus its zero point can leave int32: the difference is taken in int64.
    const wide = x.dtype === 'int32' ? 'int64_t' : 'int32_t';
    const diff = (i: string, p: string) => (Z ? `(float)((${wide})${X}[${i}] - (${wide})${Z}[${p}])` : `(float)${X}[${i}]`);
    if (L.kind === 'tensor') {
      return `const float s = ${S}[0];
${Z ? `const ${wide} z = (${wide})${Z}[0];\n` : ''}for (long i = 0; i < ${numel(x.shape)}; i++) ${Y}[i] = ${Z ? `(float)((${wide})${X}[i] - z)` : `(float)${X}[i]`} * s;`;
    }
    return layoutLoops(L, (i, p) => `${Y}[${i}] = ${diff(i, p)} * ${S}[${p}];`);
  },
};

/** The scale and zero point DynamicQuantizeLinear computes, as ONNX Runtime does (scale 1 when x is all zeros). */
function dynamicParams(x: ArrayLike<number>): { scale: number; zp: number } {
  let mn = 0;
  let mx = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    mn = v < mn ? v : mn;
    mx = v > mx ? v : mx;
  }
  const scale = mx === mn ? 1 : Math.fround(Math.fround(mx - mn) / 255);
  const init = Math.fround(0 - Math.fround(mn / scale));
  return { scale, zp: rint(Math.max(0, Math.min(255, init))) };
}

/** y, y_scale, y_zero_point: x quantized to uint8 over its range (widened to include 0). */
const dynamicQuantizeLinear: OpDef = {
  type: 'DynamicQuantizeLinear',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32' || x.half) throw new CompileError('unsupported', `DynamicQuantizeLinear ${node.name}: x must be float32`);
    let y: Uint8Array | undefined;
    let params: { scale: number; zp: number } | undefined;
    if (x.data && numel(x.shape) <= MAX_FOLDED_ELEMENTS) {
      const xs = x.data as Float32Array;
      params = dynamicParams(xs);
      const { scale, zp } = params;
      y = Uint8Array.from(xs, (v) => quantizeValue(Math.fround(v / scale), zp, 0, 255));
    }
    ctx.output(node, 0, { dtype: 'uint8', shape: [...x.shape], data: y });
    ctx.output(node, 1, { dtype: 'float32', shape: [], data: params && Float32Array.of(params.scale) });
    ctx.output(node, 2, { dtype: 'uint8', shape: [], data: params && Uint8Array.of(params.zp) });
  },
  emit(ctx, node) {
    const n = numel(ctx.tensor(node.inputs[0]).shape);
    qround(ctx);
    const X = ctx.ref(node.inputs[0]);
    const Y = ctx.ref(node.outputs[0]);
    const set = (i: number, v: string) => (node.outputs[i] ? `\n${ctx.ref(node.outputs[i])}[0] = ${v};` : '');
    return `float mn = 0.0f, mx = 0.0f;
for (long i = 0; i < ${n}; i++) { const float v = ${X}[i]; mn = v < mn ? v : mn; mx = v > mx ? v : mx; }
const float s = mx == mn ? 1.0f : (mx - mn) / 255.0f;
const int32_t z = kiln_qround(0.0f - mn / s, 0.0f, 255.0f);
const float lo = (float)(0 - z), hi = (float)(255 - z);
for (long i = 0; i < ${n}; i++) ${Y}[i] = (uint8_t)(kiln_qround(${X}[i] / s, lo, hi) + z);${set(1, 's')}${set(2, '(uint8_t)z')}`;
  },
};

/* ---- Integer matrix products and convolutions ---- */

function int8Operand(node: Node, t: Tensor, what: string): boolean {
  if (t.dtype !== 'int8' && t.dtype !== 'uint8') throw new CompileError('unsupported', `${node.op} ${node.name}: ${what} is ${t.dtype}; int8 and uint8 are supported`);
  return t.dtype === 'int8';
}

/** A zero point's C value at index `i` (0 when absent). */
function zpAt(ctx: EmitContext, name: string | undefined, i: string): string {
  return name ? `(int32_t)${ctx.ref(name)}[${i}]` : '0';
}

/** MatMul's shapes: operands promoted to 2-D, the batch broadcast, the output's shape. */
function matmulShapes(node: Node, a: Tensor, b: Tensor) {
  const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
  const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
  if (as.length < 2 || as[as.length - 1] !== bs[bs.length - 2]) throw new CompileError('invalid', `${node.op} ${node.name}: [${a.shape}] x [${b.shape}] do not agree`);
  const M = as[as.length - 2];
  const K = as[as.length - 1];
  const N = bs[bs.length - 1];
  const aBatch = as.slice(0, -2);
  const bBatch = bs.slice(0, -2);
  const batch = broadcast([aBatch, bBatch], node);
  const out = [...batch, M, N];
  if (a.shape.length === 1) out.splice(out.length - 2, 1);
  if (b.shape.length === 1) out.splice(out.length - 1, 1);
  return { M, K, N, aBatch, bBatch, batch, out };
}

/**
 * How a per-row (A) or per-column (B) quantization parameter is indexed: one value ('0'), one per
 * row or column, or one per row or column of each slice of the batch ([..., M, 1] for A, [..., 1, N] for B).
 */
function matParam(node: Node, p: Tensor | undefined, side: 'row' | 'column', len: number, batch: number[], what: string): (slice: string, i: string) => string {
  if (!p || numel(p.shape) === 1) return () => '0';
  if (p.shape.length === 1 && p.shape[0] === len) return (_, i) => i;
  const want = side === 'row' ? [...batch, len, 1] : [...batch, 1, len];
  if (p.shape.join() === want.join()) return (slice, i) => `${slice} * ${len} + ${i}`;
  throw new CompileError('unsupported', `${node.op} ${node.name}: ${what} of shape [${p.shape}] is not supported (a scalar, or one per ${side}: [${len}] or [${want}])`);
}

interface MatMulQ {
  a: string;
  b: string;
  /** A's zero point, B's zero point (absent: 0). */
  za?: string;
  zb?: string;
  /** Stores the exact product (int32 C expression v) of batch slice offsets and row m, column n; `bs` is B's slice index. */
  store(ctx: EmitContext, y: string, m: string, n: string, v: string, bs: string): string;
  /** C run once before the products (requantization scales). */
  prologue?(ctx: EmitContext): string;
}

/** The C of MatMulInteger and QLinearMatMul: the batch loops around one integer GEMM per slice (or plain loops). */
function emitMatMulQ(ctx: EmitContext, node: Node, q: MatMulQ): string {
  const a = ctx.tensor(q.a);
  const b = ctx.tensor(q.b);
  const { M, K, N, aBatch, bBatch, batch } = matmulShapes(node, a, b);
  const aSigned = a.dtype === 'int8';
  const bSigned = b.dtype === 'int8';
  const sa = broadcastStrides(aBatch, batch);
  const sb = broadcastStrides(bBatch, batch);
  const so = stridesOf(batch);
  const za = matParam(node, q.za ? ctx.tensor(q.za) : undefined, 'row', M, aBatch, 'a_zero_point');
  const zb = matParam(node, q.zb ? ctx.tensor(q.zb) : undefined, 'column', N, bBatch, 'b_zero_point');
  const A = ctx.ref(q.a);
  const Y = ctx.ref(node.outputs[0]);
  const ZA = q.za ? ctx.ref(q.za) : undefined;
  const ZB = q.zb ? ctx.ref(q.zb) : undefined;
  const pro = q.prologue ? `${q.prologue(ctx)}\n` : '';
  const bConst = b.data && K > 0 && N > 0 ? b.data : undefined;
  let panels: string | undefined;
  let sums: string | undefined;
  const kp = qgemmDepth(K);
  const slices = numel(bBatch);
  if (ctx.fast && bConst && M > 0) {
    // Every slice of B packed at compile time, one after another.
    const P = qgemmPanels(N);
    const all = new Int8Array(slices * P * kp * 16);
    const allSums = new Int32Array(slices * P * 16);
    const bv = bConst as unknown as ArrayLike<number>;
    for (let sl = 0; sl < slices; sl++) {
      const { panels: p, sums: s } = packQPanels((k, n) => bv[sl * K * N + k * N + n], K, N, !bSigned);
      all.set(p, sl * p.length);
      allSums.set(s, sl * s.length);
    }
    panels = ctx.constant(`${q.b} (packed panels)`, all);
    sums = ctx.constant(`${q.b} (column sums)`, allSums);
  }
  const B = bConst && ctx.fast && M > 0 ? '' : ctx.ref(q.b);
  const body = (idx: string[]) => {
    const aoff = `${offset(idx, sa)}`;
    const bsl = `${offset(idx, sb)}`;
    const aRow = `(${aoff})`;
    const yoff = `${offset(idx, so)} * ${M * N}`;
    const store = (m: string, n: string, v: string) => q.store(ctx, `${Y}[${yoff} + ${m} * ${N} + ${n}]`, m, n, v, bsl);
    const zaC = (m: string) => (ZA ? `(int32_t)${ZA}[${za(aRow, m)}]` : '0');
    const zbC = (n: string) => (ZB ? `(int32_t)${ZB}[${zb(bsl, n)}]` : '0');
    if (!ctx.fast || M === 0 || N === 0 || K === 0) {
      return `for (long m = 0; m < ${M}; m++) for (long n = 0; n < ${N}; n++) {
  const int32_t za = ${zaC('m')}, zb = ${zbC('n')};
  uint32_t acc = 0;
  for (long k = 0; k < ${K}; k++) acc += (uint32_t)(((int32_t)${A}[(${aoff}) * ${M * K} + m * ${K} + k] - za) * ((int32_t)${B}[(${bsl}) * ${K * N} + k * ${N} + n] - zb));
  const int32_t v = (int32_t)acc;
  ${store('m', 'n', 'v')}
}`;
    }
    const call: QGemmCall = {
      M,
      N,
      K,
      aSigned,
      bSigned,
      packRows: (ap, kpv, m0, mb, flip) => `for (long r = 0; r < ${mb}; r++) {
  const uint8_t *src = (const uint8_t *)(${A} + (${aoff}) * ${M * K} + (${m0} + r) * ${K});
  uint8_t *row = ${ap} + r * ${kpv};
  for (long k = 0; k < ${K}; k++) row[k] = (uint8_t)(src[k] ^ ${flip});
}`,
      b: panels ? { panels: `${panels} + (${bsl}) * ${qgemmPanels(N) * kp * 16}`, sums: `(${sums} + (${bsl}) * ${qgemmPanels(N) * 16})` } : { at: (k, n) => `${B}[(${bsl}) * ${K * N} + ${k} * ${N} + ${n}]` },
      za: zaC,
      zb: zbC,
      store,
    };
    return qgemmCode(ctx, call);
  };
  return pro + (batch.length ? loops(batch, body, 'b') : body([]));
}

/** MatMulInteger: int8/uint8 operands with zero points, int32 result. */
const matMulInteger: OpDef = {
  type: 'MatMulInteger',
  infer(ctx, node) {
    const a = ctx.required(node, 0);
    const b = ctx.required(node, 1);
    int8Operand(node, a, 'A');
    int8Operand(node, b, 'B');
    const za = ctx.input(node, 2);
    const zb = ctx.input(node, 3);
    if (za && za.dtype !== a.dtype) throw new CompileError('invalid', `MatMulInteger ${node.name}: a_zero_point is ${za.dtype}, A is ${a.dtype}`);
    if (zb && zb.dtype !== b.dtype) throw new CompileError('invalid', `MatMulInteger ${node.name}: b_zero_point is ${zb.dtype}, B is ${b.dtype}`);
    const s = matmulShapes(node, a, b);
    matParam(node, za, 'row', s.M, s.aBatch, 'a_zero_point');
    matParam(node, zb, 'column', s.N, s.bBatch, 'b_zero_point');
    ctx.output(node, 0, { dtype: 'int32', shape: s.out });
  },
  emit(ctx, node) {
    return emitMatMulQ(ctx, node, { a: node.inputs[0], b: node.inputs[1], za: node.inputs[2] || undefined, zb: node.inputs[3] || undefined, store: (_c, y, _m, _n, v) => `${y} = ${v};` });
  },
};

/** Requantization: the int32 sum as float times the scale, clamped to the output type, rounded, plus the zero point. */
function requant(y: string, T: string, v: string, scale: string): string {
  return `${y} = (${T})(kiln_qround((float)(${v}) * ${scale}, qlo, qhi) + qzy);`;
}

/** The output scales x_scale * w_scale[i] / y_scale (in the scales' half format where they have one): the C that fills a buffer, and its name. */
function outputScales(ctx: EmitContext, node: Node, xs: string, ws: string, ys: string, count: number): { code: string; buf: string } {
  const w = ctx.tensor(ws);
  const half = w.half && ctx.tensor(xs).half === w.half && ctx.tensor(ys).half === w.half ? w.half : undefined;
  const r = (e: string) => (half ? `${HALF_C[half].round}(${e})` : e);
  const buf = ctx.buffer(`${node.name} output scales`, count);
  return { code: `for (long i = 0; i < ${count}; i++) ${buf}[i] = ${r(`${r(`${ctx.ref(xs)}[0] * ${ctx.ref(ws)}[i]`)} / ${ctx.ref(ys)}[0]`)};`, buf };
}

/** The C run before a requantizing kernel: the output scales, the output's zero point and its range less the zero point. */
function requantPrologue(ctx: EmitContext, node: Node, xs: string, ws: string, ys: string, yz: string, yt: string): { code: string; buf: string } {
  const [lo, hi] = QRANGE[yt];
  const { code, buf } = outputScales(ctx, node, xs, ws, ys, numel(ctx.tensor(ws).shape));
  qround(ctx);
  return {
    code: `${code}
const int32_t qzy = ${zpAt(ctx, yz, '0')};
const float qlo = (float)(${lo} - qzy), qhi = (float)(${hi} - qzy);`,
    buf,
  };
}

function scalarParam(node: Node, t: Tensor | undefined, what: string): void {
  if (t && numel(t.shape) !== 1) throw new CompileError('unsupported', `${node.op} ${node.name}: ${what} must be a scalar, not [${t.shape}]`);
}

/** QLinearMatMul: quantized operands and output, requantized as ONNX Runtime does. */
const qlinearMatMul: OpDef = {
  type: 'QLinearMatMul',
  infer(ctx, node) {
    const [a, as, az, b, bs, bz, ys, yz] = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ctx.input(node, i));
    if (!a || !as || !b || !bs || !ys || !yz) throw new CompileError('invalid', `QLinearMatMul ${node.name}: a, a_scale, b, b_scale, y_scale and y_zero_point are required`);
    int8Operand(node, a, 'a');
    int8Operand(node, b, 'b');
    int8Operand(node, yz, 'y_zero_point');
    for (const [t, what] of [[as, 'a_scale'], [bs, 'b_scale'], [ys, 'y_scale']] as const) if (t.dtype !== 'float32') throw new CompileError('unsupported', `QLinearMatMul ${node.name}: ${what} is ${t.dtype}`);
    if (az && az.dtype !== a.dtype) throw new CompileError('invalid', `QLinearMatMul ${node.name}: a_zero_point is ${az.dtype}, a is ${a.dtype}`);
    if (bz && bz.dtype !== b.dtype) throw new CompileError('invalid', `QLinearMatMul ${node.name}: b_zero_point is ${bz.dtype}, b is ${b.dtype}`);
    const s = matmulShapes(node, a, b);
    scalarParam(node, as, 'a_scale');
    scalarParam(node, az, 'a_zero_point');
    scalarParam(node, ys, 'y_scale');
    scalarParam(node, yz, 'y_zero_point');
    matParam(node, bs, 'column', s.N, s.bBatch, 'b_scale');
    matParam(node, bz, 'column', s.N, s.bBatch, 'b_zero_point');
    ctx.output(node, 0, { dtype: yz.dtype, shape: s.out });
  },
  emit(ctx, node) {
    const [a, as, az, b, bs, bz, ys, yz] = node.inputs;
    const yt = ctx.tensor(node.outputs[0]).dtype;
    const { N, bBatch } = matmulShapes(node, ctx.tensor(a), ctx.tensor(b));
    const scaleAt = matParam(node, ctx.tensor(bs), 'column', N, bBatch, 'b_scale');
    const pro = requantPrologue(ctx, node, as, bs, ys, yz, yt);
    return emitMatMulQ(ctx, node, {
      a,
      b,
      za: az || undefined,
      zb: bz || undefined,
      prologue: () => pro.code,
      store: (_c, y, _m, n, v, bsl) => requant(y, cType(yt)!, v, `${pro.buf}[${scaleAt(bsl, n)}]`),
    });
  },
};

/** Conv's shapes for the integer convolutions. */
function convShapes(node: Node, x: Tensor, w: Tensor) {
  if (x.shape.length < 3) throw new CompileError('invalid', `${node.op} ${node.name}: the input must have a batch, a channel and at least one spatial axis, got rank ${x.shape.length}`);
  if (w.shape.length !== x.shape.length) throw new CompileError('invalid', `${node.op} ${node.name}: weights of rank ${w.shape.length} for an input of rank ${x.shape.length}`);
  const group = attrInt(node, 'group', 1);
  const [N, C] = x.shape;
  const M = w.shape[0];
  if (group < 1 || C !== w.shape[1] * group || M % group !== 0) throw new CompileError('invalid', `${node.op} ${node.name}: ${C} input channels and ${M} filters of ${w.shape[1]} channels do not make ${group} groups`);
  const win: Window = slidingWindow(node, x, attrInts(node, 'kernel_shape') ?? w.shape.slice(2));
  return { N, C, M, group, cg: C / group, mg: M / group, spatial: x.shape.slice(2), win, out: [N, M, ...win.out] };
}

interface ConvQ {
  x: string;
  w: string;
  zx?: string;
  zw?: string;
  prologue?(ctx: EmitContext): string;
  /** Stores the exact sum v of output channel oc at offset `yi` of Y. */
  store(ctx: EmitContext, y: string, oc: string, v: string): string;
}

/** The C of ConvInteger and QLinearConv: per image and group, im2col rows packed for the integer GEMM (or plain loops). */
function emitConvQ(ctx: EmitContext, node: Node, q: ConvQ): string {
  const x = ctx.tensor(q.x);
  const w = ctx.tensor(q.w);
  const { N, C, M, cg, mg, spatial, win, group } = convShapes(node, x, w);
  const taps = numel(win.kernel);
  const K = cg * taps;
  const P = numel(win.out);
  const plane = numel(spatial);
  const X = ctx.ref(q.x);
  const Y = ctx.ref(node.outputs[0]);
  const zwT = q.zw ? ctx.tensor(q.zw) : undefined;
  const zwAt = (oc: string) => (q.zw ? `(int32_t)${ctx.ref(q.zw)}[${zwT && numel(zwT.shape) > 1 ? oc : '0'}]` : '0');
  const zx = zpAt(ctx, q.zx, '0');
  const pro = q.prologue ? `${q.prologue(ctx)}\n` : '';
  const d = spatial.length;
  const os = stridesOf(win.out);
  const xs = stridesOf(spatial);
  const ks = stridesOf(win.kernel);
  // Few filters per group (depthwise): the plain loops, one output at a time.
  if (!ctx.fast || mg < 4 || K === 0 || P === 0) {
    const Wt = ctx.ref(q.w);
    let code = `const int32_t xv = (int32_t)xc[${win.out.map((_, j) => `i${j} * ${xs[j]}`).join(' + ')}] - zx;
acc += (uint32_t)(xv * ((int32_t)wc[${win.kernel.map((_, j) => `k${j} * ${ks[j]}`).join(' + ')}] - zw));`;
    for (let j = d - 1; j >= 0; j--) {
      code = `for (long k${j} = 0; k${j} < ${win.kernel[j]}; k${j}++) {
  const long i${j} = o${j} * ${win.strides[j]} - ${win.pads[j]} + k${j} * ${win.dilations[j]};
  if (i${j} < 0 || i${j} >= ${spatial[j]}) continue;
  ${code.replace(/\n/g, '\n  ')}
}`;
    }
    const inner = `uint32_t acc = 0;
for (long c = 0; c < ${cg}; c++) {
  const ${cType(x.dtype)} *xc = ${X} + (qn * ${C} + oc / ${mg} * ${cg} + c) * ${plane};
  const ${cType(w.dtype)} *wc = ${Wt} + (oc * ${cg} + c) * ${taps};
  ${code.replace(/\n/g, '\n  ')}
}
const int32_t v = (int32_t)acc;
${q.store(ctx, `${Y}[(qn * ${M} + oc) * ${P} + ${win.out.map((_, j) => `o${j} * ${os[j]}`).join(' + ') || '0'}]`, 'oc', 'v')}`;
    return `${pro}const int32_t zx = ${zx};
for (long qn = 0; qn < ${N}; qn++) for (long oc = 0; oc < ${M}; oc++) {
  const int32_t zw = ${zwAt('oc')};
  ${loops(win.out, () => inner, 'o').replace(/\n/g, '\n  ')}
}`;
  }
  const wSigned = w.dtype === 'int8';
  let b: QGemmCall['b'];
  const kp = qgemmDepth(K);
  const Pn = qgemmPanels(mg);
  if (w.data) {
    const wv = w.data as unknown as ArrayLike<number>;
    const all = new Int8Array(group * Pn * kp * 16);
    const allSums = new Int32Array(group * Pn * 16);
    for (let g = 0; g < group; g++) {
      const { panels, sums } = packQPanels((k, n) => wv[(g * mg + n) * K + (k % cg) * taps + Math.floor(k / cg)], K, mg, !wSigned);
      all.set(panels, g * panels.length);
      allSums.set(sums, g * sums.length);
    }
    const pc = ctx.constant(`${q.w} (packed panels)`, all);
    const sc = ctx.constant(`${q.w} (column sums)`, allSums);
    b = { panels: `${pc} + qg * ${Pn * kp * 16}`, sums: `(${sc} + qg * ${Pn * 16})` };
  } else {
    const Wt = ctx.ref(q.w);
    b = { at: (k, n) => `${Wt}[(qg * ${mg} + ${n}) * ${K} + ${k} % ${cg} * ${taps} + ${k} / ${cg}]` };
  }
  // The group's channels of the image are first laid out channels last (each position's cg bytes together, stored
  // as the kernel takes them); a row of A, one per output position, is then its window's taps in (tap, channel)
  // order, each tap cg bytes copied at once, or x's zero point where the tap is in the padding. The packed
  // weights take the same order.
  const prepare = (xt: string) => `const uint8_t qflip = (uint8_t)KILN_QG_FLIP(${x.dtype === 'int8' ? 1 : 0});
uint8_t *qxt = ${xt};
const uint8_t qpad = (uint8_t)((uint8_t)zx ^ qflip);
const uint8_t *qsrc = (const uint8_t *)(${X} + (qn * ${C} + qg * ${cg}) * ${plane});
for (long i = 0; i < ${plane}; i++) for (long c = 0; c < ${cg}; c++) qxt[i * ${cg} + c] = (uint8_t)(qsrc[c * ${plane} + i] ^ qflip);`;
  const window = (j: number, at: string): string => {
    const inner = numel(win.kernel.slice(j + 1)) * cg;
    const tapOffset = `${at}i${j} * ${xs[j] * cg}`;
    const body = j === d - 1 ? `memcpy(row + k, qxt + ${tapOffset}, ${cg}); k += ${cg};` : window(j + 1, `${tapOffset} + `);
    return `for (long k${j} = 0; k${j} < ${win.kernel[j]}; k${j}++) {
  const long i${j} = o${j} * ${win.strides[j]} - ${win.pads[j]} + k${j} * ${win.dilations[j]};
  if ((unsigned long)i${j} >= ${spatial[j]}ul) { memset(row + k, qpad, ${inner}); k += ${inner}; continue; }
  ${body.replace(/\n/g, '\n  ')}
}`;
  };
  const packRows = (ap: string, kpv: number, m0: string, mb: string) => {
    const decode = win.out.map((o, j) => `const long o${j} = m / ${os[j]} % ${o};`).join(' ');
    return `for (long r = 0; r < ${mb}; r++) {
  const long m = ${m0} + r;
  ${decode}
  uint8_t *row = ${ap} + r * ${kpv};
  long k = 0;
  ${window(0, '').replace(/\n/g, '\n  ')}
}`;
  };
  const call: QGemmCall = {
    M: P,
    N: mg,
    K,
    aSigned: x.dtype === 'int8',
    bSigned: wSigned,
    packRows,
    extraBytes: plane * cg,
    prepare,
    b,
    za: () => 'zx',
    zb: (n) => zwAt(`qg * ${mg} + ${n}`),
    store: (m, n, v) => q.store(ctx, `${Y}[(qn * ${M} + qg * ${mg} + ${n}) * ${P} + ${m}]`, `qg * ${mg} + ${n}`, v),
  };
  return `${pro}const int32_t zx = ${zx};
for (long qn = 0; qn < ${N}; qn++) for (long qg = 0; qg < ${group}; qg++) {
  ${qgemmCode(ctx, call).replace(/\n/g, '\n  ')}
}`;
}

function checkConvParams(node: Node, x: Tensor, w: Tensor, M: number, zx: Tensor | undefined, zw: Tensor | undefined): void {
  if (zx && zx.dtype !== x.dtype) throw new CompileError('invalid', `${node.op} ${node.name}: x's zero point is ${zx.dtype}, x is ${x.dtype}`);
  if (zw && zw.dtype !== w.dtype) throw new CompileError('invalid', `${node.op} ${node.name}: w's zero point is ${zw.dtype}, w is ${w.dtype}`);
  scalarParam(node, zx, "x's zero point");
  if (zw && numel(zw.shape) !== 1 && (zw.shape.length !== 1 || zw.shape[0] !== M)) throw new CompileError('invalid', `${node.op} ${node.name}: w's zero point must be a scalar or one per filter ([${M}]), not [${zw.shape}]`);
}

/** ConvInteger: int8/uint8 input and weights with zero points, int32 result. */
const convInteger: OpDef = {
  type: 'ConvInteger',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const w = ctx.required(node, 1);
    int8Operand(node, x, 'x');
    int8Operand(node, w, 'w');
    const s = convShapes(node, x, w);
    checkConvParams(node, x, w, s.M, ctx.input(node, 2), ctx.input(node, 3));
    ctx.output(node, 0, { dtype: 'int32', shape: s.out });
  },
  emit(ctx, node) {
    return emitConvQ(ctx, node, { x: node.inputs[0], w: node.inputs[1], zx: node.inputs[2] || undefined, zw: node.inputs[3] || undefined, store: (_c, y, _oc, v) => `${y} = ${v};` });
  },
};

/** QLinearConv: quantized input, weights and output, an int32 bias; requantized as ONNX Runtime does. */
const qlinearConv: OpDef = {
  type: 'QLinearConv',
  infer(ctx, node) {
    const [x, xs, xz, w, ws, wz, ys, yz, bias] = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((i) => ctx.input(node, i));
    if (!x || !xs || !w || !ws || !ys || !yz) throw new CompileError('invalid', `QLinearConv ${node.name}: x, x_scale, w, w_scale, y_scale and y_zero_point are required`);
    int8Operand(node, x, 'x');
    int8Operand(node, w, 'w');
    int8Operand(node, yz, 'y_zero_point');
    for (const [t, what] of [[xs, 'x_scale'], [ws, 'w_scale'], [ys, 'y_scale']] as const) if (t.dtype !== 'float32') throw new CompileError('unsupported', `QLinearConv ${node.name}: ${what} is ${t.dtype}`);
    const s = convShapes(node, x, w);
    checkConvParams(node, x, w, s.M, xz, wz);
    scalarParam(node, xs, 'x_scale');
    scalarParam(node, ys, 'y_scale');
    scalarParam(node, yz, 'y_zero_point');
    if (numel(ws.shape) !== 1 && (ws.shape.length !== 1 || ws.shape[0] !== s.M)) throw new CompileError('invalid', `QLinearConv ${node.name}: w_scale must be a scalar or one per filter ([${s.M}]), not [${ws.shape}]`);
    if (bias && (bias.dtype !== 'int32' || bias.shape.length !== 1 || bias.shape[0] !== s.M)) throw new CompileError('invalid', `QLinearConv ${node.name}: the bias must be int32 of shape [${s.M}], not ${bias.dtype} [${bias.shape}]`);
    ctx.output(node, 0, { dtype: yz.dtype, shape: s.out });
  },
  emit(ctx, node) {
    const [x, xs, xz, w, ws, wz, ys, yz, bias] = node.inputs;
    const yt = ctx.tensor(node.outputs[0]).dtype;
    const perChannel = numel(ctx.tensor(ws).shape) > 1;
    const pro = requantPrologue(ctx, node, xs, ws, ys, yz, yt);
    const B = bias ? ctx.ref(bias) : undefined;
    return emitConvQ(ctx, node, {
      x,
      w,
      zx: xz || undefined,
      zw: wz || undefined,
      prologue: () => pro.code,
      store: (_c, y, oc, v) => requant(y, cType(yt)!, B ? `(int32_t)((uint32_t)${v} + (uint32_t)${B}[${oc}])` : v, `${pro.buf}[${perChannel ? oc : '0'}]`),
    });
  },
};

export const QUANT_OPS: OpDef[] = [quantizeLinear, dequantizeLinear, dynamicQuantizeLinear, matMulInteger, convInteger, qlinearMatMul, qlinearConv];
