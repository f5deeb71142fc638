import { CompileError, Node, numel } from '../ir';
import { gemmRowBlock, gemmScratch, gemmSharedA, MAX_SHARED_A, NR, packPanels } from '../kernels';
import { attrFloat, attrInt, broadcast, broadcastStrides, EmitContext, epilogueInit, flt, fusedEpilogueLoop, loops, offset, OpDef, stridesOf } from './op';

/** A bias along N, as a constant padded to whole panels (the kernel reads it 16 at a time). */
function paddedBias(ctx: EmitContext, name: string, N: number, scale = 1): string {
  const v = ctx.tensor(name).data as Float32Array;
  const out = new Float32Array(Math.ceil(N / NR) * NR);
  for (let n = 0; n < N; n++) out[n] = v[v.length === 1 ? 0 : n] * scale;
  return ctx.constant(`${name} (padded)`, out);
}

/**
 * One packed GEMM call: C (M x N, row stride N) = A (M x K, row-major) x B, with B either packed
 * at compile time (bpacked) or read at run time (b, with row stride ldb and column stride sn).
 */
function gemmInit(ctx: EmitContext, node: Node, d: { M: number; N: number; K: number; a: string; c: string; bpacked?: string; b?: string; ldb?: number; sn?: number; koff?: string; biasN?: string; res?: string }): string {
  const mc = gemmRowBlock(d.M, d.K);
  const sc = ctx.scratch(gemmScratch(mc, d.K));
  const b = d.bpacked ? `.bpacked = ${d.bpacked}` : `.b = ${d.b}, .ldb = ${d.ldb}, .sn = ${d.sn}${d.koff ? `, .koff = ${d.koff}` : ''}`;
  const shared = ctx.threads > 1 && gemmSharedA(d.M, d.K) <= MAX_SHARED_A ? `, .apacked = ${ctx.shared(gemmSharedA(d.M, d.K))}` : '';
  return `{ .M = ${d.M}, .N = ${d.N}, .K = ${d.K}, .a = ${d.a}, .lda = ${d.K}, ${b}, .c = ${d.c}, .ldc = ${d.N}, .mc = ${mc},
    .e = ${epilogueInit(node, { biasN: d.biasN, res: d.res })}, .scratch = ${sc.ptr}, .scratch_floats = ${sc.stride}${shared} }`;
}

