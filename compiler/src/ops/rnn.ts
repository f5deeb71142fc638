import { CompileError, Node, Tensor } from '../ir';
import { packPanels } from '../kernels';
import { gemmCall } from './matmul';
import { attrFloat, attrInt, attrString, EmitContext, flt, InferContext, OpDef } from './op';

/*
 * LSTM, GRU and RNN (opsets 7 to 22), float32: the input projection X·Wᵀ of every time step is one
 * GEMM per direction; then a loop over time multiplies the hidden state by Rᵀ (a GEMM of the batch's
 * rows) and applies the gates. Sequence lengths are read at run time: a sequence's steps past its
 * length leave its state alone and give zeros in Y, and the reverse direction starts at its last
 * step. ONNX Runtime's conventions are followed where ONNX leaves them open: activation_alpha and
 * activation_beta are consumed by the functions that take them, in order, with its defaults; a
 * sequence of length 0 ends in a zero state.
 */

type Kind = 'LSTM' | 'GRU' | 'RNN';
const GATES: Record<Kind, number> = { LSTM: 4, GRU: 3, RNN: 1 };
const DEFAULT_ACTIVATIONS: Record<Kind, string[]> = { LSTM: ['Sigmoid', 'Tanh', 'Tanh'], GRU: ['Sigmoid', 'Tanh'], RNN: ['Tanh'] };

/** Activation functions by lower-case name: whether each takes alpha and beta, their defaults, and the C of f(x) for a variable x. */
const ACTIVATIONS: Record<string, { alpha?: number; beta?: number; c: (x: string, a: string, b: string) => string }> = {
  sigmoid: { c: (x) => `1.0f / (1.0f + expf(-${x}))` },
  tanh: { c: (x) => `tanhf(${x})` },
  relu: { c: (x) => `(${x} > 0.0f ? ${x} : 0.0f)` },
  affine: { alpha: 0, beta: 0, c: (x, a, b) => `${a} * ${x} + ${b}` },
  leakyrelu: { alpha: 0.01, c: (x, a) => `(${x} >= 0.0f ? ${x} : ${a} * ${x})` },
  thresholdedrelu: { alpha: 0, c: (x, a) => `(${x} > ${a} ? ${x} : 0.0f)` },
  scaledtanh: { alpha: 0, beta: 0, c: (x, a, b) => `${a} * tanhf(${b} * ${x})` },
  hardsigmoid: { alpha: 0.2, beta: 0.5, c: (x, a, b) => `fminf(1.0f, fmaxf(0.0f, ${a} * ${x} + ${b}))` },
  elu: { alpha: 1, c: (x, a) => `(${x} >= 0.0f ? ${x} : ${a} * (expf(${x}) - 1.0f))` },
  softsign: { c: (x) => `${x} / (1.0f + fabsf(${x}))` },
  softplus: { c: (x) => `logf(1.0f + expf(${x}))` },
};

type Activation = (x: string) => string;

interface Params {
  kind: Kind;
  S: number;
  B: number;
  I: number;
  H: number;
  D: number;
  G: number;
  layout: number;
  reverse: boolean[];
  /** Per direction, the activation functions (f, g, h for LSTM; f, g for GRU; f for RNN). */
  acts: Activation[][];
  clip?: number;
  inputForget: boolean;
  linearBeforeReset: boolean;
}

