import { C_TYPE, cInt, CompileError, DType, isInteger, isUnsigned, makeArray, Node, numel, TypedArray } from '../ir';
import { cArith, cIntDiv, isFloat, jsArith, jsIntDiv, NUMERIC, Value, values } from './arith';
import { BITWISE_OPS } from './bitwise';
import { attrFloat, attrInt, attrString, broadcast, broadcastStrides, EmitContext, flt, InferContext, loops, offset, OpDef } from './op';

/** A float -> float function, as C (of `x`) and as JS for folding constants. */
interface Unary {
  type: string;
  c: (node: Node) => string;
  js: (node: Node) => (x: number) => number;
  /** File-scope C the expression calls: [key, code] (see EmitContext.helper). */
  helper?: [string, string];
}

/**
 * tanh without a call into the C library, so that the loop around it is vectorised: Cephes'
 * tanhf (an odd polynomial below 0.625, as x times a polynomial so that -0 stays -0, 1 - 2 / (e^2|x| + 1) above, about 2 ulp), with e^x from
 * Cody-Waite reduction and a degree-6 polynomial, as the kernel library's kiln_exp_v. NaN stays NaN.
 */
const TANH_C = `static inline float kiln_expf_poly(float x) {
  x = x < -87.3f ? -87.3f : x;
  const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  const float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  union { int32_t i; float f; } s = { .i = ((int32_t)n + 127) << 23 };
  return (p * r * r + r + 1.0f) * s.f;
}
static inline float kiln_tanhf(float x) {
  const float a = __builtin_fabsf(x), z = x * x;
  const float small = x * (1.0f + ((((-5.70498872745e-3f * z + 2.06390887954e-2f) * z - 5.37397155531e-2f) * z + 1.33314422036e-1f) * z - 3.33332819422e-1f) * z);
  const float big = __builtin_copysignf(1.0f - 2.0f / (kiln_expf_poly(a < 44.0f ? 2.0f * a : 88.0f) + 1.0f), x);
  return a < 0.625f ? small : x != x ? x : big;
}`;

/**
 * The unary operators ONNX defines on integers too (Neg, Relu and Sign on signed ones, Abs and Sign
 * on all): C of `x` in the element type, wrapping as two's complement (the negation of the
 * smallest value is itself, as in ONNX Runtime).
 */
const INTEGER_UNARY: Record<string, { signed?: boolean; c: (dtype: DType) => string }> = {
  Neg: { signed: true, c: (d) => cArith(d, '-', '0', 'x') },
  Abs: { c: (d) => (isUnsigned(d) ? 'x' : `x < 0 ? ${cArith(d, '-', '0', 'x')} : x`) },
  Sign: { c: (d) => (isUnsigned(d) ? `(${C_TYPE[d]})(x > 0)` : `(${C_TYPE[d]})((x > 0) - (x < 0))`) },
  Relu: { signed: true, c: () => 'x < 0 ? 0 : x' },
};

const erf = (x: number): number => {
  // Abramowitz-Stegun 7.1.26 is too coarse for folding; use a series/continued fraction split.
  const t = Math.abs(x);
  if (t < 2.5) {
    let sum = t;
    let term = t;
    for (let n = 1; n < 80; n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = n / 2 / (t + f);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f));
};

/** Gelu's approximation: none (the erf form) or tanh. */
function gelu(node: Node): 'none' | 'tanh' {
  const a = attrString(node, 'approximate', 'none');
  if (a !== 'none' && a !== 'tanh') throw new CompileError('invalid', `Gelu ${node.name}: approximate must be none or tanh, not ${a}`);
  return a;
}

