import { C_TYPE, CompileError, DType, isInteger, Node, numel, Tensor } from '../ir';
import { literal } from './elementwise';
import { attrFloat, attrInt, attrString, declaredShape, EmitContext, InferContext, loops, normAxis, offset, OpDef, stridesOf } from './op';

/*
 * Operators whose output shapes depend on the values of some inputs (Reshape's shape, Squeeze's
 * and Unsqueeze's axes, Expand's shape, Tile's repeats, TopK's k, Split's sizes, Slice's starts,
 * ends, axes and steps, Pad's pads, ConstantOfShape's shape, Range's bounds). Kiln compiles for
 * static shapes: when such a value is a constant, the operator's own code takes it; when it is
 * given at run time, the outputs take the shapes the model declares for them, and the generated
 * code reads the value, checks that it gives those shapes (another ends the run with
 * RUN_ERRORS.shapeMismatch, an axis out of range with the index error) and computes with it.
 */

interface Valued {
  /** The inputs whose values decide the output shapes. */
  inputs: number[];
  /** What they are, for messages ("the target shape"). */
  what: string;
  /** The element type of each output. */
  dtypes(ctx: InferContext, node: Node): DType[];
  /** Compile-time checks of the declared shapes against the input's. */
  validate?(ctx: InferContext, node: Node, x: Tensor | undefined, shapes: number[][]): void;
  /** C that checks the values at run time (returning from the entry point when they do not fit). */
  check(ctx: EmitContext, node: Node): string;
  /** The computation with the run-time values, when the operator's own (which reads only shapes) does not do. */
  emit?(ctx: EmitContext, node: Node): string;
}

const dims = (name: string, shape: number[]) => `static const long ${name}[${Math.max(1, shape.length)}] = { ${shape.join(', ') || '0'} };`;
/** Input i's element j as int64_t. */
const at = (ctx: EmitContext, node: Node, i: number, j: string) => `((int64_t)${ctx.ref(node.inputs[i])}[${j}])`;
const count = (ctx: EmitContext, node: Node, i: number) => numel(ctx.tensor(node.inputs[i]).shape);
const shapeOf = (ctx: EmitContext, name: string) => ctx.tensor(name).shape;
const sameType = (ctx: InferContext, node: Node) => node.outputs.map(() => ctx.required(node, 0).dtype);

function validateRank(node: Node, want: number, shapes: number[][]): void {
  shapes.forEach((s, i) => {
    if (s.length !== want) throw new CompileError('invalid', `${node.op} ${node.name}: output ${node.outputs[i]} is declared of rank ${s.length}, where this operator gives rank ${want}`);
  });
}

/** Marks run-time axes (input i, against rank r) in `mark[]`, an axis out of range ending the run, one given twice giving another shape. */
function markAxes(ctx: EmitContext, node: Node, i: number, r: number): string {
  return `int mark[${Math.max(1, r)}] = {0};
for (long j = 0; j < ${count(ctx, node, i)}; j++) {
  int64_t a = ${at(ctx, node, i, 'j')};
  if (a < 0) a += ${r};
  if (a < 0 || a >= ${r}) ${ctx.indexOutOfRange()}
  if (mark[a]++) ${ctx.shapeMismatch()}
}`;
}

const reshape: Valued = {
  inputs: [1],
  what: 'the target shape',
  dtypes: sameType,
  validate(ctx, node, x, [s]) {
    validateRank(node, ctx.required(node, 1).shape[0], [s]);
    if (numel(s) !== numel(x!.shape)) throw new CompileError('invalid', `Reshape ${node.name}: the declared output shape [${s}] does not hold the input's ${numel(x!.shape)} elements`);
  },
  check(ctx, node) {
    const x = shapeOf(ctx, node.inputs[0]);
    const zero = attrInt(node, 'allowzero', 0) === 1 ? '0' : `(j < ${x.length} ? in[j] : -2)`;
    return `${dims('in', x)} ${dims('out', shapeOf(ctx, node.outputs[0]))}
int minus = 0;
for (long j = 0; j < ${count(ctx, node, 1)}; j++) {
  int64_t d = ${at(ctx, node, 1, 'j')};
  if (d == 0) d = ${zero};
  if (d == -1) { if (minus++) ${ctx.shapeMismatch()} continue; }
  if (d != out[j]) ${ctx.shapeMismatch()}
}
(void)in;`;
  },
};

