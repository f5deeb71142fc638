import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, X86 } from '../test/ort-harness';
import { compileModel } from './compile';
import { CompileError } from './ir';
import { RUN_ERRORS } from './ops/op';

/*
 * LinearAttention, CausalConvWithState (opset 27), SwiGLU (opset 28), Swish and TensorScatter
 * (opset 24) and FlexAttention (ai.onnx.preview): compiled, built with clang for x86_64, run on
 * seeded inputs of awkward sizes and compared with references written here from the ONNX
 * reference implementations (onnx.reference.ops.op_linear_attention and the like), in double.
 */

const DT = onnx.TensorProto.DataType;
const TOL = { rtol: 1e-4, atol: 1e-5 };

type Expected = Record<string, { dims: readonly number[]; data: Float32Array | BigInt64Array }>;

interface LinearCase {
  B: number;
  T: number;
  Hq: number;
  Hkv: number;
  dk: number;
  dv: number;
  rule: 'linear' | 'gated' | 'delta' | 'gated_delta';
  past: boolean;
  /** decay's last dimension: per key dimension or per head. */
  decayPerKey?: boolean;
  /** beta's last dimension: 1 or per head. */
  betaOne?: boolean;
  scale?: number;
}

/** onnx.reference.ops.op_linear_attention, in TypeScript: the output [B, T, Hq * dv] and the state [B, Hkv, dk, dv]. */
function linearRef(c: LinearCase, x: Record<string, Float32Array>): { y: Float32Array; state: Float32Array } {
  const { B, T, Hq, Hkv, dk, dv } = c;
  const group = Hq / Hkv;
  const scale = c.scale ?? 1 / Math.sqrt(dk);
  const y = new Float32Array(B * T * Hq * dv);
  const state = new Float32Array(B * Hkv * dk * dv);
  const gated = c.rule === 'gated' || c.rule === 'gated_delta';
  const delta = c.rule === 'delta' || c.rule === 'gated_delta';
  for (let b = 0; b < B; b++) {
    for (let g = 0; g < Hkv; g++) {
      const S = Float64Array.from({ length: dk * dv }, (_, i) => (c.past ? x.past[(b * Hkv + g) * dk * dv + i] : 0));
      for (let t = 0; t < T; t++) {
        const row = b * T + t;
        const k = (d: number) => x.key[row * Hkv * dk + g * dk + d];
        let v = Array.from({ length: dv }, (_, m) => x.value[row * Hkv * dv + g * dv + m]);
        if (gated) {
          for (let d = 0; d < dk; d++) {
            const e = Math.exp(c.decayPerKey ? x.decay[row * Hkv * dk + g * dk + d] : x.decay[row * Hkv + g]);
            for (let m = 0; m < dv; m++) S[d * dv + m] *= e;
          }
        }
        if (delta) {
          const beta = c.betaOne ? x.beta[row] : x.beta[row * Hkv + g];
          v = v.map((vm, m) => {
            let r = 0;
            for (let d = 0; d < dk; d++) r += S[d * dv + m] * k(d);
            return beta * (vm - r);
          });
        }
        for (let d = 0; d < dk; d++) for (let m = 0; m < dv; m++) S[d * dv + m] += k(d) * v[m];
        for (let h = g * group; h < (g + 1) * group; h++) {
          for (let m = 0; m < dv; m++) {
            let o = 0;
            for (let d = 0; d < dk; d++) o += x.query[row * Hq * dk + h * dk + d] * S[d * dv + m];
            y[row * Hq * dv + h * dv + m] = scale * o;
          }
        }
      }
      state.set(S, (b * Hkv + g) * dk * dv);
    }
  }
  return { y, state };
}

function linearModel(c: LinearCase): { bytes: Uint8Array; feeds: Record<string, ort.Tensor>; expected: Expected } {
  const { B, T, Hq, Hkv, dk, dv } = c;
  const m = new ModelBuilder(27);
  const rand = floats(B * 1000 + T * 100 + Hq * 10 + dk);
  const feeds: Record<string, ort.Tensor> = {};
  const put = (name: string, shape: number[], lo = -1, hi = 1) => {
    feeds[name] = rand(shape, lo, hi);
    return m.input(name, shape);
  };
  const inputs = [put('query', [B, T, Hq * dk]), put('key', [B, T, Hkv * dk], -0.5, 0.5), put('value', [B, T, Hkv * dv])];
  inputs.push(c.past ? put('past', [B, Hkv, dk, dv]) : '');
  const gated = c.rule === 'gated' || c.rule === 'gated_delta';
  const delta = c.rule === 'delta' || c.rule === 'gated_delta';
  inputs.push(gated ? put('decay', [B, T, c.decayPerKey ? Hkv * dk : Hkv], -0.7, 0) : '');
  inputs.push(delta ? put('beta', [B, T, c.betaOne ? 1 : Hkv], 0, 1) : '');
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const attrs: Record<string, number | string> = { q_num_heads: Hq, kv_num_heads: Hkv, update_rule: c.rule };
  if (c.scale !== undefined) attrs.scale = c.scale;
  const [y, s] = m.node('LinearAttention', inputs, attrs, 2);
  m.output(y);
  m.output(s);
  const data = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, t.data as Float32Array]));
  const r = linearRef(c, data);
  return { bytes: m.build(), feeds, expected: { [y]: { dims: [B, T, Hq * dv], data: r.y }, [s]: { dims: [B, Hkv, dk, dv], data: r.state } } };
}