const UNARY: Unary[] = [
  // NaN stays NaN and -0 stays -0, as in ONNX Runtime (and in the kernels' fused clamp).
  { type: 'Relu', c: () => 'x < 0.0f ? 0.0f : x', js: () => (x) => (x < 0 ? 0 : x) },
  { type: 'Sigmoid', c: () => '1.0f / (1.0f + expf(-x))', js: () => (x) => 1 / (1 + Math.exp(-x)) },
  { type: 'Tanh', c: () => 'kiln_tanhf(x)', js: () => Math.tanh, helper: ['kiln_tanhf', TANH_C] },
  { type: 'Exp', c: () => 'expf(x)', js: () => Math.exp },
  { type: 'Log', c: () => 'logf(x)', js: () => Math.log },
  { type: 'Sqrt', c: () => 'sqrtf(x)', js: () => Math.sqrt },
  { type: 'Erf', c: () => 'erff(x)', js: () => erf },
  { type: 'Neg', c: () => '-x', js: () => (x) => -x },
  { type: 'Abs', c: () => 'fabsf(x)', js: () => Math.abs },
  { type: 'Reciprocal', c: () => '1.0f / x', js: () => (x) => 1 / x },
  { type: 'Floor', c: () => 'floorf(x)', js: () => Math.floor },
  { type: 'Ceil', c: () => 'ceilf(x)', js: () => Math.ceil },
  // log(1 + e^x), without overflow for large x.
  { type: 'Softplus', c: () => 'x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x))', js: () => (x) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))) },
  { type: 'Softsign', c: () => 'x / (1.0f + fabsf(x))', js: () => (x) => x / (1 + Math.abs(x)) },
  { type: 'Cos', c: () => 'cosf(x)', js: () => Math.cos },
  { type: 'Sin', c: () => 'sinf(x)', js: () => Math.sin },
  { type: 'Tan', c: () => 'tanf(x)', js: () => Math.tan },
  { type: 'Acos', c: () => 'acosf(x)', js: () => Math.acos },
  { type: 'Asin', c: () => 'asinf(x)', js: () => Math.asin },
  { type: 'Atan', c: () => 'atanf(x)', js: () => Math.atan },
  { type: 'Sinh', c: () => 'sinhf(x)', js: () => Math.sinh },
  { type: 'Cosh', c: () => 'coshf(x)', js: () => Math.cosh },
  { type: 'Asinh', c: () => 'asinhf(x)', js: () => Math.asinh },
  { type: 'Acosh', c: () => 'acoshf(x)', js: () => Math.acosh },
  { type: 'Atanh', c: () => 'atanhf(x)', js: () => Math.atanh },
  { type: 'Sign', c: () => 'x != x ? x : (float)((x > 0.0f) - (x < 0.0f))', js: () => (x) => Math.sign(x) },
  // Round half to even, as ONNX specifies (rintf in the default rounding mode).
  { type: 'Round', c: () => 'rintf(x)', js: () => (x) => (Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x)) },
  { type: 'Mish', c: () => 'x * tanhf(log1pf(expf(x)))', js: () => (x) => x * Math.tanh(Math.log1p(Math.exp(x))) },
  {
    type: 'Selu',
    c: (n) => `x > 0.0f ? ${flt(attrFloat(n, 'gamma', 1.0507009873554805))} * x : ${flt(attrFloat(n, 'gamma', 1.0507009873554805))} * (${flt(attrFloat(n, 'alpha', 1.6732632423543772))} * expf(x) - ${flt(attrFloat(n, 'alpha', 1.6732632423543772))})`,
    js: (n) => (x) => {
      const g = attrFloat(n, 'gamma', 1.0507009873554805);
      const a = attrFloat(n, 'alpha', 1.6732632423543772);
      return x > 0 ? g * x : g * (a * Math.exp(x) - a);
    },
  },
  {
    type: 'ThresholdedRelu',
    c: (n) => `x > ${flt(attrFloat(n, 'alpha', 1))} ? x : 0.0f`,
    js: (n) => (x) => (x > attrFloat(n, 'alpha', 1) ? x : 0),
  },
  {
    type: 'Celu',
    // max(0, x) + min(0, alpha (e^(x / alpha) - 1)), written so that NaN stays NaN (fmaxf and fminf would drop it).
    c: (n) => `x > 0.0f ? x : ${flt(attrFloat(n, 'alpha', 1))} * (expf(x / ${flt(attrFloat(n, 'alpha', 1))}) - 1.0f)`,
    js: (n) => (x) => Math.max(0, x) + Math.min(0, attrFloat(n, 'alpha', 1) * (Math.exp(x / attrFloat(n, 'alpha', 1)) - 1)),
  },
  {
    type: 'Shrink',
    c: (n) => {
      const l = flt(attrFloat(n, 'lambd', 0.5));
      const b = flt(attrFloat(n, 'bias', 0));
      return `x < -${l} ? x + ${b} : x > ${l} ? x - ${b} : 0.0f`;
    },
    js: (n) => (x) => {
      const l = attrFloat(n, 'lambd', 0.5);
      const b = attrFloat(n, 'bias', 0);
      return x < -l ? x + b : x > l ? x - b : 0;
    },
  },
  {
    type: 'LeakyRelu',
    c: (n) => `x >= 0.0f ? x : ${flt(attrFloat(n, 'alpha', 0.01))} * x`,
    js: (n) => (x) => (x >= 0 ? x : attrFloat(n, 'alpha', 0.01) * x),
  },
  {
    type: 'HardSigmoid',
    // NaN stays NaN, as in ONNX Runtime.
    c: (n) => {
      const y = `(${flt(attrFloat(n, 'alpha', 0.2))} * x + ${flt(attrFloat(n, 'beta', 0.5))})`;
      return `${y} < 0.0f ? 0.0f : ${y} > 1.0f ? 1.0f : ${y}`;
    },
    js: (n) => (x) => Math.max(0, Math.min(1, attrFloat(n, 'alpha', 0.2) * x + attrFloat(n, 'beta', 0.5))),
  },
  { type: 'HardSwish', c: () => 'x * fmaxf(0.0f, fminf(1.0f, x / 6.0f + 0.5f))', js: () => (x) => x * Math.max(0, Math.min(1, x / 6 + 0.5)) },
  {
    type: 'Gelu',
    // In double: erf's and tanh's float forms are a few ulp off near zero, where GELU's value is small.
    c: (n) => (gelu(n) === 'tanh' ? '(float)(0.5 * x * (1.0 + tanh(0.7978845608028654 * (x + 0.044715 * (double)x * x * x))))' : '(float)(0.5 * x * (1.0 + erf(x * 0.7071067811865476)))'),
    js: (n) => (gelu(n) === 'tanh' ? (x) => 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) : (x) => 0.5 * x * (1 + erf(x * Math.SQRT1_2))),
  },
  {
    type: 'Swish',
    c: (n) => `x / (1.0f + expf(${flt(-attrFloat(n, 'alpha', 1))} * x))`,
    js: (n) => (x) => x / (1 + Math.exp(-attrFloat(n, 'alpha', 1) * x)),
  },
  {
    type: 'Elu',
    c: (n) => `x >= 0.0f ? x : ${flt(attrFloat(n, 'alpha', 1))} * (expf(x) - 1.0f)`,
    js: (n) => (x) => (x >= 0 ? x : attrFloat(n, 'alpha', 1) * (Math.exp(x) - 1)),
  },
];

