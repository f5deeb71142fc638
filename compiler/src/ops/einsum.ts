import { C_TYPE, CompileError, DType, makeArray, Node, numel } from '../ir';
import { cArith, isFloat, jsArith, NUMERIC, Value, values, zeroOf } from './arith';
import { gemmCall } from './matmul';
import { attrString, EmitContext, loops, OpDef, stridesOf } from './op';

/** The most multiply-adds a constant Einsum is folded with at compile time. */
const MAX_FOLDED_MACS = 1 << 24;

/**
 * An Einsum equation resolved against its operands' shapes: every label (letters, and one label
 * per dimension an ellipsis stands for), its size, the output's labels, and, for each operand,
 * the stride of each label in it (a label repeated in one operand, a diagonal, adds its strides;
 * a dimension of 1 broadcast against a larger size has stride 0).
 */
interface EinsumPlan {
  /** Each operand's labels, in order, an ellipsis expanded. */
  ops: string[][];
  out: string[];
  /** The labels summed over (absent from the output). */
  sum: string[];
  size: Map<string, number>;
  strides: Map<string, number>[];
}

/** Labels ONNX Runtime orders an implicit output by: a-z, then A-Z. */
function labelRank(c: string): number {
  return c >= 'a' && c <= 'z' ? c.charCodeAt(0) - 97 : c >= 'A' && c <= 'Z' ? 26 + c.charCodeAt(0) - 65 : 52 + c.charCodeAt(0);
}

export function einsumPlan(node: Node, shapes: number[][]): EinsumPlan {
  const raw = attrString(node, 'equation', '');
  const eq = raw.replace(/\s+/g, '');
  const bad = (why: string) => new CompileError('invalid', `Einsum ${node.name}: equation '${raw}' ${why}`);
  const sides = eq.split('->');
  if (sides.length > 2) throw bad("has more than one '->'");
  const terms = sides[0].split(',');
  if (terms.length !== shapes.length) throw bad(`has ${terms.length} operands, and the node ${shapes.length} inputs`);
  const check = (t: string) => {
    if (!/^[A-Za-z]*(\.\.\.)?[A-Za-z]*$/.test(t)) throw bad(`has a term '${t}' that is not letters with at most one '...'`);
  };
  terms.forEach(check);
  if (sides.length === 2) check(sides[1]);
  // An ellipsis stands for the dimensions its operand has beyond its letters, aligned from the right.
  const ellRank = terms.map((t, p) => {
    const letters = t.replace('...', '').length;
    const e = shapes[p].length - letters;
    if (t.includes('...') ? e < 0 : e !== 0) throw bad(`gives '${t}' for an operand of rank ${shapes[p].length}`);
    return e;
  });
  const E = Math.max(0, ...ellRank);
  const ell = Array.from({ length: E }, (_, k) => String.fromCharCode(0x100 + k));
  const expand = (t: string, e: number) => {
    const at = t.indexOf('...');
    return at < 0 ? [...t] : [...t.slice(0, at), ...ell.slice(E - e), ...t.slice(at + 3)];
  };
  const ops = terms.map((t, p) => expand(t, ellRank[p]));
  let out: string[];
  if (sides.length === 2) {
    if (!sides[1].includes('...') && terms.some((t, p) => t.includes('...') && ellRank[p] > 0)) {
      throw new CompileError('unsupported', `Einsum ${node.name}: equation '${raw}' sums over the dimensions of an ellipsis, which is not supported`);
    }
    out = expand(sides[1], E);
    const seen = new Set<string>();
    for (const c of out) {
      if (seen.has(c)) throw bad(`repeats '${c}' in its output`);
      if (!ops.some((o) => o.includes(c))) throw bad(`has '${c}' in its output and in no operand`);
      seen.add(c);
    }
  } else {
    // Implicit output: the ellipsis' dimensions, then the letters that appear once, in order.
    const count = new Map<string, number>();
    for (const o of ops) for (const c of o) if (c.charCodeAt(0) < 0x100) count.set(c, (count.get(c) ?? 0) + 1);
    out = [...ell, ...[...count].filter(([, n]) => n === 1).map(([c]) => c).sort((a, b) => labelRank(a) - labelRank(b))];
  }
  const size = new Map<string, number>();
  ops.forEach((o, p) =>
    o.forEach((c, k) => {
      const d = shapes[p][k];
      const have = size.get(c);
      if (have === undefined || have === 1) size.set(c, d);
      else if (d !== 1 && d !== have) throw bad(`gives '${c.charCodeAt(0) < 0x100 ? c : '...'}' sizes ${have} and ${d}`);
    }),
  );
  const strides = ops.map((o, p) => {
    const s = stridesOf(shapes[p]);
    const m = new Map<string, number>();
    o.forEach((c, k) => {
      if (shapes[p][k] === 1 && size.get(c) !== 1) return; // broadcast
      m.set(c, (m.get(c) ?? 0) + s[k]);
    });
    return m;
  });
  const sum = [...size.keys()].filter((c) => !out.includes(c));
  return { ops, out, sum, size, strides };
}

