import { C_TYPE, CompileError, isUnsigned, makeArray, Node, numel, toNumbers, TypedArray } from '../ir';
import { NUMERIC } from './arith';
import { attrFloat, attrInt, attrInts, attrString, broadcast, broadcastStrides, EmitContext, flt, InferContext, loops, normAxis, offset, OpDef, stridesOf } from './op';

function constInts(ctx: InferContext | EmitContext, node: Node, i: number, what: string): number[] | undefined {
  const name = node.inputs[i];
  if (!name) return undefined;
  const t = 'graph' in ctx ? ctx.graph.tensors.get(name) : ctx.tensor(name);
  if (!t?.data) throw new CompileError('unsupported', `${node.op} ${node.name}: ${what} must be known at compile time`);
  return toNumbers(t);
}

function floatOnly(node: Node, dtype: string): void {
  if (dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: only float32 is supported, not ${dtype}`);
}

/** Split into equal parts, or by the sizes in `split` (an input since opset 13). */
function splitSizes(ctx: InferContext | EmitContext, node: Node, shape: number[]): { axis: number; sizes: number[] } {
  const axis = normAxis(attrInt(node, 'axis', 0), shape.length, node);
  const splitT = node.inputs[1] ? ('graph' in ctx ? ctx.graph.tensors.get(node.inputs[1]) : ctx.tensor(node.inputs[1])) : undefined;
  // Sizes read at run time (emitting only): the declared output shapes give them, and the generated code checks them.
  const given = splitT && !splitT.data && !('graph' in ctx) ? node.outputs.map((o) => ctx.tensor(o).shape[axis]) : (constInts(ctx, node, 1, 'split') ?? attrInts(node, 'split'));
  const parts = node.outputs.length;
  let sizes: number[];
  if (given) sizes = given;
  else {
    const n = attrInt(node, 'num_outputs', parts);
    const chunk = Math.ceil(shape[axis] / n);
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(chunk, shape[axis] - i * chunk)));
  }
  if (sizes.reduce((a, b) => a + b, 0) !== shape[axis]) throw new CompileError('invalid', `Split ${node.name}: sizes ${sizes} do not add up to ${shape[axis]}`);
  return { axis, sizes };
}

const split: OpDef = {
  type: 'Split',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const { axis, sizes } = splitSizes(ctx, node, x.shape);
    sizes.forEach((s, i) => {
      const shape = [...x.shape];
      shape[axis] = s;
      ctx.output(node, i, { dtype: x.dtype, shape });
    });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const { axis, sizes } = splitSizes(ctx, node, x.shape);
    const outer = numel(x.shape.slice(0, axis));
    const inner = numel(x.shape.slice(axis + 1));
    let at = 0;
    return sizes
      .map((s, i) => {
        const code = node.outputs[i] && s > 0 ? `for (long o = 0; o < ${outer}; o++) memcpy(${ctx.ref(node.outputs[i])} + o * ${s * inner}, ${ctx.ref(node.inputs[0])} + o * ${x.shape[axis] * inner} + ${at * inner}, sizeof(*${ctx.ref(node.inputs[0])}) * ${s * inner});` : '';
        at += s;
        return code;
      })
      .join('\n');
  },
};

/** Pad: constant, reflect, edge or wrap, with constant pads (an input since opset 11). */
function padParams(ctx: InferContext | EmitContext, node: Node, rank: number) {
  const raw = constInts(ctx, node, 1, 'pads') ?? attrInts(node, 'pads');
  if (!raw) throw new CompileError('invalid', `Pad ${node.name}: no pads`);
  const axes = (constInts(ctx, node, 3, 'axes') ?? [...Array(rank).keys()]).map((a) => normAxis(a, rank, node));
  if (raw.length !== 2 * axes.length) throw new CompileError('invalid', `Pad ${node.name}: ${raw.length} pads for ${axes.length} axes (it takes two per axis)`);
  const begin = new Array(rank).fill(0);
  const end = new Array(rank).fill(0);
  axes.forEach((a, k) => {
    begin[a] = raw[k];
    end[a] = raw[k + axes.length];
  });
  if ([...begin, ...end].some((p) => p < 0)) throw new CompileError('unsupported', `Pad ${node.name}: negative pads are not supported`);
  return { begin, end, mode: attrString(node, 'mode', 'constant') };
}

const pad: OpDef = {
  type: 'Pad',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    floatOnly(node, x.dtype);
    const { begin, end, mode } = padParams(ctx, node, x.shape.length);
    if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) throw new CompileError('unsupported', `Pad ${node.name}: mode ${mode}`);
    if (node.inputs[2] && !ctx.input(node, 2)?.data) throw new CompileError('unsupported', `Pad ${node.name}: the constant value must be known at compile time`);
    ctx.output(node, 0, { dtype: x.dtype, shape: x.shape.map((d, i) => d + begin[i] + end[i]) });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const out = ctx.tensor(node.outputs[0]);
    const { begin, mode } = padParams(ctx, node, x.shape.length);
    const value = node.inputs[2] ? flt(Number(ctx.tensor(node.inputs[2]).data![0])) : flt(attrFloat(node, 'value', 0));
    const xs = stridesOf(x.shape);
    return loops(out.shape, (idx) => {
      const lines = idx.map((v, k) => {
        const d = x.shape[k];
        const raw = `(${v} - ${begin[k]})`;
        const map =
          mode === 'reflect' ? `long j${k} = ${raw}; while (j${k} < 0 || j${k} >= ${d}) j${k} = j${k} < 0 ? -j${k} : 2 * ${d} - 2 - j${k};`
          : mode === 'edge' ? `long j${k} = ${raw} < 0 ? 0 : ${raw} >= ${d} ? ${d - 1} : ${raw};`
          : mode === 'wrap' ? `long j${k} = ((${raw} % ${d}) + ${d}) % ${d};`
          : `long j${k} = ${raw}; inside = inside && j${k} >= 0 && j${k} < ${d};`;
        return map;
      });
      const j = idx.map((_, k) => `j${k}`);
      return `int inside = 1;\n${lines.join('\n')}\n${ctx.ref(node.outputs[0])}[${offset(idx, stridesOf(out.shape))}] = inside ? ${ctx.ref(node.inputs[0])}[${offset(j, xs)}] : ${value};\n(void)inside;`;
    });
  },
};

/** 2-D transposed convolution (NCHW), with groups, strides, dilations, pads and output padding. */
function convTransposeParams(node: Node, xShape: number[], wShape: number[]) {
  const [, , H, W] = xShape;
  const K = attrInts(node, 'kernel_shape') ?? wShape.slice(2);
  const s = attrInts(node, 'strides') ?? [1, 1];
  const d = attrInts(node, 'dilations') ?? [1, 1];
  const op = attrInts(node, 'output_padding') ?? [0, 0];
  let pads = attrInts(node, 'pads') ?? [0, 0, 0, 0];
  const outShape = attrInts(node, 'output_shape');
  const autoPad = attrString(node, 'auto_pad', 'NOTSET');
  const full = [H, W].map((n, i) => s[i] * (n - 1) + op[i] + ((K[i] - 1) * d[i] + 1));
  let out: number[];
  if (outShape || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    out = outShape ? outShape.slice(-2) : [H * s[0], W * s[1]];
    const total = full.map((f, i) => f - out[i]);
    // ONNX: SAME_UPPER puts the smaller half first; otherwise (SAME_LOWER, or output_shape) the larger.
    const upper = autoPad === 'SAME_UPPER';
    pads = [0, 1].map((i) => (upper ? Math.floor(total[i] / 2) : total[i] - Math.floor(total[i] / 2)));
    pads = [...pads, total[0] - pads[0], total[1] - pads[1]];
  } else {
    if (autoPad === 'VALID') pads = [0, 0, 0, 0];
    out = full.map((f, i) => f - pads[i] - pads[i + 2]);
  }
  return { K, s, d, pads, out };
}

const convTranspose: OpDef = {
  type: 'ConvTranspose',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const w = ctx.required(node, 1);
    floatOnly(node, x.dtype);
    if (x.shape.length !== 4) throw new CompileError('unsupported', `ConvTranspose ${node.name}: only 2-D (NCHW) is supported`);
    const group = attrInt(node, 'group', 1);
    const { out } = convTransposeParams(node, x.shape, w.shape);
    ctx.output(node, 0, { dtype: 'float32', shape: [x.shape[0], w.shape[1] * group, ...out] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const w = ctx.tensor(node.inputs[1]);
    const [N, C, H, W] = x.shape;
    const group = attrInt(node, 'group', 1);
    const Mg = w.shape[1];
    const M = Mg * group;
    const Cg = C / group;
    const { K, s, d, pads, out } = convTransposeParams(node, x.shape, w.shape);
    const [OH, OW] = out;
    const X = ctx.ref(node.inputs[0]);
    const Wt = ctx.ref(node.inputs[1]);
    const Y = ctx.ref(node.outputs[0]);
    const bias = node.inputs[2] ? `${ctx.ref(node.inputs[2])}[m]` : '0.0f';
    return `for (long n = 0; n < ${N}; n++) for (long m = 0; m < ${M}; m++) for (long i = 0; i < ${OH * OW}; i++) ${Y}[(n * ${M} + m) * ${OH * OW} + i] = ${bias};
for (long n = 0; n < ${N}; n++) for (long g = 0; g < ${group}; g++) for (long c = 0; c < ${Cg}; c++) for (long h = 0; h < ${H}; h++) for (long w = 0; w < ${W}; w++) {
  const float v = ${X}[((n * ${C} + g * ${Cg} + c) * ${H} + h) * ${W} + w];
  for (long m = 0; m < ${Mg}; m++) for (long kh = 0; kh < ${K[0]}; kh++) {
    const long oh = h * ${s[0]} - ${pads[0]} + kh * ${d[0]};
    if (oh < 0 || oh >= ${OH}) continue;
    for (long kw = 0; kw < ${K[1]}; kw++) {
      const long ow = w * ${s[1]} - ${pads[1]} + kw * ${d[1]};
      if (ow < 0 || ow >= ${OW}) continue;
      ${Y}[((n * ${M} + g * ${Mg} + m) * ${OH} + oh) * ${OW} + ow] += v * ${Wt}[(((g * ${Cg} + c) * ${Mg} + m) * ${K[0]} + kh) * ${K[1]} + kw];
    }
  }
}`;
  },
};

export const LAYOUT_OPS: OpDef[] = [split, pad, convTranspose];

/** Indices known at compile time, normalised (negative ones counted from the end); out of range is an error. */
function checkConstIndices(node: Node, values: number[], dims: (j: number) => number): void {
  values.forEach((v, j) => {
    const d = dims(j);
    if (v < -d || v >= d) throw new CompileError('invalid', `${node.op} ${node.name}: index ${v} is out of range for an axis of ${d}`);
  });
}

/** The C that reads index `v` (any integer type), counts a negative one from the end of an axis of `d`, and fails the run if it is still out of range. */
function runtimeIndex(ctx: EmitContext, k: string, v: string, d: number): string {
  return `int64_t ${k} = (int64_t)${v}; if (${k} < 0) ${k} += ${d}; if (${k} < 0 || ${k} >= ${d}) ${ctx.indexOutOfRange()}`;
}

/**
 * GatherElements: out[i] = data[i with axis replaced by indices[i]]. Indices known only at run
 * time are checked as the model runs: one out of range makes the entry point fail (RUN_ERRORS).
 */
const gatherElements: OpDef = {
  type: 'GatherElements',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const ind = ctx.required(node, 1);
    if (ind.dtype !== 'int64' && ind.dtype !== 'int32') throw new CompileError('invalid', `GatherElements ${node.name}: indices must be integers`);
    if (ind.shape.length !== x.shape.length) throw new CompileError('invalid', `GatherElements ${node.name}: ranks differ`);
    const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
    if (ind.shape.some((d, k) => k !== axis && d > x.shape[k])) throw new CompileError('invalid', `GatherElements ${node.name}: indices [${ind.shape}] are larger than the data [${x.shape}] on an axis other than ${axis}`);
    if (ind.data) checkConstIndices(node, toNumbers(ind), () => x.shape[axis]);
    ctx.output(node, 0, { dtype: x.dtype, shape: [...ind.shape] });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const ind = ctx.tensor(node.inputs[1]);
    const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
    const xs = stridesOf(x.shape);
    const is = stridesOf(ind.shape);
    return loops(ind.shape, (idx) => {
      const src = idx.map((v, k) => (k === axis ? '(long)j' : v));
      return `${runtimeIndex(ctx, 'j', `${ctx.ref(node.inputs[1])}[${offset(idx, is)}]`, x.shape[axis])}
${ctx.ref(node.outputs[0])}[${offset(idx, is)}] = ${ctx.ref(node.inputs[0])}[${offset(src, xs)}];`;
    });
  },
};

/** GatherND's shapes: batch dims b, index tuples of m, and the output. */
function gatherNDShape(node: Node, data: number[], ind: number[]): { b: number; m: number; out: number[] } {
  const b = attrInt(node, 'batch_dims', 0);
  const q = ind.length;
  if (q < 1 || data.length < 1) throw new CompileError('invalid', `GatherND ${node.name}: data and indices must have rank 1 or more`);
  if (b < 0 || b >= Math.min(q, data.length)) throw new CompileError('invalid', `GatherND ${node.name}: batch_dims ${b} must be less than the ranks of data (${data.length}) and indices (${q})`);
  if (ind.slice(0, b).some((d, k) => d !== data[k])) throw new CompileError('invalid', `GatherND ${node.name}: the first ${b} dims of data [${data}] and indices [${ind}] must agree`);
  const m = ind[q - 1];
  if (m < 1 || m > data.length - b) throw new CompileError('invalid', `GatherND ${node.name}: index tuples of ${m} for data of rank ${data.length} with ${b} batch dims`);
  return { b, m, out: [...ind.slice(0, q - 1), ...data.slice(b + m)] };
}

/**
 * GatherND: each tuple of the last axis of indices picks a slice of data (after batch_dims
 * leading axes both share). Indices known only at run time are checked as the model runs.
 */
const gatherND: OpDef = {
  type: 'GatherND',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const ind = ctx.required(node, 1);
    if (ind.dtype !== 'int64') throw new CompileError('invalid', `GatherND ${node.name}: indices must be int64, not ${ind.dtype}`);
    const { b, m, out } = gatherNDShape(node, x.shape, ind.shape);
    if (ind.data) checkConstIndices(node, toNumbers(ind), (j) => x.shape[b + (j % m)]);
    ctx.output(node, 0, { dtype: x.dtype, shape: out });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const ind = ctx.tensor(node.inputs[1]);
    const { b, m } = gatherNDShape(node, x.shape, ind.shape);
    const batches = numel(x.shape.slice(0, b));
    const tuples = numel(ind.shape.slice(b, -1));
    const slice = numel(x.shape.slice(b + m));
    const xs = stridesOf(x.shape);
    const I = ctx.ref(node.inputs[1]);
    const Y = ctx.ref(node.outputs[0]);
    const picks = Array.from({ length: m }, (_, j) => `  ${runtimeIndex(ctx, `k${j}`, `ix[${j}]`, x.shape[b + j])}\n  off += (long)k${j} * ${xs[b + j]};`).join('\n');
    return `for (long bt = 0; bt < ${batches * tuples}; bt++) {
  const int64_t *ix = ${I} + bt * ${m};
  long off = bt / ${Math.max(1, tuples)} * ${b ? xs[b - 1] : 0};
${picks}
  memcpy(${Y} + bt * ${slice}, ${ctx.ref(node.inputs[0])} + off, sizeof(*${Y}) * ${slice});
}`;
  },
};

/** Trilu's k: an int64 input holding one value (0 when absent); undefined when it is read at run time. */
function triluK(ctx: InferContext | EmitContext, node: Node): number | undefined {
  const name = node.inputs[1];
  const t = name ? ('graph' in ctx ? ctx.graph.tensors.get(name) : ctx.tensor(name)) : undefined;
  if (!t) return 0;
  if (t.dtype !== 'int64') throw new CompileError('invalid', `Trilu ${node.name}: k must be int64, not ${t.dtype}`);
  if (numel(t.shape) !== 1) throw new CompileError('invalid', `Trilu ${node.name}: k must hold one value, not ${numel(t.shape)}`);
  return t.data ? toNumbers(t)[0] : undefined;
}

/**
 * Trilu: keeps the upper triangle of the last two dimensions (column - row >= k), or with
 * upper=0 the lower one (column - row <= k), and zeroes the rest; folded when the input and k are
 * constants. k may be read at run time: the output's shape does not depend on it.
 */
const trilu: OpDef = {
  type: 'Trilu',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.shape.length < 2) throw new CompileError('invalid', `Trilu ${node.name}: rank must be at least 2`);
    const k = triluK(ctx, node);
    const upper = attrInt(node, 'upper', 1) === 1;
    let data: TypedArray | undefined;
    if (x.data && k !== undefined) {
      const [R, C] = x.shape.slice(-2);
      data = makeArray(x.dtype, x.data.length);
      for (let i = 0; i < x.data.length; i++) {
        const c = i % C;
        const r = Math.floor(i / C) % R;
        if (upper ? c - r >= k : c - r <= k) (data as Float32Array)[i] = (x.data as Float32Array)[i];
      }
    }
    ctx.output(node, 0, { dtype: x.dtype, shape: [...x.shape], data });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const [R, C] = x.shape.slice(-2);
    const known = triluK(ctx, node);
    const upper = attrInt(node, 'upper', 1) === 1;
    const batch = numel(x.shape.slice(0, -2));
    // k beyond the matrix keeps all or none: clamped, so that it is a small C value on every target.
    const k =
      known === undefined
        ? `int64_t k0 = ${ctx.ref(node.inputs[1])}[0];\nconst long k = k0 < ${-R - 1} ? ${-R - 1} : k0 > ${C + 1} ? ${C + 1} : (long)k0;\n`
        : `const long k = ${Math.max(-R - 1, Math.min(C + 1, known))};\n`;
    const keep = upper ? 'c - r >= k' : 'c - r <= k';
    return `${k}for (long b = 0; b < ${batch}; b++) for (long r = 0; r < ${R}; r++) for (long c = 0; c < ${C}; c++) {
  const long i = (b * ${R} + r) * ${C} + c;
  ${ctx.ref(node.outputs[0])}[i] = (${keep}) ? ${ctx.ref(node.inputs[0])}[i] : 0;
}`;
  },
};

/** And, Or, Xor over bools, broadcast; Not. */
function logical(type: 'And' | 'Or' | 'Xor'): OpDef {
  const c = type === 'And' ? '&&' : type === 'Or' ? '||' : '!=';
  return {
    type,
    infer(ctx, node) {
      const a = ctx.required(node, 0);
      const b = ctx.required(node, 1);
      if (a.dtype !== 'bool' || b.dtype !== 'bool') throw new CompileError('invalid', `${type} ${node.name}: inputs must be bool`);
      const rank = Math.max(a.shape.length, b.shape.length);
      const shape = Array.from({ length: rank }, (_, i) => Math.max(a.shape[a.shape.length - rank + i] ?? 1, b.shape[b.shape.length - rank + i] ?? 1));
      ctx.output(node, 0, { dtype: 'bool', shape });
    },
    emit(ctx, node) {
      const out = ctx.tensor(node.outputs[0]);
      const bs = (n: string) => broadcastStrides(ctx.tensor(n).shape, out.shape);
      const [A, B] = node.inputs;
      return loops(out.shape, (idx) => `${ctx.ref(node.outputs[0])}[${offset(idx, stridesOf(out.shape))}] = (${ctx.ref(A)}[${offset(idx, bs(A))}] != 0) ${c} (${ctx.ref(B)}[${offset(idx, bs(B))}] != 0);`);
    },
  };
}

const not: OpDef = {
  type: 'Not',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'bool') throw new CompileError('invalid', `Not ${node.name}: input must be bool`);
    ctx.output(node, 0, { dtype: 'bool', shape: [...x.shape] });
  },
  emit: (ctx, node) => `for (long i = 0; i < ${numel(ctx.tensor(node.inputs[0]).shape)}; i++) ${ctx.ref(node.outputs[0])}[i] = !${ctx.ref(node.inputs[0])}[i];`,
};

/**
 * Mod, broadcast, on numbers of one type. fmod=1: the remainder of truncated division (the sign
 * of the dividend), C's fmod for floats. fmod=0, for integers only: the sign of the divisor, as
 * numpy's mod. An integer divided by 0 gives 0 (as numpy), never a trap.
 */
const mod: OpDef = {
  type: 'Mod',
  infer(ctx, node) {
    const a = ctx.required(node, 0);
    const b = ctx.required(node, 1);
    const fmod = attrInt(node, 'fmod', 0);
    if (a.dtype !== b.dtype) throw new CompileError('invalid', `Mod ${node.name}: the inputs' types differ (${a.dtype}, ${b.dtype})`);
    if (!NUMERIC.has(a.dtype)) throw new CompileError('unsupported', `Mod ${node.name}: ${a.dtype} tensors are not supported`);
    if (fmod !== 0 && fmod !== 1) throw new CompileError('invalid', `Mod ${node.name}: fmod must be 0 or 1, not ${fmod}`);
    const float = a.dtype === 'float32' || a.dtype === 'float64';
    if (float && fmod !== 1) throw new CompileError('invalid', `Mod ${node.name}: ${a.dtype} inputs require fmod=1 (ONNX defines fmod=0 for integers only)`);
    const shape = broadcast([a.shape, b.shape], node);
    let data: TypedArray | undefined;
    if (a.data && b.data) {
      data = makeArray(a.dtype, numel(shape));
      const [sa, sb] = [a, b].map((t) => broadcastStrides(t.shape, shape));
      const os = stridesOf(shape);
      const av = a.data as unknown as ArrayLike<number | bigint>;
      const bv = b.data as unknown as ArrayLike<number | bigint>;
      for (let i = 0; i < data.length; i++) {
        let ia = 0;
        let ib = 0;
        for (let k = 0; k < shape.length; k++) {
          const d = Math.floor(i / os[k]) % shape[k];
          ia += d * sa[k];
          ib += d * sb[k];
        }
        (data as unknown as (number | bigint)[])[i] = modValue(av[ia], bv[ib], fmod === 1, float);
      }
    }
    ctx.output(node, 0, { dtype: a.dtype, shape, data });
  },
  emit(ctx, node) {
    const out = ctx.tensor(node.outputs[0]);
    const t = out.dtype;
    const bs = (n: string) => broadcastStrides(ctx.tensor(n).shape, out.shape);
    const [A, B] = node.inputs;
    const T = C_TYPE[t];
    // b == -1 is left out for unsigned types, where it would be their largest value.
    const expr =
      t === 'float32' ? 'fmodf(a, b)'
      : t === 'float64' ? 'fmod(a, b)'
      : isUnsigned(t) ? 'b == 0 ? 0 : a % b'
      : attrInt(node, 'fmod', 0) === 1 ? 'b == 0 || b == -1 ? 0 : a % b'
      : 'b == 0 || b == -1 ? 0 : (a % b != 0 && ((a % b < 0) != (b < 0))) ? a % b + b : a % b';
    return loops(out.shape, (idx) => `const ${T} a = ${ctx.ref(A)}[${offset(idx, bs(A))}], b = ${ctx.ref(B)}[${offset(idx, bs(B))}];
${ctx.ref(node.outputs[0])}[${offset(idx, stridesOf(out.shape))}] = (${T})(${expr});`);
  },
};

/** One Mod, as the C computes it. */
function modValue(a: number | bigint, b: number | bigint, fmod: boolean, float: boolean): number | bigint {
  if (float) return (a as number) % (b as number);
  if (typeof a === 'bigint') {
    const d = b as bigint;
    if (d === 0n || d === -1n) return 0n;
    const r = a % d;
    return !fmod && r !== 0n && r < 0n !== d < 0n ? r + d : r;
  }
  const d = b as number;
  if (d === 0 || d === -1) return 0;
  const r = a % d;
  return !fmod && r !== 0 && r < 0 !== d < 0 ? r + d : r;
}

LAYOUT_OPS.push(gatherElements, gatherND, trilu, logical('And'), logical('Or'), logical('Xor'), not, mod);
