import { C_TYPE, CompileError, DType, makeArray, Node, numel, Tensor, toNumbers, TypedArray } from '../ir';
import { values } from './arith';
import { castValue, cCast } from './convert';
import { Packed, packedCast, packedCastC } from '../packed';
import type { Half } from '../half';
import { elementType } from '../import';
import { attrInt, attrInts, EmitContext, InferContext, loops, normAxis, offset, OpDef, stridesOf } from './op';


function constInput(ctx: InferContext, node: Node, i: number, what: string): number[] | undefined {
  const t = ctx.input(node, i);
  if (!t) return undefined;
  if (!t.data) throw new CompileError('unsupported', `${node.op} ${node.name}: ${what} must be known at compile time`);
  return toNumbers(t);
}

/** Ops that only reinterpret the shape: the output shares the input's buffer, or copies it. */
function view(ctx: EmitContext, node: Node): string {
  if (ctx.alias(node.outputs[0], node.inputs[0])) return '';
  const n = numel(ctx.tensor(node.outputs[0]).shape);
  return `memcpy(${ctx.ref(node.outputs[0])}, ${ctx.ref(node.inputs[0])}, sizeof(*${ctx.ref(node.outputs[0])}) * ${n});`;
}

function reshaped(ctx: InferContext, node: Node, x: Tensor, shape: number[]): void {
  if (numel(shape) !== numel(x.shape)) throw new CompileError('invalid', `${node.op} ${node.name}: cannot reshape [${x.shape}] to [${shape}]`);
  ctx.output(node, 0, { dtype: x.dtype, shape, data: x.data });
}

const reshape: OpDef = {
  type: 'Reshape',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const spec = constInput(ctx, node, 1, 'the target shape') ?? attrInts(node, 'shape');
    if (!spec) throw new CompileError('invalid', `Reshape ${node.name}: no shape`);
    const allowZero = attrInt(node, 'allowzero', 0) === 1;
    const shape = spec.map((d, i) => (d === 0 && !allowZero ? x.shape[i] : d));
    const minus = shape.indexOf(-1);
    if (minus >= 0) shape[minus] = numel(x.shape) / numel(shape.filter((_, i) => i !== minus));
    reshaped(ctx, node, x, shape);
  },
  emit: view,
};

const flatten: OpDef = {
  type: 'Flatten',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const axis = attrInt(node, 'axis', 1);
    const r = x.shape.length;
    if (axis < -r || axis > r) throw new CompileError('invalid', `Flatten ${node.name}: axis ${axis} is outside [${-r}, ${r}] for an input of rank ${r}`);
    const a = axis < 0 ? axis + r : axis;
    reshaped(ctx, node, x, [numel(x.shape.slice(0, a)), numel(x.shape.slice(a))]);
  },
  emit: view,
};

const squeeze: OpDef = {
  type: 'Squeeze',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const axes = (constInput(ctx, node, 1, 'axes') ?? attrInts(node, 'axes'))?.map((a) => normAxis(a, x.shape.length, node));
    reshaped(ctx, node, x, x.shape.filter((d, i) => (axes ? !axes.includes(i) : d !== 1)));
  },
  emit: view,
};

const unsqueeze: OpDef = {
  type: 'Unsqueeze',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const raw = constInput(ctx, node, 1, 'axes') ?? attrInts(node, 'axes');
    if (!raw) throw new CompileError('invalid', `Unsqueeze ${node.name}: no axes`);
    const rank = x.shape.length + raw.length;
    const axes = raw.map((a) => normAxis(a, rank, node));
    if (new Set(axes).size !== axes.length) throw new CompileError('invalid', `Unsqueeze ${node.name}: an axis is listed twice`);
    const shape: number[] = [];
    let k = 0;
    for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : x.shape[k++]);
    reshaped(ctx, node, x, shape);
  },
  emit: view,
};

