import { CompileError, Node, numel, Tensor } from '../ir';
import { attrFloat, attrInt, attrString, EmitContext, floatInput, flt, InferContext, normAxis, OpDef, tensorOf } from './op';

/*
 * Operators of the newest opsets, as plain C loops over float32 (float16 and bfloat16 tensors are
 * held as float32 and rounded when stored): LinearAttention and CausalConvWithState (opset 27),
 * SwiGLU (opset 28) and TensorScatter (opset 24). The ONNX reference implementations
 * (onnx.reference.ops.op_linear_attention and the like) are the definitions followed.
 */

type Ctx = InferContext | EmitContext;

/** LinearAttention's sizes: batch, steps, heads, head sizes, and how decay and beta are laid out. */
function linearParams(ctx: Ctx, node: Node) {
  const bad = (what: string) => new CompileError('invalid', `LinearAttention ${node.name}: ${what}`);
  const [q, k, v] = [0, 1, 2].map((i) => floatInput(ctx, node, i, ['query', 'key', 'value'][i]));
  if (!q || !k || !v) throw bad('query, key and value are required');
  if (q.shape.length !== 3 || k.shape.length !== 3 || v.shape.length !== 3) throw bad(`query, key and value must be 3-D, not [${q.shape}], [${k.shape}] and [${v.shape}]`);
  const rule = attrString(node, 'update_rule', 'gated_delta');
  if (!['linear', 'gated', 'delta', 'gated_delta'].includes(rule)) throw bad(`update_rule "${rule}" is not one of linear, gated, delta, gated_delta`);
  const Hq = attrInt(node, 'q_num_heads', 0);
  const Hkv = attrInt(node, 'kv_num_heads', 0);
  if (!(Hq > 0) || !(Hkv > 0) || Hq % Hkv !== 0) throw bad(`q_num_heads (${Hq}) must be a positive multiple of kv_num_heads (${Hkv})`);
  const [B, T] = q.shape;
  if (q.shape[2] % Hq || v.shape[2] % Hkv) throw bad(`hidden sizes ${q.shape[2]} and ${v.shape[2]} are not multiples of the heads (${Hq}, ${Hkv})`);
  const dk = q.shape[2] / Hq;
  const dv = v.shape[2] / Hkv;
  if (k.shape.join() !== `${B},${T},${Hkv * dk}` || v.shape[0] !== B || v.shape[1] !== T) throw bad(`key [${k.shape}] and value [${v.shape}] do not fit query [${q.shape}]`);
  const past = floatInput(ctx, node, 3, 'past_state');
  if (past && past.shape.join() !== `${B},${Hkv},${dk},${dv}`) throw bad(`past_state must be [${B}, ${Hkv}, ${dk}, ${dv}], not [${past.shape}]`);
  const gated = rule === 'gated' || rule === 'gated_delta';
  const delta = rule === 'delta' || rule === 'gated_delta';
  const decay = floatInput(ctx, node, 4, 'decay');
  const beta = floatInput(ctx, node, 5, 'beta');
  if (gated !== !!decay) throw bad(`update_rule "${rule}" ${gated ? 'needs' : 'takes no'} decay`);
  if (delta !== !!beta) throw bad(`update_rule "${rule}" ${delta ? 'needs' : 'takes no'} beta`);
  const lastOf = (t: Tensor | undefined, what: string, allowed: number[]) => {
    if (!t) return 0;
    const last = t.shape[2];
    if (t.shape.length !== 3 || t.shape[0] !== B || t.shape[1] !== T || !allowed.includes(last)) throw bad(`${what} must be [${B}, ${T}, one of ${[...new Set(allowed)].join(' or ')}], not [${t.shape}]`);
    return last;
  };
  const decayLast = lastOf(decay, 'decay', [Hkv, Hkv * dk]);
  const betaLast = lastOf(beta, 'beta', [Hkv, 1]);
  const s = attrFloat(node, 'scale', 0);
  const scale = s === 0 ? 1 / Math.sqrt(dk) : s;
  return { q, past, B, T, Hq, Hkv, dk, dv, gated, delta, decayPerKey: decayLast === Hkv * dk && decayLast !== Hkv, betaLast, scale };
}

