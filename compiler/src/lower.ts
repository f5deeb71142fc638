import { roundToHalf } from './half';
import { CompileError, DType, Graph, makeArray, Node, Subgraph, Tensor, toNumbers } from './ir';
import { attrFloat, attrInt, attrInts, attrString, normAxis } from './ops/op';

/**
 * Operators lowered to tensor operators while shapes are inferred, so the generated C never sees
 * them: sequences (the compiler has static shapes, so a sequence is a list of tensors known at
 * compile time, and every position must be a constant), and the training domain's Gradient
 * (reverse-mode differentiation of the graph before it, as more nodes). PRelu passes through,
 * but for its per-channel slope before opset 7, made an explicit reshape.
 */
export const LOWERED_OPS: ReadonlySet<string> = new Set([
  'SequenceEmpty',
  'SequenceConstruct',
  'SequenceInsert',
  'SequenceErase',
  'SequenceAt',
  'SequenceLength',
  'ConcatFromSequence',
  'SplitToSequence',
  'Gradient',
  'PRelu',
  'FlexAttention',
  'MeanVarianceNormalization',
  'Upsample',
  'Binarizer',
]);

/** What lowering remembers across nodes: the tensors each sequence holds. */
export interface LowerState {
  sequences: Map<string, string[]>;
  /** The nodes so far, after lowering, for Gradient. */
  done: Node[];
}

export function lowerState(): LowerState {
  return { sequences: new Map(), done: [] };
}

/**
 * Replaces a lowered operator by tensor nodes (possibly none), given the shapes of what came
 * before it. `fresh` names new tensors so they collide with nothing in the model.
 */
