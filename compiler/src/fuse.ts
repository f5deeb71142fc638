import { Graph, Node, numel, Tensor } from './ir';
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
      if (!t || t.data || t.dtype !== 'float32' || uses.get(out) !== 1 || anchor.outputs.length !== 1) continue;
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

function tryFuse(graph: Graph, anchor: Node, f: { biasN?: string; residual?: string; clamp?: [number, number] }, next: Node, t: Tensor, availableBefore: (name: string) => boolean): boolean {
  const out = anchor.outputs[0];
  const outT = graph.tensors.get(next.outputs[0]);
  if (!outT || outT.dtype !== 'float32' || outT.shape.join() !== t.shape.join() || next.outputs.filter(Boolean).length !== 1) return false;
  const nothingYet = !f.biasN && !f.residual && !f.clamp;
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
  if (next.op === 'Add' && !f.clamp && !f.residual) {
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
  if (next.op === 'Relu' && !f.clamp) {
    f.clamp = [0, Infinity];
    return true;
  }
  if (next.op === 'Clip' && !f.clamp && next.inputs[0] === out) {
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