/** The node's parameters, checked against its inputs' shapes (`get` gives an input, undefined when absent). */
function params(node: Node, opset: number, get: (i: number) => Tensor | undefined): Params {
  const kind = node.op as Kind;
  const G = GATES[kind];
  const where = `${kind} ${node.name}`;
  const x = get(0);
  const w = get(1);
  const r = get(2);
  if (!x || !w || !r) throw new CompileError('invalid', `${where}: X, W and R are required`);
  for (const [i, t] of [x, w, r, get(3), get(5), get(6), get(7)].entries()) {
    if (t && t.dtype !== 'float32') throw new CompileError('unsupported', `${where}: only float32 is supported (input ${i}, ${t.name}, is ${t.dtype})`);
  }
  if (x.shape.length !== 3) throw new CompileError('invalid', `${where}: X must have rank 3, not [${x.shape}]`);
  const layout = opset >= 14 ? attrInt(node, 'layout', 0) : 0;
  if (layout !== 0 && layout !== 1) throw new CompileError('invalid', `${where}: layout must be 0 or 1, not ${layout}`);
  const [S, B, I] = layout ? [x.shape[1], x.shape[0], x.shape[2]] : x.shape;
  const direction = attrString(node, 'direction', 'forward');
  if (!['forward', 'reverse', 'bidirectional'].includes(direction)) throw new CompileError('invalid', `${where}: direction must be forward, reverse or bidirectional, not ${direction}`);
  const D = direction === 'bidirectional' ? 2 : 1;
  const H = attrInt(node, 'hidden_size', r.shape[2] ?? 0);
  if (!(H > 0)) throw new CompileError('invalid', `${where}: hidden_size must be positive`);
  const expect = (t: Tensor | undefined, shape: number[], what: string) => {
    if (t && (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i]))) throw new CompileError('invalid', `${where}: ${what} must be [${shape}], not [${t.shape}]`);
  };
  expect(w, [D, G * H, I], 'W');
  expect(r, [D, G * H, H], 'R');
  expect(get(3), [D, 2 * G * H], 'B');
  const lens = get(4);
  if (lens && lens.dtype !== 'int32') throw new CompileError('invalid', `${where}: sequence_lens must be int32, not ${lens.dtype}`);
  expect(lens, [B], 'sequence_lens');
  const state = layout ? [B, D, H] : [D, B, H];
  expect(get(5), state, 'initial_h');
  if (kind === 'LSTM') {
    expect(get(6), state, 'initial_c');
    expect(get(7), [D, 3 * H], 'P');
  }
  // Activations: one set per direction (one set given for two directions serves both).
  const per = DEFAULT_ACTIVATIONS[kind].length;
  let names = (node.attrs.activations as string[] | undefined) ?? [];
  if (!names.length) names = DEFAULT_ACTIVATIONS[kind];
  if (names.length === per && D === 2) names = [...names, ...names];
  if (names.length !== per * D) throw new CompileError('invalid', `${where}: ${names.length} activations for ${D} direction(s) of ${per}`);
  const alphas = [...((node.attrs.activation_alpha as number[] | undefined) ?? [])];
  const betas = [...((node.attrs.activation_beta as number[] | undefined) ?? [])];
  const fns = names.map((name): Activation => {
    const a = ACTIVATIONS[name.toLowerCase()];
    if (!a) throw new CompileError('unsupported', `${where}: activation ${name} is not supported (${Object.keys(ACTIVATIONS).join(', ')} are)`, [kind]);
    const alpha = flt(a.alpha === undefined ? 0 : (alphas.shift() ?? a.alpha));
    const beta = flt(a.beta === undefined ? 0 : (betas.shift() ?? a.beta));
    return (v) => a.c(v, alpha, beta);
  });
  const acts = Array.from({ length: D }, (_, d) => fns.slice(d * per, (d + 1) * per));
  const clip = node.attrs.clip === undefined ? undefined : attrFloat(node, 'clip', 0);
  if (clip !== undefined && !(clip > 0)) throw new CompileError('invalid', `${where}: clip must be positive, not ${clip}`);
  return {
    kind,
    S,
    B,
    I,
    H,
    D,
    G,
    layout,
    reverse: D === 2 ? [false, true] : [direction === 'reverse'],
    acts,
    clip,
    inputForget: kind === 'LSTM' && attrInt(node, 'input_forget', 0) === 1,
    linearBeforeReset: kind === 'GRU' && attrInt(node, 'linear_before_reset', 0) === 1,
  };
}

function infer(ctx: InferContext, node: Node): void {
  const p = params(node, ctx.opset, (i) => ctx.input(node, i));
  const { S, B, D, H } = p;
  ctx.output(node, 0, { dtype: 'float32', shape: p.layout ? [B, S, D, H] : [S, D, B, H] });
  const state = p.layout ? [B, D, H] : [D, B, H];
  ctx.output(node, 1, { dtype: 'float32', shape: [...state] });
  if (p.kind === 'LSTM') ctx.output(node, 2, { dtype: 'float32', shape: [...state] });
}

/**
 * C = A (M x K, rows of K) x Wᵀ, where W's rows of K start at element `offset` of a weight input
 * (N of them): the GEMM on constant weights packed at compile time or on weights read at run time,
 * or the plain loops.
 */
function product(ctx: EmitContext, node: Node, d: { M: number; N: number; K: number; a: string; c: string; w: string; offset: number }): string {
  const w = ctx.tensor(d.w);
  if (ctx.fast) {
    const b = w.data instanceof Float32Array ? { bpacked: ctx.constant(`${d.w}[${d.offset}..] (packed panels)`, packPanels(w.data, d.K, d.N, 1, d.K, d.offset)) } : { b: `${ctx.ref(d.w)} + ${d.offset}`, ldb: 1, sn: d.K };
    return gemmCall(ctx, node, { M: d.M, N: d.N, K: d.K, a: d.a, c: d.c, ...b });
  }
  return `for (long m = 0; m < ${d.M}; m++) for (long n = 0; n < ${d.N}; n++) {
  const float *wr = ${ctx.ref(d.w)} + ${d.offset} + n * ${d.K};
  float acc = 0.0f;
  for (long k = 0; k < ${d.K}; k++) acc += ${d.a}[m * ${d.K} + k] * wr[k];
  ${d.c}[m * ${d.N} + n] = acc;
}`;
}