/**
 * LinearAttention (opset 27): the recurrence over the steps of each key/value head, its state
 * [d_k, d_v] decayed by exp(decay) (gated), corrected by beta times the value minus what the
 * state retrieves for the key (delta), and added the key-value outer product; each query head of
 * the group reads the state after the step, scaled. The state is kept in float32 and is the
 * present_state output (rounded to past_state's format, or query's when there is none).
 */
const linearAttention: OpDef = {
  type: 'LinearAttention',
  infer(ctx, node) {
    const { q, past, B, T, Hq, Hkv, dk, dv } = linearParams(ctx, node);
    ctx.output(node, 0, { dtype: 'float32', shape: [B, T, Hq * dv], half: q.half });
    ctx.output(node, 1, { dtype: 'float32', shape: [B, Hkv, dk, dv], half: past ? past.half : q.half });
  },
  emit(ctx, node) {
    const { past, B, T, Hq, Hkv, dk, dv, gated, delta, decayPerKey, betaLast, scale } = linearParams(ctx, node);
    if (!B || !Hkv || !dk || !dv) return '';
    const [Q, K, V, P, G, Bt] = [0, 1, 2, 3, 4, 5].map((i) => (node.inputs[i] ? ctx.ref(node.inputs[i]) : ''));
    const Y = ctx.ref(node.outputs[0]);
    const state = node.outputs[1] ? `${ctx.ref(node.outputs[1])} + (b * ${Hkv} + g) * ${dk * dv}` : ctx.buffer('state', dk * dv);
    const group = Hq / Hkv;
    const u = ctx.buffer('update', dv);
    const row = `(b * ${T} + t)`;
    const init = past ? `memcpy(S, ${P} + (b * ${Hkv} + g) * ${dk * dv}, sizeof(float) * ${dk * dv});` : `memset(S, 0, sizeof(float) * ${dk * dv});`;
    const decayAt = decayPerKey ? `${row} * ${Hkv * dk} + g * ${dk} + d` : `${row} * ${Hkv} + g`;
    const decayCode = gated
      ? `
    for (long d = 0; d < ${dk}; d++) { const float e = expf(${G}[${decayAt}]); for (long m = 0; m < ${dv}; m++) S[d * ${dv} + m] *= e; }`
      : '';
    const updateCode = delta
      ? `
    const float beta = ${Bt}[${row} * ${betaLast} + ${betaLast === 1 ? '0' : 'g'}];
    for (long m = 0; m < ${dv}; m++) { float r = 0.0f; for (long d = 0; d < ${dk}; d++) r += S[d * ${dv} + m] * k[d]; ${u}[m] = beta * (v[m] - r); }`
      : `
    for (long m = 0; m < ${dv}; m++) ${u}[m] = v[m];`;
    return `for (long b = 0; b < ${B}; b++) for (long g = 0; g < ${Hkv}; g++) {
  float *S = ${state};
  ${init}
  for (long t = 0; t < ${T}; t++) {
    const float *k = ${K} + ${row} * ${Hkv * dk} + g * ${dk};
    const float *v = ${V} + ${row} * ${Hkv * dv} + g * ${dv};${decayCode}${updateCode}
    for (long d = 0; d < ${dk}; d++) for (long m = 0; m < ${dv}; m++) S[d * ${dv} + m] += k[d] * ${u}[m];
    for (long h = g * ${group}; h < (g + 1) * ${group}; h++) {
      const float *q = ${Q} + ${row} * ${Hq * dk} + h * ${dk};
      float *y = ${Y} + ${row} * ${Hq * dv} + h * ${dv};
      for (long m = 0; m < ${dv}; m++) { float o = 0.0f; for (long d = 0; d < ${dk}; d++) o += q[d] * S[d * ${dv} + m]; y[m] = ${flt(scale)} * o; }
    }
  }
}`;
  },
};

