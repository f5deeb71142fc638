import { Fusion, Graph, Node, numel, Tensor } from './ir';
import { attrFloat } from './ops/op';

/**
 * Fusion, after shape inference: folds an inference-mode BatchNormalization into the Conv before
 * it (new weights and bias, computed at compile time), and moves a following bias Add (MatMul),
 * residual Add and Relu/Clip into the Conv, Gemm or MatMul kernel's epilogue, so the result is
 * written once. A node is fused only into the single consumer of its output, and only when the
 * intermediate is not a graph output.
 */
export function fuse(graph: Graph): void {
  const ANCHORS = new Set(['Conv', 'Gemm', 'MatMul']);
  let changed = true;
  while (changed) {
    changed = false;
    const uses = new Map<string, number>();
    for (const n of graph.nodes) for (const i of n.inputs) if (i) uses.set(i, (uses.get(i) ?? 0) + 1);
    for (const o of graph.outputs) uses.set(o, (uses.get(o) ?? 0) + 1);
    const producer = new Map<string, number>();
    graph.nodes.forEach((n, idx) => n.outputs.forEach((o) => o && producer.set(o, idx)));
    for (let idx = 0; idx < graph.nodes.length && !changed; idx++) {
      const anchor = graph.nodes[idx];
      if (!ANCHORS.has(anchor.op)) continue;
      const out = anchor.outputs[0];
      const t = graph.tensors.get(out);
      if (!t || t.data || t.dtype !== 'float32' || anchor.outputs.length !== 1 || graph.outputs.includes(out)) continue;
      if (uses.get(out) === 2 && !anchor.fused?.clamp && !anchor.fused?.gelu) {
        const gelu = matchGelu(graph, out, uses);
        if (gelu) {
          const f = anchor.fused ?? { ops: [] };
          f.gelu = true;
          f.ops.push(`GELU (${gelu.nodes.map((n) => n.op).join(', ')})`);
          anchor.fused = f;
          anchor.outputs = [gelu.output];
          graph.nodes = graph.nodes.filter((n) => !gelu.nodes.includes(n));
          changed = true;
          continue;
        }
      }
      if (uses.get(out) !== 1) continue;
      const nextIdx = graph.nodes.findIndex((n) => n.inputs.includes(out));
      if (nextIdx < 0) continue;
      const next = graph.nodes[nextIdx];
      const f = anchor.fused ?? { ops: [] };
      const ok = tryFuse(graph, anchor, f, next, t, (name) => {
        const tt = graph.tensors.get(name);
        if (!tt) return false;
        if (graph.inputs.includes(name) || tt.data) return true;
        const p = producer.get(name);
        return p !== undefined && p < idx;
      });
      if (!ok) continue;
      f.ops.push(`${next.op} ${next.name}`);
      anchor.fused = f;
      anchor.outputs = [next.outputs[0]];
      graph.nodes.splice(nextIdx, 1);
      changed = true;
    }
  }
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
function matchGelu(graph: Graph, x: string, uses: Map<string, number>): { nodes: Node[]; output: string } | undefined {
  const consumers = graph.nodes.filter((n) => n.inputs.includes(x));
  const single = (name: string) => uses.get(name) === 1 && !graph.outputs.includes(name);
  const only = (name: string) => (single(name) ? graph.nodes.find((n) => n.inputs.includes(name)) : undefined);
  const otherOf = (n: Node, v: string) => (n.inputs.length === 2 ? (n.inputs[0] === v ? n.inputs[1] : n.inputs[1] === v ? n.inputs[0] : undefined) : undefined);
  const scaleDown = consumers.find((n) => (n.op === 'Div' && n.inputs[0] === x && near(scalar(graph, n.inputs[1]), Math.SQRT2)) || (n.op === 'Mul' && near(scalar(graph, otherOf(n, x)), Math.SQRT1_2)));
  if (!scaleDown || consumers.length !== 2) return undefined;
  const erf = only(scaleDown.outputs[0]);
  if (erf?.op !== 'Erf') return undefined;
  const plus = only(erf.outputs[0]);
  if (plus?.op !== 'Add' || !near(scalar(graph, otherOf(plus, erf.outputs[0])), 1)) return undefined;
  const s = plus.outputs[0];
  const other = consumers.find((n) => n !== scaleDown)!;
  if (other.op !== 'Mul' || !single(s)) return undefined;
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

function constValues(graph: Graph, name: string | undefined): Float32Array | undefined {
  if (!name) return undefined;
  const t = graph.tensors.get(name);
  return t?.data instanceof Float32Array ? t.data : undefined;
}

let folded = 0;
function addConstant(graph: Graph, base: string, shape: number[], data: Float32Array): string {
  let name = `${base}__kiln_folded${folded++}`;
  while (graph.tensors.has(name)) name = `${base}__kiln_folded${folded++}`;
  graph.tensors.set(name, { name, dtype: 'float32', shape, data });
  return name;
}

function tryFuse(graph: Graph, anchor: Node, f: Fusion, next: Node, t: Tensor, availableBefore: (name: string) => boolean): boolean {
  const out = anchor.outputs[0];
  const outT = graph.tensors.get(next.outputs[0]);
  if (!outT || outT.dtype !== 'float32' || outT.shape.join() !== t.shape.join() || next.outputs.filter(Boolean).length !== 1) return false;
  const nothingYet = !f.biasN && !f.residual && !f.clamp && !f.gelu && f.scale === undefined;
  if (next.op === 'BatchNormalization' && anchor.op === 'Conv' && nothingYet && next.inputs[0] === out) {
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
    anchor.inputs = [anchor.inputs[0], addConstant(graph, anchor.inputs[1], w.shape, nw), addConstant(graph, anchor.inputs[2] || `${anchor.name}_bias`, [M], nb)];
    return true;
  }
  if ((next.op === 'Mul' || next.op === 'Div') && anchor.op === 'MatMul' && nothingYet && f.scale === undefined && next.inputs.length === 2) {
    const other = next.op === 'Div' ? (next.inputs[0] === out ? next.inputs[1] : undefined) : next.inputs[0] === out ? next.inputs[1] : next.inputs[1] === out ? next.inputs[0] : undefined;
    const c = other === out ? undefined : scalar(graph, other);
    if (c === undefined || !Number.isFinite(c) || c === 0) return false;
    f.scale = next.op === 'Div' ? 1 / c : c;
    return true;
  }
  if (next.op === 'Add' && !f.clamp && !f.residual && !f.gelu) {
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
  if (next.op === 'Relu' && !f.clamp && !f.gelu) {
    f.clamp = [0, Infinity];
    return true;
  }
  if (next.op === 'Clip' && !f.clamp && !f.gelu && next.inputs[0] === out) {
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