function emit(ctx: EmitContext, node: Node): string {
  const p = params(node, ctx.opset, (i) => (node.inputs[i] ? ctx.tensor(node.inputs[i]) : undefined));
  const { kind, S, B, I, H, D, G, layout } = p;
  const GH = G * H;
  if (!S || !B) return '';
  const name = `${kind} ${node.name}`;
  const has = (i: number) => !!node.inputs[i];
  const out = (i: number) => (node.outputs[i] ? ctx.ref(node.outputs[i]) : undefined);
  const [Y, Yh, Yc] = [out(0), out(1), kind === 'LSTM' ? out(2) : undefined];
  const X = ctx.ref(node.inputs[0]);
  const xw = ctx.buffer(`${name}: X W^T of every step`, S * B * GH);
  const lbr0 = kind === 'GRU' && !p.linearBeforeReset;
  // The recurrent product of a step: all gates' (GRU without linear_before_reset: z and r's, then h's of r ⊙ H).
  const rn = lbr0 ? 2 * H : GH;
  const gates = ctx.buffer(`${name}: H R^T`, B * rn);
  const h = ctx.buffer(`${name}: H`, B * H);
  const c = kind === 'LSTM' ? ctx.buffer(`${name}: C`, B * H) : '';
  const rh = lbr0 ? ctx.buffer(`${name}: r * H`, B * H) : '';
  const hh = lbr0 ? ctx.buffer(`${name}: (r * H) Rh^T`, B * H) : '';
  const bias = has(3) ? ctx.buffer(`${name}: Wb + Rb`, GH) : '';
  const rbh = has(3) && kind === 'GRU' && p.linearBeforeReset ? ctx.buffer(`${name}: Rbh`, H) : '';
  const lens = has(4);
  const clip = (v: string) => (p.clip === undefined ? v : `fminf(${flt(p.clip)}, fmaxf(${flt(-p.clip)}, ${v}))`);
  // Row of X (and of xw) for step t of batch b; offsets of Y and of a state.
  const row = (t: string, b: string) => (layout ? `(${b} * ${S} + ${t})` : `(${t} * ${B} + ${b})`);
  const yAt = (t: string, d: number, b: string) => (layout ? `((${b} * ${S} + ${t}) * ${D} + ${d}) * ${H}` : `((${t} * ${D} + ${d}) * ${B} + ${b}) * ${H}`);
  const stateAt = (d: number, b: string) => (layout ? `(${b} * ${D} + ${d}) * ${H}` : `(${d} * ${B} + ${b}) * ${H}`);
  const lines: string[] = [];
  if (lens) lines.push(`long len[${B}];\nfor (long b = 0; b < ${B}; b++) { const long l = ${ctx.ref(node.inputs[4])}[b]; len[b] = l < 0 ? 0 : l > ${S} ? ${S} : l; }`);
  for (let d = 0; d < D; d++) {
    const [f, g, hAct] = p.acts[d];
    const rev = p.reverse[d];
    const Bp = has(3) ? `(${ctx.ref(node.inputs[3])} + ${d * 2 * GH})` : '';
    lines.push(`/* direction ${d}${rev ? ' (reverse)' : ''} */`);
    if (Bp) {
      lines.push(`for (long j = 0; j < ${GH}; j++) ${bias}[j] = ${Bp}[j] + ${Bp}[${GH} + j];`);
      if (rbh) lines.push(`for (long j = 0; j < ${H}; j++) { ${bias}[${2 * H} + j] = ${Bp}[${2 * H} + j]; ${rbh}[j] = ${Bp}[${GH + 2 * H} + j]; }`);
    }
    lines.push(product(ctx, node, { M: S * B, N: GH, K: I, a: X, c: xw, w: node.inputs[1], offset: d * GH * I }));
    const init = (i: number, buf: string) =>
      has(i) ? `for (long b = 0; b < ${B}; b++) memcpy(${buf} + b * ${H}, ${ctx.ref(node.inputs[i])} + ${stateAt(d, 'b')}, sizeof(float) * ${H});` : `memset(${buf}, 0, sizeof(float) * ${B * H});`;
    lines.push(init(5, h));
    if (c) lines.push(init(6, c));
    const b_ = (k: number) => (bias ? ` + ${bias}[${k * H} + j]` : '');
    const active = lens ? `if (s >= len[b]) continue;\n    ` : '';
    const t = rev ? (lens ? 'len[b] - 1 - s' : `${S - 1} - s`) : 's';
    const at = `const long t = ${t};\n    const float *x = ${xw} + ${row('t', 'b')} * ${GH};`;
    const store = Y ? ` ${Y}[${yAt('t', d, 'b')} + j] = hn;` : '';
    let gatesC: string;
    const R = node.inputs[2];
    const recur = product(ctx, node, { M: B, N: rn, K: H, a: h, c: gates, w: R, offset: d * GH * H });
    let pre = '';
    if (kind === 'LSTM') {
      const P = has(7) ? `(${ctx.ref(node.inputs[7])} + ${d * 3 * H})` : '';
      const peep = (k: number, cv: string) => (P ? ` + ${P}[${k * H} + j] * ${cv}` : '');
      gatesC = `const float cp = ${c}[b * ${H} + j];
      const float i = ${f('(' + clip(`x[j] + g[j]${peep(0, 'cp')}${b_(0)}`) + ')')};
      const float fg = ${p.inputForget ? '1.0f - i' : f('(' + clip(`x[${2 * H} + j] + g[${2 * H} + j]${peep(2, 'cp')}${b_(2)}`) + ')')};
      const float cc = ${g('(' + clip(`x[${3 * H} + j] + g[${3 * H} + j]${b_(3)}`) + ')')};
      const float cn = cp * fg + i * cc;
      const float o = ${f('(' + clip(`x[${H} + j] + g[${H} + j]${peep(1, 'cn')}${b_(1)}`) + ')')};
      const float hn = o * ${hAct('cn')};
      ${c}[b * ${H} + j] = cn;`;
    } else if (kind === 'GRU') {
      const z = `const float z = ${f('(' + clip(`x[j] + g[j]${b_(0)}`) + ')')};`;
      if (lbr0) {
        // r ⊙ H for the rows still running, then its product with Rhᵀ.
        pre = `for (long b = 0; b < ${B}; b++) {
    ${active}${at}
    const float *g = ${gates} + b * ${rn};
    for (long j = 0; j < ${H}; j++) ${rh}[b * ${H} + j] = ${f('(' + clip(`x[${H} + j] + g[${H} + j]${b_(1)}`) + ')')} * ${h}[b * ${H} + j];
  }
  ${product(ctx, node, { M: B, N: H, K: H, a: rh, c: hh, w: R, offset: d * GH * H + 2 * H * H }).replace(/\n/g, '\n  ')}\n  `;
        gatesC = `${z}
      const float hc = ${g('(' + clip(`x[${2 * H} + j] + ${hh}[b * ${H} + j]${b_(2)}`) + ')')};
      const float hn = (1.0f - z) * hc + z * ${h}[b * ${H} + j];`;
      } else {
        const r = `${f('(' + clip(`x[${H} + j] + g[${H} + j]${b_(1)}`) + ')')}`;
        gatesC = `${z}
      const float r = ${r};
      const float hc = ${g('(' + clip(`x[${2 * H} + j] + r * (g[${2 * H} + j]${rbh ? ` + ${rbh}[j]` : ''})${b_(2)}`) + ')')};
      const float hn = (1.0f - z) * hc + z * ${h}[b * ${H} + j];`;
      }
    } else {
      gatesC = `const float hn = ${f('(' + clip(`x[j] + g[j]${b_(0)}`) + ')')};`;
    }
    lines.push(`for (long s = 0; s < ${S}; s++) {
  ${recur.replace(/\n/g, '\n  ')}
  ${pre}for (long b = 0; b < ${B}; b++) {
    ${active}${at}
    const float *g = ${gates} + b * ${rn};
    for (long j = 0; j < ${H}; j++) {
      ${gatesC}
      ${h}[b * ${H} + j] = hn;${store}
    }
  }
}`);
    // Steps past a sequence's length are zeros in Y; a sequence of length 0 ends in a zero state.
    if (Y && lens) lines.push(`for (long b = 0; b < ${B}; b++) for (long t = len[b]; t < ${S}; t++) memset(${Y} + ${yAt('t', d, 'b')}, 0, sizeof(float) * ${H});`);
    const final = (to: string, buf: string) => `for (long b = 0; b < ${B}; b++) for (long j = 0; j < ${H}; j++) ${to}[${stateAt(d, 'b')} + j] = ${lens ? `len[b] == 0 ? 0.0f : ` : ''}${buf}[b * ${H} + j];`;
    if (Yh) lines.push(final(Yh, h));
    if (Yc) lines.push(final(Yc, c));
  }
  return lines.join('\n');
}

const op = (type: Kind): OpDef => ({ type, infer, emit });

export const RNN_OPS: OpDef[] = [op('LSTM'), op('GRU'), op('RNN')];
