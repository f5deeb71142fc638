import { CompileError, makeArray, numel } from '../ir';
import { elementType } from '../import';
import { values } from './arith';
import { attrInt, OpDef } from './op';

/**
 * EyeLike: a matrix of the input's 2-D shape holding ones on the diagonal k (0 the main one, above
 * it positive, below negative) and zeros elsewhere, of the type `dtype` names (the input's by
 * default). Only the input's shape matters; folded when the input is a constant.
 */
const eyeLike: OpDef = {
  type: 'EyeLike',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.shape.length !== 2) throw new CompileError('invalid', `EyeLike ${node.name}: the input must have rank 2, not ${x.shape.length}`);
    const code = node.attrs.dtype;
    const type = code === undefined ? { dtype: x.dtype, half: x.half, packed: x.packed } : elementType(Number(code));
    if (!type || type.dtype === 'string' || type.packed) throw new CompileError('unsupported', `EyeLike ${node.name}: output type ${code === undefined ? x.packed : code} is not supported`);
    const [R, C] = x.shape;
    const k = attrInt(node, 'k', 0);
    let data;
    if (x.data) {
      data = makeArray(type.dtype, R * C);
      const y = values(data);
      const one = type.dtype === 'int64' || type.dtype === 'uint64' ? 1n : 1;
      for (let r = 0; r < R; r++) if (r + k >= 0 && r + k < C) y[r * C + r + k] = one;
    }
    ctx.output(node, 0, { dtype: type.dtype, shape: [R, C], data, half: type.half });
  },
  emit(ctx, node) {
    const [R, C] = ctx.tensor(node.inputs[0]).shape;
    const Y = ctx.ref(node.outputs[0]);
    // k beyond the matrix leaves it all zeros: clamped, so that it is a small C value on every target.
    const k = Math.max(-R, Math.min(C, attrInt(node, 'k', 0)));
    if (!R || !C) return '';
    // Only the input's shape matters: its values are not read.
    return `(void)${ctx.ref(node.inputs[0])};
memset(${Y}, 0, sizeof(*${Y}) * ${R * C});
for (long r = 0; r < ${R}; r++) { const long c = r + ${k}; if (c >= 0 && c < ${C}) ${Y}[r * ${C} + c] = 1; }`;
  },
};

/**
 * Det: the determinant of each square matrix in the last two dimensions, by LU decomposition
 * with partial pivoting in double precision, then rounded to float.
 */
const det: OpDef = {
  type: 'Det',
  infer(ctx, node) {
    const x = ctx.required(node, 0);
    if (x.dtype !== 'float32') throw new CompileError('unsupported', `Det ${node.name}: only float32 is supported, not ${x.dtype}`);
    const r = x.shape.length;
    if (r < 2 || x.shape[r - 1] !== x.shape[r - 2]) throw new CompileError('invalid', `Det ${node.name}: the input must be square matrices [..., M, M], not [${x.shape}]`);
    ctx.output(node, 0, { dtype: 'float32', shape: x.shape.slice(0, -2) });
  },
  emit(ctx, node) {
    const x = ctx.tensor(node.inputs[0]);
    const M = x.shape[x.shape.length - 1];
    const batch = numel(x.shape.slice(0, -2));
    const X = ctx.ref(node.inputs[0]);
    const Y = ctx.ref(node.outputs[0]);
    return `static double a[${Math.max(1, M * M)}];
for (long b = 0; b < ${batch}; b++) {
  for (long i = 0; i < ${M * M}; i++) a[i] = ${X}[b * ${M * M} + i];
  double d = 1.0;
  for (long j = 0; j < ${M}; j++) {
    long p = j;
    for (long i = j + 1; i < ${M}; i++) if (fabs(a[i * ${M} + j]) > fabs(a[p * ${M} + j])) p = i;
    if (a[p * ${M} + j] == 0.0) { d = 0.0; break; }
    if (p != j) {
      for (long c = 0; c < ${M}; c++) { const double t = a[j * ${M} + c]; a[j * ${M} + c] = a[p * ${M} + c]; a[p * ${M} + c] = t; }
      d = -d;
    }
    const double pivot = a[j * ${M} + j];
    d *= pivot;
    for (long i = j + 1; i < ${M}; i++) {
      const double f = a[i * ${M} + j] / pivot;
      for (long c = j + 1; c < ${M}; c++) a[i * ${M} + c] -= f * a[j * ${M} + c];
    }
  }
  ${Y}[b] = (float)d;
}`;
  },
};

export const LINALG_OPS: OpDef[] = [eyeLike, det];