interface CausalCase {
  B: number;
  C: number;
  L: number;
  K: number;
  bias: boolean;
  past: boolean;
  activation?: string;
}

/** onnx.reference.ops.op_causal_conv_with_state, in TypeScript. */
function causalRef(c: CausalCase, x: Record<string, Float32Array>): { y: Float32Array; state: Float32Array } {
  const { B, C, L, K } = c;
  const y = new Float32Array(B * C * L);
  const state = new Float32Array(B * C * (K - 1));
  for (let b = 0; b < B; b++) {
    for (let ch = 0; ch < C; ch++) {
      const padded = [...Array.from({ length: K - 1 }, (_, p) => (c.past ? x.past[(b * C + ch) * (K - 1) + p] : 0)), ...x.input.subarray((b * C + ch) * L, (b * C + ch + 1) * L)];
      for (let l = 0; l < L; l++) {
        let acc = c.bias ? x.bias[ch] : 0;
        for (let j = 0; j < K; j++) acc += x.weight[ch * K + j] * padded[l + j];
        y[(b * C + ch) * L + l] = c.activation && c.activation !== 'none' ? acc / (1 + Math.exp(-acc)) : acc;
      }
      for (let p = 0; p < K - 1; p++) state[(b * C + ch) * (K - 1) + p] = padded[L + p];
    }
  }
  return { y, state };
}

function causalModel(c: CausalCase): { bytes: Uint8Array; feeds: Record<string, ort.Tensor>; expected: Expected } {
  const { B, C, L, K } = c;
  const m = new ModelBuilder(27);
  const rand = floats(B * 100 + C * 10 + L + K);
  const feeds: Record<string, ort.Tensor> = {};
  const put = (name: string, shape: number[]) => {
    feeds[name] = rand(shape);
    return m.input(name, shape);
  };
  const inputs = [put('input', [B, C, L]), put('weight', [C, 1, K]), c.bias ? put('bias', [C]) : '', c.past ? put('past', [B, C, K - 1]) : ''];
  while (inputs[inputs.length - 1] === '') inputs.pop();
  const [y, s] = m.node('CausalConvWithState', inputs, c.activation ? { activation: c.activation } : {}, 2);
  m.output(y);
  m.output(s);
  const r = causalRef(c, Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, t.data as Float32Array])));
  return { bytes: m.build(), feeds, expected: { [y]: { dims: [B, C, L], data: r.y }, [s]: { dims: [B, C, K - 1], data: r.state } } };
}

/** onnx.reference.ops.aionnx_preview.op_flex_attention without score_mod and prob_mod hooks beyond the ones given as functions. */
function flexRef(q: Float32Array, k: Float32Array, v: Float32Array, qs: number[], ks: number[], Ev: number, scale: number, scoreMod: (s: number, i: number, j: number) => number, probMod: (p: number) => number): Float32Array {
  const [B, Hq, L, E] = qs;
  const [, Hkv, S] = ks;
  const y = new Float32Array(B * Hq * L * Ev);
  const root = Math.fround(Math.sqrt(Math.fround(scale)));
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const g = Math.floor(h / (Hq / Hkv));
      for (let i = 0; i < L; i++) {
        const s = Array.from({ length: S }, (_, j) => {
          let acc = 0;
          for (let e = 0; e < E; e++) acc += q[((b * Hq + h) * L + i) * E + e] * root * (k[((b * Hkv + g) * S + j) * E + e] * root);
          return scoreMod(acc, i, j);
        });
        const max = Math.max(...s);
        const ex = s.map((x) => Math.exp(x - max));
        const sum = ex.reduce((a, c) => a + c, 0);
        const p = ex.map((x) => probMod(x / sum));
        for (let e = 0; e < Ev; e++) {
          let acc = 0;
          for (let j = 0; j < S; j++) acc += p[j] * v[((b * Hkv + g) * S + j) * Ev + e];
          y[((b * Hq + h) * L + i) * Ev + e] = acc;
        }
      }
    }
  }
  return y;
}