function unaryOp(u: Unary): OpDef {
  return {
    type: u.type,
    infer(ctx: InferContext, node: Node) {
      const x = ctx.required(node, 0);
      const int = INTEGER_UNARY[u.type];
      if (int && isInteger(x.dtype) && !(int.signed && isUnsigned(x.dtype))) {
        // Constants are folded by fold.ts.
        ctx.output(node, 0, { dtype: x.dtype, shape: [...x.shape] });
        return;
      }
      if (x.dtype !== 'float32') throw new CompileError('unsupported', `${u.type} ${node.name}: only float32${int ? ` and ${int.signed ? 'signed ' : ''}integers are` : ' is'} supported, got ${x.dtype}`);
      let data: TypedArray | undefined;
      if (x.data) {
        const f = u.js(node);
        data = Float32Array.from(x.data as Float32Array, (v) => Math.fround(f(v)));
      }
      ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape], data });
    },
    emit(ctx: EmitContext, node: Node) {
      const out = ctx.tensor(node.outputs[0]);
      const n = numel(out.shape);
      const int = isInteger(out.dtype);
      const T = int ? C_TYPE[out.dtype] : 'float';
      if (u.helper && !int) ctx.helper(...u.helper);
      return `for (long i = 0; i < ${n}; i++) { const ${T} x = ${ctx.ref(node.inputs[0])}[i]; ${ctx.ref(node.outputs[0])}[i] = ${int ? INTEGER_UNARY[u.type].c(out.dtype) : u.c(node)}; }`;
    },
  };
}

/** A constant of an element type as a C literal. */
export function literal(dtype: DType, v: Value): string {
  if (isInteger(dtype)) return cInt(dtype, typeof v === 'bigint' ? v : BigInt(Math.trunc(v)));
  if (dtype === 'float64') return Number.isFinite(v) ? `${Number(v).toPrecision(17)}` : Number.isNaN(Number(v)) ? 'NAN' : Number(v) > 0 ? 'INFINITY' : '-INFINITY';
  return flt(Number(v));
}

