import { CompileError, makeArray, Node, numel, TypedArray } from '../ir';
import { attrFloat, broadcast, broadcastStrides, EmitContext, flt, InferContext, loops, offset, OpDef } from './op';

/** A float -> float function, as C (of `x`) and as JS for folding constants. */
interface Unary {
  type: string;
  c: (node: Node) => string;
  js: (node: Node) => (x: number) => number;
}

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

const UNARY: Unary[] = [
  // NaN stays NaN and -0 stays -0, as in ONNX Runtime (and in the kernels' fused clamp).
  { type: 'Relu', c: () => 'x < 0.0f ? 0.0f : x', js: () => (x) => (x < 0 ? 0 : x) },
  { type: 'Sigmoid', c: () => '1.0f / (1.0f + expf(-x))', js: () => (x) => 1 / (1 + Math.exp(-x)) },
  { type: 'Tanh', c: () => 'tanhf(x)', js: () => Math.tanh },
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
      if (x.dtype !== 'float32') throw new CompileError('unsupported', `${u.type} ${node.name}: only float32 is supported, got ${x.dtype}`);
      let data: TypedArray | undefined;
      if (x.data) {
        const f = u.js(node);
        data = Float32Array.from(x.data as Float32Array, (v) => Math.fround(f(v)));
      }
      ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape], data });
    },
    emit(ctx: EmitContext, node: Node) {
      const n = numel(ctx.tensor(node.outputs[0]).shape);
      return `for (long i = 0; i < ${n}; i++) { const float x = ${ctx.ref(node.inputs[0])}[i]; ${ctx.ref(node.outputs[0])}[i] = ${u.c(node)}; }`;
    },
  };
}

/** Clip: min and max are inputs since opset 11, attributes before. */
const clip: OpDef = {
  type: 'Clip',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    for (const i of [1, 2]) {
      const t = ctx.input(node, i);
      if (t && !t.data) throw new CompileError('unsupported', `Clip ${node.name}: min/max must be constants`);
    }
    ctx.output(node, 0, { dtype: x.dtype, shape: [...x.shape] });
  },
  emit(ctx, node) {
    const bound = (i: number, attr: string, d: number) => {
      const name = node.inputs[i];
      if (name) return flt(Number((ctx.tensor(name).data as Float32Array)[0]));
      return flt(attrFloat(node, attr, d));
    };
    const lo = bound(1, 'min', -Infinity);
    const hi = bound(2, 'max', Infinity);
    const n = numel(ctx.tensor(node.outputs[0]).shape);
    return `for (long i = 0; i < ${n}; i++) { float x = ${ctx.ref(node.inputs[0])}[i]; x = x < ${lo} ? ${lo} : x; ${ctx.ref(node.outputs[0])}[i] = x > ${hi} ? ${hi} : x; }`;
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
  c: (a: string, b: string) => string;
  js: (a: number, b: number) => number;
  jsBig?: (a: bigint, b: bigint) => bigint;
  /** Output dtype when it is not the inputs'. */
  bool?: boolean;
}

const BINARY: Binary[] = [
  { type: 'Add', c: (a, b) => `${a} + ${b}`, js: (a, b) => a + b, jsBig: (a, b) => a + b },
  { type: 'Sub', c: (a, b) => `${a} - ${b}`, js: (a, b) => a - b, jsBig: (a, b) => a - b },
  { type: 'Mul', c: (a, b) => `${a} * ${b}`, js: (a, b) => a * b, jsBig: (a, b) => a * b },
  { type: 'Div', c: (a, b) => `${a} / ${b}`, js: (a, b) => a / b, jsBig: (a, b) => a / b },
  { type: 'Pow', c: (a, b) => `powf(${a}, ${b})`, js: (a, b) => Math.pow(a, b) },
  { type: 'PRelu', c: (a, b) => `${a} >= 0.0f ? ${a} : ${b} * ${a}`, js: (a, b) => (a >= 0 ? a : b * a) },
  { type: 'LessOrEqual', c: (a, b) => `${a} <= ${b}`, js: (a, b) => (a <= b ? 1 : 0), jsBig: (a, b) => (a <= b ? 1n : 0n), bool: true },
  { type: 'GreaterOrEqual', c: (a, b) => `${a} >= ${b}`, js: (a, b) => (a >= b ? 1 : 0), jsBig: (a, b) => (a >= b ? 1n : 0n), bool: true },
  { type: 'Equal', c: (a, b) => `${a} == ${b}`, js: (a, b) => (a === b ? 1 : 0), jsBig: (a, b) => (a === b ? 1n : 0n), bool: true },
  { type: 'Less', c: (a, b) => `${a} < ${b}`, js: (a, b) => (a < b ? 1 : 0), jsBig: (a, b) => (a < b ? 1n : 0n), bool: true },
  { type: 'Greater', c: (a, b) => `${a} > ${b}`, js: (a, b) => (a > b ? 1 : 0), jsBig: (a, b) => (a > b ? 1n : 0n), bool: true },
];