/** A model's nodes of one operator moved to a domain the model then imports. */
function inDomain(bytes: Uint8Array, op: string, domain: string): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  for (const n of model.graph!.node!) if (n.opType === op) n.domain = domain;
  model.opsetImport!.push({ domain, version: 1 });
  return onnx.ModelProto.encode(model).finish();
}

describe('newer operators', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  const linearCases: [string, LinearCase][] = [
    ['gated_delta, per-key decay, grouped heads, past state', { B: 2, T: 3, Hq: 6, Hkv: 3, dk: 5, dv: 3, rule: 'gated_delta', past: true, decayPerKey: true }],
    ['gated_delta, per-head decay, beta of one, one key/value head', { B: 1, T: 4, Hq: 3, Hkv: 1, dk: 3, dv: 7, rule: 'gated_delta', past: false, betaOne: true }],
    ['linear, no past, one step', { B: 3, T: 1, Hq: 2, Hkv: 2, dk: 4, dv: 5, rule: 'linear', past: false }],
    ['gated, per-head decay, explicit scale', { B: 2, T: 5, Hq: 2, Hkv: 1, dk: 3, dv: 2, rule: 'gated', past: true, scale: 0.3 }],
    ['delta, beta per head', { B: 1, T: 3, Hq: 4, Hkv: 2, dk: 2, dv: 3, rule: 'delta', past: true }],
  ];
  for (const [what, c] of linearCases) {
    it(`LinearAttention: ${what}`, async () => {
      const { bytes, feeds, expected } = linearModel(c);
      await h.assertSame(bytes, feeds, expected, [X86], TOL);
    });
  }

  it('LinearAttention refuses decay with the linear rule and decay of the wrong width', () => {
    const m = new ModelBuilder(27);
    const ins = [m.input('q', [1, 2, 4]), m.input('k', [1, 2, 4]), m.input('v', [1, 2, 4]), '', m.input('d', [1, 2, 3])];
    const [y, s] = m.node('LinearAttention', ins, { q_num_heads: 1, kv_num_heads: 1, update_rule: 'gated' }, 2);
    m.output(y);
    m.output(s);
    assert.throws(() => compileModel(m.build()), (e: unknown) => e instanceof CompileError && /decay must be/.test(e.message));
  });

  const causalCases: [string, CausalCase][] = [
    ['past state, bias and SiLU', { B: 2, C: 3, L: 5, K: 4, bias: true, past: true, activation: 'silu' }],
    ['input shorter than the kernel, no past', { B: 1, C: 2, L: 2, K: 5, bias: false, past: false }],
    ['kernel of one (an empty state)', { B: 2, C: 3, L: 3, K: 1, bias: true, past: false, activation: 'swish' }],
    ['one step with past state', { B: 3, C: 5, L: 1, K: 3, bias: false, past: true }],
  ];
  for (const [what, c] of causalCases) {
    it(`CausalConvWithState: ${what}`, async () => {
      const { bytes, feeds, expected } = causalModel(c);
      await h.assertSame(bytes, feeds, expected, [X86], TOL);
    });
  }

  it('SwiGLU and Swish with alpha', async () => {
    const m = new ModelBuilder(28);
    const a = m.input('a', [3, 7]);
    const b = m.input('b', [3, 7]);
    const y = m.op('SwiGLU', [a, b], { alpha: 0.75 });
    const z = m.op('Swish', [a], { alpha: 1.5 });
    m.output(y);
    m.output(z);
    const rand = floats(7);
    const feeds = { a: rand([3, 7], -4, 4), b: rand([3, 7]) };
    const A = feeds.a.data as Float32Array;
    const Bv = feeds.b.data as Float32Array;
    const expected = {
      [y]: { dims: [3, 7], data: Float32Array.from(A, (x, i) => (x / (1 + Math.exp(-0.75 * x))) * Bv[i]) },
      [z]: { dims: [3, 7], data: Float32Array.from(A, (x) => x / (1 + Math.exp(-1.5 * x))) },
    };
    await h.assertSame(m.build(), feeds, expected, [X86], TOL);
  });

  /** TensorScatter on [3, 2, 5, 3] along axis -2 (positions 5), updates of 2, with these write indices. */
  const scatterModel = (mode: string) => {
    const m = new ModelBuilder(24);
    const y = m.op('TensorScatter', [m.input('cache', [3, 2, 5, 3]), m.input('update', [3, 2, 2, 3]), m.input('idx', [3], DT.INT64)], { mode });
    m.output(y);
    return { bytes: m.build(), y };
  };
  const scatterRef = (cache: Float32Array, update: Float32Array, idx: number[], circular: boolean) => {
    const out = Float32Array.from(cache);
    for (let b = 0; b < 3; b++)
      for (let o = 0; o < 2; o++)
        for (let s = 0; s < 2; s++) {
          const p = circular ? (((idx[b] + s) % 5) + 5) % 5 : idx[b] + s;
          for (let e = 0; e < 3; e++) out[((b * 2 + o) * 5 + p) * 3 + e] = update[((b * 2 + o) * 2 + s) * 3 + e];
        }
    return out;
  };
  for (const [mode, idx] of [
    ['linear', [0, 3, 1]],
    ['circular', [4, 2, 9]],
  ] as const) {
    it(`TensorScatter, ${mode}`, async () => {
      const { bytes, y } = scatterModel(mode);
      const rand = floats(11);
      const feeds = { cache: rand([3, 2, 5, 3]), update: rand([3, 2, 2, 3]), idx: new ort.Tensor('int64', BigInt64Array.from(idx.map(BigInt)), [3]) };
      const data = scatterRef(feeds.cache.data as Float32Array, feeds.update.data as Float32Array, [...idx], mode === 'circular');
      await h.assertSame(bytes, feeds, { [y]: { dims: [3, 2, 5, 3], data } }, [X86], TOL);
    });
  }

  it('TensorScatter ends the run with error 2 for a write past the end (linear)', async () => {
    const { bytes } = scatterModel('linear');
    const r = await h.runRaw(bytes, [new Float32Array(90), new Float32Array(36), BigInt64Array.from([0n, 4n, 0n])], X86);
    assert.equal(r.status, 107, r.stderr);
    assert.match(r.stderr, new RegExp(`returned ${RUN_ERRORS.indexOutOfRange}: an index was out of range`));
  });

  it('FlexAttention: grouped heads, value head size apart, score_mod and prob_mod graphs', async () => {
    const [B, Hq, Hkv, L, S, E, Ev] = [2, 4, 2, 3, 5, 6, 7];
    const score = new ModelBuilder(26, 'score/');
    const scores = score.input('scores', [B, Hq, L, S]);
    // A causal mask aligned to the top left, then a bias: where(i >= j, s, -inf) + 0.25.
    const li = score.int64('li', [...Array(L).keys()]);
    const lj = score.int64('lj', [...Array(S).keys()]);
    const col = score.op('Unsqueeze', [li, score.int64('ax', [1])]);
    const keep = score.op('GreaterOrEqual', [col, lj]);
    const masked = score.op('Where', [keep, scores, score.weight('ninf', [], [-Infinity])]);
    const out = score.op('Add', [masked, score.weight('bias', [], [0.25])]);
    score.output(out);
    const prob = new ModelBuilder(26, 'prob/');
    const p = prob.op('Mul', [prob.input('probs', [B, Hq, L, S]), prob.weight('half', [], [0.5])]);
    prob.output(p);
    const m = new ModelBuilder(26);
    const y = m.op('FlexAttention', [m.input('Q', [B, Hq, L, E]), m.input('K', [B, Hkv, S, E]), m.input('V', [B, Hkv, S, Ev])], { scale: 0.3, score_mod: { graph: score.graph('score') }, prob_mod: { graph: prob.graph('prob') } });
    m.output(y);
    const rand = floats(5);
    const feeds = { Q: rand([B, Hq, L, E]), K: rand([B, Hkv, S, E]), V: rand([B, Hkv, S, Ev]) };
    const data = flexRef(feeds.Q.data as Float32Array, feeds.K.data as Float32Array, feeds.V.data as Float32Array, [B, Hq, L, E], [B, Hkv, S, E], Ev, 0.3, (s, i, j) => (i >= j ? s : -Infinity) + 0.25, (x) => x * 0.5);
    await h.assertSame(inDomain(m.build(), 'FlexAttention', 'ai.onnx.preview'), feeds, { [y]: { dims: [B, Hq, L, Ev], data } }, [X86], TOL);
  });

  it('FlexAttention: the default scale, no graphs', async () => {
    const [B, H, L, S, E] = [1, 3, 4, 2, 5];
    const m = new ModelBuilder(26);
    const y = m.op('FlexAttention', [m.input('Q', [B, H, L, E]), m.input('K', [B, H, S, E]), m.input('V', [B, H, S, E])]);
    m.output(y);
    const rand = floats(9);
    const feeds = { Q: rand([B, H, L, E], -3, 3), K: rand([B, H, S, E]), V: rand([B, H, S, E]) };
    const data = flexRef(feeds.Q.data as Float32Array, feeds.K.data as Float32Array, feeds.V.data as Float32Array, [B, H, L, E], [B, H, S, E], E, 1 / Math.sqrt(E), (s) => s, (x) => x);
    await h.assertSame(inDomain(m.build(), 'FlexAttention', 'ai.onnx.preview'), feeds, { [y]: { dims: [B, H, L, E], data } }, [X86], TOL);
  });
});