/** CausalConvWithState's sizes: batch, channels, length and kernel size. */
function causalParams(ctx: Ctx, node: Node) {
  const bad = (what: string) => new CompileError('invalid', `CausalConvWithState ${node.name}: ${what}`);
  const x = floatInput(ctx, node, 0, 'the input');
  const w = floatInput(ctx, node, 1, 'the weight');
  if (!x || !w) throw bad('input and weight are required');
  if (x.shape.length !== 3) throw bad(`the input must be [batch, channels, length], not [${x.shape}]`);
  const [B, C, L] = x.shape;
  const K = w.shape[2];
  if (w.shape.length !== 3 || w.shape[0] !== C || w.shape[1] !== 1 || !(K >= 1)) throw bad(`the weight must be [${C}, 1, k] with k at least 1, not [${w.shape}]`);
  const bias = floatInput(ctx, node, 2, 'the bias');
  if (bias && bias.shape.join() !== String(C)) throw bad(`the bias must be [${C}], not [${bias.shape}]`);
  const past = floatInput(ctx, node, 3, 'past_state');
  if (past && past.shape.join() !== `${B},${C},${K - 1}`) throw bad(`past_state must be [${B}, ${C}, ${K - 1}], not [${past.shape}]`);
  const activation = attrString(node, 'activation', 'none');
  if (!['none', 'silu', 'swish'].includes(activation)) throw bad(`activation "${activation}" is not one of none, silu, swish`);
  return { x, B, C, L, K, bias: !!bias, past: !!past, silu: activation !== 'none' };
}

/**
 * CausalConvWithState (opset 27): a depthwise 1-D convolution of each channel over its past
 * (past_state, or zeros) followed by the input, each output position seeing itself and the k - 1
 * before it, plus the bias, then SiLU if asked; present_state is the last k - 1 positions of past
 * and input together.
 */
const causalConv: OpDef = {
  type: 'CausalConvWithState',
  infer(ctx, node) {
    const { x, B, C, K } = causalParams(ctx, node);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
    ctx.output(node, 1, { dtype: 'float32', shape: [B, C, K - 1] });
  },
  emit(ctx, node) {
    const { B, C, L, K, bias, past, silu } = causalParams(ctx, node);
    const [X, W, Bi, P] = [0, 1, 2, 3].map((i) => (node.inputs[i] ? ctx.ref(node.inputs[i]) : ''));
    const Y = ctx.ref(node.outputs[0]);
    // Position p of the past and input together: the past's first k - 1, the input's after.
    const at = (p: string) => `(${p} < ${K - 1} ? ${past ? `${P}[(b * ${C} + c) * ${K - 1} + ${p}]` : '0.0f'} : ${X}[(b * ${C} + c) * ${L} + ${p} - ${K - 1}])`;
    // An empty present_state (a kernel of one) is still the entry point's output: referenced, so that nothing is left unused.
    const empty = node.outputs[1] && K === 1 ? `\n(void)${ctx.ref(node.outputs[1])};` : '';
    const state = node.outputs[1] && K > 1 ? `\n  for (long p = 0; p < ${K - 1}; p++) ${ctx.ref(node.outputs[1])}[(b * ${C} + c) * ${K - 1} + p] = ${at(`(${L} + p)`)};` : '';
    return `for (long b = 0; b < ${B}; b++) for (long c = 0; c < ${C}; c++) {
  for (long l = 0; l < ${L}; l++) {
    float acc = ${bias ? `${Bi}[c]` : '0.0f'};
    for (long j = 0; j < ${K}; j++) acc += ${W}[c * ${K} + j] * ${at('(l + j)')};
    ${Y}[(b * ${C} + c) * ${L} + l] = ${silu ? 'acc / (1.0f + expf(-acc))' : 'acc'};
  }${state}
}${empty}`;
  },
};

/** SwiGLU (opset 28): Swish(A) * B, Swish(a) = a * sigmoid(alpha * a), on inputs of one shape. */
const swiglu: OpDef = {
  type: 'SwiGLU',
  infer(ctx, node) {
    const a = floatInput(ctx, node, 0, 'A')!;
    const b = floatInput(ctx, node, 1, 'B');
    if (!a || !b) throw new CompileError('invalid', `SwiGLU ${node.name}: A and B are required`);
    if (a.shape.join() !== b.shape.join()) throw new CompileError('invalid', `SwiGLU ${node.name}: A [${a.shape}] and B [${b.shape}] must have one shape`);
    let data: Float32Array | undefined;
    if (a.data && b.data) {
      const alpha = attrFloat(node, 'alpha', 1);
      const x = a.data as Float32Array;
      const y = b.data as Float32Array;
      data = Float32Array.from(x, (v, i) => (v / (1 + Math.exp(-alpha * v))) * y[i]);
    }
    ctx.output(node, 0, { dtype: 'float32', shape: [...a.shape], data });
  },
  emit(ctx, node) {
    const n = numel(ctx.tensor(node.inputs[0]).shape);
    const [A, Bv] = [ctx.ref(node.inputs[0]), ctx.ref(node.inputs[1])];
    const alpha = flt(attrFloat(node, 'alpha', 1));
    return `for (long i = 0; i < ${n}; i++) { const float a = ${A}[i]; ${ctx.ref(node.outputs[0])}[i] = a / (1.0f + expf(-${alpha} * a)) * ${Bv}[i]; }`;
  },
};

