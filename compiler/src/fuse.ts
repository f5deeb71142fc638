import { Half, roundToHalf } from './half';
import { Fusion, Graph, Node, numel, Tensor } from './ir';
import { attrFloat, attrInt, attrInts, attrString } from './ops/op';

/**
 * Fusion, after shape inference: folds an inference-mode BatchNormalization into the Conv before
 * it (new weights and bias, computed at compile time), and moves a following scale (MatMul by a
 * scalar), bias Add (MatMul), residual Add, Relu/Clip, and GELU, SiLU (Sigmoid and Mul) or HardSwish into the Conv, Gemm or MatMul
 * kernel's epilogue, so the result is written once. A node is fused only when it is the single
 * reader of the intermediate (GELU and SiLU: its two readers), and never when that is a graph output.
 */
export function fuse(graph: Graph, opts: { channelScale?: boolean } = {}): void {
  const ANCHORS = new Set(['Conv', 'Gemm', 'MatMul']);
  // Who reads each tensor (a node once per input slot), and where each is produced; kept up to date as nodes go.
  const readers = new Map<string, Node[]>();
  for (const n of graph.nodes) for (const i of n.inputs) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  for (const o of graph.outputs) readers.set(o, [...(readers.get(o) ?? []), OUTPUT]);
  // Where each tensor is produced and where each node stands, in the order before fusion (nodes fused away shift the indices after them).
  const producer = new Map<string, number>();
  graph.nodes.forEach((n, idx) => n.outputs.forEach((o) => o && producer.set(o, idx)));
  const position = new Map(graph.nodes.map((n, idx) => [n, idx]));
  const ctx: FuseContext = { graph, readers, folded: 0 };
  const remove = (gone: Node[]) => {
    for (const n of gone) for (const i of n.inputs) if (i) readers.set(i, (readers.get(i) ?? []).filter((r) => r !== n));
    graph.nodes = graph.nodes.filter((n) => !gone.includes(n));
  };
  for (let idx = 0; idx < graph.nodes.length; idx++) {
    const anchor = graph.nodes[idx];
    if (!ANCHORS.has(anchor.op) || anchor.outputs.length !== 1) continue;
    // Fold as many followers into this node as apply, one at a time. (Removed nodes all come after it.)
    for (;;) {
      const out = anchor.outputs[0];
      const t = graph.tensors.get(out);
      const users = readers.get(out) ?? [];
      if (!t || t.data || t.dtype !== 'float32' || users.includes(OUTPUT)) break;
      const f = anchor.fused ?? { ops: [] };
      if (users.length === 2 && !f.clamp && !f.act) {
        const gelu = matchGelu(ctx, out);
        if (gelu) {
          f.act = 'gelu';
          f.ops.push(`GELU (${gelu.nodes.map((n) => n.op).join(', ')})`);
          anchor.fused = f;
          anchor.outputs = [gelu.output];
          remove(gelu.nodes);
          continue;
        }
      }
      if (users.length === 2 && !f.act) {
        const silu = matchSilu(ctx, out);
        if (silu) {
          f.act = 'silu';
          f.ops.push(`SiLU (${silu.nodes.map((n) => `${n.op} ${n.name}`).join(', ')})`);
          anchor.fused = f;
          anchor.outputs = [silu.output];
          remove(silu.nodes);
          continue;
        }
      }
      if (users.length !== 1) break;
      const next = users[0];
      const ok = tryFuse(ctx, anchor, f, next, t, (name) => {
        const tt = graph.tensors.get(name);
        if (!tt) return false;
        if (graph.inputs.includes(name) || tt.data) return true;
        const p = producer.get(name);
        return p !== undefined && p < position.get(anchor)!;
      });
      if (!ok) break;
      f.ops.push(`${next.op} ${next.name}`);
      anchor.fused = f;
      anchor.outputs = [next.outputs[0]];
      remove([next]);
    }
  }
  if (opts.channelScale) fuseChannelScales(graph, readers, remove);
}