/** Shapes are static, so Shape is always a constant. */
const shapeOp: OpDef = {
  type: 'Shape',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const r = x.shape.length;
    const clampAxis = (v: number) => Math.min(r, Math.max(0, v < 0 ? v + r : v));
    const dims = x.shape.slice(clampAxis(attrInt(node, 'start', 0)), clampAxis(attrInt(node, 'end', r)));
    ctx.output(node, 0, { dtype: 'int64', shape: [dims.length], data: BigInt64Array.from(dims.map(BigInt)) });
  },
};

const constant: OpDef = {
  type: 'Constant',
  infer(ctx, node) {
    const a = node.attrs;
    let t: { dtype: DType; shape: number[]; data: TypedArray; packed?: Packed };
    if (a.value) {
      const v = a.value as Tensor;
      t = { dtype: v.dtype, shape: v.shape, data: v.data!, ...(v.packed ? { packed: v.packed } : {}) };
    } else if (a.value_float !== undefined) t = { dtype: 'float32', shape: [], data: Float32Array.of(Number(a.value_float)) };
    else if (a.value_floats) t = { dtype: 'float32', shape: [(a.value_floats as number[]).length], data: Float32Array.from(a.value_floats as number[]) };
    else if (a.value_int !== undefined) t = { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(a.value_int as number)) };
    else if (a.value_ints) t = { dtype: 'int64', shape: [(a.value_ints as number[]).length], data: BigInt64Array.from((a.value_ints as number[]).map(BigInt)) };
    else throw new CompileError('unsupported', `Constant ${node.name}: only tensor, float(s) and int(s) values are supported`);
    ctx.output(node, 0, t);
  },
};

const cast: OpDef = {
  type: 'Cast',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const type = elementType(attrInt(node, 'to', 1));
    if (!type || type.dtype === 'string') throw new CompileError('unsupported', `Cast ${node.name}: target type ${attrInt(node, 'to', 0)} is not supported`);
    castTo(ctx, node, x, type);
  },
  emit(ctx, node) {
    const from = ctx.tensor(node.inputs[0]).dtype;
    const out = ctx.tensor(node.outputs[0]);
    const n = numel(out.shape);
    // A half result is rounded after every node that makes one (see generateC); a float8, int4 or uint4 one here.
    const value = out.packed ? packedCastC(out.packed, cCast(from, out.dtype, 'x'), attrInt(node, 'saturate', 1) === 1) : cCast(from, out.dtype, 'x');
    return `for (long i = 0; i < ${n}; i++) { const ${C_TYPE[from]} x = ${ctx.ref(node.inputs[0])}[i]; ${ctx.ref(node.outputs[0])}[i] = ${value}; }`;
  },
};



/**
 * Cast's value, folded when the input is a constant (conversions as convert.ts defines them: a
 * float out of an integer type's range saturates to int64 first, NaN is 0; exporters compute
 * such values and then discard them, as T5's log of a zero distance).
 */
function castTo(ctx: InferContext, node: Node, x: Tensor, type: { dtype: DType; half?: Half; packed?: Packed }): void {
  const to = type.dtype;
  const saturate = attrInt(node, 'saturate', 1) === 1;
  let data: TypedArray | undefined;
  if (x.data) {
    data = makeArray(to, x.data.length);
    const src = values(x.data);
    const dst = values(data);
    for (let i = 0; i < x.data.length; i++) {
      const v = castValue(src[i], x.dtype, to);
      dst[i] = type.packed ? packedCast(type.packed, v as number, saturate) : v;
    }
  }
  ctx.output(node, 0, { dtype: to, shape: [...x.shape], data, half: type.half, ...(type.packed ? { packed: type.packed } : {}) });
}