const squeeze: Valued = {
  inputs: [1],
  what: 'the axes',
  dtypes: sameType,
  check(ctx, node) {
    const x = shapeOf(ctx, node.inputs[0]);
    const y = shapeOf(ctx, node.outputs[0]);
    return `${dims('in', x)} ${dims('out', y)}
${markAxes(ctx, node, 1, x.length)}
long q = 0;
for (long d = 0; d < ${x.length}; d++) {
  if (mark[d]) { if (in[d] != 1) ${ctx.shapeMismatch()} }
  else if (q >= ${y.length} || out[q++] != in[d]) ${ctx.shapeMismatch()}
}
if (q != ${y.length}) ${ctx.shapeMismatch()}`;
  },
};

const unsqueeze: Valued = {
  inputs: [1],
  what: 'the axes',
  dtypes: sameType,
  validate(ctx, node, x, shapes) {
    validateRank(node, x!.shape.length + numel(ctx.required(node, 1).shape), shapes);
  },
  check(ctx, node) {
    const x = shapeOf(ctx, node.inputs[0]);
    const y = shapeOf(ctx, node.outputs[0]);
    return `${dims('in', x)} ${dims('out', y)}
${markAxes(ctx, node, 1, y.length)}
long q = 0;
for (long d = 0; d < ${y.length}; d++) {
  if (mark[d]) { if (out[d] != 1) ${ctx.shapeMismatch()} }
  else if (out[d] != in[q++]) ${ctx.shapeMismatch()}
}`;
  },
};

const expand: Valued = {
  inputs: [1],
  what: 'the shape',
  dtypes: sameType,
  validate(ctx, node, x, [s]) {
    validateRank(node, Math.max(x!.shape.length, numel(ctx.required(node, 1).shape)), [s]);
    const pad = s.length - x!.shape.length;
    if (x!.shape.some((d, i) => d !== 1 && d !== s[i + pad])) throw new CompileError('invalid', `Expand ${node.name}: [${x!.shape}] does not broadcast to the declared output shape [${s}]`);
  },
  check(ctx, node) {
    const x = shapeOf(ctx, node.inputs[0]);
    const y = shapeOf(ctx, node.outputs[0]);
    const K = count(ctx, node, 1);
    return `${dims('in', x)} ${dims('out', y)}
for (long i = 0; i < ${y.length}; i++) {
  const int64_t s = i >= ${y.length - K} ? ${at(ctx, node, 1, `i - ${y.length - K}`)} : 1;
  const int64_t xd = i >= ${y.length - x.length} ? in[i - ${y.length - x.length}] : 1;
  const int64_t r = s == 1 ? xd : (xd == 1 || xd == s) ? s : -1;
  if (r != out[i]) ${ctx.shapeMismatch()}
}`;
  },
};

const tile: Valued = {
  inputs: [1],
  what: 'the repeats',
  dtypes: sameType,
  validate(ctx, node, x, [s]) {
    validateRank(node, x!.shape.length, [s]);
    if (x!.shape.some((d, i) => (d === 0 ? s[i] !== 0 : s[i] % d !== 0))) throw new CompileError('invalid', `Tile ${node.name}: the declared output shape [${s}] is no repetition of [${x!.shape}]`);
  },
  check(ctx, node) {
    const x = shapeOf(ctx, node.inputs[0]);
    return `${dims('in', x)} ${dims('out', shapeOf(ctx, node.outputs[0]))}
for (long i = 0; i < ${x.length}; i++) if (${at(ctx, node, 1, 'i')} < 0 || in[i] * ${at(ctx, node, 1, 'i')} != out[i]) ${ctx.shapeMismatch()}`;
  },
};