export function lowerNode(graph: Graph, node: Node, state: LowerState): Node[] {
  let k = 0;
  const fresh = (what: string): string => {
    let name: string;
    do name = `${node.name}/${what}${k++}`;
    while (graph.tensors.has(name));
    return name;
  };
  const make = (op: string, inputs: string[], outputs: string[], attrs: Node['attrs'] = {}): Node => ({ op, name: `${node.name}/${op}${k++}`, inputs, outputs, attrs });
  const seq = (i: number): string[] => {
    const s = state.sequences.get(node.inputs[i]);
    if (!s) throw new CompileError('invalid', `${node.op} ${node.name}: input ${node.inputs[i]} is not a sequence`);
    return s;
  };
  const tensor = (name: string): Tensor => {
    const t = graph.tensors.get(name);
    if (!t) throw new CompileError('invalid', `${node.op} ${node.name}: input ${name} is not produced by any earlier node`);
    return t;
  };
  /** A constant position input, checked against the sequence length (`insert`: one past the end is valid). */
  const position = (i: number, length: number, insert: boolean): number | undefined => {
    const name = node.inputs[i];
    if (!name) return undefined;
    const t = tensor(name);
    if (!t.data) throw new CompileError('unsupported', `${node.op} ${node.name}: the position must be known at compile time`);
    const p = toNumbers(t)[0];
    const at = p < 0 ? p + length : p;
    if (at < 0 || at > length || (!insert && at === length)) throw new CompileError('invalid', `${node.op} ${node.name}: position ${p} is out of range for a sequence of ${length}`);
    return at;
  };
  /** A new constant tensor. */
  const constant = (what: string, dtype: DType, shape: number[], v: (number | bigint)[]): string => {
    const name = fresh(what);
    const data = makeArray(dtype, v.length);
    v.forEach((x, i) => ((data as unknown as (number | bigint)[])[i] = x));
    graph.tensors.set(name, { name, dtype, shape, data });
    return name;
  };
  const out = node.outputs[0];
  switch (node.op) {
    case 'SequenceEmpty':
      state.sequences.set(out, []);
      return [];
    case 'SequenceConstruct':
      node.inputs.forEach(tensor);
      state.sequences.set(out, [...node.inputs]);
      return [];
    case 'SequenceInsert': {
      const s = [...seq(0)];
      tensor(node.inputs[1]);
      s.splice(position(2, s.length, true) ?? s.length, 0, node.inputs[1]);
      state.sequences.set(out, s);
      return [];
    }
    case 'SequenceErase': {
      const s = [...seq(0)];
      if (s.length === 0) throw new CompileError('invalid', `SequenceErase ${node.name}: the sequence is empty`);
      s.splice(position(1, s.length, false) ?? s.length - 1, 1);
      state.sequences.set(out, s);
      return [];
    }
    case 'SequenceAt': {
      const s = seq(0);
      if (!node.inputs[1]) throw new CompileError('invalid', `SequenceAt ${node.name}: no position`);
      return [make('Identity', [s[position(1, s.length, false)!]], [out])];
    }
    case 'SequenceLength':
      return [make('Constant', [], [out], { value_int: seq(0).length })];
    case 'ConcatFromSequence': {
      const s = seq(0);
      if (s.length === 0) throw new CompileError('invalid', `ConcatFromSequence ${node.name}: the sequence is empty`);
      const rank = tensor(s[0]).shape.length;
      if (attrInt(node, 'new_axis', 0) !== 1) return [make('Concat', s, [out], { axis: normAxis(attrInt(node, 'axis', 0), rank, node) })];
      const axis = normAxis(attrInt(node, 'axis', 0), rank + 1, node);
      const nodes = s.map((t) => make('Unsqueeze', [t], [fresh('unsqueezed')], { axes: [axis] }));
      return [...nodes, make('Concat', nodes.map((n) => n.outputs[0]), [out], { axis })];
    }
    case 'SplitToSequence': {
      const x = tensor(node.inputs[0]);
      const axis = normAxis(attrInt(node, 'axis', 0), x.shape.length, node);
      const dim = x.shape[axis];
      let sizes: number[];
      const given = node.inputs[1] ? tensor(node.inputs[1]) : undefined;
      if (given && !given.data) throw new CompileError('unsupported', `SplitToSequence ${node.name}: split must be known at compile time`);
      if (!given) sizes = new Array(dim).fill(1);
      else if (given.shape.length === 0) {
        const chunk = toNumbers(given)[0];
        if (chunk < 1) throw new CompileError('invalid', `SplitToSequence ${node.name}: split ${chunk} must be positive`);
        sizes = Array.from({ length: Math.ceil(dim / chunk) }, (_, i) => Math.min(chunk, dim - i * chunk));
      } else sizes = toNumbers(given);
      if (sizes.reduce((a, b) => a + b, 0) !== dim) throw new CompileError('invalid', `SplitToSequence ${node.name}: sizes ${sizes} do not add up to ${dim}`);
      const parts = sizes.map(() => fresh('part'));
      const nodes = [make('Split', [node.inputs[0]], parts, { axis, split: sizes })];
      if (!given && attrInt(node, 'keepdims', 1) === 0) {
        const squeezed = parts.map((p) => make('Squeeze', [p], [fresh('squeezed')], { axes: [axis] }));
        nodes.push(...squeezed);
        state.sequences.set(out, squeezed.map((n) => n.outputs[0]));
      } else state.sequences.set(out, parts);
      return nodes;
    }
    case 'Gradient':
      return gradient(graph, node, state.done, make);
    case 'FlexAttention':
      return flexAttention(graph, node, tensor, fresh, make);
    case 'PRelu': {
      // Before opset 7 a one-dimensional slope is per channel (axis 1), as PyTorch exported it,
      // not broadcast from the last axis: reshaped to [C, 1, ...] it broadcasts as numpy does.
      const x = tensor(node.inputs[0]);
      const slope = tensor(node.inputs[1]);
      if (graph.opset >= 7 || slope.shape.length !== 1 || slope.shape[0] <= 1 || x.shape.length < 3 || slope.shape[0] !== x.shape[1]) return [node];
      const shape = fresh('shape');
      graph.tensors.set(shape, { name: shape, dtype: 'int64', shape: [x.shape.length - 1], data: BigInt64Array.from([slope.shape[0], ...new Array(x.shape.length - 2).fill(1)].map(BigInt)) });
      const reshaped = make('Reshape', [node.inputs[1], shape], [fresh('slope')]);
      return [reshaped, { ...node, inputs: [node.inputs[0], reshaped.outputs[0]] }];
    }
    case 'MeanVarianceNormalization': {
      // (X - E[X]) / (sqrt(E[X²] - E[X]²) + 1e-9), the means over `axes` (default [0, 2, 3]), as ONNX's function body.
      const axes = attrInts(node, 'axes') ?? [0, 2, 3];
      const axesIn = graph.opset >= 18 ? constant('axes', 'int64', [axes.length], axes.map(BigInt)) : undefined;
      const mean = (x: string) => (axesIn ? make('ReduceMean', [x, axesIn], [fresh('mean')]) : make('ReduceMean', [x], [fresh('mean')], { axes }));
      const x = node.inputs[0];
      const m = mean(x);
      const sq = make('Mul', [x, x], [fresh('square')]);
      const msq = mean(sq.outputs[0]);
      const m2 = make('Mul', [m.outputs[0], m.outputs[0]], [fresh('mean2')]);
      const variance = make('Sub', [msq.outputs[0], m2.outputs[0]], [fresh('variance')]);
      const std = make('Sqrt', variance.outputs, [fresh('std')]);
      const den = make('Add', [std.outputs[0], constant('epsilon', 'float32', [], [1e-9])], [fresh('den')]);
      const diff = make('Sub', [x, m.outputs[0]], [fresh('diff')]);
      return [m, sq, msq, m2, variance, std, den, diff, make('Div', [diff.outputs[0], den.outputs[0]], [out])];
    }
    case 'Upsample': {
      // Resize of opset 10 is Upsample of opset 9 renamed: asymmetric coordinates, the same nearest and linear modes.
      const mode = attrString(node, 'mode', 'nearest');
      if (mode !== 'nearest' && mode !== 'linear' && mode !== 'bilinear') throw new CompileError('invalid', `Upsample ${node.name}: mode '${mode}' is not nearest or linear`);
      if (graph.opset < 7) throw new CompileError('unsupported', `Upsample ${node.name}: the experimental Upsample of opsets before 7 is not supported`);
      const x = tensor(node.inputs[0]);
      let scales = node.inputs[1];
      if (graph.opset < 9) {
        const given = (node.attrs.scales as number[] | undefined)?.map(Number);
        if (!given || given.length !== x.shape.length) throw new CompileError('invalid', `Upsample ${node.name}: scales must give one value per axis (${x.shape.length})`);
        scales = constant('scales', 'float32', [given.length], given);
      } else if (!scales) throw new CompileError('invalid', `Upsample ${node.name}: no scales input`);
      return [make('Resize', [node.inputs[0], scales], [out], { mode: mode === 'bilinear' ? 'linear' : mode })];
    }
    case 'Binarizer': {
      // 1 where the input is above the threshold, else 0 (NaN included), in the input's type (for integers, above its floor).
      const x = tensor(node.inputs[0]);
      const types: Partial<Record<DType, number>> = { float32: 1, float64: 11, int64: 7, int32: 6 };
      if (!types[x.dtype] || x.half) throw new CompileError('unsupported', `Binarizer ${node.name}: ${x.half ?? x.dtype} tensors are not supported`);
      const t = attrFloat(node, 'threshold', 0);
      const threshold = constant('threshold', x.dtype, [], [x.dtype === 'int64' ? BigInt(Math.floor(t)) : x.dtype === 'int32' ? Math.floor(t) : t]);
      const above = make('Greater', [node.inputs[0], threshold], [fresh('above')]);
      return [above, make('Cast', above.outputs, [out], { to: types[x.dtype]! })];
    }
    default:
      throw new CompileError('unsupported', `${node.op} ${node.name}: not a lowered operator`);
  }
}