/**
 * Clip: min and max are inputs since opset 11 (scalars, either absent, known at compile time or
 * read at run time), attributes before; any numeric type since opset 12. As ONNX Runtime, min
 * is applied first, so min above max gives max everywhere; NaN stays NaN.
 */
const clip: OpDef = {
  type: 'Clip',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (!NUMERIC.has(x.dtype)) throw new CompileError('unsupported', `Clip ${node.name}: ${x.dtype} tensors are not supported`);
    if (x.dtype !== 'float32' && ctx.opset < 12) throw new CompileError('invalid', `Clip ${node.name}: ${x.dtype} is defined from opset 12`);
    for (const i of [1, 2]) {
      const t = ctx.input(node, i);
      if (t && t.dtype !== x.dtype) throw new CompileError('invalid', `Clip ${node.name}: ${i === 1 ? 'min' : 'max'} is ${t.dtype}, the input ${x.dtype}`);
      if (t && numel(t.shape) !== 1) throw new CompileError('invalid', `Clip ${node.name}: ${i === 1 ? 'min' : 'max'} must be a scalar, not [${t.shape}]`);
    }
    ctx.output(node, 0, { dtype: x.dtype, shape: [...x.shape] });
  },
  emit(ctx, node) {
    const out = ctx.tensor(node.outputs[0]);
    const T = C_TYPE[out.dtype];
    const bound = (i: number, attr: string, d: number) => {
      const name = node.inputs[i];
      if (!name) return node.attrs[attr] === undefined && isInteger(out.dtype) ? undefined : literal(out.dtype, attrFloat(node, attr, d));
      const t = ctx.tensor(name);
      return t.data ? literal(out.dtype, values(t.data)[0]) : `${ctx.ref(name)}[0]`;
    };
    const lo = bound(1, 'min', -Infinity);
    const hi = bound(2, 'max', Infinity);
    const n = numel(out.shape);
    const clamp = [lo ? `x = x < lo ? lo : x;` : '', hi ? `x = x > hi ? hi : x;` : ''].filter(Boolean).join(' ');
    return `{ ${lo ? `const ${T} lo = ${lo}; ` : ''}${hi ? `const ${T} hi = ${hi}; ` : ''}for (long i = 0; i < ${n}; i++) { ${T} x = ${ctx.ref(node.inputs[0])}[i]; ${clamp} ${ctx.ref(node.outputs[0])}[i] = x; } }`;
  },
};

/** Identity and inference-time Dropout pass their input through. */
function passThrough(type: string): OpDef {
  return {
    type,
    infer(ctx, node) {
      const x = ctx.required(node, 0);
      ctx.output(node, 0, { dtype: x.dtype, shape: [...x.shape], data: x.data });
      if (node.outputs[1]) ctx.output(node, 1, { dtype: 'bool', shape: [...x.shape], data: new Uint8Array(numel(x.shape)).fill(1) });
    },
    emit(ctx, node) {
      if (ctx.alias(node.outputs[0], node.inputs[0])) return '';
      const t = ctx.tensor(node.outputs[0]);
      return `memcpy(${ctx.ref(node.outputs[0])}, ${ctx.ref(node.inputs[0])}, sizeof(*${ctx.ref(node.outputs[0])}) * ${numel(t.shape)});`;
    },
  };
}

interface Binary {
  type: string;
  /** C on floats (and, for comparisons, on any type). */
  c: (a: string, b: string) => string;
  /** JavaScript on floats (and, for comparisons, on numbers and bigints alike). */
  js: (a: Value, b: Value) => Value;
  /** Arithmetic on integers, where it differs: C and JavaScript that wrap as two's complement. */
  int?: { c: (dtype: DType, a: string, b: string) => string; js: (dtype: DType) => (a: Value, b: Value) => Value };
  /** The result is bool (a comparison). */
  bool?: boolean;
}

const num = (f: (a: number, b: number) => number) => (a: Value, b: Value) => f(a as number, b as number);