/**
 * Squeeze-and-excitation's scale, Mul(x [1, C, H, W], s [1, C, 1, 1]), read only by a 1x1
 * convolution (stride 1, no padding, one group): the convolution takes x and s instead
 * (s as its fourth input), and scales its weights' input channels by s on each run, M x C
 * multiplications instead of a pass over x. For the C kernels only (the CUDA code generator has no such input).
 */
function fuseChannelScales(graph: Graph, readers: Map<string, Node[]>, remove: (gone: Node[]) => void): void {
  const tensor = (n: string | undefined) => (n ? graph.tensors.get(n) : undefined);
  for (const mul of [...graph.nodes]) {
    if (mul.op !== 'Mul' || mul.inputs.length !== 2) continue;
    const users = readers.get(mul.outputs[0]) ?? [];
    const conv = users[0];
    if (users.length !== 1 || conv === OUTPUT || conv.op !== 'Conv' || conv.inputs[0] !== mul.outputs[0] || conv.inputs.length > 3) continue;
    // Epilogues read their residual and bias outside the reader lists (RepViT adds the scaled tensor back after its MLP).
    if (graph.nodes.some((n) => n.fused?.residual === mul.outputs[0] || n.fused?.biasN === mul.outputs[0])) continue;
    const [a, b] = mul.inputs.map((n) => tensor(n));
    if (!a || !b) continue;
    const [x, s] = numel(a.shape) >= numel(b.shape) ? [mul.inputs[0], mul.inputs[1]] : [mul.inputs[1], mul.inputs[0]];
    const xt = tensor(x)!;
    const st = tensor(s)!;
    const w = tensor(conv.inputs[1]);
    if (xt.dtype !== 'float32' || st.dtype !== 'float32' || xt.data || st.data || xt.half || st.half || tensor(mul.outputs[0])?.half) continue;
    if (xt.shape.length !== 4 || xt.shape[0] !== 1 || !(w?.data instanceof Float32Array)) continue;
    const C = xt.shape[1];
    if (st.shape.length !== 4 || st.shape[0] !== 1 || st.shape[1] !== C || st.shape[2] !== 1 || st.shape[3] !== 1) continue;
    const ints = (k: string, d: number[]) => attrInts(conv, k) ?? d;
    if (w.shape[1] !== C || w.shape[2] !== 1 || w.shape[3] !== 1 || attrInt(conv, 'group', 1) !== 1) continue;
    if (ints('strides', [1, 1]).some((v) => v !== 1) || ints('pads', [0, 0, 0, 0]).some((v) => v !== 0) || ints('dilations', [1, 1]).some((v) => v !== 1)) continue;
    if (!['NOTSET', 'VALID'].includes(attrString(conv, 'auto_pad', 'NOTSET'))) continue;
    conv.inputs = [x, conv.inputs[1], conv.inputs[2] ?? '', s];
    for (const n of [x, s]) readers.set(n, [...(readers.get(n) ?? []), conv]);
    const f = conv.fused ?? { ops: [] };
    f.ops.unshift(`${mul.op} ${mul.name}`);
    conv.fused = f;
    remove([mul]);
  }
}

/** Stands for a graph output among a tensor's readers. */
const OUTPUT: Node = { op: '(graph output)', name: '', inputs: [], outputs: [], attrs: {} };

interface FuseContext {
  graph: Graph;
  readers: Map<string, Node[]>;
  /** Constants made so far (their names are numbered per graph, so the C is the same on every compile). */
  folded: number;
}

/** A scalar constant's value, or undefined. */
function scalar(graph: Graph, name: string | undefined): number | undefined {
  const v = constValues(graph, name);
  return v && v.length === 1 ? v[0] : undefined;
}

const near = (a: number | undefined, b: number) => a !== undefined && Math.abs(a - b) <= 1e-6 * Math.abs(b);

/**
 * GELU as exporters write it, on x (used exactly twice):
 *   Mul(Mul(x, 0.5), Add(Erf(Div(x, sqrt 2)), 1))   or   Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5),
 * with Mul(x, 1/sqrt 2) for the Div and either operand order. Every intermediate is used once.
 */