const topk: Valued = {
  inputs: [1],
  what: 'K',
  dtypes: (ctx, node) => [ctx.required(node, 0).dtype, 'int64'],
  validate(ctx, node, x, shapes) {
    validateRank(node, x!.shape.length, shapes);
    const axis = normAxis(attrInt(node, 'axis', -1), x!.shape.length, node);
    if (shapes.some((s) => s.some((d, i) => (i === axis ? d > x!.shape[i] : d !== x!.shape[i])) || s[axis] !== shapes[0][axis])) {
      throw new CompileError('invalid', `TopK ${node.name}: the declared output shapes [${shapes.join('], [')}] are not [${x!.shape}] with at most ${x!.shape[axis]} along axis ${axis}`);
    }
  },
  check(ctx, node) {
    const x = shapeOf(ctx, node.inputs[0]);
    const axis = normAxis(attrInt(node, 'axis', -1), x.length, node);
    return `if (${at(ctx, node, 1, '0')} != ${shapeOf(ctx, node.outputs[0] || node.outputs[1])[axis]}) ${ctx.shapeMismatch()}`;
  },
};

const split: Valued = {
  inputs: [1],
  what: 'split',
  dtypes: sameType,
  validate(ctx, node, x, shapes) {
    validateRank(node, x!.shape.length, shapes);
    const axis = normAxis(attrInt(node, 'axis', 0), x!.shape.length, node);
    if (shapes.some((s) => s.some((d, i) => i !== axis && d !== x!.shape[i])) || shapes.reduce((a, s) => a + s[axis], 0) !== x!.shape[axis]) {
      throw new CompileError('invalid', `Split ${node.name}: the declared output shapes do not split [${x!.shape}] along axis ${axis}`);
    }
  },
  check(ctx, node) {
    const x = shapeOf(ctx, node.inputs[0]);
    const axis = normAxis(attrInt(node, 'axis', 0), x.length, node);
    if (count(ctx, node, 1) !== node.outputs.length) return ctx.shapeMismatch();
    return node.outputs.map((o, i) => `if (${at(ctx, node, 1, String(i))} != ${shapeOf(ctx, o)[axis]}) ${ctx.shapeMismatch()}`).join('\n');
  },
};

/** Pad's begin and end per axis from the run-time pads (and axes), each checked against the declared output: `pb[]`. */
function padBegin(ctx: EmitContext, node: Node): string {
  const x = shapeOf(ctx, node.inputs[0]);
  const R = x.length;
  const axes = node.inputs[3] ? ctx.tensor(node.inputs[3]) : undefined;
  const K = axes ? numel(axes.shape) : R;
  if (count(ctx, node, 1) !== 2 * K) return ctx.shapeMismatch();
  const axis = axes ? `{ int64_t a = ${at(ctx, node, 3, 'k')}; if (a < 0) a += ${R}; if (a < 0 || a >= ${R}) ${ctx.indexOutOfRange()} d = a; }` : 'd = k;';
  return `${dims('in', x)} ${dims('out', shapeOf(ctx, node.outputs[0]))}
long pb[${Math.max(1, R)}] = {0}, pe[${Math.max(1, R)}] = {0};
for (long k = 0; k < ${K}; k++) {
  long d;
  ${axis}
  pb[d] = ${at(ctx, node, 1, 'k')};
  pe[d] = ${at(ctx, node, 1, `k + ${K}`)};
}
for (long d = 0; d < ${R}; d++) if (in[d] + pb[d] + pe[d] != out[d] || in[d] + pb[d] + pe[d] < 0) ${ctx.shapeMismatch()}`;
}