const BINARY: Binary[] = [
  { type: 'Add', c: (a, b) => `${a} + ${b}`, js: num((a, b) => a + b), int: { c: (d, a, b) => cArith(d, '+', a, b), js: (d) => jsArith(d, '+') } },
  { type: 'Sub', c: (a, b) => `${a} - ${b}`, js: num((a, b) => a - b), int: { c: (d, a, b) => cArith(d, '-', a, b), js: (d) => jsArith(d, '-') } },
  { type: 'Mul', c: (a, b) => `${a} * ${b}`, js: num((a, b) => a * b), int: { c: (d, a, b) => cArith(d, '*', a, b), js: (d) => jsArith(d, '*') } },
  { type: 'Div', c: (a, b) => `${a} / ${b}`, js: num((a, b) => a / b), int: { c: cIntDiv, js: jsIntDiv } },
  { type: 'Pow', c: (a, b) => `powf(${a}, ${b})`, js: num((a, b) => Math.pow(a, b)) },
  { type: 'PRelu', c: (a, b) => `${a} >= 0.0f ? ${a} : ${b} * ${a}`, js: num((a, b) => (a >= 0 ? a : b * a)) },
  { type: 'LessOrEqual', c: (a, b) => `${a} <= ${b}`, js: (a, b) => (a <= b ? 1 : 0), bool: true },
  { type: 'GreaterOrEqual', c: (a, b) => `${a} >= ${b}`, js: (a, b) => (a >= b ? 1 : 0), bool: true },
  { type: 'Equal', c: (a, b) => `${a} == ${b}`, js: (a, b) => (a === b ? 1 : 0), bool: true },
  { type: 'Less', c: (a, b) => `${a} < ${b}`, js: (a, b) => (a < b ? 1 : 0), bool: true },
  { type: 'Greater', c: (a, b) => `${a} > ${b}`, js: (a, b) => (a > b ? 1 : 0), bool: true },
];

/**
 * Add, Sub, Mul, Div and the comparisons on float32, float64 and every integer type (Equal on
 * bool too), broadcast; Pow and PRelu on float32. Integers wrap as two's complement; an integer
 * division truncates, and by zero gives 0 (see cIntDiv).
 */
function binaryOp(b: Binary): OpDef {
  return {
    type: b.type,
    infer(ctx, node) {
      const x = ctx.required(node, 0);
      const y = ctx.required(node, 1);
      if (x.dtype !== y.dtype) throw new CompileError('unsupported', `${b.type} ${node.name}: mixed input types (${x.dtype} and ${y.dtype}) are not supported`);
      if (b.type === 'PRelu' || b.type === 'Pow') {
        if (x.dtype !== 'float32') throw new CompileError('unsupported', `${b.type} ${node.name}: only float32 is supported`);
      } else if (!NUMERIC.has(x.dtype) && !(b.type === 'Equal' && x.dtype === 'bool')) throw new CompileError('unsupported', `${b.type} ${node.name}: ${x.dtype} is not supported`);
      const shape = broadcast([x.shape, y.shape], node);
      const dtype = b.bool ? 'bool' : x.dtype;
      let data: TypedArray | undefined;
      if (x.data && y.data && numel(shape) <= 1 << 20) {
        data = makeArray(dtype, numel(shape));
        const f = b.int && isInteger(x.dtype) ? b.int.js(x.dtype) : b.js;
        const [xv, yv, out] = [values(x.data), values(y.data), values(data)];
        const sx = broadcastStrides(x.shape, shape);
        const sy = broadcastStrides(y.shape, shape);
        const dims = shape.length;
        for (let i = 0; i < out.length; i++) {
          let r = i;
          let ox = 0;
          let oy = 0;
          for (let k = dims - 1; k >= 0; k--) {
            const c = r % shape[k];
            r = Math.floor(r / shape[k]);
            ox += c * sx[k];
            oy += c * sy[k];
          }
          out[i] = f(xv[ox], yv[oy]);
        }
      }
      ctx.output(node, 0, { dtype, shape, data });
    },
    emit(ctx, node) {
      const out = ctx.tensor(node.outputs[0]);
      const dtype = ctx.tensor(node.inputs[0]).dtype;
      const sa = broadcastStrides(ctx.tensor(node.inputs[0]).shape, out.shape);
      const sb = broadcastStrides(ctx.tensor(node.inputs[1]).shape, out.shape);
      const so = broadcastStrides(out.shape, out.shape);
      const a = ctx.ref(node.inputs[0]);
      const bb = ctx.ref(node.inputs[1]);
      const o = ctx.ref(node.outputs[0]);
      const power = b.type === 'Pow' ? constantExponent(ctx, node) : undefined;
      const expr = (x: string, y: string) => (power !== undefined ? powerC(x, power) : b.int && isInteger(dtype) ? b.int.c(dtype, x, y) : b.c(x, y));
      if (out.shape.length === 0) return `${o}[0] = ${expr(`${a}[0]`, `${bb}[0]`)};`;
      return loops(out.shape, (idx) => `${o}[${offset(idx, so)}] = ${expr(`${a}[${offset(idx, sa)}]`, `${bb}[${offset(idx, sb)}]`)};`);
    },
  };
}