type Make = (op: string, inputs: string[], outputs: string[], attrs?: Node['attrs']) => Node;

/** Cast's codes of the float types FlexAttention takes. */
const CAST_TO = { float32: 1, float16: 10, bfloat16: 16 } as const;

/**
 * FlexAttention (ai.onnx.preview 1): softmax(score_mod(Q sqrt(scale) (K sqrt(scale))^T)) made
 * prob_mod(...), times V, as its function body composes it: the keys and values of each
 * key/value head repeated for its group of query heads, the scores of half inputs taken to
 * float32 before score_mod and the softmax, the output rounded back. score_mod and prob_mod, each
 * a graph of one input (the whole [B, H, L, S] tensor) and one output, are inlined.
 */
function flexAttention(graph: Graph, node: Node, tensor: (n: string) => Tensor, fresh: (what: string) => string, make: Make): Node[] {
  const bad = (code: 'invalid' | 'unsupported', what: string) => new CompileError(code, `FlexAttention ${node.name}: ${what}`);
  const [q, k, v] = [0, 1, 2].map((i) => (node.inputs[i] ? tensor(node.inputs[i]) : undefined));
  if (!q || !k || !v) throw bad('invalid', 'Q, K and V are required');
  for (const t of [q, k, v]) if (t.dtype !== 'float32' || t.half !== q.half) throw bad('unsupported', `Q, K and V must all be float32, float16 or bfloat16 (the types supported), not ${t.half ?? t.dtype}`);
  if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4) throw bad('invalid', `Q, K and V must be 4-D, not [${q.shape}], [${k.shape}] and [${v.shape}]`);
  const [B, Hq, , E] = q.shape;
  const [, Hkv, S] = k.shape;
  if (k.shape[0] !== B || v.shape[0] !== B || k.shape[3] !== E || v.shape[1] !== Hkv || v.shape[2] !== S) throw bad('invalid', `K [${k.shape}] and V [${v.shape}] do not fit Q [${q.shape}]`);
  if (!(Hkv > 0) || Hq % Hkv !== 0) throw bad('invalid', `the query heads (${Hq}) must be a multiple of the key/value heads (${Hkv})`);
  if (node.attrs.softmax_precision !== undefined && attrInt(node, 'softmax_precision', 1) !== 1) throw bad('unsupported', 'softmax_precision other than float is not supported');
  const scale = node.attrs.scale === undefined ? 1 / Math.sqrt(E) : attrFloat(node, 'scale', 1);
  const constant = (value: number[], shape: number[], int = false): string => {
    const name = fresh('const');
    if (int) graph.tensors.set(name, { name, dtype: 'int64', shape, data: BigInt64Array.from(value.map(BigInt)) });
    else {
      const data = Float32Array.from(value);
      if (q.half) roundToHalf(q.half, data);
      graph.tensors.set(name, { name, dtype: 'float32', shape, data, ...(q.half ? { half: q.half } : {}) });
    }
    return name;
  };
  const nodes: Node[] = [];
  const add = (op: string, inputs: string[], attrs: Node['attrs'] = {}): string => {
    const n = make(op, inputs, [fresh(op.toLowerCase())], attrs);
    nodes.push(n);
    return n.outputs[0];
  };
  // Each key/value head repeated for the query heads of its group: [B, Hkv, S, D] -> [B, Hq, S, D].
  const aligned = (x: string, D: number): string => {
    if (Hq === Hkv) return x;
    const grown = add('Expand', [add('Reshape', [x, constant([B, Hkv, 1, S, D], [5], true)]), constant([B, Hkv, Hq / Hkv, S, D], [5], true)]);
    return add('Reshape', [grown, constant([B, Hq, S, D], [4], true)]);
  };
  const root = constant([Math.fround(Math.sqrt(Math.fround(scale)))], []);
  const keys = add('Transpose', [add('Mul', [aligned(node.inputs[1], E), root])], { perm: [0, 1, 3, 2] });
  let scores = add('MatMul', [add('Mul', [node.inputs[0], root]), keys]);
  if (q.half) scores = add('Cast', [scores], { to: CAST_TO.float32 });
  scores = inlineMod(node, 'score_mod', scores, graph, fresh, nodes);
  const probs = inlineMod(node, 'prob_mod', add('Softmax', [scores], { axis: 3 }), graph, fresh, nodes);
  let values = aligned(node.inputs[2], v.shape[3]);
  if (q.half) values = add('Cast', [values], { to: CAST_TO.float32 });
  const y = add('MatMul', [probs, values]);
  nodes.push(make(q.half ? 'Cast' : 'Identity', [y], [node.outputs[0]], q.half ? { to: CAST_TO[q.half] } : {}));
  return nodes;
}

