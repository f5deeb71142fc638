import { CompileError, Node, numel, toNumbers } from '../ir';
import { attrFloat, attrInt, broadcastStrides, EmitContext, flt, InferContext, OpDef } from './op';

/*
 * The opset-23 transformer operators: RotaryEmbedding and Attention, as plain C loops over float32.
 * The ONNX reference implementation (onnx.reference.ops.op_attention, op_rotary_embedding) is the
 * definition followed, including its corners (a fully masked query row gives zeros), but for
 * qk_matmul_output mode 0 with softcap: the product before softcap, as the attribute's text, the
 * operator's function body and ONNX Runtime have it (the reference gives it after softcap).
 */

type Ctx = InferContext | EmitContext;

function tensorOf(ctx: Ctx, node: Node, i: number) {
  const name = node.inputs[i];
  if (!name) return undefined;
  return 'graph' in ctx ? ctx.graph.tensors.get(name) : ctx.tensor(name);
}

function floatInput(ctx: Ctx, node: Node, i: number, what: string) {
  const t = tensorOf(ctx, node, i);
  if (t && t.dtype !== 'float32') throw new CompileError('unsupported', `${node.op} ${node.name}: ${what} must be float32 (the only type supported), not ${t.dtype}`);
  return t;
}

/** RotaryEmbedding's layout: X as [B, H, S, D] (4-D) or [B, S, H * D] (3-D, num_heads given), the rotated width, and the caches. */
function rotaryParams(ctx: Ctx, node: Node) {
  const x = floatInput(ctx, node, 0, 'the input')!;
  const cos = floatInput(ctx, node, 1, 'cos_cache');
  const sin = floatInput(ctx, node, 2, 'sin_cache');
  const bad = (what: string) => new CompileError('invalid', `RotaryEmbedding ${node.name}: ${what}`);
  if (!cos || !sin) throw bad('cos_cache and sin_cache are required');
  const pos = tensorOf(ctx, node, 3);
  let B: number, S: number, H: number, D: number;
  if (x.shape.length === 4) [B, H, S, D] = x.shape;
  else if (x.shape.length === 3) {
    [B, S] = x.shape;
    H = attrInt(node, 'num_heads', 0);
    if (!(H > 0) || x.shape[2] % H !== 0) throw bad(`a 3-D input needs num_heads dividing its hidden size ${x.shape[2]}, not ${H}`);
    D = x.shape[2] / H;
  } else throw bad(`the input must have rank 3 or 4, not ${x.shape.length}`);
  const rot = attrInt(node, 'rotary_embedding_dim', 0) || D;
  if (rot % 2 !== 0 || rot > D) throw bad(`rotary_embedding_dim ${rot} must be even and at most the head size ${D}`);
  const half = rot / 2;
  if (cos.shape.join() !== sin.shape.join()) throw bad(`cos_cache [${cos.shape}] and sin_cache [${sin.shape}] differ in shape`);
  if (cos.shape[cos.shape.length - 1] !== half) throw bad(`the caches' last dimension must be rotary_embedding_dim / 2 = ${half}, not ${cos.shape[cos.shape.length - 1]}`);
  let rows: number;
  let batched = false;
  if (pos) {
    if (pos.dtype !== 'int64') throw bad(`position_ids must be int64, not ${pos.dtype}`);
    if (pos.shape.join() !== `${B},${S}` && pos.shape.join() !== `1,${S}`) throw bad(`position_ids must have shape [${B}, ${S}], not [${pos.shape}]`);
    if (cos.shape.length !== 2) throw bad(`with position_ids the caches must be [max_position, ${half}], not [${cos.shape}]`);
    rows = cos.shape[0];
    if (pos.data) {
      for (const p of toNumbers(pos)) if (p < 0 || p >= rows) throw bad(`position ${p} is out of range for caches of ${rows} positions`);
    }
  } else {
    const c = cos.shape;
    const ok = (c.length === 2 && c[0] === S) || (c.length === 3 && c[1] === S && (c[0] === B || c[0] === 1));
    if (!ok) throw bad(`without position_ids the caches must be [${B}, ${S}, ${half}], not [${c}]`);
    batched = c.length === 3 && c[0] === B && B > 1;
    rows = numel(c.slice(0, -1));
  }
  return { x, B, S, H, D, rot, half, pos, rows, batched, interleaved: attrInt(node, 'interleaved', 0) !== 0 };
}

