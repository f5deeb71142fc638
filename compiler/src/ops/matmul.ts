import { CompileError, numel } from '../ir';
import { attrFloat, attrInt, broadcast, broadcastStrides, flt, loops, offset, OpDef, stridesOf } from './op';

/** MatMul with numpy semantics: 1-D operands promoted, leading batch dimensions broadcast. */
const matmul: OpDef = {
  type: 'MatMul',
  infer(ctx, node) {
    const a = ctx.required(node, 0);
    const b = ctx.required(node, 1);
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new CompileError('unsupported', `MatMul ${node.name}: only float32 is supported`);
    const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
    const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
    if (as[as.length - 1] !== bs[bs.length - 2]) throw new CompileError('invalid', `MatMul ${node.name}: [${a.shape}] x [${b.shape}] do not agree`);
    const batch = broadcast([as.slice(0, -2), bs.slice(0, -2)], node);
    const shape = [...batch, as[as.length - 2], bs[bs.length - 1]];
    if (a.shape.length === 1) shape.splice(shape.length - 2, 1);
    if (b.shape.length === 1) shape.splice(shape.length - 1, 1);
    ctx.output(node, 0, { dtype: 'float32', shape });
  },
  emit(ctx, node) {
    const a = ctx.tensor(node.inputs[0]);
    const b = ctx.tensor(node.inputs[1]);
    const as = a.shape.length === 1 ? [1, a.shape[0]] : a.shape;
    const bs = b.shape.length === 1 ? [b.shape[0], 1] : b.shape;
    const M = as[as.length - 2];
    const K = as[as.length - 1];
    const N = bs[bs.length - 1];
    const batch = broadcast([as.slice(0, -2), bs.slice(0, -2)], node);
    const sa = broadcastStrides(as.slice(0, -2), batch).map((s) => s * M * K);
    const sb = broadcastStrides(bs.slice(0, -2), batch).map((s) => s * K * N);
    const so = stridesOf(batch).map((s) => s * M * N);
    const A = ctx.ref(node.inputs[0]);
    const B = ctx.ref(node.inputs[1]);
    const Y = ctx.ref(node.outputs[0]);
    // i-k-j order: the inner loop runs along rows of B and Y, which vectorises.
    const kernel = (idx: string[]) => `{
  const float *a = ${A} + ${offset(idx, sa)};
  const float *b = ${B} + ${offset(idx, sb)};
  float *y = ${Y} + ${offset(idx, so)};
  for (long m = 0; m < ${M}; m++) {
    for (long n = 0; n < ${N}; n++) y[m * ${N} + n] = 0.0f;
    for (long k = 0; k < ${K}; k++) {
      const float av = a[m * ${K} + k];
      for (long n = 0; n < ${N}; n++) y[m * ${N} + n] += av * b[k * ${N} + n];
    }
  }
}`;
    return batch.length ? loops(batch, kernel, 'b') : kernel([]);
  },
};

/** Gemm: Y = alpha * op(A) * op(B) + beta * C, C broadcast to [M, N]. */
const gemm: OpDef = {
  type: 'Gemm',
  infer(ctx, node) {
    const a = ctx.required(node, 0);
    const b = ctx.required(node, 1);
    if (a.shape.length !== 2 || b.shape.length !== 2) throw new CompileError('invalid', `Gemm ${node.name}: A and B must be 2-D`);
    const ta = attrInt(node, 'transA', 0);
    const tb = attrInt(node, 'transB', 0);
    const M = ta ? a.shape[1] : a.shape[0];
    const K = ta ? a.shape[0] : a.shape[1];
    const K2 = tb ? b.shape[1] : b.shape[0];
    const N = tb ? b.shape[0] : b.shape[1];
    if (K !== K2) throw new CompileError('invalid', `Gemm ${node.name}: inner dimensions ${K} and ${K2} differ`);
    const c = ctx.input(node, 2);
    if (c) broadcast([c.shape, [M, N]], node);
    ctx.output(node, 0, { dtype: 'float32', shape: [M, N] });
  },
  emit(ctx, node) {
    const a = ctx.tensor(node.inputs[0]);
    const b = ctx.tensor(node.inputs[1]);
    const ta = attrInt(node, 'transA', 0);
    const tb = attrInt(node, 'transB', 0);
    const [M, N] = ctx.tensor(node.outputs[0]).shape;
    const K = ta ? a.shape[0] : a.shape[1];
    const alpha = attrFloat(node, 'alpha', 1);
    const beta = attrFloat(node, 'beta', 1);
    const A = ctx.ref(node.inputs[0]);
    const B = ctx.ref(node.inputs[1]);
    const Y = ctx.ref(node.outputs[0]);
    const aAt = (m: string, k: string) => (ta ? `${A}[${k} * ${M} + ${m}]` : `${A}[${m} * ${K} + ${k}]`);
    const bAt = (k: string, n: string) => (tb ? `${B}[${n} * ${K} + ${k}]` : `${B}[${k} * ${N} + ${n}]`);
    let init = '0.0f';
    if (node.inputs[2]) {
      const cs = broadcastStrides(ctx.tensor(node.inputs[2]).shape, [M, N]);
      init = `${flt(beta)} * ${ctx.ref(node.inputs[2])}[${offset(['m', 'n'], cs)}]`;
    }
    if (tb) {
      // B transposed (the usual fully-connected layout): a dot product per output.
      return `for (long m = 0; m < ${M}; m++) for (long n = 0; n < ${N}; n++) {
  float s = 0.0f;
  for (long k = 0; k < ${K}; k++) s += ${aAt('m', 'k')} * ${bAt('k', 'n')};
  ${Y}[m * ${N} + n] = ${flt(alpha)} * s + ${init};
}`;
    }
    return `for (long m = 0; m < ${M}; m++) {
  float *y = ${Y} + m * ${N};
  for (long n = 0; n < ${N}; n++) y[n] = 0.0f;
  for (long k = 0; k < ${K}; k++) { const float av = ${flt(alpha)} * ${aAt('m', 'k')}; for (long n = 0; n < ${N}; n++) y[n] += av * ${bAt('k', 'n')}; }
  for (long n = 0; n < ${N}; n++) y[n] += ${init};
}`;
  },
};

export const MATMUL_OPS: OpDef[] = [matmul, gemm];
export { numel };
