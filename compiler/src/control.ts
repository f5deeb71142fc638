import { AttrValue, C_TYPE, CompileError, Graph, Node, numel, Scope, Subgraph, Tensor } from './ir';
import { attrInt, attrInts, normAxis, OpDef } from './ops/op';

/*
 * Control flow: If, Loop and Scan. While shapes are inferred, a node with subgraphs is inlined
 * into the graph around it, so that every later pass (folding, liveness, fusion, buffers) sees
 * one flat list of nodes. The inlined nodes carry the Scope they run in: an If's branch is a C
 * block run when the condition read at run time has its value; a Loop's or Scan's body is a C
 * loop. What is left of the node itself is one node of the same operator, last: an If's picks
 * the taken branch's results; a Loop's or Scan's ends each iteration, carrying the body's
 * results to the next and storing its scan outputs. A constant condition folds to the taken
 * branch alone. Every tensor has a static shape: what would not (branches of different shapes,
 * scan outputs of a length only known at run time) is refused.
 *
 * A model may write each branch of an If for other input shapes than the other's (Silero VAD
 * branches on the sample rate, each branch for its own number of samples). Where the condition is
 * read at run time and one branch's shapes cannot be inferred for the input shapes bound, that
 * branch is compiled as nothing but a return of RUN_ERRORS.unfitBranch, and the If's outputs take
 * the other branch's shapes (see `unfit` for the errors this covers).
 */

export function isSubgraph(v: AttrValue | undefined): v is Subgraph {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as Subgraph).kind === 'subgraph';
}

/** Whether a node carries subgraphs (If, Loop and Scan as imported), to be inlined before it is inferred. */
export function hasSubgraphs(node: Node): boolean {
  return Object.values(node.attrs).some(isSubgraph);
}

/** The operators of every subgraph of these nodes, nested ones too. */
export function subgraphOps(nodes: Node[]): string[] {
  const ops: string[] = [];
  const walk = (ns: Node[]) => {
    for (const n of ns) {
      for (const v of Object.values(n.attrs)) {
        if (!isSubgraph(v)) continue;
        for (const m of v.nodes) ops.push(m.op);
        walk(v.nodes);
      }
    }
  };
  walk(nodes);
  return ops;
}

/** The names a subgraph defines: its inputs, initializers and its nodes' outputs (not those of nested subgraphs). */
function definedIn(sub: Subgraph): string[] {
  return [...sub.inputs, ...sub.initializers.map((t) => t.name), ...sub.nodes.flatMap((n) => n.outputs)].filter(Boolean);
}

/** What inlining remembers across nodes: how often each name is defined in the whole model, and the names made. */
export interface ControlState {
  defined: Map<string, number>;
  loops: number;
}

export function controlState(graph: Graph): ControlState {
  const defined = new Map<string, number>();
  const add = (n: string) => n && defined.set(n, (defined.get(n) ?? 0) + 1);
  for (const n of graph.tensors.keys()) add(n);
  const walk = (nodes: Node[]) => {
    for (const node of nodes) {
      node.outputs.forEach(add);
      for (const v of Object.values(node.attrs)) {
        if (!isSubgraph(v)) continue;
        definedIn(v).forEach(add);
        walk(v.nodes);
      }
    }
  };
  walk(graph.nodes);
  return { defined, loops: 0 };
}

/** A name for a tensor inlined from a subgraph: its own where nothing else in the model has it, else one made unique. */
function fresh(state: ControlState, graph: Graph, name: string, prefix: string): string {
  if (state.defined.get(name) === 1 && !graph.tensors.has(name)) {
    state.defined.set(name, 0); // taken
    return name;
  }
  let made = `${prefix}${name}`;
  for (let k = 1; state.defined.has(made) || graph.tensors.has(made); k++) made = `${prefix}${name}_${k}`;
  state.defined.set(made, 0);
  return made;
}

/** A subgraph with the names it reads from around it renamed (names it defines itself shadow them). */
function renameFree(sub: Subgraph, rename: Map<string, string>): Subgraph {
  const own = new Set(definedIn(sub));
  const inner = new Map([...rename].filter(([k]) => !own.has(k)));
  if (!inner.size) return sub;
  const map = (n: string) => (n && !own.has(n) ? (inner.get(n) ?? n) : n);
  return { ...sub, nodes: sub.nodes.map((n) => ({ ...n, inputs: n.inputs.map(map), attrs: renameAttrs(n.attrs, inner) })), outputs: sub.outputs.map(map) };
}