function matchGelu(ctx: FuseContext, x: string): { nodes: Node[]; output: string } | undefined {
  const { graph, readers } = ctx;
  const consumers = readers.get(x) ?? [];
  const only = (name: string) => {
    const r = readers.get(name) ?? [];
    return r.length === 1 && r[0] !== OUTPUT ? r[0] : undefined;
  };
  const single = (name: string) => only(name) !== undefined;
  const otherOf = (n: Node, v: string) => (n.inputs.length === 2 ? (n.inputs[0] === v ? n.inputs[1] : n.inputs[1] === v ? n.inputs[0] : undefined) : undefined);
  const scaleDown = consumers.find((n) => (n.op === 'Div' && n.inputs[0] === x && near(scalar(graph, n.inputs[1]), Math.SQRT2)) || (n.op === 'Mul' && near(scalar(graph, otherOf(n, x)), Math.SQRT1_2)));
  if (!scaleDown || consumers.length !== 2 || consumers[0] === consumers[1] || consumers.includes(OUTPUT)) return undefined;
  const erf = only(scaleDown.outputs[0]);
  if (erf?.op !== 'Erf') return undefined;
  const plus = only(erf.outputs[0]);
  if (plus?.op !== 'Add' || !near(scalar(graph, otherOf(plus, erf.outputs[0])), 1)) return undefined;
  const s = plus.outputs[0];
  const other = consumers.find((n) => n !== scaleDown);
  if (other?.op !== 'Mul' || !single(s)) return undefined;
  const half = otherOf(other, x);
  if (near(scalar(graph, half), 0.5)) {
    // Mul(Mul(x, 0.5), s)
    const last = only(other.outputs[0]);
    if (last?.op !== 'Mul' || otherOf(last, other.outputs[0]) !== s) return undefined;
    return { nodes: [scaleDown, erf, plus, other, last], output: last.outputs[0] };
  }
  if (half === s) {
    // Mul(Mul(x, s), 0.5)
    const last = only(other.outputs[0]);
    if (last?.op !== 'Mul' || !near(scalar(graph, otherOf(last, other.outputs[0])), 0.5)) return undefined;
    return { nodes: [scaleDown, erf, plus, other, last], output: last.outputs[0] };
  }
  return undefined;
}

/** SiLU (Swish) as exporters write it, on x (used exactly twice): Mul(x, Sigmoid(x)), either operand order. */
function matchSilu(ctx: FuseContext, x: string): { nodes: Node[]; output: string } | undefined {
  const consumers = ctx.readers.get(x) ?? [];
  if (consumers.length !== 2 || consumers.includes(OUTPUT)) return undefined;
  const sigmoid = consumers.find((n) => n.op === 'Sigmoid');
  const mul = consumers.find((n) => n.op === 'Mul');
  if (!sigmoid || !mul) return undefined;
  const s = sigmoid.outputs[0];
  const r = ctx.readers.get(s) ?? [];
  if (r.length !== 1 || r[0] !== mul || !((mul.inputs[0] === x && mul.inputs[1] === s) || (mul.inputs[0] === s && mul.inputs[1] === x))) return undefined;
  return { nodes: [sigmoid, mul], output: mul.outputs[0] };
}

function constValues(graph: Graph, name: string | undefined): Float32Array | undefined {
  if (!name) return undefined;
  const t = graph.tensors.get(name);
  return t?.data instanceof Float32Array ? t.data : undefined;
}

/** A folded constant; of the weights' half format, rounded to it, where they have one (as a half model's fused weights are). */
function addConstant(ctx: FuseContext, base: string, shape: number[], data: Float32Array, half?: Half): string {
  let name = `${base}__kiln_folded${ctx.folded++}`;
  while (ctx.graph.tensors.has(name)) name = `${base}__kiln_folded${ctx.folded++}`;
  if (half) roundToHalf(half, data);
  ctx.graph.tensors.set(name, { name, dtype: 'float32', shape, data, ...(half ? { half } : {}) });
  return name;
}

