import { Graph, Node, numel } from './ir';
import { attrInt } from './ops/op';

/**
 * Floating-point operations of one run of the compiled model, estimated per node: a multiply-add
 * counts two. Convolutions, matrix products and attention dominate real networks and are counted
 * exactly; every other operator counts a few operations per output element, so that element-wise
 * networks are not counted as free. Used to size what a run needs (a verification's time limit
 * under an emulator) and for profiles' achieved rates.
 */
export function nodeFlops(graph: Graph, node: Node): number {
  const shape = (n: string | undefined) => (n ? graph.tensors.get(n)?.shape : undefined);
  const out = shape(node.outputs[0]);
  const outN = out ? numel(out) : 0;
  switch (node.op) {
    case 'Conv': {
      const w = shape(node.inputs[1]);
      if (!w || !out) return 0;
      // Every output element is a dot product over (C / group) x kernel taps.
      return 2 * outN * numel(w.slice(1));
    }
    case 'ConvTranspose': {
      const x = shape(node.inputs[0]);
      const w = shape(node.inputs[1]);
      if (!x || !w) return 0;
      // Each input element is scattered through its group's (M / group) x kernel weights.
      return 2 * numel(x) * w[1] * numel(w.slice(2));
    }
    case 'MatMul':
    case 'Gemm':
    case 'MatMulInteger': {
      const a = shape(node.inputs[0]);
      if (!a || !out) return 0;
      const transA = node.op === 'Gemm' && attrInt(node, 'transA', 0) === 1;
      const k = a.length === 1 ? a[0] : transA ? a[a.length - 2] : a[a.length - 1];
      return 2 * outN * k;
    }
    case 'Einsum':
      return 2 * outN * 8;
    case 'LSTM':
    case 'GRU':
    case 'RNN': {
      // Every step multiplies the input and the hidden state by each direction's weights, then applies the gates.
      const x = shape(node.inputs[0]);
      const r = shape(node.inputs[2]);
      if (!x || !r) return 0;
      const [D, GH, H] = r;
      return x[0] * x[1] * D * GH * (2 * (x[2] + H) + 8);
    }
    default:
      return 2 * Math.max(outN, ...node.inputs.map((i) => numel(shape(i) ?? [0])));
  }
}

/** The model's estimate: the sum over the nodes that run (not those folded at compile time), a loop's body once per iteration where the trip count is known. */
export function graphFlops(graph: Graph, nodes: Node[]): number {
  const repeats = (n: Node) => (n.scope ?? []).reduce((r, s) => r * (s.repeats ?? 1), 1);
  return Math.round(nodes.reduce((s, n) => s + (n.outputs.some((o) => o && !graph.tensors.get(o)?.data) ? nodeFlops(graph, n) * repeats(n) : 0), 0));
}