export function gemmCall(ctx: EmitContext, node: Node, d: Parameters<typeof gemmInit>[2]): string {
  return `{
  kiln_gemm_args g = ${gemmInit(ctx, node, d)};
  kiln_gemm(&g);
}`;
}

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
    // A constant B is referred to only where it is not packed (its packed copy is what the kernels read).
    let bRef: string | undefined;
    const B = () => (bRef ??= ctx.ref(node.inputs[1]));
    const Y = ctx.ref(node.outputs[0]);
    if (ctx.fast && K > 0 && M > 0 && N > 0) {
      const f = node.fused;
      const biasN = f?.biasN ? paddedBias(ctx, f.biasN, N) : undefined;
      const res = f?.residual ? ctx.ref(f.residual) : undefined;
      const bConst = b.data instanceof Float32Array ? b.data : undefined;
      const packed = new Map<number, string>();
      const call = (idx: string[], at: (s: number[]) => number) => {
        const bo = at(sb);
        let bsrc: { bpacked?: string; b?: string; ldb?: number; sn?: number; koff?: string };
        if (bConst) {
          if (!packed.has(bo)) packed.set(bo, ctx.constant(`${node.inputs[1]} (packed panels)`, packPanels(bConst, K, N, N, 1, bo)));
          bsrc = { bpacked: packed.get(bo) };
        } else bsrc = { b: `${B()} + ${offset(idx, sb)}`, ldb: N, sn: 1, koff: 'rows' };
        return gemmCall(ctx, node, { M, N, K, a: `${A} + ${offset(idx, sa)}`, c: `${Y} + ${offset(idx, so)}`, ...bsrc, biasN, res: res && `${res} + ${offset(idx, so)}` });
      };
      // A run-time B is read in place, row k at b + rows[k] (whole 16-column panels; the last one is packed).
      const table = bConst ? '' : `static const long rows[${K}] = {${Array.from({ length: K }, (_, k) => k * N).join(',')}};\n`;
      if (!batch.length) return table + call([], () => 0);
      // Constant B: one packed copy per distinct batch slice, so the batch loops are unrolled.
      if (bConst && numel(batch) <= 64) {
        const out: string[] = [];
        const rec = (k: number, vals: number[]) => {
          if (k === batch.length) {
            const at = (s: number[]) => vals.reduce((acc, v, i) => acc + v * s[i], 0);
            out.push(call(vals.map(String), at));
            return;
          }
          for (let v = 0; v < batch[k]; v++) rec(k + 1, [...vals, v]);
        };
        rec(0, []);
        return out.join('\n');
      }
      if (!bConst && ctx.threads > 1 && numel(batch) > 1 && numel(batch) <= 256) {
        // With threads, the batch's products are shared out whole (each may be too small to split).
        const init = (idx: string[]) => `gs[i++] = (kiln_gemm_args)${gemmInit(ctx, node, { M, N, K, a: `${A} + ${offset(idx, sa)}`, c: `${Y} + ${offset(idx, so)}`, b: `${B()} + ${offset(idx, sb)}`, ldb: N, sn: 1, koff: 'rows', biasN, res: res && `${res} + ${offset(idx, so)}` })};`;
        return `${table}kiln_gemm_args gs[${numel(batch)}];
long i = 0;
${loops(batch, init, 'b')}
kiln_gemm_batch(gs, ${numel(batch)});`;
      }
      if (!bConst) return table + loops(batch, (idx) => call(idx, () => 0), 'b');
    }
    // i-k-j order: the inner loop runs along rows of B and Y, which vectorises.
    const kernel = (idx: string[]) => `{
  const float *a = ${A} + ${offset(idx, sa)};
  const float *b = ${B()} + ${offset(idx, sb)};
  float *y = ${Y} + ${offset(idx, so)};
  for (long m = 0; m < ${M}; m++) {
    for (long n = 0; n < ${N}; n++) y[m * ${N} + n] = 0.0f;
    for (long k = 0; k < ${K}; k++) {
      const float av = a[m * ${K} + k];
      for (long n = 0; n < ${N}; n++) y[m * ${N} + n] += av * b[k * ${N} + n];
    }
  }
}`;
    return (batch.length ? loops(batch, kernel, 'b') : kernel([])) + fusedEpilogueLoop(ctx, node, Y, [...batch, M, N]);
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
    const fast = fastGemm(ctx, node, { M, N, K, ta, tb, alpha, beta });
    if (fast) return fast;
    const A = ctx.ref(node.inputs[0]);
    const B = ctx.ref(node.inputs[1]);
    const Y = ctx.ref(node.outputs[0]);
    const aAt = (m: string, k: string) => (ta ? `${A}[${k} * ${M} + ${m}]` : `${A}[${m} * ${K} + ${k}]`);
    const bAt = (k: string, n: string) => (tb ? `${B}[${n} * ${K} + ${k}]` : `${B}[${k} * ${N} + ${n}]`);
    const tail = fusedEpilogueLoop(ctx, node, Y, [M, N]);
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
}${tail}`;
    }
    return `for (long m = 0; m < ${M}; m++) {
  float *y = ${Y} + m * ${N};
  for (long n = 0; n < ${N}; n++) y[n] = 0.0f;
  for (long k = 0; k < ${K}; k++) { const float av = ${flt(alpha)} * ${aAt('m', 'k')}; for (long n = 0; n < ${N}; n++) y[n] += av * ${bAt('k', 'n')}; }
  for (long n = 0; n < ${N}; n++) y[n] += ${init};
}${tail}`;
  },
};

/** Gemm on the packed GEMM kernel: A not transposed; B constant (packed, alpha folded in) or alpha 1; C a bias along N or a full residual. */
function fastGemm(ctx: EmitContext, node: Node, s: { M: number; N: number; K: number; ta: number; tb: number; alpha: number; beta: number }): string | undefined {
  const { M, N, K, ta, tb, alpha, beta } = s;
  if (!ctx.fast || ta || K === 0 || M === 0 || N === 0) return undefined;
  const b = ctx.tensor(node.inputs[1]);
  const bConst = b.data instanceof Float32Array ? b.data : undefined;
  if (!bConst && alpha !== 1) return undefined;
  const f = node.fused;
  let biasN: string | undefined;
  let res = f?.residual ? ctx.ref(f.residual) : undefined;
  if (node.inputs[2]) {
    const c = ctx.tensor(node.inputs[2]);
    const cs = broadcastStrides(c.shape, [M, N]);
    if (c.data instanceof Float32Array && cs[0] === 0) biasN = paddedBias(ctx, node.inputs[2], N, beta);
    else if (c.shape.join() === `${M},${N}` && beta === 1 && !res) res = ctx.ref(node.inputs[2]);
    else return undefined;
  }
  const bsrc = bConst ? { bpacked: ctx.constant(`${node.inputs[1]} (packed panels)`, packPanels(bConst, K, N, tb ? 1 : N, tb ? K : 1, 0, alpha)) } : { b: ctx.ref(node.inputs[1]), ldb: tb ? 1 : N, sn: tb ? K : 1 };
  return gemmCall(ctx, node, { M, N, K, a: ctx.ref(node.inputs[0]), c: ctx.ref(node.outputs[0]), ...bsrc, biasN, res });
}

export const MATMUL_OPS: OpDef[] = [matmul, gemm];
export { numel };
