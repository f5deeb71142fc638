import { Graph, Node, numel } from './ir';
import { attrInt, normAxis } from './ops/op';

/**
 * Concat without copies: where a Concat's inputs lie one after another in its output (every axis
 * before the concatenated one has extent 1, as with batch 1 along channels) and each input is
 * written by one node for this Concat alone, the producers write straight into their part of
 * the output and the Concat itself does nothing. Returns, for each such input, the C expression
 * of its place in the output (relative to the output's buffer), and the Concats left with no work.
 *
 * A part must start on a 64-byte boundary (kernels may store whole aligned vectors), and neither
 * the inputs nor the output may be a graph input, a constant, a half-precision tensor or inside
 * an If branch or Loop body.
 */
/** Whether a node runs inside an If branch or a Loop body (control.ts gives such nodes a scope). */
const scoped = (n: Node) => (n as { scope?: unknown }).scope !== undefined;

export function concatsInPlace(graph: Graph, nodes: Node[]): { parts: Map<string, { output: string; offset: number }>; elided: Set<Node> } {
  const parts = new Map<string, { output: string; offset: number }>();
  const elided = new Set<Node>();
  const readers = new Map<string, number>();
  for (const n of nodes) {
    for (const i of n.inputs) if (i) readers.set(i, (readers.get(i) ?? 0) + 1);
    if (n.fused?.residual) readers.set(n.fused.residual, (readers.get(n.fused.residual) ?? 0) + 1);
    if (n.fused?.biasN) readers.set(n.fused.biasN, (readers.get(n.fused.biasN) ?? 0) + 1);
  }
  const producers = new Map<string, Node>();
  for (const n of nodes) for (const o of n.outputs) if (o) producers.set(o, n);
  const outputs = new Set(graph.outputs);
  const inputs = new Set(graph.inputs);
  for (const node of nodes) {
    if (node.op !== 'Concat' || scoped(node) || node.inputs.length < 2) continue;
    const out = graph.tensors.get(node.outputs[0]);
    if (!out || out.data || out.half || out.dtype !== 'float32') continue;
    const axis = normAxis(attrInt(node, 'axis', 0), out.shape.length, node);
    if (numel(out.shape.slice(0, axis)) !== 1) continue;
    const inner = numel(out.shape.slice(axis + 1));
    const names = node.inputs;
    if (new Set(names).size !== names.length) continue;
    let offset = 0;
    const planned: [string, number][] = [];
    let ok = true;
    for (const name of names) {
      const t = graph.tensors.get(name);
      const p = producers.get(name);
      if (!t || t.data || t.half || t.dtype !== 'float32' || inputs.has(name) || outputs.has(name) || parts.has(name) || readers.get(name) !== 1 || !p || scoped(p) || p.outputs.length !== 1 || offset % 16 !== 0) {
        ok = false;
        break;
      }
      planned.push([name, offset]);
      offset += t.shape[axis] * inner;
    }
    // An output that is itself a part of a later Concat keeps its own buffer: one level at a time.
    if (!ok || parts.has(node.outputs[0])) continue;
    for (const [name, off] of planned) parts.set(name, { output: node.outputs[0], offset: off });
    elided.add(node);
  }
  // A Concat whose output became a part of another: its own parts must then point into that one's buffer.
  for (const n of elided) if (parts.has(n.outputs[0])) for (const i of n.inputs) parts.delete(i);
  for (const n of [...elided]) if (parts.has(n.outputs[0])) elided.delete(n);
  return { parts, elided };
}
