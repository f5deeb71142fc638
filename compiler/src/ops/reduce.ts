import { CompileError, Node, numel, Tensor, toNumbers } from '../ir';
import { attrInt, attrInts, loops, normAxis, offset, OpDef, stridesOf } from './op';

type Kind = 'ReduceMean' | 'ReduceSum' | 'ReduceMax';

/** Axes from the attribute (older opsets) or the second input (ReduceSum 13+, the rest 18+). */
function axesOf(lookup: (name: string) => Tensor, node: Node, rank: number): number[] {
  const fromInput = node.inputs[1] ? toNumbers(lookup(node.inputs[1])) : undefined;
  const axes = fromInput ?? attrInts(node, 'axes');
  if (!axes || axes.length === 0) return attrInt(node, 'noop_with_empty_axes', 0) ? [] : [...Array(rank).keys()];
  return axes.map((a) => normAxis(a, rank, node));
}

function reduce(type: Kind): OpDef {
  return {
    type,
    infer(ctx, node) {
      const x = ctx.required(node, 0);
      const axesT = ctx.input(node, 1);
      if (axesT && !axesT.data) throw new CompileError('unsupported', `${type} ${node.name}: axes must be a constant`);
      const axes = axesOf((n) => ctx.graph.tensors.get(n)!, node, x.shape.length);
      const keep = attrInt(node, 'keepdims', 1) === 1;
      const shape = x.shape.flatMap((d, i) => (axes.includes(i) ? (keep ? [1] : []) : [d]));
      ctx.output(node, 0, { dtype: 'float32', shape });
    },
    emit(ctx, node) {
      const x = ctx.tensor(node.inputs[0]);
      const axes = axesOf((n) => ctx.tensor(n), node, x.shape.length);
      const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
      const reduced = x.shape.map((d, i) => (axes.includes(i) ? d : 1));
      const xs = stridesOf(x.shape);
      const ks = stridesOf(kept);
      const count = numel(reduced);
      const X = ctx.ref(node.inputs[0]);
      const Y = ctx.ref(node.outputs[0]);
      const init = type === 'ReduceMax' ? '-INFINITY' : '0.0f';
      const acc = type === 'ReduceMax' ? 'acc = v > acc ? v : acc;' : 'acc += v;';
      const fin = type === 'ReduceMean' ? `acc / ${count}.0f` : 'acc';
      return loops(kept, (o) => {
        const inner = loops(reduced, (r) => `const float v = ${X}[${offset(o.map((v, k) => (axes.includes(k) ? r[k] : v)), xs)}]; ${acc}`, 'r');
        return `float acc = ${init};\n${inner}\n${Y}[${offset(o, ks)}] = ${fin};`;
      });
    },
  };
}

export const REDUCE_OPS: OpDef[] = [reduce('ReduceMean'), reduce('ReduceSum'), reduce('ReduceMax')];