/** A graph attribute of one input and one output, inlined on `input` (its own names made fresh): its output, or `input` when there is none. */
function inlineMod(node: Node, attr: string, input: string, graph: Graph, fresh: (what: string) => string, nodes: Node[]): string {
  const sub = node.attrs[attr] as Subgraph | undefined;
  if (sub === undefined) return input;
  const bad = (what: string) => new CompileError('invalid', `FlexAttention ${node.name}: ${attr} ${what}`);
  if (typeof sub !== 'object' || (sub as Subgraph).kind !== 'subgraph') throw bad('must be a graph');
  if (sub.inputs.length !== 1 || sub.outputs.length !== 1) throw bad(`must have one input and one output, not ${sub.inputs.length} and ${sub.outputs.length}`);
  if (sub.nodes.some((n) => Object.values(n.attrs).some((a) => typeof a === 'object' && a !== null && (a as Subgraph).kind === 'subgraph'))) {
    throw new CompileError('unsupported', `FlexAttention ${node.name}: ${attr} holds nested graphs, which are not supported`);
  }
  const rename = new Map<string, string>([[sub.inputs[0], input]]);
  for (const t of sub.initializers) {
    const name = fresh(`${attr}/${t.name}`);
    rename.set(t.name, name);
    graph.tensors.set(name, { ...t, name });
  }
  for (const n of sub.nodes) for (const o of n.outputs) if (o) rename.set(o, fresh(`${attr}/${o}`));
  const map = (n: string) => (n ? (rename.get(n) ?? n) : n);
  let k = 0;
  for (const n of sub.nodes) nodes.push({ op: n.op, name: `${node.name}/${attr}/${n.name || n.op + k++}`, inputs: n.inputs.map(map), outputs: n.outputs.map(map), attrs: n.attrs });
  return map(sub.outputs[0]);
}