/**
 * RotaryEmbedding (opset 23): rotates the first rotary_embedding_dim values of each head by the
 * angle of its position, in halves or interleaved pairs, with the caches indexed by position_ids
 * (read at run time: one outside [0, positions) ends the run with error 2, as ONNX Runtime fails
 * it) or taken per batch and position.
 */
const rotary: OpDef = {
  type: 'RotaryEmbedding',
  infer(ctx, node) {
    const { x } = rotaryParams(ctx, node);
    ctx.output(node, 0, { dtype: 'float32', shape: [...x.shape] });
  },
  emit(ctx, node) {
    const { x, B, S, H, D, rot, half, pos, rows, batched, interleaved } = rotaryParams(ctx, node);
    const [X, Cos, Sin] = node.inputs.map((n) => (n ? ctx.ref(n) : ''));
    const Y = ctx.ref(node.outputs[0]);
    const at = x.shape.length === 4 ? `((b * ${H} + h) * ${S} + s) * ${D}` : `(b * ${S} + s) * ${H * D} + h * ${D}`;
    let row: string;
    if (pos) {
      const P = ctx.ref(node.inputs[3]);
      const posAt = pos.shape[0] === 1 ? 's' : `b * ${S} + s`;
      row = `const int64_t r = ${P}[${posAt}]; if (r < 0 || r >= ${rows}) ${ctx.indexOutOfRange()}`;
    } else row = `const long r = ${batched ? `b * ${S} + s` : 's'};`;
    const [a, bIdx] = interleaved ? ['2 * i', '2 * i + 1'] : ['i', `i + ${half}`];
    return `for (long b = 0; b < ${B}; b++) for (long s = 0; s < ${S}; s++) {
  ${row}
  const float *c = ${Cos} + (long)r * ${half}, *sn = ${Sin} + (long)r * ${half};
  for (long h = 0; h < ${H}; h++) {
    const float *x = ${X} + ${at};
    float *y = ${Y} + ${at};
    for (long i = 0; i < ${half}; i++) {
      const float x1 = x[${a}], x2 = x[${bIdx}];
      y[${a}] = c[i] * x1 - sn[i] * x2;
      y[${bIdx}] = sn[i] * x1 + c[i] * x2;
    }${rot < D ? `\n    for (long i = ${rot}; i < ${D}; i++) y[i] = x[i];` : ''}
  }
}`;
  },
};