/**
 * Einsum: any contraction of any number of operands (matrix products with batch dimensions,
 * transposes, sums, outer products, diagonals), ellipses broadcast. Each output element is the
 * sum, over the labels absent from the output, of the operands' product; floats accumulate in double.
 */
const einsum: OpDef = {
  type: 'Einsum',
  infer(ctx, node) {
    const xs = node.inputs.map((_, i) => ctx.required(node, i));
    if (!xs.length) throw new CompileError('invalid', `Einsum ${node.name}: no inputs`);
    const dtype = xs[0].dtype;
    if (!NUMERIC.has(dtype)) throw new CompileError('unsupported', `Einsum ${node.name}: ${dtype} tensors are not supported`);
    if (xs.some((x) => x.dtype !== dtype)) throw new CompileError('invalid', `Einsum ${node.name}: the inputs' types differ (${xs.map((x) => x.dtype).join(', ')})`);
    const plan = einsumPlan(node, xs.map((x) => x.shape));
    const shape = plan.out.map((c) => plan.size.get(c)!);
    let data;
    const macs = numel(shape) * numel(plan.sum.map((c) => plan.size.get(c)!)) * xs.length;
    if (xs.every((x) => x.data) && macs <= MAX_FOLDED_MACS) data = foldEinsum(plan, dtype, xs.map((x) => values(x.data!)), shape);
    ctx.output(node, 0, { dtype, shape, data });
  },
  emit(ctx, node) {
    const xs = node.inputs.map((n) => ctx.tensor(n));
    const dtype = xs[0].dtype;
    const plan = einsumPlan(node, xs.map((x) => x.shape));
    const shape = plan.out.map((c) => plan.size.get(c)!);
    if (!numel(shape)) return '';
    if (ctx.fast && dtype === 'float32' && xs.length === 2) {
      // The second operand may be the GEMM's A ('nchw,oc->nohw' is W x X per image).
      const swapped = { ...plan, ops: [plan.ops[1], plan.ops[0]], strides: [plan.strides[1], plan.strides[0]] };
      for (const [p, inputs] of [[plan, node.inputs], [swapped, [node.inputs[1], node.inputs[0]]]] as const) {
        const gemm = asGemm(p);
        if (gemm) return emitGemm(ctx, { ...node, inputs: [...inputs] }, p, gemm);
      }
    }
    const Y = ctx.ref(node.outputs[0]);
    const refs = node.inputs.map((n) => ctx.ref(n));
    const acc = isFloat(dtype) ? 'double' : C_TYPE[dtype];
    const sumShape = plan.sum.map((c) => plan.size.get(c)!);
    const ys = stridesOf(shape);
    return loops(shape, (oi) => {
      const vars = new Map<string, string>(plan.out.map((c, k) => [c, oi[k]]));
      const yOff = oi.map((v, k) => (ys[k] === 1 ? v : `${v} * ${ys[k]}`)).join(' + ') || '0';
      const product = (sv: string[]) => {
        plan.sum.forEach((c, k) => vars.set(c, sv[k]));
        const factors = refs.map((r, p) => {
          const terms = [...plan.strides[p]].map(([c, s]) => (s === 1 ? vars.get(c)! : `${vars.get(c)} * ${s}`));
          return `(${acc})${r}[${terms.join(' + ') || '0'}]`;
        });
        return factors.slice(1).reduce((a, f) => cArith(isFloat(dtype) ? 'float64' : dtype, '*', a, f), factors[0]);
      };
      if (!plan.sum.length) return `${Y}[${yOff}] = (${C_TYPE[dtype]})(${product([])});`;
      return `${acc} acc = 0;
${loops(sumShape, (sv) => `acc = ${cArith(isFloat(dtype) ? 'float64' : dtype, '+', 'acc', product(sv))};`, 's')}
${Y}[${yOff}] = (${C_TYPE[dtype]})acc;`;
    }, 'o');
  },
};

/**
 * A contraction of two operands that is a (batched) matrix product the GEMM kernel can run in place:
 * every label is a batch label (in both operands and the output), M (the first operand and the
 * output), N (the second and the output) or K (both operands, summed); the first operand is an
 * M x K matrix with rows of K, the output an M x N one with rows of N, and the second reads as
 * B(k, n) = b[k * ldb + n * sn]. 'bhid,bhjd->bhij' and 'bij,bjk->bik' are.
 */
interface GemmPlan {
  batch: string[];
  M: number;
  N: number;
  K: number;
  ldb: number;
  sn: number;
}