/** The local derivative rules: per input of a forward node, its gradient contribution as nodes. */
const RULES: Record<string, (n: Node, g: string, make: Make, fresh: () => string) => { grads: (string | undefined)[]; nodes: Node[] }> = {
  Identity: (_n, g) => ({ grads: [g], nodes: [] }),
  Add: (_n, g) => ({ grads: [g, g], nodes: [] }),
  Sub: (_n, g, make, fresh) => {
    const neg = make('Neg', [g], [fresh()]);
    return { grads: [g, neg.outputs[0]], nodes: [neg] };
  },
  Neg: (_n, g, make, fresh) => {
    const neg = make('Neg', [g], [fresh()]);
    return { grads: [neg.outputs[0]], nodes: [neg] };
  },
  Mul: (n, g, make, fresh) => {
    const da = make('Mul', [g, n.inputs[1]], [fresh()]);
    const db = make('Mul', [g, n.inputs[0]], [fresh()]);
    return { grads: [da.outputs[0], db.outputs[0]], nodes: [da, db] };
  },
  Div: (n, g, make, fresh) => {
    // d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b
    const da = make('Div', [g, n.inputs[1]], [fresh()]);
    const q = make('Mul', [da.outputs[0], n.outputs[0]], [fresh()]);
    const db = make('Neg', [q.outputs[0]], [fresh()]);
    return { grads: [da.outputs[0], db.outputs[0]], nodes: [da, q, db] };
  },
};

