import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, TARGETS, X86 } from '../test/ort-harness';
import { compileModel } from './compile';
import { compileModelCuda } from './cuda/generate';
import { CompileError } from './ir';

/*
 * RotaryEmbedding and Attention (opset 23): compiled, built with clang for x86_64 and aarch64
 * (under qemu), run on seeded inputs and compared with ONNX Runtime, on awkward sizes (1, 3, 17).
 * Where ONNX Runtime departs from the ONNX definition (the masked scores of qk_matmul_output mode
 * 2) or refuses the case (masks shorter than the keys or broadcast over the queries,
 * nonpad_kv_seqlen of opset 24, the windows of opset 25), the expected values come from
 * attentionRef below, a transcription into TypeScript, in double, of the ONNX reference
 * implementation (onnx.reference.ops.op_attention), which defines it.
 */

const DT = onnx.TensorProto.DataType;
const TOL = { rtol: 1e-4, atol: 1e-5 };

type Attrs = Record<string, number>;

interface RefInputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  qShape: number[];
  kShape: number[];
  vShape: number[];
  mask?: { data: ArrayLike<number>; shape: number[]; bool: boolean };
  past?: { key: Float32Array; value: Float32Array; length: number };
  nonpad?: number[];
}

/**
 * onnx.reference.ops.op_attention._compute_attention, in TypeScript: Y (in Q's layout) and
 * qk_matmul_output for a mode; present key and value are the concatenations it makes.
 */
function attentionRef(x: RefInputs, attrs: Attrs): { y: Float32Array; yShape: number[]; qk: Float32Array } {
  const rank = x.qShape.length;
  let B: number, qH: number, kvH: number, Sq: number, Skv: number, Dh: number, Dv: number;
  if (rank === 4) {
    [B, qH, Sq, Dh] = x.qShape;
    [, kvH, Skv] = x.kShape;
    Dv = x.vShape[3];
  } else {
    qH = attrs.q_num_heads;
    kvH = attrs.kv_num_heads;
    [B, Sq] = x.qShape;
    Skv = x.kShape[1];
    Dh = x.qShape[2] / qH;
    Dv = x.vShape[2] / kvH;
  }
  // Element (b, head, s, e) of Q, K or V in its own layout.
  const at = (t: Float32Array, shape: number[], H: number, D: number, b: number, hd: number, s: number, e: number) =>
    rank === 4 ? t[((b * H + hd) * shape[2] + s) * D + e] : t[(b * shape[1] + s) * H * D + hd * D + e];
  const P = x.past?.length ?? 0;
  const T = P + Skv;
  const key = (b: number, g: number, j: number, e: number) => (j < P ? x.past!.key[((b * kvH + g) * P + j) * Dh + e] : at(x.k, x.kShape, kvH, Dh, b, g, j - P, e));
  const value = (b: number, g: number, j: number, e: number) => (j < P ? x.past!.value[((b * kvH + g) * P + j) * Dv + e] : at(x.v, x.vShape, kvH, Dv, b, g, j - P, e));
  const scale = attrs.scale ?? 1 / Math.sqrt(Dh);
  const mode = attrs.qk_matmul_output_mode ?? 0;
  const left = attrs.left_window_size ?? -1;
  const right = attrs.right_window_size ?? -1;
  const y = new Float32Array(B * qH * Sq * Dv);
  const qk = new Float32Array(B * qH * Sq * T);
  const maskAt = (b: number, h: number, i: number, j: number): number => {
    const m = x.mask!;
    const full = [B, qH, Sq, m.shape[m.shape.length - 1]];
    const idx = [b, h, i, j].slice(4 - m.shape.length);
    let o = 0;
    m.shape.forEach((d, k) => (o = o * d + (d === 1 ? 0 : idx[k])));
    void full;
    return Number(m.data[o]);
  };
  for (let b = 0; b < B; b++) {
    const offset = x.nonpad ? x.nonpad[b] - Sq : P;
    for (let h = 0; h < qH; h++) {
      const g = Math.floor(h / (qH / kvH));
      for (let i = 0; i < Sq; i++) {
        const row: number[] = [];
        const bias: number[] = [];
        for (let j = 0; j < T; j++) {
          let d = 0;
          for (let e = 0; e < Dh; e++) d += at(x.q, x.qShape, qH, Dh, b, h, i, e) * key(b, g, j, e);
          d *= scale;
          const o = ((b * qH + h) * Sq + i) * T + j;
          // Mode 0 is the product before softcap, as the attribute's text and the function body define it (the reference's code takes it after).
          if (mode === 0) qk[o] = d;
          if (attrs.softcap) d = attrs.softcap * Math.tanh(d / attrs.softcap);
          if (mode === 1) qk[o] = d;
          let bs = 0;
          if (x.mask) {
            const M = x.mask.shape[x.mask.shape.length - 1];
            if (j >= M) bs = -Infinity;
            else if (x.mask.bool) bs = maskAt(b, h, i, j) ? 0 : -Infinity;
            else bs = maskAt(b, h, i, j);
          }
          if (attrs.is_causal && j > i + offset) bs += -Infinity;
          if (left >= 0 && i + offset - j > left) bs += -Infinity;
          if (right >= 0 && j - (i + offset) > right) bs += -Infinity;
          if (x.nonpad && j >= x.nonpad[b]) bs += -Infinity;
          if (mode === 2) qk[o] = d + bs;
          row.push(d + bs);
          bias.push(bs);
        }
        const masked = Math.max(...bias) === -Infinity;
        const mx = Math.max(...row);
        const p = row.map((v) => (masked || mx === -Infinity ? 0 : Math.exp(v - mx)));
        const sum = p.reduce((a, c) => a + c, 0) || 1;
        for (let j = 0; j < T; j++) {
          const w = p[j] / sum;
          if (mode === 3) qk[((b * qH + h) * Sq + i) * T + j] = w;
          for (let e = 0; e < Dv; e++) {
            const o = rank === 4 ? ((b * qH + h) * Sq + i) * Dv + e : (b * Sq + i) * qH * Dv + h * Dv + e;
            y[o] += w * value(b, g, j, e);
          }
        }
      }
    }
  }
  return { y, yShape: rank === 4 ? [B, qH, Sq, Dv] : [B, Sq, qH * Dv], qk };
}