function binaryOp(b: Binary): OpDef {
  return {
    type: b.type,
    infer(ctx, node) {
      const x = ctx.required(node, 0);
      const y = ctx.required(node, 1);
      if (x.dtype !== y.dtype) throw new CompileError('unsupported', `${b.type} ${node.name}: mixed input types (${x.dtype} and ${y.dtype}) are not supported`);
      if (x.dtype !== 'float32' && x.dtype !== 'int64' && x.dtype !== 'int32') throw new CompileError('unsupported', `${b.type} ${node.name}: ${x.dtype} is not supported`);
      if (b.type === 'PRelu' || b.type === 'Pow') {
        if (x.dtype !== 'float32') throw new CompileError('unsupported', `${b.type} ${node.name}: only float32 is supported`);
      }
      const shape = broadcast([x.shape, y.shape], node);
      const dtype = b.bool ? 'bool' : x.dtype;
      let data: TypedArray | undefined;
      if (x.data && y.data && numel(shape) <= 1 << 20) {
        data = makeArray(dtype, numel(shape));
        const sx = broadcastStrides(x.shape, shape);
        const sy = broadcastStrides(y.shape, shape);
        const dims = shape.length;
        for (let i = 0; i < data.length; i++) {
          let r = i;
          let ox = 0;
          let oy = 0;
          for (let k = dims - 1; k >= 0; k--) {
            const c = r % shape[k];
            r = Math.floor(r / shape[k]);
            ox += c * sx[k];
            oy += c * sy[k];
          }
          const av = x.data[ox];
          const bv = y.data[oy];
          if (typeof av === 'bigint') {
            if (!b.jsBig) throw new CompileError('unsupported', `${b.type} ${node.name}: not for integers`);
            const v = b.jsBig(av, bv as bigint);
            (data as BigInt64Array | Uint8Array)[i] = (dtype === 'bool' ? Number(v) : v) as never;
          } else (data as Float32Array)[i] = b.js(av as number, bv as number);
        }
      }
      ctx.output(node, 0, { dtype, shape, data });
    },
    emit(ctx, node) {
      const out = ctx.tensor(node.outputs[0]);
      const sa = broadcastStrides(ctx.tensor(node.inputs[0]).shape, out.shape);
      const sb = broadcastStrides(ctx.tensor(node.inputs[1]).shape, out.shape);
      const so = broadcastStrides(out.shape, out.shape);
      const a = ctx.ref(node.inputs[0]);
      const bb = ctx.ref(node.inputs[1]);
      const o = ctx.ref(node.outputs[0]);
      if (out.shape.length === 0) return `${o}[0] = ${b.c(`${a}[0]`, `${bb}[0]`)};`;
      return loops(out.shape, (idx) => `${o}[${offset(idx, so)}] = ${b.c(`${a}[${offset(idx, sa)}]`, `${bb}[${offset(idx, sb)}]`)};`);
    },
  };
}

/** Max, Min, Sum and Mean over one or more inputs, broadcast. */
function variadic(type: 'Max' | 'Min' | 'Sum' | 'Mean'): OpDef {
  // Max and Min give NaN when an input is NaN, as ONNX Runtime's do (fmaxf and fminf would drop it).
  const combine = (x: string) => (type === 'Max' ? `t = ${x}; v = v > t || v != v ? v : t;` : type === 'Min' ? `t = ${x}; v = v < t || v != v ? v : t;` : `v += ${x};`);
  return {
    type,
    infer(ctx, node) {
      const xs = node.inputs.map((_, i) => ctx.required(node, i));
      if (xs.some((x) => x.dtype !== 'float32')) throw new CompileError('unsupported', `${type} ${node.name}: only float32 is supported`);
      ctx.output(node, 0, { dtype: 'float32', shape: broadcast(xs.map((x) => x.shape), node) });
    },
    emit(ctx, node) {
      const out = ctx.tensor(node.outputs[0]);
      const so = broadcastStrides(out.shape, out.shape);
      const s = node.inputs.map((n) => broadcastStrides(ctx.tensor(n).shape, out.shape));
      const refs = node.inputs.map((n) => ctx.ref(n));
      return loops(out.shape, (idx) => {
        let body = `float v = ${refs[0]}[${offset(idx, s[0])}], t; (void)t;`;
        for (let k = 1; k < refs.length; k++) body += ` ${combine(`${refs[k]}[${offset(idx, s[k])}]`)}`;
        return `{ ${body} ${ctx.ref(node.outputs[0])}[${offset(idx, so)}] = ${type === 'Mean' ? `v / ${refs.length}.0f` : 'v'}; }`;
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

export const ELEMENTWISE_OPS: OpDef[] = [
  ...UNARY.map(unaryOp),
  ...BINARY.map(binaryOp),
  ...(['Max', 'Min', 'Sum', 'Mean'] as const).map(variadic),
  clip,
  where,
  passThrough('Identity'),
  dropout,
];