function renameAttrs(attrs: Node['attrs'], rename: Map<string, string>): Node['attrs'] {
  const out: Node['attrs'] = {};
  for (const [k, v] of Object.entries(attrs)) out[k] = isSubgraph(v) ? renameFree(v, rename) : v;
  return out;
}

/**
 * A subgraph's nodes as nodes of the graph: its inputs bound to the given tensors, its own names
 * renamed where they would clash, its initializers made the graph's, each node in `scope`.
 */
function inline(graph: Graph, state: ControlState, sub: Subgraph, owner: Node, what: string, bind: Map<string, string>, scope: Scope[] | undefined): { nodes: Node[]; outputs: string[] } {
  const prefix = `${owner.name}/${what}/`;
  const rename = new Map(bind);
  for (const name of definedIn(sub)) if (!rename.has(name)) rename.set(name, fresh(state, graph, name, prefix));
  for (const t of sub.initializers) {
    const name = rename.get(t.name)!;
    graph.tensors.set(name, { ...t, name });
  }
  const map = (n: string) => (n ? (rename.get(n) ?? n) : n);
  const nodes = sub.nodes.map((n): Node => ({ op: n.op, name: `${prefix}${n.name}`, inputs: n.inputs.map(map), outputs: n.outputs.map(map), attrs: renameAttrs(n.attrs, rename), ...(scope?.length ? { scope } : {}) }));
  return { nodes, outputs: sub.outputs.map(map) };
}

function subgraphAttr(node: Node, name: string): Subgraph {
  const g = node.attrs[name];
  if (!isSubgraph(g)) throw new CompileError('invalid', `${node.op} ${node.name}: no ${name}`);
  return g;
}

function tensorOf(graph: Graph, node: Node, name: string): Tensor {
  const t = graph.tensors.get(name);
  if (!t) throw new CompileError('invalid', `${node.op} ${node.name}: input ${name} is not produced by any earlier node`);
  return t;
}

/** A condition: one bool. */
function condition(graph: Graph, node: Node, name: string): Tensor {
  const t = tensorOf(graph, node, name);
  if (t.dtype !== 'bool' || numel(t.shape) !== 1) throw new CompileError('invalid', `${node.op} ${node.name}: the condition ${name} must be one bool, not ${t.dtype} [${t.shape}]`);
  return t;
}