/** Attention's shapes: batch, heads, lengths and head sizes, from 4-D inputs or 3-D ones with q_num_heads and kv_num_heads. */
function attentionParams(ctx: Ctx, node: Node) {
  const bad = (what: string) => new CompileError('invalid', `Attention ${node.name}: ${what}`);
  const q = floatInput(ctx, node, 0, 'Q');
  const k = floatInput(ctx, node, 1, 'K');
  const v = floatInput(ctx, node, 2, 'V');
  if (!q || !k || !v) throw bad('Q, K and V are required');
  const rank = q.shape.length;
  if ((rank !== 3 && rank !== 4) || k.shape.length !== rank || v.shape.length !== rank) throw bad(`Q, K and V must all be 3-D or all 4-D, not [${q.shape}], [${k.shape}] and [${v.shape}]`);
  let B: number, qH: number, kvH: number, Sq: number, Skv: number, Dh: number, Dv: number;
  if (rank === 4) {
    [B, qH, Sq, Dh] = q.shape;
    [, kvH, Skv] = k.shape;
    Dv = v.shape[3];
    if (k.shape[0] !== B || v.shape[0] !== B || v.shape[1] !== kvH || v.shape[2] !== Skv || k.shape[3] !== Dh) throw bad(`K [${k.shape}] and V [${v.shape}] do not fit Q [${q.shape}]`);
  } else {
    qH = attrInt(node, 'q_num_heads', 0);
    kvH = attrInt(node, 'kv_num_heads', 0);
    if (!(qH > 0) || !(kvH > 0)) throw bad('3-D inputs need the q_num_heads and kv_num_heads attributes');
    [B, Sq] = q.shape;
    Skv = k.shape[1];
    if (q.shape[2] % qH || k.shape[2] % kvH || v.shape[2] % kvH) throw bad(`hidden sizes ${q.shape[2]}, ${k.shape[2]} and ${v.shape[2]} are not multiples of the heads (${qH}, ${kvH})`);
    Dh = q.shape[2] / qH;
    Dv = v.shape[2] / kvH;
    if (k.shape[0] !== B || v.shape[0] !== B || v.shape[1] !== Skv || k.shape[2] / kvH !== Dh) throw bad(`K [${k.shape}] and V [${v.shape}] do not fit Q [${q.shape}]`);
  }
  if (qH % kvH !== 0) throw bad(`q_num_heads ${qH} must be a multiple of kv_num_heads ${kvH}`);
  const pk = floatInput(ctx, node, 4, 'past_key');
  const pv = floatInput(ctx, node, 5, 'past_value');
  if (!pk !== !pv) throw bad('past_key and past_value must be given together');
  const P = pk ? pk.shape[2] : 0;
  if (pk && (pk.shape.join() !== `${B},${kvH},${P},${Dh}` || pv!.shape.join() !== `${B},${kvH},${P},${Dv}`)) throw bad(`past_key [${pk.shape}] and past_value [${pv!.shape}] must be [${B}, ${kvH}, past, ${Dh}] and [${B}, ${kvH}, past, ${Dv}]`);
  const T = P + Skv;
  const mask = tensorOf(ctx, node, 3);
  let M = T;
  if (mask) {
    if (mask.dtype !== 'bool' && mask.dtype !== 'float32') throw new CompileError('unsupported', `Attention ${node.name}: attn_mask must be bool or float32, not ${mask.dtype}`);
    const ms = mask.shape;
    if (ms.length < 1 || ms.length > 4) throw bad(`attn_mask must have rank 1 to 4, not ${ms.length}`);
    M = ms[ms.length - 1];
    const full = [B, qH, Sq];
    const lead = ms.slice(0, -1);
    if (M > T || lead.some((d, i) => d !== 1 && d !== full[full.length - lead.length + i])) throw bad(`attn_mask [${ms}] does not broadcast to [${B}, ${qH}, ${Sq}, ${T}]`);
  }
  const nonpad = tensorOf(ctx, node, 6);
  if (nonpad) {
    if (pk) throw bad('nonpad_kv_seqlen cannot be used with past_key and past_value');
    if (nonpad.dtype !== 'int64' || nonpad.shape.join() !== String(B)) throw bad(`nonpad_kv_seqlen must be int64 of shape [${B}]`);
  }
  const precision = node.attrs.softmax_precision === undefined ? 1 : attrInt(node, 'softmax_precision', 1);
  if (precision !== 1 && precision !== 11) throw new CompileError('unsupported', `Attention ${node.name}: softmax_precision ${precision} (float and double are supported)`);
  const left = attrInt(node, 'left_window_size', -1);
  const right = attrInt(node, 'right_window_size', -1);
  if (left < -1 || right < -1) throw bad(`left_window_size ${left} and right_window_size ${right} must be -1 or more`);
  const mode = attrInt(node, 'qk_matmul_output_mode', 0);
  if (mode < 0 || mode > 3) throw bad(`qk_matmul_output_mode ${mode} is not defined`);
  return { rank, B, qH, kvH, Sq, Skv, Dh, Dv, P, T, mask, M, nonpad: !!nonpad, precision, mode, left, right };
}

/**
 * Attention (opsets 23 and 24): softmax(Q K^T x scale, softcapped, plus the mask) V for every
 * query head, the keys and values of heads shared by q_num_heads / kv_num_heads query heads
 * (grouped-query attention); 3-D or 4-D inputs; a bool or float attn_mask broadcast to [batch,
 * heads, queries, keys] and shorter than the keys if need be (the rest masked); is_causal aligned
 * to the bottom right (past keys all visible); past_key and past_value concatenated before the new
 * ones into present_key and present_value; qk_matmul_output in each mode; nonpad_kv_seqlen (opset
 * 24) read at run time; left_window_size and right_window_size (opset 25), aligned as is_causal.
 * Products and the softmax are taken in float, or with softmax_precision double the softmax in double.
 */