/** Pow's exponent when it is one constant 1, 2, 3 or 4, which multiplications compute (as ONNX Runtime does for 2 and 3); otherwise undefined. */
function constantExponent(ctx: EmitContext, node: Node): number | undefined {
  const e = ctx.tensor(node.inputs[1]);
  if (!e.data || numel(e.shape) !== 1) return undefined;
  const v = Number(values(e.data)[0]);
  return [1, 2, 3, 4].includes(v) ? v : undefined;
}

function powerC(x: string, k: number): string {
  return k === 1 ? `(${x})` : k === 2 ? `(${x}) * (${x})` : k === 3 ? `(${x}) * (${x}) * (${x})` : `((${x}) * (${x})) * ((${x}) * (${x}))`;
}

/**
 * Max and Min over one or more inputs of any numeric type, Sum and Mean over floats, broadcast.
 * Max and Min give NaN when an input is NaN, as ONNX Runtime's do (fmaxf and fminf would drop it).
 */
function variadic(type: 'Max' | 'Min' | 'Sum' | 'Mean'): OpDef {
  const combine = (x: string, float: boolean) => {
    const nan = float ? ' || v != v' : '';
    return type === 'Max' ? `t = ${x}; v = v > t${nan} ? v : t;` : type === 'Min' ? `t = ${x}; v = v < t${nan} ? v : t;` : `v += ${x};`;
  };
  return {
    type,
    infer(ctx, node) {
      const xs = node.inputs.map((_, i) => ctx.required(node, i));
      const dtype = xs[0].dtype;
      if (xs.some((x) => x.dtype !== dtype)) throw new CompileError('invalid', `${type} ${node.name}: the inputs' types differ (${xs.map((x) => x.dtype).join(', ')})`);
      const ok = type === 'Max' || type === 'Min' ? NUMERIC.has(dtype) : isFloat(dtype);
      if (!ok) throw new CompileError('unsupported', `${type} ${node.name}: ${dtype} is not supported`);
      // Constants are folded by fold.ts.
      ctx.output(node, 0, { dtype, shape: broadcast(xs.map((x) => x.shape), node) });
    },
    emit(ctx, node) {
      const out = ctx.tensor(node.outputs[0]);
      const T = C_TYPE[out.dtype];
      const float = isFloat(out.dtype);
      const so = broadcastStrides(out.shape, out.shape);
      const s = node.inputs.map((n) => broadcastStrides(ctx.tensor(n).shape, out.shape));
      const refs = node.inputs.map((n) => ctx.ref(n));
      const mean = out.dtype === 'float64' ? `v / ${refs.length}.0` : `v / ${refs.length}.0f`;
      return loops(out.shape, (idx) => {
        let body = `${T} v = ${refs[0]}[${offset(idx, s[0])}], t; (void)t;`;
        for (let k = 1; k < refs.length; k++) body += ` ${combine(`${refs[k]}[${offset(idx, s[k])}]`, float)}`;
        return `{ ${body} ${ctx.ref(node.outputs[0])}[${offset(idx, so)}] = ${type === 'Mean' ? mean : 'v'}; }`;
      });
    },
  };
}