/** Text from the model (names) made safe inside a C comment. */
function comment(text: string): string {
  return text.replace(/\*\//g, '* /').replace(/[^\x20-\x7e]/g, '?');
}

/** An If's branch: a C block run when the condition has the value `taken`. */
class BranchScope implements Scope {
  readonly close = '}';
  constructor(
    private readonly cond: string,
    private readonly taken: boolean,
    private readonly label: string,
  ) {}
  open(ref: (n: string) => string): string {
    return `if (${this.taken ? '' : '!'}${ref(this.cond)}[0]) { /* ${comment(this.label)} */`;
  }
}

interface Slice {
  /** The whole scan input, and the tensor that holds one iteration's slice of it. */
  from: string;
  to: string;
  outer: number;
  inner: number;
  reverse: boolean;
}

/**
 * A Loop's or Scan's body: a C loop. Entering it copies the initial values into the carried
 * state; each iteration sets the iteration number and copies in each scan input's slice.
 */
class LoopScope implements Scope {
  readonly close = '}';
  readonly counter: string;
  /** The trip count: a constant, or the tensor that holds it (read at run time); undefined for none. */
  trips: number | string | undefined;
  /** Sequence length of the scans (Scan), equal to `trips`. */
  length = 0;
  /** The carried condition (Loop) and its initial value, if any. */
  cond?: string;
  condInit?: string;
  /** Whether the condition can end the loop (false when it is known to stay true). */
  conditional = true;
  iteration?: string;
  /** Carried tensors and their initial values, with their element counts. */
  carried: { state: string; init: string; n: number }[] = [];
  slices: Slice[] = [];
  constructor(id: number, private readonly label: string) {
    this.counter = `kiln_i${id}`;
  }
  get repeats(): number | undefined {
    return typeof this.trips === 'number' ? this.trips : undefined;
  }
  open(ref: (n: string) => string): string {
    const lines: string[] = [];
    for (const c of this.carried) if (c.n) lines.push(`memcpy(${ref(c.state)}, ${ref(c.init)}, sizeof(*${ref(c.state)}) * ${c.n});`);
    if (this.cond) lines.push(`${ref(this.cond)}[0] = ${this.condInit ? `${ref(this.condInit)}[0] != 0` : '1'};`);
    const trips = typeof this.trips === 'string' ? `${this.counter}_trips` : String(this.trips ?? 0);
    if (typeof this.trips === 'string') lines.push(`const int64_t ${trips} = ${ref(this.trips)}[0];`);
    const tests = [...(this.trips !== undefined ? [`${this.counter} < ${trips}`] : []), ...(this.cond && this.conditional ? [`${ref(this.cond)}[0]`] : [])];
    lines.push(`for (int64_t ${this.counter} = 0; ${tests.join(' && ')}; ${this.counter}++) { /* ${comment(this.label)} */`);
    if (this.iteration) lines.push(`  ${ref(this.iteration)}[0] = ${this.counter};`);
    for (const s of this.slices) {
      if (!s.inner || !s.outer) continue;
      const t = s.reverse ? `(${this.length - 1} - ${this.counter})` : this.counter;
      const [to, from, size] = [ref(s.to), ref(s.from), `sizeof(*${ref(s.to)}) * ${s.inner}`];
      lines.push(
        s.outer === 1
          ? `  memcpy(${to}, ${from} + ${t} * ${s.inner}, ${size});`
          : `  for (long o = 0; o < ${s.outer}; o++) memcpy(${to} + o * ${s.inner}, ${from} + (o * ${this.length} + ${t}) * ${s.inner}, ${size});`,
      );
    }
    return lines.join('\n');
  }
}

/** Shape inference as it takes the nodes inlined here (compile.ts's). */
export interface Inference {
  /** Infers a node, after the ones before it (a node with subgraphs is lowered on the way). */
  visit(node: Node): void;
  /** Runs `infer` (which visits nodes); where it throws, undoes everything it did and gives back what it threw, else undefined. */
  attempt(infer: () => void): unknown;
  /** Whether a name is a value known here (a tensor or a sequence). */
  known(name: string): boolean;
}

/** Replaces a node with subgraphs (If, Loop, Scan) by the nodes it runs, given the shapes of what came before it, inferring each. */
export function lowerControl(graph: Graph, node: Node, state: ControlState, inference: Inference): void {
  switch (node.op) {
    case 'If':
      return lowerIf(graph, node, state, inference);
    case 'Loop':
      return lowerLoop(graph, node, state).forEach((n) => inference.visit(n));
    case 'Scan':
      return lowerScan(graph, node, state).forEach((n) => inference.visit(n));
    default:
      throw new CompileError('unsupported', `${node.op} ${node.name}: graph attributes are supported by If, Loop and Scan only`, [node.op]);
  }
}

/** The names a subgraph reads from around it: what its nodes (nested subgraphs' too) and outputs read that it does not define. */
function freeNames(sub: Subgraph): string[] {
  const own = new Set<string>();
  const read: string[] = [];
  const walk = (g: Subgraph) => {
    definedIn(g).forEach((n) => own.add(n));
    for (const n of g.nodes) {
      read.push(...n.inputs);
      for (const v of Object.values(n.attrs)) if (isSubgraph(v)) walk(v);
    }
    read.push(...g.outputs);
  };
  walk(sub);
  return [...new Set(read.filter((n) => n && !own.has(n)))];
}

/**
 * Whether what inferring a branch threw means only that the branch does not fit the input shapes
 * bound, so that other shapes could make it compile: a CompileError of the 'invalid' kind (an
 * operator given shapes, ranks or values it rejects: a Reshape to a size that differs, an LSTM
 * input of the wrong rank, shapes that do not broadcast) or 'too-large' (a tensor grown past the
 * limits by the shapes), anywhere in the branch, its nested subgraphs included, while everything
 * the branch reads from around it exists. What no binding changes still refuses the model: an
 * operator, attribute or form the compiler lacks ('unsupported'), a branch that reads a name
 * nothing defines, the If's own structure, and any other error.
 */
function unfit(e: unknown, branch: Subgraph, inference: Inference): e is CompileError {
  if (!(e instanceof CompileError) || (e.code !== 'invalid' && e.code !== 'too-large')) return false;
  return freeNames(branch).every((n) => inference.known(n));
}

/** The Ifs with a branch compiled as a return of RUN_ERRORS.unfitBranch: which branch (0: then, 1: else), and why it does not fit. */
const UNFIT = new WeakMap<Node, { branch: 0 | 1; why: string }>();

const BRANCH_NAMES = ['then_branch', 'else_branch'] as const;

function lowerIf(graph: Graph, node: Node, state: ControlState, inference: Inference): void {
  const branches = [subgraphAttr(node, 'then_branch'), subgraphAttr(node, 'else_branch')];
  for (const b of branches) {
    if (b.inputs.length) throw new CompileError('invalid', `If ${node.name}: a branch must have no inputs`);
    if (b.outputs.length < node.outputs.length) throw new CompileError('invalid', `If ${node.name}: a branch has ${b.outputs.length} outputs for the node's ${node.outputs.length}`);
  }
  const cond = condition(graph, node, node.inputs[0]);
  if (cond.data) {
    // A condition known at compile time: the taken branch alone, its nodes writing the node's outputs (or passed through).
    const taken = cond.data[0] ? 0 : 1;
    const branch = branches[taken];
    const produced = new Set(branch.nodes.flatMap((n) => n.outputs));
    const bind = new Map<string, string>();
    node.outputs.forEach((o, i) => o && produced.has(branch.outputs[i]) && !bind.has(branch.outputs[i]) && bind.set(branch.outputs[i], o));
    const { nodes, outputs } = inline(graph, state, branch, node, taken ? 'else' : 'then', bind, node.scope);
    const pass = node.outputs.flatMap((o, i): Node[] => (o && outputs[i] !== o ? [{ op: 'Identity', name: `${node.name}/${o}`, inputs: [outputs[i]], outputs: [o], attrs: {}, ...(node.scope ? { scope: node.scope } : {}) }] : []));
    return [...nodes, ...pass].forEach((n) => inference.visit(n));
  }
  // Each branch is inferred in turn; one that does not fit the bound input shapes is undone, and running it ends the run.
  const outer = node.scope ?? [];
  const n = node.outputs.length;
  const results: string[][] = [];
  const failed: (CompileError | undefined)[] = [];
  branches.forEach((branch, k) => {
    const what = k ? 'else' : 'then';
    let outputs: string[] = [];
    const e = inference.attempt(() => {
      const inlined = inline(graph, state, branch, node, what, new Map(), [...outer, new BranchScope(node.inputs[0], !k, `If ${node.name}: ${BRANCH_NAMES[k]}`)]);
      inlined.nodes.forEach((m) => inference.visit(m));
      outputs = inlined.outputs.slice(0, n);
    });
    if (e === undefined) return void results.push(outputs);
    if (!unfit(e, branch, inference)) throw e;
    failed[k] = e;
    results.push(new Array<string>(n).fill(''));
  });
  // Neither fits: the model cannot run on these shapes at all.
  if (failed[0] && failed[1]) throw failed[0];
  const pick: Node = { op: 'If', name: node.name, inputs: [node.inputs[0], ...results[0], ...results[1]], outputs: [...node.outputs], attrs: {}, ...(node.scope ? { scope: node.scope } : {}) };
  const k = failed.findIndex(Boolean);
  if (k >= 0) UNFIT.set(pick, { branch: k as 0 | 1, why: failed[k]!.message });
  inference.visit(pick);
}

/** The plan of a Loop's or Scan's last node, by the node. */
const PLANS = new WeakMap<Node, LoopPlan>();

interface LoopPlan {
  scope: LoopScope;
  /** The body's outputs: its condition (Loop), carried values, scan outputs. */
  condOut?: string;
  /** Whether the body's condition is the carried one passed through. */
  condPassThrough: boolean;
  carriedOut: string[];
  scanOut: string[];
  /** The node's results: final carried values (the carried state itself) and whole scan outputs. */
  states: string[];
  scans: string[];
  /** For each scan output: its axis and direction (Scan; a Loop's stack along axis 0, forwards). */
  scanAxes: number[];
  scanReverse: boolean[];
  /** The tensor that holds the trip count, when read at run time (Loop). */
  tripsName?: string;
}

/** The state a Loop or Scan carries: named as the node's final values (or made up where the output is omitted), of the initial values' types and shapes. */
function carriedState(graph: Graph, node: Node, state: ControlState, inits: string[], scope: LoopScope): string[] {
  return inits.map((init, i) => {
    if (!init) throw new CompileError('invalid', `${node.op} ${node.name}: loop-carried value ${i} has no initial value`);
    const t = tensorOf(graph, node, init);
    const name = node.outputs[i] || fresh(state, graph, `${node.name}/carried${i}`, '');
    graph.tensors.set(name, { name, dtype: t.dtype, shape: [...t.shape], ...(t.half ? { half: t.half } : {}) });
    scope.carried.push({ state: name, init, n: numel(t.shape) });
    return name;
  });
}

function lowerLoop(graph: Graph, node: Node, state: ControlState): Node[] {
  const body = subgraphAttr(node, 'body');
  const N = node.inputs.length - 2;
  if (N < 0) throw new CompileError('invalid', `Loop ${node.name}: it needs the inputs M and cond (either may be empty)`);
  if (body.inputs.length !== N + 2) throw new CompileError('invalid', `Loop ${node.name}: the body has ${body.inputs.length} inputs for ${N} loop-carried values (it needs ${N + 2})`);
  const K = body.outputs.length - 1 - N;
  if (K < 0) throw new CompileError('invalid', `Loop ${node.name}: the body has ${body.outputs.length} outputs for ${N} loop-carried values`);
  const [mName, condName] = node.inputs;
  const scope = new LoopScope(state.loops++, `Loop ${node.name}: body`);
  if (mName) {
    const m = tensorOf(graph, node, mName);
    if (m.dtype !== 'int64' || numel(m.shape) !== 1) throw new CompileError('invalid', `Loop ${node.name}: the trip count must be one int64, not ${m.dtype} [${m.shape}]`);
    // A trip count too large to matter (a while loop's) is read as it is, at run time.
    scope.trips = m.data && Number(m.data[0]) <= Number.MAX_SAFE_INTEGER ? Math.max(0, Number(m.data[0])) : mName;
  }
  if (!mName && !condName) throw new CompileError('unsupported', `Loop ${node.name}: it has neither a trip count nor a condition, so it would never end`);
  if (condName) {
    const c = condition(graph, node, condName);
    scope.condInit = condName;
    // A condition known true at the start need not be read.
    if (c.data && c.data[0]) scope.condInit = undefined;
    if (c.data && !c.data[0]) scope.trips = 0;
  }
  const states = carriedState(graph, node, state, node.inputs.slice(2), scope);
  const iteration = fresh(state, graph, `${node.name}/iteration`, '');
  const cond = fresh(state, graph, `${node.name}/condition`, '');
  graph.tensors.set(iteration, { name: iteration, dtype: 'int64', shape: [] });
  graph.tensors.set(cond, { name: cond, dtype: 'bool', shape: [] });
  scope.iteration = iteration;
  scope.cond = cond;
  const bind = new Map(body.inputs.map((n, i) => [n, [iteration, cond, ...states][i]]));
  const outer = node.scope ?? [];
  const inner = [...outer, scope];
  const { nodes, outputs } = inline(graph, state, body, node, 'body', bind, inner);
  // The body's condition is the carried one where it passes it through (directly or by Identity).
  let condOut = outputs[0];
  for (let hop = nodes.length - 1; hop >= 0 && condOut !== cond; hop--) if (nodes[hop].op === 'Identity' && nodes[hop].outputs[0] === condOut) condOut = nodes[hop].inputs[0];
  const scans = Array.from({ length: K }, (_, k) => node.outputs[N + k] || fresh(state, graph, `${node.name}/scan${k}`, ''));
  const last: Node = { op: 'Loop', name: node.name, inputs: [mName, condName ?? '', ...node.inputs.slice(2), ...outputs], outputs: [...states, ...scans], attrs: {}, scope: inner };
  PLANS.set(last, { scope, condOut: outputs[0], condPassThrough: condOut === cond, carriedOut: outputs.slice(1, 1 + N), scanOut: outputs.slice(1 + N), states, scans, scanAxes: scans.map(() => 0), scanReverse: scans.map(() => false), tripsName: typeof scope.trips === 'string' ? scope.trips : undefined });
  return [...nodes, last];
}

function lowerScan(graph: Graph, node: Node, state: ControlState): Node[] {
  if (graph.opset < 9) throw new CompileError('unsupported', `Scan ${node.name}: the opset 8 form (a batch axis and sequence_lens) is not supported; opset 9's is`, ['Scan']);
  const body = subgraphAttr(node, 'body');
  const M = attrInt(node, 'num_scan_inputs', -1);
  if (M < 1) throw new CompileError('invalid', `Scan ${node.name}: num_scan_inputs must be at least 1`);
  const N = node.inputs.length - M;
  if (N < 0) throw new CompileError('invalid', `Scan ${node.name}: ${node.inputs.length} inputs for ${M} scan inputs`);
  if (body.inputs.length !== N + M) throw new CompileError('invalid', `Scan ${node.name}: the body has ${body.inputs.length} inputs for ${N} state values and ${M} scan inputs`);
  const K = body.outputs.length - N;
  if (K < 0) throw new CompileError('invalid', `Scan ${node.name}: the body has ${body.outputs.length} outputs for ${N} state values`);
  const inAxes = attrInts(node, 'scan_input_axes') ?? new Array<number>(M).fill(0);
  const inDirs = attrInts(node, 'scan_input_directions') ?? new Array<number>(M).fill(0);
  const outAxes = attrInts(node, 'scan_output_axes') ?? new Array<number>(K).fill(0);
  const outDirs = attrInts(node, 'scan_output_directions') ?? new Array<number>(K).fill(0);
  if (inAxes.length !== M || inDirs.length !== M || outAxes.length !== K || outDirs.length !== K) throw new CompileError('invalid', `Scan ${node.name}: the axes and directions must have one entry per scan input and output`);
  const scope = new LoopScope(state.loops++, `Scan ${node.name}: body`);
  const states = carriedState(graph, node, state, node.inputs.slice(0, N), scope);
  let length: number | undefined;
  const slices = node.inputs.slice(N).map((name, j) => {
    const t = tensorOf(graph, node, name);
    if (!t.shape.length) throw new CompileError('invalid', `Scan ${node.name}: scan input ${name} is a scalar`);
    const axis = normAxis(inAxes[j], t.shape.length, node);
    if (length !== undefined && t.shape[axis] !== length) throw new CompileError('invalid', `Scan ${node.name}: the scan inputs' lengths differ (${length} and ${t.shape[axis]})`);
    length = t.shape[axis];
    const to = fresh(state, graph, `${node.name}/slice${j}`, '');
    const shape = t.shape.filter((_, k) => k !== axis);
    graph.tensors.set(to, { name: to, dtype: t.dtype, shape, ...(t.half ? { half: t.half } : {}) });
    const s: Slice = { from: name, to, outer: numel(t.shape.slice(0, axis)), inner: numel(t.shape.slice(axis + 1)), reverse: inDirs[j] === 1 };
    return s;
  });
  scope.trips = scope.length = length!;
  scope.slices = slices;
  const bind = new Map(body.inputs.map((n, k) => [n, k < N ? states[k] : slices[k - N].to]));
  const inner = [...(node.scope ?? []), scope];
  const { nodes, outputs } = inline(graph, state, body, node, 'body', bind, inner);
  const scans = Array.from({ length: K }, (_, k) => node.outputs[N + k] || fresh(state, graph, `${node.name}/scan${k}`, ''));
  const last: Node = { op: 'Scan', name: node.name, inputs: [...node.inputs, ...outputs], outputs: [...states, ...scans], attrs: {}, scope: inner };
  PLANS.set(last, { scope, condPassThrough: false, carriedOut: outputs.slice(0, N), scanOut: outputs.slice(N), states, scans, scanAxes: outAxes, scanReverse: outDirs.map((d) => d === 1) });
  return [...nodes, last];
}

function plan(node: Node): LoopPlan {
  const p = PLANS.get(node);
  if (!p) throw new CompileError('invalid', `${node.op} ${node.name}: its subgraph was not inlined`);
  return p;
}

const sameShape = (a: number[], b: number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/**
 * If, as inlined: picks the taken branch's results (inputs: the condition, then_branch's results,
 * else_branch's). Where one branch does not fit the input shapes (UNFIT), its results are absent:
 * taking it ends the run, and the outputs are the other's.
 */
const ifPick: OpDef = {
  type: 'If',
  infer(ctx, node) {
    const n = node.outputs.length;
    const unfitBranch = UNFIT.get(node)?.branch;
    // A branch's result that is no tensor here (a sequence, say) cannot be picked at run time.
    const branchOutput = (k: number, which: string) => {
      const t = ctx.graph.tensors.get(node.inputs[k]);
      if (!t) throw new CompileError('unsupported', `If ${node.name}: ${which}'s output ${node.inputs[k]} is not a tensor; only tensor outputs are supported where the condition is read at run time`, ['If']);
      return t;
    };
    node.outputs.forEach((o, i) => {
      if (unfitBranch !== undefined) {
        const t = branchOutput(1 + (1 - unfitBranch) * n + i, BRANCH_NAMES[1 - unfitBranch]);
        return ctx.output(node, i, { dtype: t.dtype, shape: [...t.shape], half: t.half });
      }
      const a = branchOutput(1 + i, 'then_branch');
      const b = branchOutput(1 + n + i, 'else_branch');
      if (a.dtype !== b.dtype) throw new CompileError('invalid', `If ${node.name}: the branches' output types differ: output ${i} (${o}) is ${a.dtype} in then_branch and ${b.dtype} in else_branch`);
      if (!sameShape(a.shape, b.shape)) throw new CompileError('unsupported', `If ${node.name}: the branches' output shapes differ: output ${i} (${o}) is [${a.shape}] in then_branch and [${b.shape}] in else_branch; only outputs of one static shape are supported`);
      ctx.output(node, i, { dtype: a.dtype, shape: [...a.shape], half: a.half ?? b.half });
    });
  },
  emit(ctx, node) {
    const n = node.outputs.length;
    const c = ctx.ref(node.inputs[0]);
    const copy = (to: string, from: string, count: number) => (to === from ? ';' : `memcpy(${to}, ${from}, sizeof(*${to}) * ${count});`);
    const u = UNFIT.get(node);
    if (u) {
      // The branch that does not fit ends the run; the other's results are the outputs.
      const end = `if (${u.branch ? '!' : ''}${c}[0]) ${ctx.unfitBranch(`the ${BRANCH_NAMES[u.branch]} of If ${node.name}`, u.why)}`;
      const copies = node.outputs.map((o, i) => (o && numel(ctx.tensor(o).shape) ? copy(ctx.ref(o), ctx.ref(node.inputs[1 + (1 - u.branch) * n + i]), numel(ctx.tensor(o).shape)) : ''));
      return [end, ...copies].filter(Boolean).join('\n');
    }
    return node.outputs
      .map((o, i) => {
        const count = o ? numel(ctx.tensor(o).shape) : 0;
        if (!count) return '';
        const y = ctx.ref(o);
        return `if (${c}[0]) ${copy(y, ctx.ref(node.inputs[1 + i]), count)}\nelse ${copy(y, ctx.ref(node.inputs[1 + n + i]), count)}`;
      })
      .filter(Boolean)
      .join('\n');
  },
};

/** Checks a body's carried results against the state, and gives the whole scan outputs their shapes. */
function inferLoopEnd(ctx: Parameters<OpDef['infer']>[0], node: Node): void {
  const p = plan(node);
  const g = ctx.graph;
  p.states.forEach((s, i) => {
    const t = g.tensors.get(s)!;
    const out = g.tensors.get(p.carriedOut[i]);
    if (!out) throw new CompileError('invalid', `${node.op} ${node.name}: the body's output ${p.carriedOut[i]} is never produced`);
    if (out.dtype !== t.dtype) throw new CompileError('invalid', `${node.op} ${node.name}: loop-carried value ${i} is ${t.dtype} at the start and ${out.dtype} after an iteration`);
    if (!sameShape(out.shape, t.shape)) throw new CompileError('unsupported', `${node.op} ${node.name}: loop-carried value ${i} (${s}) changes shape from [${t.shape}] to [${out.shape}]; only values of one static shape are supported`);
    ctx.output(node, i, { dtype: t.dtype, shape: [...t.shape], half: t.half });
  });
  if (node.op === 'Loop') {
    const c = g.tensors.get(p.condOut!);
    if (!c) throw new CompileError('invalid', `Loop ${node.name}: the body's condition ${p.condOut} is never produced`);
    if (c.dtype !== 'bool' || numel(c.shape) !== 1) throw new CompileError('invalid', `Loop ${node.name}: the body's condition must be one bool, not ${c.dtype} [${c.shape}]`);
    const alwaysTrue = (c.data && c.data[0] !== 0) || p.condPassThrough;
    // The condition stays as it started: only its initial value (read once) can stop the loop.
    if (alwaysTrue) p.scope.conditional = p.scope.condInit !== undefined;
    if (p.scope.trips === undefined && !p.scope.conditional) throw new CompileError('unsupported', `Loop ${node.name}: it has no trip count and its condition stays true, so it would never end`);
    if (p.scans.length) {
      if (p.tripsName) throw new CompileError('unsupported', `Loop ${node.name}: its trip count ${p.tripsName} is read at run time, so its scan outputs' length is not known at compile time; only loop-carried values are supported then`);
      if (p.scope.trips === undefined) throw new CompileError('unsupported', `Loop ${node.name}: it has no trip count, so its scan outputs' length is not known at compile time`);
      if (p.scope.conditional) throw new CompileError('unsupported', `Loop ${node.name}: its condition is computed at run time, so its scan outputs' length is not known at compile time; only loop-carried values are supported then`);
    }
  }
  const L = node.op === 'Loop' ? (p.scope.trips as number) : p.scope.length;
  p.scans.forEach((s, k) => {
    const out = g.tensors.get(p.scanOut[k]);
    if (!out) throw new CompileError('invalid', `${node.op} ${node.name}: the body's output ${p.scanOut[k]} is never produced`);
    const axis = normAxis(p.scanAxes[k], out.shape.length + 1, node);
    p.scanAxes[k] = axis;
    const shape = [...out.shape.slice(0, axis), L, ...out.shape.slice(axis)];
    ctx.output(node, p.states.length + k, { dtype: out.dtype, shape, half: out.half });
  });
}

/** The end of an iteration: stores the scan outputs' slices, then carries the body's results to the next (through copies where one would overwrite another's source). */
function emitLoopEnd(ctx: Parameters<NonNullable<OpDef['emit']>>[0], node: Node): string {
  const p = plan(node);
  const s = p.scope;
  const lines: string[] = [];
  const L = node.op === 'Loop' ? (s.trips as number) : s.length;
  p.scans.forEach((name, k) => {
    const whole = ctx.tensor(name);
    const axis = p.scanAxes[k];
    const inner = numel(whole.shape.slice(axis + 1));
    const outer = numel(whole.shape.slice(0, axis));
    if (!inner || !outer) return;
    const t = p.scanReverse[k] ? `(${L - 1} - ${s.counter})` : s.counter;
    const y = ctx.ref(name);
    const x = ctx.ref(p.scanOut[k]);
    lines.push(outer === 1 ? `memcpy(${y} + ${t} * ${inner}, ${x}, sizeof(*${y}) * ${inner});` : `for (long o = 0; o < ${outer}; o++) memcpy(${y} + (o * ${L} + ${t}) * ${inner}, ${x} + o * ${inner}, sizeof(*${y}) * ${inner});`);
  });
  const condOut = p.condOut && s.cond && s.conditional && ctx.ref(p.condOut) !== ctx.ref(s.cond) ? ctx.ref(p.condOut) : undefined;
  if (condOut) lines.push(`const uint8_t kiln_next = ${condOut}[0] != 0;`);
  const moves = p.states.map((st, i) => ({ to: ctx.ref(st), from: ctx.ref(p.carriedOut[i]), n: numel(ctx.tensor(st).shape), t: ctx.tensor(st) })).filter((m) => m.to !== m.from && m.n);
  // A result read from another value's state (passed through, or a view of it) is copied aside first.
  const clash = (m: (typeof moves)[number]) => moves.some((o) => o !== m && m.from.includes(o.to));
  moves.forEach((m, i) => {
    if (clash(m)) lines.push(`static ${C_TYPE[m.t.dtype]} kiln_carry${i}[${m.n}];\nmemcpy(kiln_carry${i}, ${m.from}, sizeof kiln_carry${i});`);
  });
  moves.forEach((m, i) => lines.push(`memcpy(${m.to}, ${clash(m) ? `kiln_carry${i}` : m.from}, sizeof(*${m.to}) * ${m.n});`));
  if (condOut) lines.push(`${ctx.ref(s.cond!)}[0] = kiln_next;`);
  return lines.join('\n');
}

const loopEnd: OpDef = { type: 'Loop', infer: inferLoopEnd, emit: emitLoopEnd };
const scanEnd: OpDef = { type: 'Scan', infer: inferLoopEnd, emit: emitLoopEnd };

/** If, Loop and Scan as inlined (their subgraphs' nodes are the graph's): the node that ends each. */
export const CONTROL_OPS: OpDef[] = [ifPick, loopEnd, scanEnd];