function asGemm(plan: EinsumPlan): GemmPlan | undefined {
  if (plan.ops.length !== 2) return undefined;
  const [a, b] = plan.ops;
  const [sa, sb] = plan.strides;
  // No diagonals, no broadcast dimensions, nothing empty.
  if (plan.ops.some((o, p) => new Set(o).size !== o.length || o.some((c) => !plan.strides[p].has(c)))) return undefined;
  if ([...plan.size.values()].some((d) => d === 0)) return undefined;
  const inA = (c: string) => a.includes(c);
  const inB = (c: string) => b.includes(c);
  const inY = (c: string) => plan.out.includes(c);
  if ([...plan.size.keys()].some((c) => !inY(c) && !(inA(c) && inB(c)))) return undefined; // summed over one operand only
  const batch = plan.out.filter((c) => inA(c) && inB(c));
  const mL = plan.out.filter((c) => inA(c) && !inB(c));
  const nL = plan.out.filter((c) => inB(c) && !inA(c));
  const kL = a.filter((c) => inB(c) && !inY(c));
  const yStrides = stridesOf(plan.out.map((c) => plan.size.get(c)!));
  const ys = new Map(plan.out.map((c, k) => [c, yStrides[k]]));
  const size = (ls: string[]) => numel(ls.map((c) => plan.size.get(c)!));
  // The stride s with which a group of labels reads as one index (label t at s times the sizes of
  // those after it): undefined when every label has size 1 (any stride does), null when there is none.
  const linear = (strides: Map<string, number>, ls: string[]): number | null | undefined => {
    const live = ls.filter((c) => plan.size.get(c)! > 1);
    if (!live.length) return undefined;
    const s = strides.get(live[live.length - 1])!;
    let after = 1;
    for (let t = live.length - 1; t >= 0; t--) {
      if (strides.get(live[t]) !== s * after) return null;
      after *= plan.size.get(live[t])!;
    }
    return s;
  };
  const [M, N, K] = [size(mL), size(nL), size(kL)];
  const fits = (strides: Map<string, number>, ls: string[], want: number) => {
    const s = linear(strides, ls);
    return s === undefined || s === want;
  };
  if (!fits(sa, kL, 1) || !fits(sa, mL, K) || !fits(ys, nL, 1) || !fits(ys, mL, N)) return undefined;
  const ldb = linear(sb, kL);
  const sn = linear(sb, nL);
  if (ldb === null || sn === null) return undefined;
  return { batch, M, N, K, ldb: ldb ?? 1, sn: sn ?? 1 };
}

function emitGemm(ctx: EmitContext, node: Node, plan: EinsumPlan, g: GemmPlan): string {
  const A = ctx.ref(node.inputs[0]);
  const B = ctx.ref(node.inputs[1]);
  const Y = ctx.ref(node.outputs[0]);
  const ys = stridesOf(plan.out.map((c) => plan.size.get(c)!));
  const at = (strides: Map<string, number>, idx: string[]) => g.batch.map((c, k) => (strides.get(c) ? `${idx[k]} * ${strides.get(c)}` : '')).filter(Boolean).join(' + ') || '0';
  const call = (idx: string[]) =>
    gemmCall(ctx, node, { M: g.M, N: g.N, K: g.K, a: `${A} + ${at(plan.strides[0], idx)}`, b: `${B} + ${at(plan.strides[1], idx)}`, ldb: g.ldb, sn: g.sn, c: `${Y} + ${at(new Map(plan.out.map((c, k) => [c, ys[k]])), idx)}` });
  return g.batch.length ? loops(g.batch.map((c) => plan.size.get(c)!), call, 'b') : call([]);
}

function foldEinsum(plan: EinsumPlan, dtype: DType, xs: { [i: number]: Value }[], shape: number[]) {
  const data = makeArray(dtype, numel(shape));
  const y = values(data);
  const mul = jsArith(dtype, '*');
  const add = jsArith(dtype, '+');
  const sumShape = plan.sum.map((c) => plan.size.get(c)!);
  const nSum = numel(sumShape);
  const os = stridesOf(shape);
  const ss = stridesOf(sumShape);
  const at = new Map<string, number>();
  for (let i = 0; i < y.length; i++) {
    plan.out.forEach((c, k) => at.set(c, Math.floor(i / os[k]) % shape[k]));
    let acc: Value = zeroOf(dtype);
    for (let j = 0; j < nSum; j++) {
      plan.sum.forEach((c, k) => at.set(c, Math.floor(j / ss[k]) % sumShape[k]));
      let p: Value | undefined;
      xs.forEach((x, q) => {
        let off = 0;
        for (const [c, s] of plan.strides[q]) off += at.get(c)! * s;
        p = p === undefined ? x[off] : isFloat(dtype) ? (p as number) * (x[off] as number) : mul(p, x[off]);
      });
      acc = isFloat(dtype) ? (acc as number) + (p as number) : add(acc, p!);
    }
    y[i] = acc;
  }
  return data;
}

export const EINSUM_OPS: OpDef[] = [einsum];