const attention: OpDef = {
  type: 'Attention',
  infer(ctx, node) {
    const { rank, B, qH, kvH, Sq, Dh, Dv, T } = attentionParams(ctx, node);
    ctx.output(node, 0, { dtype: 'float32', shape: rank === 4 ? [B, qH, Sq, Dv] : [B, Sq, qH * Dv] });
    ctx.output(node, 1, { dtype: 'float32', shape: [B, kvH, T, Dh] });
    ctx.output(node, 2, { dtype: 'float32', shape: [B, kvH, T, Dv] });
    ctx.output(node, 3, { dtype: 'float32', shape: [B, qH, Sq, T] });
  },
  emit(ctx, node) {
    const { rank, B, qH, kvH, Sq, Skv, Dh, Dv, P, T, mask, M, nonpad, precision, mode, left, right } = attentionParams(ctx, node);
    const [Q, K, V, Mk, PK, PV, NP] = [0, 1, 2, 3, 4, 5, 6].map((i) => (node.inputs[i] ? ctx.ref(node.inputs[i]) : ''));
    const out = (i: number) => (node.outputs[i] ? ctx.ref(node.outputs[i]) : '');
    const [Y, PKo, PVo, QK] = [0, 1, 2, 3].map(out);
    const reps = qH / kvH;
    const scale = node.attrs.scale === undefined ? 1 / Math.sqrt(Dh) : attrFloat(node, 'scale', 1);
    const softcap = attrFloat(node, 'softcap', 0);
    const causal = attrInt(node, 'is_causal', 0) !== 0;
    const acc = precision === 11 ? 'double' : 'float';
    const exp = precision === 11 ? 'exp' : 'expf';
    // Where row j of head g of batch b starts in K or V (new keys only), and in the past.
    const kvAt = (D: number, j: string) => (rank === 4 ? `((b * ${kvH} + g) * ${Skv} + ${j}) * ${D}` : `(b * ${Skv} + ${j}) * ${kvH * D} + g * ${D}`);
    const pastAt = (D: number, j: string) => `((b * ${kvH} + g) * ${P} + ${j}) * ${D}`;
    const keyRow = (base: string, past: string, D: number) => (P ? `(j < ${P} ? ${past} + ${pastAt(D, 'j')} : ${base} + ${kvAt(D, `j - ${P}`)})` : `${base} + ${kvAt(D, 'j')}`);
    const qAt = rank === 4 ? `((b * ${qH} + h) * ${Sq} + i) * ${Dh}` : `(b * ${Sq} + i) * ${qH * Dh} + h * ${Dh}`;
    const yAt = rank === 4 ? `((b * ${qH} + h) * ${Sq} + i) * ${Dv}` : `(b * ${Sq} + i) * ${qH * Dv} + h * ${Dv}`;
    const qkAt = `((b * ${qH} + h) * ${Sq} + i) * ${T} + j`;
    const code: string[] = [];
    // present_key and present_value: the past, then the new rows, per batch and head.
    for (const [dst, base, past, D] of [[PKo, K, PK, Dh], [PVo, V, PV, Dv]] as [string, string, string, number][]) {
      if (!dst) continue;
      code.push(`for (long b = 0; b < ${B}; b++) for (long g = 0; g < ${kvH}; g++) for (long j = 0; j < ${T}; j++) memcpy(${dst} + ((b * ${kvH} + g) * ${T} + j) * ${D}, ${keyRow(base, past, D)}, sizeof(float) * ${D});`);
    }
    // The additive bias of key j for query i: the mask, the causal frontier, the keys past nonpad_kv_seqlen.
    const bias: string[] = [];
    if (mask) {
      const ms = broadcastStrides(mask.shape, [B, qH, Sq, M]);
      const mAt = ['b', 'h', 'i', 'j'].map((v, k) => (ms[k] === 0 ? '' : ms[k] === 1 ? v : `${v} * ${ms[k]}`)).filter(Boolean).join(' + ') || '0';
      const inMask = M < T ? `j < ${M} && ` : '';
      bias.push(mask.dtype === 'bool' ? `if (!(${inMask}${Mk}[${mAt}])) bias = -INFINITY;` : `bias = ${inMask ? `j < ${M} ? ${Mk}[${mAt}] : -INFINITY` : `${Mk}[${mAt}]`};`);
    }
    // Query i sits at position i + offset among the keys: after the past, or its batch's keys.
    const at = nonpad ? `(i + limit - ${Sq})` : P ? `(i + ${P})` : 'i';
    if (causal) bias.push(`if (j > ${at}) bias += -INFINITY;`);
    if (left >= 0) bias.push(`if (${at} - j > ${left}) bias += -INFINITY;`);
    if (right >= 0) bias.push(`if (j - ${at} > ${right}) bias += -INFINITY;`);
    if (nonpad) bias.push('if (j >= limit) bias += -INFINITY;');
    const zeroRow = `for (long e = 0; e < ${Dv}; e++) y[e] = 0.0f;${QK && mode === 3 ? `\n      for (long j = 0; j < ${T}; j++) ${QK}[${qkAt}] = 0.0f;` : ''}`;
    const sc = ctx.buffer(`${node.name}: one row of scores`, T);
    // The keys of one head, transposed (kt[e * T + j]), so that a row of scores is a sum of rows (vectorised over the keys).
    const kt = ctx.buffer(`${node.name}: the keys of one head, transposed`, T * Dh);
    code.push(`for (long b = 0; b < ${B}; b++) {${nonpad ? `\n  const long limit = ${NP}[b] < ${T} ? (long)${NP}[b] : ${T};` : ''}
  for (long g = 0; g < ${kvH}; g++) {
    for (long j = 0; j < ${T}; j++) {
      const float *k = ${keyRow(K, PK, Dh)};
      for (long e = 0; e < ${Dh}; e++) ${kt}[e * ${T} + j] = k[e];
    }
    for (long h = g * ${reps}; h < (g + 1) * ${reps}; h++) for (long i = 0; i < ${Sq}; i++) {
      const float *q = ${Q} + ${qAt};
      float *y = ${Y} + ${yAt};
      for (long j = 0; j < ${T}; j++) ${sc}[j] = 0.0f;
      for (long e = 0; e < ${Dh}; e++) {
        const float qe = q[e], *kr = ${kt} + e * ${T};
        for (long j = 0; j < ${T}; j++) ${sc}[j] += qe * kr[j];
      }
      float mx = -INFINITY;
      int open = 0;
      for (long j = 0; j < ${T}; j++) {
        float d = ${sc}[j] * ${flt(scale)};${QK && mode === 0 ? `\n        ${QK}[${qkAt}] = d;` : ''}${softcap > 0 ? `\n        d = ${flt(softcap)} * tanhf(d / ${flt(softcap)});` : ''}${QK && mode === 1 ? `\n        ${QK}[${qkAt}] = d;` : ''}
        float bias = 0.0f;${bias.map((l) => `\n        ${l}`).join('')}
        if (bias != -INFINITY) open = 1;
        d += bias;${QK && mode === 2 ? `\n        ${QK}[${qkAt}] = d;` : ''}
        ${sc}[j] = d;
        if (d > mx) mx = d;
      }
      ${zeroRow.replace(/\n/g, '\n  ')}
      if (!open || mx == -INFINITY) continue;
      ${acc} sum = 0;
      for (long j = 0; j < ${T}; j++) { const ${acc} p = ${exp}((${acc})${sc}[j] - (${acc})mx); ${sc}[j] = (float)p; sum += p; }
      for (long j = 0; j < ${T}; j++) {
        const float p = (float)(${sc}[j] / sum);${QK && mode === 3 ? `\n        ${QK}[${qkAt}] = p;` : ''}
        const float *v = ${keyRow(V, PV, Dv)};
        for (long e = 0; e < ${Dv}; e++) y[e] += p * v[e];
      }
    }
  }
}`);
    return code.join('\n');
  },
};

export const ATTENTION_OPS: OpDef[] = [rotary, attention];