const concat: OpDef = {
  type: 'Concat',
  infer(ctx, node) {
    const xs = node.inputs.map((_, i) => ctx.required(node, i));
    const axis = normAxis(attrInt(node, 'axis', 0), xs[0].shape.length, node);
    const shows = () => xs.map((x) => `[${x.shape.join(',')}]`).join(', ');
    if (xs.some((x) => x.dtype !== xs[0].dtype)) throw new CompileError('invalid', `Concat ${node.name}: the inputs' types differ (${xs.map((x) => x.dtype).join(', ')})`);
    if (xs.some((x) => x.shape.length !== xs[0].shape.length || x.shape.some((d, i) => i !== axis && d !== xs[0].shape[i]))) {
      throw new CompileError('invalid', `Concat ${node.name}: inputs ${shows()} must have the same rank and agree on every axis but ${axis}`);
    }
    const shape = [...xs[0].shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis], 0);
    let data: TypedArray | undefined;
    if (xs.every((x) => x.data) && axis === 0 && shape.length === 1) {
      data = makeArray(xs[0].dtype, shape[0]);
      let o = 0;
      for (const x of xs) {
        (data as Float32Array).set(x.data as Float32Array, o);
        o += x.data!.length;
      }
    }
    ctx.output(node, 0, { dtype: xs[0].dtype, shape, data });
  },
  emit(ctx, node) {
    const out = ctx.tensor(node.outputs[0]);
    const axis = normAxis(attrInt(node, 'axis', 0), out.shape.length, node);
    const outer = numel(out.shape.slice(0, axis));
    const inner = numel(out.shape.slice(axis + 1));
    let at = 0;
    const parts: string[] = [];
    for (const name of node.inputs) {
      const t = ctx.tensor(name);
      const chunk = t.shape[axis] * inner;
      parts.push(`for (long o = 0; o < ${outer}; o++) memcpy(${ctx.ref(node.outputs[0])} + o * ${out.shape[axis] * inner} + ${at * inner}, ${ctx.ref(name)} + o * ${chunk}, sizeof(*${ctx.ref(name)}) * ${chunk});`);
      at += t.shape[axis];
    }
    return parts.join('\n');
  },
};

const transpose: OpDef = {
  type: 'Transpose',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const perm = attrInts(node, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    ctx.output(node, 0, { dtype: x.dtype, shape: perm.map((p) => x.shape[p]) });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const perm = attrInts(node, 'perm') ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    const out = ctx.tensor(node.outputs[0]);
    const xs = stridesOf(x.shape);
    const inStrides = perm.map((p) => xs[p]);
    return loops(out.shape, (idx) => `${ctx.ref(node.outputs[0])}[${offset(idx, stridesOf(out.shape))}] = ${ctx.ref(node.inputs[0])}[${offset(idx, inStrides)}];`);
  },
};

/**
 * Gather along an axis (negative indices counted from the end). Constant indices are checked and,
 * with constant data, folded at compile time; indices known only at run time (token ids, say) are
 * checked as the model runs: one out of range makes the entry point fail (RUN_ERRORS).
 */
const gather: OpDef = {
  type: 'Gather',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const ind = ctx.required(node, 1);
    if (ind.dtype !== 'int64' && ind.dtype !== 'int32') throw new CompileError('invalid', `Gather ${node.name}: indices must be int64 or int32, not ${ind.dtype}`);
    const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
    const shape = [...x.shape.slice(0, axis), ...ind.shape, ...x.shape.slice(axis + 1)];
    if (!ind.data) {
      ctx.output(node, 0, { dtype: x.dtype, shape });
      return;
    }
    const idx = toNumbers(ind).map((i) => (i < 0 ? i + x.shape[axis] : i));
    if (idx.some((i) => i < 0 || i >= x.shape[axis])) throw new CompileError('invalid', `Gather ${node.name}: an index is out of range`);
    let data: TypedArray | undefined;
    if (x.data) {
      data = makeArray(x.dtype, numel(shape));
      const outer = numel(x.shape.slice(0, axis));
      const inner = numel(x.shape.slice(axis + 1));
      let o = 0;
      for (let a = 0; a < outer; a++) for (const i of idx) for (let b = 0; b < inner; b++) (data as Float32Array)[o++] = (x.data as Float32Array)[(a * x.shape[axis] + i) * inner + b];
    }
    ctx.output(node, 0, { dtype: x.dtype, shape, data });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const ind = ctx.tensor(node.inputs[1]);
    const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
    const outer = numel(x.shape.slice(0, axis));
    const inner = numel(x.shape.slice(axis + 1));
    const D = x.shape[axis];
    const Y = ctx.ref(node.outputs[0]);
    const X = ctx.ref(node.inputs[0]);
    if (!ind.data) {
      // Each index is checked (as int64, whatever the width of long) before the row it names is read.
      const n = numel(ind.shape);
      return `for (long j = 0; j < ${n}; j++) {
  int64_t k = (int64_t)${ctx.ref(node.inputs[1])}[j];
  if (k < 0) k += ${D};
  if (k < 0 || k >= ${D}) ${ctx.indexOutOfRange()}
  for (long a = 0; a < ${outer}; a++) memcpy(${Y} + (a * ${n} + j) * ${inner}, ${X} + (a * ${D} + (long)k) * ${inner}, sizeof(*${Y}) * ${inner});
}`;
    }
    const idx = toNumbers(ind).map((i) => (i < 0 ? i + D : i));
    return `{ static const long idx[${idx.length}] = { ${idx.join(', ')} };
for (long a = 0; a < ${outer}; a++) for (long j = 0; j < ${idx.length}; j++)
  memcpy(${Y} + (a * ${idx.length} + j) * ${inner}, ${X} + (a * ${D} + idx[j]) * ${inner}, sizeof(*${Y}) * ${inner}); }`;
  },
};