/** TensorScatter's layout: the axis written along, and the sizes before, along and after it. */
function scatterParams(ctx: Ctx, node: Node) {
  const bad = (what: string) => new CompileError('invalid', `TensorScatter ${node.name}: ${what}`);
  const cache = tensorOf(ctx, node, 0);
  const update = tensorOf(ctx, node, 1);
  if (!cache || !update) throw bad('past_cache and update are required');
  if (cache.dtype === 'string') throw new CompileError('unsupported', `TensorScatter ${node.name}: string tensors are not supported`);
  if (update.dtype !== cache.dtype || !!update.half !== !!cache.half) throw bad(`update (${update.dtype}) must be of past_cache's type (${cache.dtype})`);
  const rank = cache.shape.length;
  if (rank < 2) throw bad(`past_cache must have rank 2 or more, not ${rank}`);
  const axis = normAxis(attrInt(node, 'axis', -2), rank, node);
  if (axis === 0) throw bad('axis must not be the batch axis');
  if (update.shape.length !== rank || update.shape.some((d, i) => (i === axis ? d > cache.shape[i] : d !== cache.shape[i]))) throw bad(`update [${update.shape}] does not fit past_cache [${cache.shape}] along axis ${axis}`);
  const mode = attrString(node, 'mode', 'linear');
  if (mode !== 'linear' && mode !== 'circular') throw bad(`mode "${mode}" is not linear or circular`);
  const idx = tensorOf(ctx, node, 2);
  if (idx && (idx.dtype !== 'int64' || idx.shape.join() !== String(cache.shape[0]))) throw bad(`write_indices must be int64 [${cache.shape[0]}], not ${idx.dtype} [${idx.shape}]`);
  const inner = numel(cache.shape.slice(axis + 1));
  return { cache, axis, mode, idx, batch: cache.shape[0], mid: numel(cache.shape.slice(1, axis)), M: cache.shape[axis], S: update.shape[axis], inner };
}

/**
 * TensorScatter (opset 24): past_cache with update written along the axis at each batch's
 * write_indices (read at run time; zero when absent), wrapping round in circular mode. In linear
 * mode a position past the end ends the run with error 2, before anything is written.
 */
const tensorScatter: OpDef = {
  type: 'TensorScatter',
  infer(ctx, node) {
    const { cache } = scatterParams(ctx, node);
    ctx.output(node, 0, { dtype: cache.dtype, shape: [...cache.shape] });
  },
  emit(ctx, node) {
    const { cache, mode, idx, batch, mid, M, S, inner } = scatterParams(ctx, node);
    const n = numel(cache.shape);
    if (!n) return '';
    const [X, U] = [ctx.ref(node.inputs[0]), ctx.ref(node.inputs[1])];
    if (!S || !inner) return `memcpy(${ctx.ref(node.outputs[0])}, ${X}, sizeof(*${X}) * ${n});`;
    const I = idx ? ctx.ref(node.inputs[2]) : '';
    const Y = ctx.ref(node.outputs[0]);
    const start = idx ? `${I}[b]` : '0';
    const check = mode === 'linear' ? `for (long b = 0; b < ${batch}; b++) if (${start} < 0 || ${start} > ${M - S}) ${ctx.indexOutOfRange()}\n` : '';
    const pos = mode === 'linear' ? `${start} + s` : `((${start} + s) % ${M} + ${M}) % ${M}`;
    return `${check}memcpy(${Y}, ${X}, sizeof(*${Y}) * ${n});
for (long b = 0; b < ${batch}; b++) for (long o = 0; o < ${mid}; o++) for (long s = 0; s < ${S}; s++) {
  const long p = ${pos};
  memcpy(${Y} + ((b * ${mid} + o) * ${M} + p) * ${inner}, ${U} + ((b * ${mid} + o) * ${S} + s) * ${inner}, sizeof(*${Y}) * ${inner});
}`;
  },
};

export const NEWER_OPS: OpDef[] = [linearAttention, causalConv, swiglu, tensorScatter];