describe('RotaryEmbedding and Attention against ONNX Runtime and the ONNX reference', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('RotaryEmbedding: 4-D and 3-D inputs, halves and interleaved pairs, a partial rotary_embedding_dim, position_ids read at run time or caches per position', async () => {
    const b = new ModelBuilder(23);
    const f = floats(31);
    const feeds: Record<string, ort.Tensor> = {};
    const input = (name: string, shape: number[], t?: ort.Tensor) => {
      feeds[name] = t ?? f(shape, -2, 2);
      return b.input(name, shape, t?.type === 'int64' ? DT.INT64 : DT.FLOAT);
    };
    const angles = (rows: number, half: number) => {
      const c: number[] = [];
      const s: number[] = [];
      for (let r = 0; r < rows; r++) for (let i = 0; i < half; i++) {
        const a = r / 10000 ** ((2 * i) / (2 * half));
        c.push(Math.cos(a));
        s.push(Math.sin(a));
      }
      return [c, s];
    };
    // Position ids into caches of 17 positions: [2, 3] queries of 4 heads of 8.
    const [c17, s17] = angles(17, 4);
    const cos = b.weight('cos', [17, 4], c17);
    const sin = b.weight('sin', [17, 4], s17);
    const pos = input('pos', [2, 3], new ort.Tensor('int64', BigInt64Array.from([0n, 5n, 16n, 3n, 16n, 7n]), [2, 3]));
    const x4 = input('x4', [2, 4, 3, 8]);
    for (const interleaved of [0, 1]) b.output(b.op('RotaryEmbedding', [x4, cos, sin, pos], { interleaved }));
    const x3 = input('x3', [2, 3, 32]);
    for (const interleaved of [0, 1]) b.output(b.op('RotaryEmbedding', [x3, cos, sin, pos], { interleaved, num_heads: 4 }));
    // A rotary_embedding_dim of 4 of 10: the last six pass through.
    const [c2, s2] = angles(17, 2);
    const cosP = b.weight('cosP', [17, 2], c2);
    const sinP = b.weight('sinP', [17, 2], s2);
    const x10 = input('x10', [2, 1, 3, 10]);
    for (const interleaved of [0, 1]) b.output(b.op('RotaryEmbedding', [x10, cosP, sinP, pos], { interleaved, rotary_embedding_dim: 4 }));
    // No position ids: caches per batch and position, at run time.
    const cb = input('cb', [2, 17, 3]);
    const sb = input('sb', [2, 17, 3]);
    const x17 = input('x17', [2, 17, 18]);
    for (const interleaved of [0, 1]) b.output(b.op('RotaryEmbedding', [x17, cb, sb], { interleaved, num_heads: 3 }));
    const x1 = input('x1', [2, 3, 17, 6]);
    b.output(b.op('RotaryEmbedding', [x1, cb, sb]));
    await h.assertSameAsOrt(b.build('rotary'), feeds, TARGETS, TOL);
  });

  it('RotaryEmbedding with a position id out of range (negative, or past the caches) makes the run fail with 2', async () => {
    const b = new ModelBuilder(23);
    b.output(b.op('RotaryEmbedding', [b.input('x', [1, 1, 2, 4]), b.weight('c', [3, 2], [1, 1, 1, 1, 1, 1]), b.weight('s', [3, 2], [0, 0, 0, 0, 0, 0]), b.input('p', [1, 2], DT.INT64)]));
    const bytes = b.build('rotary_oob');
    for (const [bad, status] of [[3n, 107], [-1n, 107], [1n << 32n, 107], [2n, 0]] as [bigint, number][]) {
      const r = await h.runRaw(bytes, [new Float32Array(8), BigInt64Array.from([0n, bad])], X86);
      assert.equal(r.status, status, `${bad}: ${r.stderr}`);
      assert.match(r.header, /or 2 when an index the model reads at run time \(Gather, GatherElements, GatherND,\n \* ScatterElements, ScatterND, RotaryEmbedding\) is out of range/);
    }
  });

  it('Attention: 4-D and 3-D, self and cross, scale, softcap, grouped and multi-query heads, head sizes of 1, 3 and 17, values of another size', async () => {
    const b = new ModelBuilder(23);
    const f = floats(41);
    const feeds: Record<string, ort.Tensor> = {};
    let n = 0;
    const add = (shapes: number[][], attrs: Attrs) => {
      const ins = shapes.map((shape) => {
        const name = `a${n++}`;
        feeds[name] = f(shape, -1.5, 1.5);
        return b.input(name, shape);
      });
      b.output(b.op('Attention', ins, attrs));
    };
    add([[2, 3, 5, 8], [2, 3, 5, 8], [2, 3, 5, 8]], {});
    add([[1, 2, 3, 17], [1, 2, 17, 17], [1, 2, 17, 3]], { scale: 0.125 });
    add([[2, 4, 3, 1], [2, 2, 5, 1], [2, 2, 5, 3]], { softcap: 2.5 });
    add([[1, 6, 17, 4], [1, 1, 17, 4], [1, 1, 17, 5]], { is_causal: 1 });
    add([[2, 5, 3 * 4], [2, 7, 3 * 4], [2, 7, 3 * 2]], { q_num_heads: 3, kv_num_heads: 3 });
    add([[1, 17, 6 * 3], [1, 17, 2 * 3], [1, 17, 2 * 5]], { q_num_heads: 6, kv_num_heads: 2, is_causal: 1, scale: 0.3, softcap: 1.5 });
    add([[1, 1, 1, 3], [1, 1, 1, 3], [1, 1, 1, 1]], {});
    await h.assertSameAsOrt(b.build('attention'), feeds, TARGETS, TOL);
  });

  it('Attention masks: bool and float, of rank 2, 3 and 4, with is_causal', async () => {
    const b = new ModelBuilder(23);
    const f = floats(42);
    const feeds: Record<string, ort.Tensor> = {};
    const q = b.input('q', [2, 4, 5, 8]);
    const k = b.input('k', [2, 2, 7, 8]);
    const v = b.input('v', [2, 2, 7, 3]);
    feeds.q = f([2, 4, 5, 8]);
    feeds.k = f([2, 2, 7, 8]);
    feeds.v = f([2, 2, 7, 3]);
    let n = 0;
    const mask = (shape: number[], bool: boolean) => {
      const name = `m${n++}`;
      const count = shape.reduce((a, c) => a * c, 1);
      // Bool masks keep key 0 open in every row, so that no row is fully masked (ONNX Runtime gives such rows otherwise).
      feeds[name] = bool ? new ort.Tensor('bool', Uint8Array.from({ length: count }, (_, i) => (i % shape[shape.length - 1] === 0 || (i * 7919) % 3 !== 0 ? 1 : 0)), shape) : f(shape, -2, 1);
      return b.input(name, shape, bool ? DT.BOOL : DT.FLOAT);
    };
    for (const bool of [true, false]) {
      b.output(b.op('Attention', [q, k, v, mask([5, 7], bool)]));
      b.output(b.op('Attention', [q, k, v, mask([4, 5, 7], bool)]));
      b.output(b.op('Attention', [q, k, v, mask([2, 1, 5, 7], bool)]));
      b.output(b.op('Attention', [q, k, v, mask([2, 4, 5, 7], bool)], { is_causal: 1 }));
    }
    await h.assertSameAsOrt(b.build('attention_masks'), feeds, TARGETS, TOL);
  });

  it('Attention with past_key and past_value: present key and value, causal masking aligned after the past, 3-D and 4-D, grouped heads', async () => {
    const b = new ModelBuilder(23);
    const f = floats(43);
    const feeds: Record<string, ort.Tensor> = {};
    const input = (name: string, shape: number[]) => {
      feeds[name] = f(shape);
      return b.input(name, shape);
    };
    const four = b.node('Attention', [input('q', [1, 4, 3, 8]), input('k', [1, 2, 3, 8]), input('v', [1, 2, 3, 5]), '', input('pk', [1, 2, 17, 8]), input('pv', [1, 2, 17, 5])], { is_causal: 1 }, 3);
    four.forEach((o) => b.output(o));
    const three = b.node('Attention', [input('q3', [2, 1, 3 * 4]), input('k3', [2, 1, 3 * 4]), input('v3', [2, 1, 3 * 2]), input('mask', [2, 3, 1, 6]), input('pk3', [2, 3, 5, 4]), input('pv3', [2, 3, 5, 2])], { q_num_heads: 3, kv_num_heads: 3 }, 3);
    three.forEach((o) => b.output(o));
    await h.assertSameAsOrt(b.build('attention_past'), feeds, TARGETS, TOL);
  });

  it('Attention qk_matmul_output modes 0 (before softcap), 1 (after) and 3 (the softmax), and a fully masked row, which gives zeros', async () => {
    const b = new ModelBuilder(23);
    const f = floats(45);
    const feeds: Record<string, ort.Tensor> = { q: f([2, 2, 4, 3]), k: f([2, 1, 6, 3]), v: f([2, 1, 6, 2]) };
    // Row 1 of batch 0 is fully masked.
    feeds.m = new ort.Tensor('bool', Uint8Array.from({ length: 2 * 4 * 6 }, (_, i) => (Math.floor(i / 6) === 1 ? 0 : (i * 31) % 4 !== 0 ? 1 : 0)), [2, 1, 4, 6]);
    const ins = [b.input('q', [2, 2, 4, 3]), b.input('k', [2, 1, 6, 3]), b.input('v', [2, 1, 6, 2]), b.input('m', [2, 1, 4, 6], DT.BOOL)];
    for (const mode of [0, 1, 3]) {
      const [y, , , qk] = b.node('Attention', ins, { qk_matmul_output_mode: mode, softcap: 1.5 }, 4);
      b.output(y);
      b.output(qk);
    }
    const r = await h.assertSameAsOrt(b.build('attention_qk'), feeds, TARGETS, TOL);
    const y = new Float32Array(r.outputs[0].buffer.slice(r.outputs[0].byteOffset, r.outputs[0].byteOffset + r.outputs[0].byteLength));
    assert.deepEqual([...y.slice(2, 4)], [0, 0]);
  });

  it('Attention against the ONNX reference where ONNX Runtime differs or refuses: masked scores of -inf in qk_matmul_output mode 2, masks shorter than the keys or broadcast over the queries, nonpad_kv_seqlen (opset 24), left and right windows (opset 25)', async () => {
    const f = floats(44);
    const qShape = [2, 2, 4, 3];
    const kShape = [2, 1, 6, 3];
    const vShape = [2, 1, 6, 2];
    const [q, k, v] = [qShape, kShape, vShape].map((s) => f(s).data as Float32Array);
    // Row 1 of batch 0 is fully masked; a float -inf closes key 0 of other rows.
    const boolMask = Uint8Array.from({ length: 2 * 4 * 6 }, (_, i) => (Math.floor(i / 6) === 1 ? 0 : (i * 31) % 4 !== 0 ? 1 : 0));
    const floatMask = Float32Array.from(f([4, 6], -1, 1).data as Float32Array, (x, i) => (i % 6 === 0 && i > 6 ? -Infinity : x));
    const cases: { attrs: Attrs; mask?: { data: ArrayLike<number>; shape: number[]; bool: boolean }; nonpad?: number[]; opset: number }[] = [
      { attrs: { qk_matmul_output_mode: 0, softcap: 1.5 }, mask: { data: boolMask, shape: [2, 1, 4, 6], bool: true }, opset: 23 },
      { attrs: { qk_matmul_output_mode: 1, is_causal: 1 }, mask: { data: floatMask, shape: [4, 6], bool: false }, opset: 23 },
      { attrs: { qk_matmul_output_mode: 2, softcap: 2.5, scale: 0.7 }, mask: { data: floatMask, shape: [4, 6], bool: false }, opset: 23 },
      { attrs: { qk_matmul_output_mode: 3 }, mask: { data: boolMask, shape: [2, 1, 4, 6], bool: true }, opset: 23 },
      // Masks shorter than the keys: the rest are masked (ONNX Runtime takes only masks as long as the keys).
      { attrs: { qk_matmul_output_mode: 3 }, mask: { data: boolMask.slice(0, 16), shape: [4, 4], bool: true }, opset: 23 },
      { attrs: {}, mask: { data: floatMask.slice(0, 20), shape: [1, 4, 5], bool: false }, opset: 23 },
      // A mask broadcast over the queries (ONNX Runtime takes one row per query only).
      { attrs: { is_causal: 1 }, mask: { data: floatMask.slice(0, 12), shape: [2, 1, 1, 6], bool: false }, opset: 23 },
      { attrs: { qk_matmul_output_mode: 3, is_causal: 1 }, nonpad: [5, 2], opset: 24 },
      { attrs: { qk_matmul_output_mode: 2, left_window_size: 1, is_causal: 1 }, opset: 25 },
      { attrs: { qk_matmul_output_mode: 2, left_window_size: 0, right_window_size: 2 }, mask: { data: floatMask, shape: [4, 6], bool: false }, opset: 25 },
    ];
    for (const c of cases) {
      const b = new ModelBuilder(c.opset);
      const ins = [b.input('q', qShape), b.input('k', kShape), b.input('v', vShape)];
      const feeds: Record<string, ort.Tensor> = { q: new ort.Tensor('float32', q, qShape), k: new ort.Tensor('float32', k, kShape), v: new ort.Tensor('float32', v, vShape) };
      if (c.mask) {
        ins.push(b.input('m', c.mask.shape, c.mask.bool ? DT.BOOL : DT.FLOAT));
        feeds.m = new ort.Tensor(c.mask.bool ? 'bool' : 'float32', c.mask.data as Uint8Array, c.mask.shape);
      } else ins.push('');
      if (c.nonpad) {
        ins.push('', '', b.input('np', [2], DT.INT64));
        feeds.np = new ort.Tensor('int64', BigInt64Array.from(c.nonpad, BigInt), [2]);
      }
      const [y, , , qk] = b.node('Attention', ins, c.attrs, 4);
      b.output(y);
      b.output(qk);
      const bytes = b.build('attention_ref');
      const want = attentionRef({ q, k, v, qShape, kShape, vShape, mask: c.mask, nonpad: c.nonpad }, c.attrs);
      const expected = { [y]: { dims: want.yShape, data: want.y }, [qk]: { dims: [2, 2, 4, 6], data: want.qk } };
      await h.assertSame(bytes, feeds, expected, [X86], TOL);
    }
  });

  it('refuses what it cannot compile, naming the node and why', () => {
    const cases: [string, (b: ModelBuilder) => void, string, RegExp][] = [
      ['3-D Attention without head counts', (b) => b.output(b.op('Attention', [b.input('q', [1, 2, 8]), b.input('k', [1, 2, 8]), b.input('v', [1, 2, 8])])), 'invalid', /Attention Attention_\d+: 3-D inputs need the q_num_heads and kv_num_heads attributes/],
      ['query heads not a multiple of key heads', (b) => b.output(b.op('Attention', [b.input('q', [1, 3, 2, 4]), b.input('k', [1, 2, 2, 4]), b.input('v', [1, 2, 2, 4])])), 'invalid', /q_num_heads 3 must be a multiple of kv_num_heads 2/],
      ['a mask that does not broadcast', (b) => b.output(b.op('Attention', [b.input('q', [1, 2, 3, 4]), b.input('k', [1, 2, 5, 4]), b.input('v', [1, 2, 5, 4]), b.input('m', [3, 3, 5])])), 'invalid', /attn_mask \[3,3,5\] does not broadcast to \[1, 2, 3, 5\]/],
      ['past_key without past_value', (b) => b.output(b.op('Attention', [b.input('q', [1, 2, 3, 4]), b.input('k', [1, 2, 3, 4]), b.input('v', [1, 2, 3, 4]), '', b.input('pk', [1, 2, 2, 4])])), 'invalid', /past_key and past_value must be given together/],
      ['a half softmax_precision', (b) => b.output(b.op('Attention', [b.input('q', [1, 2, 3, 4]), b.input('k', [1, 2, 3, 4]), b.input('v', [1, 2, 3, 4])], { softmax_precision: 10 })), 'unsupported', /softmax_precision 10 \(float and double are supported\)/],
      ['float64 Attention', (b) => b.output(b.op('Attention', [b.input('q', [1, 2, 3, 4], DT.DOUBLE), b.input('k', [1, 2, 3, 4], DT.DOUBLE), b.input('v', [1, 2, 3, 4], DT.DOUBLE)]), DT.DOUBLE), 'unsupported', /Attention Attention_\d+: Q must be float32 \(the only type supported\), not float64/],
      ['RotaryEmbedding with an odd rotary_embedding_dim', (b) => b.output(b.op('RotaryEmbedding', [b.input('x', [1, 1, 2, 4]), b.weight('c', [2, 1], [1, 1]), b.weight('s', [2, 1], [0, 0]), b.int64('p', [0, 1])], { rotary_embedding_dim: 3 })), 'invalid', /RotaryEmbedding RotaryEmbedding_\d+: rotary_embedding_dim 3 must be even and at most the head size 4/],
      ['RotaryEmbedding with a constant position out of range', (b) => b.output(b.op('RotaryEmbedding', [b.input('x', [1, 1, 2, 4]), b.weight('c', [2, 2], [1, 1, 1, 1]), b.weight('s', [2, 2], [0, 0, 0, 0]), b.op('Reshape', [b.int64('p', [0, 2]), b.int64('ps', [1, 2])])])), 'invalid', /position 2 is out of range for caches of 2 positions/],
    ];
    for (const [label, make, code, message] of cases) {
      const b = new ModelBuilder(23);
      make(b);
      assert.throws(() => compileModel(b.build()), (e: unknown) => e instanceof CompileError && e.code === code && message.test(e.message), label);
    }
  });

  it('the CUDA backend refuses each of them by name', () => {
    const models: [string, (b: ModelBuilder) => void][] = [
      ['Attention', (b) => b.output(b.op('Attention', [b.input('q', [1, 2, 3, 4]), b.input('k', [1, 2, 3, 4]), b.input('v', [1, 2, 3, 4])]))],
      ['RotaryEmbedding', (b) => b.output(b.op('RotaryEmbedding', [b.input('x', [1, 1, 2, 4]), b.weight('c', [2, 2], [1, 1, 1, 1]), b.weight('s', [2, 2], [0, 0, 0, 0]), b.input('p', [1, 2], DT.INT64)]))],
    ];
    for (const [op, make] of models) {
      const b = new ModelBuilder(23);
      make(b);
      const bytes = b.build();
      compileModel(bytes);
      assert.throws(() => compileModelCuda(bytes), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && new RegExp(`the CUDA backend does not support these operators: ${op}$`).test(e.message), op);
    }
  });
});