/** Slice with constant starts, ends, axes and steps (inputs since opset 10). */
function sliceParams(ctx: { lookup(n: string): Tensor | undefined }, node: Node, shape: number[]) {
  const get = (i: number, attr: string) => {
    const name = node.inputs[i];
    if (name) {
      const t = ctx.lookup(name);
      if (!t?.data) throw new CompileError('unsupported', `Slice ${node.name}: ${attr} must be known at compile time`);
      return toNumbers(t);
    }
    return attrInts(node, attr);
  };
  const starts = get(1, 'starts')!;
  const ends = get(2, 'ends')!;
  const axes = (get(3, 'axes') ?? starts.map((_, i) => i)).map((a) => normAxis(a, shape.length, node));
  const steps = get(4, 'steps') ?? starts.map(() => 1);
  if (ends.length !== starts.length || axes.length !== starts.length || steps.length !== starts.length) {
    throw new CompileError('invalid', `Slice ${node.name}: starts, ends, axes and steps must have the same length (${starts.length}, ${ends.length}, ${axes.length}, ${steps.length})`);
  }
  if (steps.some((st) => st === 0)) throw new CompileError('invalid', `Slice ${node.name}: a step of 0`);
  if (new Set(axes).size !== axes.length) throw new CompileError('invalid', `Slice ${node.name}: an axis is listed twice`);
  const begin = shape.map(() => 0);
  const step = shape.map(() => 1);
  const out = [...shape];
  axes.forEach((ax, k) => {
    const d = shape[ax];
    const st = steps[k];
    const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
    let s = starts[k] < 0 ? starts[k] + d : starts[k];
    let e = ends[k] < 0 ? ends[k] + d : ends[k];
    if (st > 0) {
      s = clamp(s, 0, d);
      e = clamp(e, 0, d);
      out[ax] = Math.max(0, Math.ceil((e - s) / st));
    } else {
      s = clamp(s, 0, d - 1);
      e = clamp(e, -1, d - 1);
      out[ax] = Math.max(0, Math.ceil((e - s) / st));
    }
    begin[ax] = s;
    step[ax] = st;
  });
  return { begin, step, out };
}

const slice: OpDef = {
  type: 'Slice',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const { begin, step, out } = sliceParams({ lookup: (n) => ctx.graph.tensors.get(n) }, node, x.shape);
    let data: TypedArray | undefined;
    if (x.data && numel(out) <= 1 << 20) {
      // Any rank (exporters slice reshaped pad lists backwards: Swin's window padding).
      const n = numel(out);
      data = makeArray(x.dtype, n);
      const xs = stridesOf(x.shape);
      const base = begin.reduce((a, b, k) => a + b * xs[k], 0);
      for (let i = 0; i < n; i++) {
        let r = i;
        let o = base;
        for (let k = out.length - 1; k >= 0; k--) {
          o += (r % out[k]) * xs[k] * step[k];
          r = Math.floor(r / out[k]);
        }
        (data as Float32Array)[i] = (x.data as Float32Array)[o];
      }
    }
    ctx.output(node, 0, { dtype: x.dtype, shape: out, data });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const { begin, step, out } = sliceParams({ lookup: (n) => ctx.tensor(n) }, node, x.shape);
    const xs = stridesOf(x.shape);
    const base = begin.reduce((s, b, k) => s + b * xs[k], 0);
    return loops(out, (idx) => `${ctx.ref(node.outputs[0])}[${offset(idx, stridesOf(out))}] = ${ctx.ref(node.inputs[0])}[${base} + ${offset(idx, xs.map((s, k) => s * step[k]))}];`);
  },
};