/**
 * Gradient(xs, y): reverse-mode differentiation of y (seeded with ones) with respect to each x,
 * over the nodes before it. Operators without a rule here are refused by name; broadcasting
 * between an operand and its result is refused too (it would need a sum over the broadcast axes).
 */
function gradient(graph: Graph, node: Node, done: Node[], make: Make): Node[] {
  const xs = (node.attrs.xs as string[] | undefined) ?? [];
  const y = node.attrs.y as string | undefined;
  if (!y || xs.length !== node.outputs.length) throw new CompileError('invalid', `Gradient ${node.name}: needs attributes xs (one per output) and y`);
  if (node.attrs.zs) throw new CompileError('unsupported', `Gradient ${node.name}: the zs attribute is not supported`);
  const yt = graph.tensors.get(y);
  if (!yt) throw new CompileError('invalid', `Gradient ${node.name}: y ${y} is not produced by any earlier node`);
  if (yt.dtype !== 'float32') throw new CompileError('unsupported', `Gradient ${node.name}: only float32 is supported`);
  let k = 0;
  const fresh = (): string => {
    let name: string;
    do name = `${node.name}/grad${k++}`;
    while (graph.tensors.has(name));
    return name;
  };
  const constant = (shape: number[], value: number): string => {
    const name = fresh();
    graph.tensors.set(name, { name, dtype: 'float32', shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(value) });
    return name;
  };
  // The nodes on a path to y, in reverse order of execution.
  const needed = new Set([y]);
  const path: Node[] = [];
  for (const n of [...done].reverse()) {
    if (!n.outputs.some((o) => needed.has(o))) continue;
    path.push(n);
    for (const i of n.inputs) if (i) needed.add(i);
  }
  const grads = new Map<string, string>([[y, constant(yt.shape, 1)]]);
  const nodes: Node[] = [];
  for (const n of path) {
    if (n.outputs.every((o) => !grads.has(o))) continue;
    const g = grads.get(n.outputs[0]);
    const rule = RULES[n.op];
    if (!rule || !g || n.outputs.length > 1) throw new CompileError('unsupported', `Gradient ${node.name}: differentiating ${n.op} (${n.name}) is not supported; supported: ${Object.keys(RULES).join(', ')}`);
    const outShape = graph.tensors.get(n.outputs[0])!.shape;
    for (const i of n.inputs) {
      const s = graph.tensors.get(i)?.shape ?? [];
      if (s.length !== outShape.length || s.some((d, j) => d !== outShape[j])) {
        throw new CompileError('unsupported', `Gradient ${node.name}: ${n.op} ${n.name} broadcasts its inputs, which differentiation does not support`);
      }
    }
    const r = rule(n, g, make, fresh);
    nodes.push(...r.nodes);
    r.grads.forEach((gi, j) => {
      const input = n.inputs[j];
      if (!gi || !input) return;
      const prev = grads.get(input);
      if (!prev) grads.set(input, gi);
      else {
        const sum = make('Add', [prev, gi], [fresh()]);
        nodes.push(sum);
        grads.set(input, sum.outputs[0]);
      }
    });
  }
  xs.forEach((x, i) => {
    const xt = graph.tensors.get(x);
    if (!xt) throw new CompileError('invalid', `Gradient ${node.name}: x ${x} is not a tensor of the graph`);
    nodes.push(make('Identity', [grads.get(x) ?? constant(xt.shape, 0)], [node.outputs[i]]));
  });
  return nodes;
}