const pad: Valued = {
  inputs: [1, 2, 3],
  what: 'the pads',
  dtypes: sameType,
  validate(ctx, node, x, shapes) {
    validateRank(node, x!.shape.length, shapes);
    const mode = attrString(node, 'mode', 'constant');
    if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) throw new CompileError('unsupported', `Pad ${node.name}: mode ${mode}`);
  },
  check: padBegin,
  emit(ctx, node) {
    const x = shapeOf(ctx, node.inputs[0]);
    const y = shapeOf(ctx, node.outputs[0]);
    const dtype = ctx.tensor(node.inputs[0]).dtype;
    const mode = attrString(node, 'mode', 'constant');
    const value = node.inputs[2] ? `${ctx.ref(node.inputs[2])}[0]` : literal(dtype, isInteger(dtype) ? 0 : attrFloat(node, 'value', 0));
    const xs = stridesOf(x);
    if (numel(y) === 0) return '';
    return loops(y, (idx) => {
      const lines = idx.map((v, k) => {
        const d = x[k];
        const raw = `(${v} - pb[${k}])`;
        if (mode === 'reflect') return `long j${k} = ${raw}; while (${d} > 1 && (j${k} < 0 || j${k} >= ${d})) j${k} = j${k} < 0 ? -j${k} : 2 * ${d} - 2 - j${k}; if (${d} == 1) j${k} = 0;`;
        if (mode === 'edge') return `long j${k} = ${raw} < 0 ? 0 : ${raw} >= ${d} ? ${d - 1} : ${raw};`;
        if (mode === 'wrap') return `long j${k} = ((${raw} % ${d}) + ${d}) % ${d};`;
        return `long j${k} = ${raw}; inside = inside && j${k} >= 0 && j${k} < ${d};`;
      });
      const j = idx.map((_, k) => `j${k}`);
      return `int inside = 1;\n${lines.join('\n')}\n${ctx.ref(node.outputs[0])}[${offset(idx, stridesOf(y))}] = inside ? ${ctx.ref(node.inputs[0])}[${offset(j, xs)}] : ${value};\n(void)inside;`;
    });
  },
};

/** Slice's begin and step per axis from the run-time starts, ends, axes and steps, as ONNX clamps them, checked against the declared output. */
const slice: Valued = {
  inputs: [1, 2, 3, 4],
  what: 'starts, ends, axes and steps',
  dtypes: sameType,
  validate(ctx, node, x, shapes) {
    validateRank(node, x!.shape.length, shapes);
  },
  check(ctx, node) {
    const x = shapeOf(ctx, node.inputs[0]);
    const R = x.length;
    const K = count(ctx, node, 1);
    if (count(ctx, node, 2) !== K || (node.inputs[3] && count(ctx, node, 3) !== K) || (node.inputs[4] && count(ctx, node, 4) !== K)) return ctx.shapeMismatch();
    return `${dims('in', x)} ${dims('out', shapeOf(ctx, node.outputs[0]))}
long sb[${Math.max(1, R)}], ss[${Math.max(1, R)}], len[${Math.max(1, R)}];
int seen[${Math.max(1, R)}] = {0};
for (long d = 0; d < ${R}; d++) { sb[d] = 0; ss[d] = 1; len[d] = in[d]; }
for (long k = 0; k < ${K}; k++) {
  int64_t a = ${node.inputs[3] ? at(ctx, node, 3, 'k') : 'k'};
  if (a < 0) a += ${R};
  if (a < 0 || a >= ${R}) ${ctx.indexOutOfRange()}
  if (seen[a]++) ${ctx.shapeMismatch()}
  const int64_t d = in[a], p = ${node.inputs[4] ? at(ctx, node, 4, 'k') : '1'};
  int64_t s = ${at(ctx, node, 1, 'k')}, e = ${at(ctx, node, 2, 'k')};
  if (p == 0) ${ctx.shapeMismatch()}
  if (s < 0) s += d;
  if (e < 0) e += d;
  if (p > 0) { s = s < 0 ? 0 : s > d ? d : s; e = e < 0 ? 0 : e > d ? d : e; }
  else { s = s < 0 ? 0 : s > d - 1 ? d - 1 : s; e = e < -1 ? -1 : e > d - 1 ? d - 1 : e; }
  const int64_t n = p > 0 ? (e - s + p - 1) / p : (s - e - p - 1) / -p;
  len[a] = n < 0 ? 0 : n;
  sb[a] = s;
  ss[a] = p;
}
for (long d = 0; d < ${R}; d++) if (len[d] != out[d]) ${ctx.shapeMismatch()}`;
  },
  emit(ctx, node) {
    const x = shapeOf(ctx, node.inputs[0]);
    const y = shapeOf(ctx, node.outputs[0]);
    if (numel(y) === 0) return '';
    const xs = stridesOf(x);
    const base = x.map((_, d) => `sb[${d}] * ${xs[d]}`).join(' + ') || '0';
    return `const long base = ${base};
${loops(y, (idx) => `${ctx.ref(node.outputs[0])}[${offset(idx, stridesOf(y))}] = ${ctx.ref(node.inputs[0])}[base + ${idx.map((v, d) => `${v} * ss[${d}] * ${xs[d]}`).join(' + ') || '0'}];`)}`;
  },
};