function tryFuse(ctx: FuseContext, anchor: Node, f: Fusion, next: Node, t: Tensor, availableBefore: (name: string) => boolean): boolean {
  const { graph } = ctx;
  const out = anchor.outputs[0];
  const outT = graph.tensors.get(next.outputs[0]);
  if (!outT || outT.dtype !== 'float32' || outT.shape.join() !== t.shape.join() || next.outputs.filter(Boolean).length !== 1) return false;
  const nothingYet = !f.biasN && !f.residual && !f.clamp && !f.act && f.scale === undefined;
  if (next.op === 'BatchNormalization' && anchor.op === 'Conv' && nothingYet && next.inputs[0] === out && attrInt(next, 'training_mode', 0) === 0) {
    const w = graph.tensors.get(anchor.inputs[1]);
    const [scale, bias, mean, variance] = [1, 2, 3, 4].map((i) => constValues(graph, next.inputs[i]));
    if (!w?.data || !(w.data instanceof Float32Array) || !scale || !bias || !mean || !variance) return false;
    const b0 = anchor.inputs[2] ? constValues(graph, anchor.inputs[2]) : new Float32Array(w.shape[0]);
    if (!b0) return false;
    const eps = attrFloat(next, 'epsilon', 1e-5);
    const M = w.shape[0];
    const per = numel(w.shape) / M;
    const nw = new Float32Array(w.data.length);
    const nb = new Float32Array(M);
    for (let m = 0; m < M; m++) {
      const k = Math.fround(scale[m] / Math.sqrt(variance[m] + eps));
      for (let i = 0; i < per; i++) nw[m * per + i] = w.data[m * per + i] * k;
      nb[m] = (b0[m] - mean[m]) * k + bias[m];
    }
    anchor.inputs = [anchor.inputs[0], addConstant(ctx, anchor.inputs[1], w.shape, nw, w.half), addConstant(ctx, anchor.inputs[2] || `${anchor.name}_bias`, [M], nb, w.half)];
    return true;
  }
  if ((next.op === 'Mul' || next.op === 'Div') && anchor.op === 'MatMul' && nothingYet && f.scale === undefined && next.inputs.length === 2) {
    const other = next.op === 'Div' ? (next.inputs[0] === out ? next.inputs[1] : undefined) : next.inputs[0] === out ? next.inputs[1] : next.inputs[1] === out ? next.inputs[0] : undefined;
    const c = other === out ? undefined : scalar(graph, other);
    if (c === undefined || !Number.isFinite(c) || c === 0) return false;
    f.scale = next.op === 'Div' ? 1 / c : c;
    return true;
  }
  if (next.op === 'Add' && !f.clamp && !f.residual && !f.act) {
    const other = next.inputs[0] === out ? next.inputs[1] : next.inputs[1] === out ? next.inputs[0] : undefined;
    if (!other || other === out) return false;
    const o = graph.tensors.get(other);
    if (!o || o.dtype !== 'float32') return false;
    const N = t.shape[t.shape.length - 1];
    // A constant along the last axis only: a bias.
    if (anchor.op === 'MatMul' && !f.biasN && o.data && o.shape.length <= t.shape.length && o.shape[o.shape.length - 1] === N && numel(o.shape) === N) {
      f.biasN = other;
      return true;
    }
    if (o.shape.join() === t.shape.join() && availableBefore(other)) {
      f.residual = other;
      return true;
    }
    return false;
  }
  if (next.op === 'HardSwish' && !f.act) {
    f.act = 'hardswish';
    return true;
  }
  if (next.op === 'Relu' && !f.clamp && !f.act) {
    f.clamp = [0, Infinity];
    return true;
  }
  if (next.op === 'Clip' && !f.clamp && !f.act && next.inputs[0] === out) {
    // As the Clip emitter reads them: an input when present, else the (pre-opset-11) attribute.
    const bound = (i: number, attr: string, d: number): number | undefined => {
      if (!next.inputs[i]) return attrFloat(next, attr, d);
      const v = constValues(graph, next.inputs[i]);
      return v && v.length === 1 ? v[0] : undefined;
    };
    const lo = bound(1, 'min', -Infinity);
    const hi = bound(2, 'max', Infinity);
    if (lo === undefined || hi === undefined) return false;
    if (Number.isNaN(lo) || Number.isNaN(hi)) return false;
    f.clamp = [lo, hi];
    return true;
  }
  return false;
}