const constantOfShape: OpDef = {
  type: 'ConstantOfShape',
  infer(ctx, node) {
    const shape = constInput(ctx, node, 0, 'the shape')!;
    if (shape.some((d) => d < 0)) throw new CompileError('invalid', `ConstantOfShape ${node.name}: shape [${shape.join(',')}] has a negative dimension`);
    const v = node.attrs.value as Tensor | undefined;
    const dtype = v?.dtype ?? 'float32';
    const data = makeArray(dtype, numel(shape));
    if (v?.data) (data as Float32Array).fill(v.data[0] as number);
    ctx.output(node, 0, { dtype, shape, data, half: v?.half });
  },
};

const range: OpDef = {
  type: 'Range',
  infer(ctx, node) {
    const [start, limit, delta] = [0, 1, 2].map((i) => constInput(ctx, node, i, 'start, limit and delta')![0]);
    if (delta === 0) throw new CompileError('invalid', `Range ${node.name}: delta is 0`);
    const n = Math.max(0, Math.ceil((limit - start) / delta));
    const dtype = ctx.required(node, 0).dtype;
    const data = makeArray(dtype, n);
    for (let i = 0; i < n; i++) (data as Float32Array)[i] = (dtype === 'int64' ? BigInt(start + i * delta) : start + i * delta) as never;
    ctx.output(node, 0, { dtype, shape: [n], data });
  },
};

const expand: OpDef = {
  type: 'Expand',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    const target = constInput(ctx, node, 1, 'the shape')!;
    const rank = Math.max(target.length, x.shape.length);
    const shape = Array.from({ length: rank }, (_, i) => {
      const a = x.shape[x.shape.length - rank + i] ?? 1;
      const b = target[target.length - rank + i] ?? 1;
      if (a !== 1 && b !== 1 && a !== b) throw new CompileError('invalid', `Expand ${node.name}: [${x.shape.join(',')}] does not broadcast to [${target.join(',')}]`);
      return a === 1 ? b : a;
    });
    ctx.output(node, 0, { dtype: x.dtype, shape });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const out = ctx.tensor(node.outputs[0]);
    const pad = out.shape.length - x.shape.length;
    const xs = stridesOf(x.shape);
    const s = out.shape.map((_, i) => (i < pad || x.shape[i - pad] === 1 ? 0 : xs[i - pad]));
    return loops(out.shape, (idx) => `${ctx.ref(node.outputs[0])}[${offset(idx, stridesOf(out.shape))}] = ${ctx.ref(node.inputs[0])}[${offset(idx, s)}];`);
  },
};

const size: OpDef = {
  type: 'Size',
  infer(ctx, node) {
    ctx.output(node, 0, { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(numel(ctx.required(node, 0).shape))) });
  },
};

const castLike: OpDef = {
  type: 'CastLike',
  infer(ctx, node) {
    const like = ctx.required(node, 1);
    if (like.dtype === 'string') throw new CompileError('unsupported', `CastLike ${node.name}: casting to strings is not supported`);
    castTo(ctx, { ...node, inputs: [node.inputs[0]] }, ctx.required(node, 0), like);
  },
  emit: (ctx, node) => cast.emit!(ctx, { ...node, inputs: [node.inputs[0]] }),
};

export const SHAPE_OPS: OpDef[] = [size, castLike, reshape, flatten, squeeze, unsqueeze, shapeOp, constant, cast, concat, transpose, gather, slice, constantOfShape, range, expand];