const constantOfShape: Valued = {
  inputs: [0],
  what: 'the shape',
  dtypes: (_ctx, node) => [(node.attrs.value as Tensor | undefined)?.dtype ?? 'float32'],
  validate(ctx, node, _x, shapes) {
    validateRank(node, numel(ctx.required(node, 0).shape), shapes);
  },
  check(ctx, node) {
    return `${dims('out', shapeOf(ctx, node.outputs[0]))}
for (long i = 0; i < ${count(ctx, node, 0)}; i++) if (${at(ctx, node, 0, 'i')} != out[i]) ${ctx.shapeMismatch()}`;
  },
  emit(ctx, node) {
    const y = ctx.tensor(node.outputs[0]);
    const v = node.attrs.value as Tensor | undefined;
    const value = literal(y.dtype, v?.data ? (v.data[0] as number) : 0);
    return `for (long i = 0; i < ${numel(y.shape)}; i++) ${ctx.ref(node.outputs[0])}[i] = ${value};`;
  },
};

const range: Valued = {
  inputs: [0, 1, 2],
  what: 'start, limit and delta',
  dtypes: (ctx, node) => [ctx.required(node, 0).dtype],
  validate(_ctx, node, _x, shapes) {
    validateRank(node, 1, shapes);
  },
  check(ctx, node) {
    const dtype = ctx.tensor(node.inputs[0]).dtype;
    const T = C_TYPE[dtype];
    const [s, l, d] = [0, 1, 2].map((i) => `${ctx.ref(node.inputs[i])}[0]`);
    const n = isInteger(dtype)
      ? `(${d} == 0 ? -1 : (int64_t)((${l} - ${s}) / ${d}) + (((int64_t)(${l} - ${s}) % (int64_t)${d}) != 0 && ((${l} - ${s} < 0) == (${d} < 0))))`
      : `(${d} == 0 ? -1 : (int64_t)ceil(((double)${l} - (double)${s}) / (double)${d}))`;
    return `{ const ${T} start = ${s}; (void)start; int64_t n = ${n}; if (${d} != 0 && n < 0) n = 0; if (n != ${shapeOf(ctx, node.outputs[0])[0]}) ${ctx.shapeMismatch()} }`;
  },
  emit(ctx, node) {
    const dtype = ctx.tensor(node.inputs[0]).dtype;
    const [s, d] = [0, 2].map((i) => `${ctx.ref(node.inputs[i])}[0]`);
    const value = isInteger(dtype) ? `(${C_TYPE[dtype]})((int64_t)${s} + i * (int64_t)${d})` : `(${C_TYPE[dtype]})(${s} + i * ${d})`;
    return `for (long i = 0; i < ${shapeOf(ctx, node.outputs[0])[0]}; i++) ${ctx.ref(node.outputs[0])}[i] = ${value};`;
  },
};

/**
 * CenterCropPad: each listed axis cropped or zero-padded to the size in `shape`, centred (the odd
 * element cropped or padded at the end). The shape is a constant, or read at run time and checked
 * against the declared output; each output index then reads the input at a fixed offset.
 */