/** Where(cond, x, y), broadcast. */
const where: OpDef = {
  type: 'Where',
  infer(ctx, node) {
    const c = ctx.required(node, 0);
    const x = ctx.required(node, 1);
    const y = ctx.required(node, 2);
    if (c.dtype !== 'bool') throw new CompileError('invalid', `Where ${node.name}: the condition is ${c.dtype}, not bool`);
    if (x.dtype !== y.dtype) throw new CompileError('invalid', `Where ${node.name}: the inputs' types differ (${x.dtype}, ${y.dtype})`);
    const shape = broadcast([c.shape, x.shape, y.shape], node);
    let data: TypedArray | undefined;
    // Constant operands (shape arithmetic that exporters write, once input shapes are bound): folded.
    if (c.data && x.data && y.data && numel(shape) <= 1 << 20) {
      data = makeArray(x.dtype, numel(shape));
      const [sc, sx, sy] = [c, x, y].map((t) => broadcastStrides(t.shape, shape));
      for (let i = 0; i < data.length; i++) {
        let r = i;
        let oc = 0;
        let ox = 0;
        let oy = 0;
        for (let k = shape.length - 1; k >= 0; k--) {
          const d = r % shape[k];
          r = Math.floor(r / shape[k]);
          oc += d * sc[k];
          ox += d * sx[k];
          oy += d * sy[k];
        }
        (data as Float32Array)[i] = (c.data[oc] ? x.data[ox] : y.data[oy]) as number;
      }
    }
    ctx.output(node, 0, { dtype: x.dtype, shape, data });
  },
  emit(ctx, node) {
    const out = ctx.tensor(node.outputs[0]);
    const s = node.inputs.map((n) => broadcastStrides(ctx.tensor(n).shape, out.shape));
    const so = broadcastStrides(out.shape, out.shape);
    const [c, x, y] = node.inputs.map((n) => ctx.ref(n));
    return loops(out.shape, (idx) => `${ctx.ref(node.outputs[0])}[${offset(idx, so)}] = ${c}[${offset(idx, s[0])}] ? ${x}[${offset(idx, s[1])}] : ${y}[${offset(idx, s[2])}];`);
  },
};

/** Inference-time Dropout passes its input through; training mode is refused, not faked. */
const dropout: OpDef = {
  ...passThrough('Dropout'),
  infer(ctx, node) {
    const training = ctx.input(node, 2);
    if (training && (!training.data || Number(training.data[0]) !== 0)) throw new CompileError('unsupported', `Dropout ${node.name}: training mode is not supported`);
    passThrough('Dropout').infer(ctx, node);
  },
};

/** IsNaN, and IsInf (either sign, or only the one that detect_positive / detect_negative leave on): a bool per element. */
function floatTest(type: 'IsNaN' | 'IsInf'): OpDef {
  const test = (node: Node): { c: string; js: (v: number) => boolean } => {
    if (type === 'IsNaN') return { c: 'x != x', js: Number.isNaN };
    const pos = attrInt(node, 'detect_positive', 1) === 1;
    const neg = attrInt(node, 'detect_negative', 1) === 1;
    return { c: `(${pos ? 'x == INFINITY' : '0'}) || (${neg ? 'x == -INFINITY' : '0'})`, js: (v) => (pos && v === Infinity) || (neg && v === -Infinity) };
  };
  return {
    type,
    infer(ctx, node) {
      const x = ctx.required(node, 0);
      if (!isFloat(x.dtype)) throw new CompileError('unsupported', `${type} ${node.name}: ${x.dtype} tensors are not supported (float, double, float16 and bfloat16 are)`);
      const f = test(node).js;
      const data = x.data ? Uint8Array.from(x.data as Float32Array, (v) => (f(v) ? 1 : 0)) : undefined;
      ctx.output(node, 0, { dtype: 'bool', shape: [...x.shape], data });
    },
    emit(ctx, node) {
      const x = ctx.tensor(node.inputs[0]);
      return `for (long i = 0; i < ${numel(x.shape)}; i++) { const ${C_TYPE[x.dtype]} x = ${ctx.ref(node.inputs[0])}[i]; ${ctx.ref(node.outputs[0])}[i] = (uint8_t)(${test(node).c}); }`;
    },
  };
}

export const ELEMENTWISE_OPS: OpDef[] = [
  ...UNARY.map(unaryOp),
  ...BINARY.map(binaryOp),
  ...(['Max', 'Min', 'Sum', 'Mean'] as const).map(variadic),
  clip,
  where,
  passThrough('Identity'),
  dropout,
  floatTest('IsNaN'),
  floatTest('IsInf'),
  ...BITWISE_OPS,
];