const centerCropPad: OpDef = {
  type: 'CenterCropPad',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const s = ctx.required(node, 1);
    const axes = cropAxes(node, x.shape.length, numel(s.shape));
    let shape: number[];
    if (s.data) {
      shape = [...x.shape];
      axes.forEach((a, k) => (shape[a] = Number(s.data![k])));
      if (shape.some((d) => d < 0)) throw new CompileError('invalid', `CenterCropPad ${node.name}: a negative size in [${shape}]`);
    } else {
      shape = declaredShape(ctx, node, 0, 'the shape');
      validateRank(node, x.shape.length, [shape]);
      if (shape.some((d, i) => !axes.includes(i) && d !== x.shape[i])) throw new CompileError('invalid', `CenterCropPad ${node.name}: the declared output shape [${shape}] changes an axis that is not cropped or padded`);
    }
    ctx.output(node, 0, { dtype: x.dtype, shape });
  },
  emit(ctx, node) {
    const x = shapeOf(ctx, node.inputs[0]);
    const y = shapeOf(ctx, node.outputs[0]);
    const axes = cropAxes(node, x.length, count(ctx, node, 1));
    const check = ctx.tensor(node.inputs[1]).data ? '' : axes.map((a, k) => `if (${at(ctx, node, 1, String(k))} != ${y[a]}) ${ctx.shapeMismatch()}`).join('\n');
    const off = x.map((d, i) => (d >= y[i] ? Math.floor((d - y[i]) / 2) : -Math.floor((y[i] - d) / 2)));
    const xs = stridesOf(x);
    const dtype = ctx.tensor(node.inputs[0]).dtype;
    if (numel(y) === 0) return check;
    const body = loops(y, (idx) => {
      const j = idx.map((v, k) => `(${v} + ${off[k]})`);
      const inside = j.map((v, k) => `${v} >= 0 && ${v} < ${x[k]}`).join(' && ');
      return `${ctx.ref(node.outputs[0])}[${offset(idx, stridesOf(y))}] = ${inside} ? ${ctx.ref(node.inputs[0])}[${offset(j, xs)}] : ${literal(dtype, 0)};`;
    });
    return `${check}\n${body}`;
  },
};

function cropAxes(node: Node, rank: number, n: number): number[] {
  const raw = (node.attrs.axes as number[] | undefined) ?? [...Array(rank).keys()];
  const axes = raw.map((a) => normAxis(Number(a), rank, node));
  if (axes.length !== n) throw new CompileError('invalid', `CenterCropPad ${node.name}: ${n} sizes for ${axes.length} axes`);
  return axes;
}

export const VALUED_OPS: OpDef[] = [centerCropPad];

const VALUED: Record<string, Valued> = { Reshape: reshape, Squeeze: squeeze, Unsqueeze: unsqueeze, Expand: expand, Tile: tile, TopK: topk, Split: split, Pad: pad, Slice: slice, ConstantOfShape: constantOfShape, Range: range };

/** Whether one of the inputs that decide a node's output shapes is given only at run time. */
function runtime(v: Valued, node: Node, lookup: (name: string) => Tensor | undefined): boolean {
  return v.inputs.some((i) => {
    const t = node.inputs[i] ? lookup(node.inputs[i]) : undefined;
    return !!t && !t.data;
  });
}

/** The operator, taking the declared output shapes when a value that decides them is given at run time. */
function withValues(op: OpDef, v: Valued): OpDef {
  return {
    ...op,
    infer(ctx, node) {
      if (!runtime(v, node, (n) => ctx.graph.tensors.get(n))) return op.infer(ctx, node);
      const shapes = node.outputs.map((_, i) => declaredShape(ctx, node, i, v.what));
      const x = node.inputs[0] ? ctx.input(node, 0) : undefined;
      for (const i of v.inputs) {
        const t = ctx.input(node, i);
        if (t && t.dtype !== 'int64' && t.dtype !== 'int32' && node.op !== 'Range' && !(node.op === 'Pad' && i === 2)) throw new CompileError('invalid', `${node.op} ${node.name}: ${v.what} must be int64 or int32, not ${t.dtype}`);
      }
      v.validate?.(ctx, node, x, shapes);
      const dtypes = v.dtypes(ctx, node);
      shapes.forEach((shape, i) => ctx.output(node, i, { dtype: dtypes[i], shape }));
    },
    emit(ctx, node) {
      if (!runtime(v, node, (n) => ctx.tensor(n))) return op.emit?.(ctx, node) ?? '';
      return `{\n${v.check(ctx, node)}\n${v.emit ? v.emit(ctx, node) : (op.emit?.(ctx, node) ?? '')}\n}`;
    },
  };
}

/** The operators, those with shape-deciding inputs able to take them at run time. */
export function withRunTimeValues(ops: OpDef[]): OpDef[] {
  return ops.map((op) => (VALUED[op.type] ? withValues(op, VALUED[op.type]) : op));
}
