import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { prng } from '../../src/verification/inputs';
import { ModelBuilder } from '../test/builder';
import { OrtHarness, TARGETS, X86 } from '../test/ort-harness';
import { compileModel } from './compile';
import { castValue } from './ops/convert';

/*
 * The integer element types beyond int8, uint8, int32 and int64 (int16, uint16, uint32, uint64),
 * with the others: at the graph's edges, through Cast, and through the element-wise, comparison,
 * Where, data-movement and reduction operators, each compiled, built with clang for x86_64 and
 * aarch64 (under qemu), run, and compared with ONNX Runtime on values across each type's whole
 * range (wrapping arithmetic included); then the same graph with every input a constant, which
 * the compiler folds, against the same reference. Where ONNX Runtime has no kernel for a type,
 * the reference computes in a wider type (int64, or for the order of uint64 int64 with the top
 * bit flipped) and casts back, which gives the same bits.
 */

const DT = onnx.TensorProto.DataType;
type Int = 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'int64' | 'uint64';
type Kind = Int | 'float32' | 'float64' | 'bool';
const INTS: Int[] = ['int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64'];
const CODE: Record<Kind, number> = {
  int8: DT.INT8, uint8: DT.UINT8, int16: DT.INT16, uint16: DT.UINT16, int32: DT.INT32, uint32: DT.UINT32, int64: DT.INT64, uint64: DT.UINT64, float32: DT.FLOAT, float64: DT.DOUBLE, bool: DT.BOOL,
};
const ORT_TYPE: Record<Kind, ort.Tensor.Type> = { ...({} as Record<Int, ort.Tensor.Type>), int8: 'int8', uint8: 'uint8', int16: 'int16', uint16: 'uint16', int32: 'int32', uint32: 'uint32', int64: 'int64', uint64: 'uint64', float32: 'float32', float64: 'float64', bool: 'bool' };
const BITS: Record<Int, number> = { int8: 8, uint8: 8, int16: 16, uint16: 16, int32: 32, uint32: 32, int64: 64, uint64: 64 };
const unsigned = (t: Int) => t.startsWith('u');
const range = (t: Int): [bigint, bigint] => (unsigned(t) ? [0n, (1n << BigInt(BITS[t])) - 1n] : [-(1n << BigInt(BITS[t] - 1)), (1n << BigInt(BITS[t] - 1)) - 1n]);

type Values = (number | bigint)[];

function array(kind: Kind, v: Values): ArrayBufferView & { length: number } {
  switch (kind) {
    case 'float32': return Float32Array.from(v, Number);
    case 'float64': return Float64Array.from(v, Number);
    case 'bool': return Uint8Array.from(v, (x) => (Number(x) ? 1 : 0));
    case 'int8': return Int8Array.from(v, Number);
    case 'uint8': return Uint8Array.from(v, Number);
    case 'int16': return Int16Array.from(v, Number);
    case 'uint16': return Uint16Array.from(v, Number);
    case 'int32': return Int32Array.from(v, Number);
    case 'uint32': return Uint32Array.from(v, Number);
    case 'int64': return BigInt64Array.from(v, (x) => BigInt(x));
    case 'uint64': return BigUint64Array.from(v, (x) => BigInt(x));
  }
}

const tensor = (kind: Kind, shape: number[], v: Values) => new ort.Tensor(ORT_TYPE[kind], array(kind, v) as never, shape);

/** Seeded integers over a type's whole range, its extremes, 0, 1 and -1 first. */
function ints(t: Int, n: number, seed: number, opts: { nonZero?: boolean; small?: boolean } = {}): bigint[] {
  const rand = prng(seed);
  const [lo, hi] = range(t);
  const special = opts.small ? [] : [lo, hi, 0n, 1n, ...(unsigned(t) ? [] : [-1n])];
  const out: bigint[] = [];
  for (let i = 0; i < n; i++) {
    let v: bigint;
    if (i < special.length) v = special[i];
    else if (opts.small) v = BigInt(Math.floor(rand() * 10)) - (unsigned(t) ? 0n : 4n);
    else {
      const r = (BigInt(Math.floor(rand() * 2 ** 32)) << 32n) | BigInt(Math.floor(rand() * 2 ** 32));
      v = lo + (r % (hi - lo + 1n));
    }
    // No zero divisor, and no -1 (the smallest value divided by -1 overflows): ONNX Runtime traps on both.
    if (opts.nonZero && (v === 0n || v === -1n)) v = 3n;
    out.push(v);
  }
  return out;
}

/** A tensor the graph reads: an input, or (folding) a Constant holding the same values. */
function source(b: ModelBuilder, name: string, kind: Kind, shape: number[], v: Values, constant: boolean): string {
  if (!constant) return b.input(name, shape, CODE[kind]);
  const a = array(kind, v);
  return b.op('Constant', [], { value: { tensor: { dims: shape, dataType: CODE[kind], rawData: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) } } });
}

/** ONNX Runtime's outputs, by name, its graph optimisations off (they would take the reference's widening casts out again). */
async function ortRun(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  try {
    return (await session.run(feeds)) as Record<string, ort.Tensor>;
  } finally {
    await session.release();
  }
}

describe('int16, uint16, uint32 and uint64, and the other element types, against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  /** Compiles and runs `model` on every target and compares each output, in order, with ONNX Runtime's outputs of `reference` (the same graph unless given). */
  async function check(model: Uint8Array, feeds: Record<string, ort.Tensor>, reference = model, targets = TARGETS) {
    const ref = await ortRun(reference, feeds);
    const refNames = onnx.ModelProto.decode(reference).graph!.output!.map((o) => o.name!);
    const names = onnx.ModelProto.decode(model).graph!.output!.map((o) => o.name!);
    return h.assertSame(model, feeds, Object.fromEntries(names.map((n, i) => [n, ref[refNames[i]]])), targets);
  }

  /**
   * The element-wise, comparison, Where, data-movement and reduction operators on one integer
   * type; `reference` makes the graph ONNX Runtime can run (ops it lacks for the type, widened).
   */
  function intGraph(t: Int, data: Record<string, Values>, constant: boolean, reference: boolean): Uint8Array {
    const b = new ModelBuilder(18);
    const code = CODE[t];
    const a = source(b, 'a', t, [2, 3, 4], data.a, constant);
    const d = source(b, 'd', t, [3, 1], data.d, constant);
    const s = source(b, 's', t, [2, 3, 4], data.s, constant);
    const lo = source(b, 'lo', t, [], data.lo, constant);
    const hi = source(b, 'hi', t, [], data.hi, constant);
    const cast = (x: string, to: Kind) => b.op('Cast', [x], { to: CODE[to] });
    const ortHas = (op: string): boolean => {
      const has: Record<string, Int[]> = {
        Max: ['int8', 'uint8', 'int32', 'uint32', 'int64', 'uint64'],
        Min: ['int8', 'uint8', 'int32', 'uint32', 'int64', 'uint64'],
        ReduceSum: ['int32', 'int64'], ReduceProd: ['int32', 'int64'], ReduceMean: ['int32', 'int64'], ReduceSumSquare: ['int32', 'int64'], ReduceL1: ['int32', 'int64'],
        ReduceMax: ['int8', 'uint8', 'int32', 'int64'], ReduceMin: ['int8', 'uint8', 'int32', 'int64'],
        ArgMax: ['int8', 'uint8', 'int32', 'int64'], ArgMin: ['int8', 'uint8', 'int32', 'int64'],
        Where: ['uint8', 'int32', 'int64'],
        // With bounds it is a function of Where, which it has for these.
        Clip: ['int8', 'uint8', 'int32', 'uint32', 'int64', 'uint64'],
      };
      return !has[op] || has[op].includes(t);
    };
    const ordered = new Set(['Max', 'Min', 'ReduceMax', 'ReduceMin', 'ArgMax', 'ArgMin']);
    /** op on inputs of type t; for the reference without a kernel, in int64 (uint64's order: its top bit flipped first). */
    const apply = (op: string, ins: string[], attrs: Record<string, number | number[]> = {}, out: Kind = t): string => {
      // ONNX Runtime takes 64-bit integers through double for fmod=1, which rounds large ones: a - (a / b) * b is exact.
      if (reference && op === 'Mod' && attrs.fmod === 1 && BITS[t] === 64) return b.op('Sub', [ins[0], b.op('Mul', [b.op('Div', ins), ins[1]])]);
      if (!reference || ortHas(op)) return b.op(op, ins, attrs);
      const flip = t === 'uint64' && ordered.has(op);
      const top = flip ? source(b, 'top', 'uint64', [], [1n << 63n], true) : '';
      // Not the axes of a reduction, nor Where's condition.
      const widen = (x: string, k: number) => ((k > 0 && op.startsWith('Reduce')) || (k === 0 && op === 'Where') ? x : cast(flip ? b.op('BitwiseXor', [x, top]) : x, 'int64'));
      const r = b.op(op, ins.map(widen), attrs);
      if (out !== t) return r;
      const back = cast(r, t);
      return flip ? b.op('BitwiseXor', [back, top]) : back;
    };
    const outs: [string, Kind][] = [];
    const emit = (x: string, k: Kind = t) => outs.push([x, k]);
    for (const op of ['Add', 'Sub', 'Mul', 'Div']) emit(apply(op, [a, op === 'Div' ? d : s]));
    emit(apply('Div', [s, d]));
    emit(apply('Mod', [a, d], { fmod: 0 }));
    emit(apply('Mod', [a, d], { fmod: 1 }));
    for (const op of ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']) emit(apply(op, [a, d], {}, 'bool'), 'bool');
    emit(apply('Max', [a, d, s]));
    emit(apply('Min', [a, d, s]));
    emit(apply('Where', [b.op('Greater', [a, d]), a, s]));
    emit(apply('Clip', [a, lo, hi]));
    emit(apply('Clip', [a, source(b, 'clo', t, [], [unsigned(t) ? 3 : -3], true)]));
    emit(b.op('Abs', [a]));
    emit(b.op('Sign', [a]));
    if (!unsigned(t)) emit(b.op('Neg', [a]));
    emit(b.op('Concat', [a, s], { axis: 1 }));
    emit(b.op('Transpose', [a], { perm: [2, 0, 1] }));
    emit(b.op('Gather', [a, b.int64(`gi${t}`, [2, -1, 0])], { axis: 1 }));
    emit(b.op('Slice', [a, b.int64('ss', [3, 2]), b.int64('se', [-10, 0]), b.int64('sa', [2, 1]), b.int64('st', [-1, -1])]));
    emit(b.op('Reshape', [a, b.int64('rs', [4, 6])]));
    emit(b.op('Expand', [d, b.int64('es', [2, 3, 4])]));
    const [p, q] = b.node('Split', [a, b.int64('sp', [1, 3])], { axis: 2 }, 2);
    emit(p);
    emit(q);
    // Reductions of small values, against ONNX Runtime (widened where it has no kernel)...
    const reductions: [string, number[] | undefined, Record<string, number>][] = [
      ['ReduceSum', [1], { keepdims: 1 }],
      ['ReduceProd', [2], { keepdims: 0 }],
      ['ReduceMax', [0, 2], { keepdims: 0 }],
      ['ReduceMin', undefined, { keepdims: 1 }],
      ['ReduceMean', [2], { keepdims: 1 }],
      ['ReduceSumSquare', [0], { keepdims: 0 }],
      ['ReduceL1', [1], { keepdims: 0 }],
      ['ArgMax', undefined, { axis: 1, keepdims: 1 }],
      ['ArgMin', undefined, { axis: 2, keepdims: 0, select_last_index: 1 }],
    ];
    const reduce = (x: string, [op, axes, attrs]: (typeof reductions)[number]) => {
      const arg = op.startsWith('Arg');
      return apply(op, axes ? [x, b.int64(`axes${op}${x}`, axes)] : [x], attrs, arg ? 'int64' : t);
    };
    for (const r of reductions) emit(reduce(s, r), r[0].startsWith('Arg') ? 'int64' : t);
    // ...and of values across the whole range, where sums and products wrap, against an exact reference
    // (ONNX Runtime's 64-bit integer reductions go through double: they round, and do not wrap).
    if (!reference) for (const r of reductions) emit(reduce(a, r), r[0].startsWith('Arg') ? 'int64' : t);
    for (const [x, k] of outs) b.output(b.op('Identity', [x]), CODE[k]);
    return b.build();
  }

  /** The reductions of intGraph on a [2, 3, 4] tensor, exactly, in the element type. */
  function exactReductions(t: Int, v: bigint[]): ort.Tensor[] {
    const shape = [2, 3, 4];
    const wrap = (x: bigint) => (unsigned(t) ? BigInt.asUintN(BITS[t], x) : BigInt.asIntN(BITS[t], x));
    const at = (i: number) => [Math.floor(i / 12), Math.floor(i / 4) % 3, i % 4];
    const reduce = (axes: number[], keep: boolean, init: bigint, step: (acc: bigint, x: bigint) => bigint, fin = (acc: bigint, _n: number) => acc) => {
      const outShape = shape.map((d, k) => (axes.includes(k) ? 1 : d));
      const acc = new Array<bigint>(outShape.reduce((p, q) => p * q, 1)).fill(init);
      v.forEach((x, i) => {
        const o = at(i).map((c, k) => (axes.includes(k) ? 0 : c)).reduce((p, c, k) => p * outShape[k] + c, 0);
        acc[o] = wrap(step(acc[o], x));
      });
      const n = 24 / acc.length;
      return tensor(t, keep ? outShape : shape.filter((_, k) => !axes.includes(k)), acc.map((a) => wrap(fin(a, n))));
    };
    const [lo, hi] = range(t);
    const arg = (axis: number, keep: boolean, better: (x: bigint, y: bigint) => boolean) => {
      const outShape = shape.map((d, k) => (k === axis ? 1 : d));
      const best = new Array<number>(outShape.reduce((p, q) => p * q, 1)).fill(-1);
      v.forEach((x, i) => {
        const c = at(i);
        const o = c.map((e, k) => (k === axis ? 0 : e)).reduce((p, e, k) => p * outShape[k] + e, 0);
        const j = best[o];
        if (j < 0 || better(x, v[j])) best[o] = i;
      });
      return tensor('int64', keep ? outShape : shape.filter((_, k) => k !== axis), best.map((i) => BigInt(at(i)[axis])));
    };
    return [
      reduce([1], true, 0n, (p, x) => p + x),
      reduce([2], false, 1n, (p, x) => p * x),
      reduce([0, 2], false, lo, (p, x) => (x > p ? x : p)),
      reduce([0, 1, 2], true, hi, (p, x) => (x < p ? x : p)),
      reduce([2], true, 0n, (p, x) => p + x, (p, n) => p / BigInt(n)),
      reduce([0], false, 0n, (p, x) => p + x * x),
      reduce([1], false, 0n, (p, x) => p + (x < 0n ? -x : x)),
      arg(1, true, (x, y) => x > y),
      arg(2, false, (x, y) => x <= y),
    ];
  }

  for (const t of INTS) {
    it(`${t}: arithmetic that wraps, division, Mod, comparisons, Max, Min, Where, Clip, Abs, Sign, Neg, data movement and reductions, at run time and folded`, async () => {
      const data = { a: ints(t, 24, 1), d: ints(t, 3, 2, { nonZero: true }), s: ints(t, 24, 3, { small: true }), lo: [unsigned(t) ? 5n : -5n], hi: [range(t)[1] / 3n] };
      const feeds: Record<string, ort.Tensor> = { a: tensor(t, [2, 3, 4], data.a), d: tensor(t, [3, 1], data.d), s: tensor(t, [2, 3, 4], data.s), lo: tensor(t, [], data.lo), hi: tensor(t, [], data.hi) };
      const reference = await ortRun(intGraph(t, data, false, true), feeds);
      const expected = [...Object.values(reference), ...exactReductions(t, data.a)];
      const check = async (model: Uint8Array, feeds: Record<string, ort.Tensor>, targets = TARGETS) => {
        const names = onnx.ModelProto.decode(model).graph!.output!.map((o) => o.name!);
        assert.equal(names.length, expected.length);
        await h.assertSame(model, feeds, Object.fromEntries(names.map((n, i) => [n, expected[i]])), targets);
      };
      await check(intGraph(t, data, false, false), feeds);
      // Every input a constant: the compiler folds what it can; the program must still match.
      await check(intGraph(t, data, true, false), {}, [X86]);
    });
  }

  it('an integer division by zero gives 0, and the smallest value divided by -1 wraps to itself, at run time and folded, as numpy does (C would trap)', async () => {
    for (const t of ['int8', 'int16', 'int32', 'int64', 'uint16', 'uint64'] as Int[]) {
      const [lo] = range(t);
      const a = [7n, lo, lo, 5n];
      const d = [0n, unsigned(t) ? 2n : -1n, 0n, unsigned(t) ? 1n : -1n];
      const want = [0n, unsigned(t) ? 0n : lo, 0n, unsigned(t) ? 5n : -5n];
      for (const constant of [false, true]) {
        const b = new ModelBuilder(18);
        b.output(b.op('Div', [source(b, 'a', t, [4], a, constant), source(b, 'd', t, [4], d, constant)]), CODE[t]);
        b.output(b.op('Mod', [source(b, 'a2', t, [4], a, constant), source(b, 'd2', t, [4], d, constant)], { fmod: 1 }), CODE[t]);
        const feeds = constant ? {} : { a: tensor(t, [4], a), d: tensor(t, [4], d), a2: tensor(t, [4], a), d2: tensor(t, [4], d) };
        const r = await h.runRaw(b.build(), Object.values(feeds).map((x) => x.data as ArrayBufferView), X86);
        assert.equal(r.status, 0, r.stderr);
        const read = (k: number) => Array.from({ length: 4 }, (_, i) => readInt(r.outputs[k], t, i));
        assert.deepEqual(read(0), want, `${t} Div${constant ? ', folded' : ''}`);
        assert.deepEqual(read(1), [0n, 0n, 0n, 0n], `${t} Mod${constant ? ', folded' : ''}`);
      }
    }
  });

  /** Values of `from` to cast to `to` where ONNX defines the result: a float in range of an integer target, anything else otherwise. */
  function castInputs(from: Kind, to: Kind, n: number, seed: number): Values {
    const rand = prng(seed);
    if (from === 'bool') return Array.from({ length: n }, () => (rand() < 0.5 ? 1 : 0));
    if (from !== 'float32' && from !== 'float64') {
      const v: Values = ints(from, n, seed);
      // int64 -> float32 rounded once: through double this one would round twice, to 2^60.
      if (from === 'int64' || from === 'uint64') v[n - 1] = (1n << 60n) + (1n << 36n) + 1n;
      return v;
    }
    if (to === 'float32' || to === 'float64' || to === 'bool') return [0, -0, 1.5, -2.5, 1e30, -1e-30, NaN, Infinity, -Infinity, 3.4e38, 65504, ...Array.from({ length: n - 11 }, () => (rand() - 0.5) * 1e6)];
    // In the target's range, with fractions to truncate (toward zero): its smallest value, the largest the float type holds below its largest, and values about zero.
    const t = to as Int;
    const bits = BITS[t] - (unsigned(t) ? 0 : 1);
    const mantissa = from === 'float32' ? 24 : 53;
    const top = bits <= mantissa ? 2 ** bits - 1 : 2 ** bits - 2 ** (bits - mantissa);
    const span = Math.min(2 ** bits, 2 ** mantissa);
    const v = [0, -0, 0.9, Number(range(t)[0]), top, top - 0.5, ...Array.from({ length: n - 6 }, () => (unsigned(t) ? rand() : rand() - 0.5) * span)];
    return v.map((x) => (from === 'float32' ? Math.fround(x) : x));
  }

  const KINDS: Kind[] = ['float32', 'float64', 'bool', ...INTS];
  for (const to of KINDS) {
    it(`Cast and CastLike to ${to} from every type, at run time and folded`, async () => {
      const n = 16;
      for (const constant of [false, true]) {
        const b = new ModelBuilder(19);
        const feeds: Record<string, ort.Tensor> = {};
        const like = source(b, 'like', to, [1], [1], true);
        KINDS.forEach((from, k) => {
          const v = castInputs(from, to, n, 10 + k);
          const x = source(b, `x_${from}`, from, [n], v, constant);
          if (!constant) feeds[`x_${from}`] = tensor(from, [n], v);
          b.output(b.op(k % 2 ? 'CastLike' : 'Cast', k % 2 ? [x, like] : [x], k % 2 ? {} : { to: CODE[to] }), CODE[to]);
        });
        if (constant) {
          // ONNX Runtime on the inputs; the compiler's constants folded.
          const b2 = new ModelBuilder(19);
          const like2 = source(b2, 'like', to, [1], [1], true);
          KINDS.forEach((from, k) => {
            const x = b2.input(`x_${from}`, [n], CODE[from]);
            feeds[`x_${from}`] = tensor(from, [n], castInputs(from, to, n, 10 + k));
            b2.output(b2.op(k % 2 ? 'CastLike' : 'Cast', k % 2 ? [x, like2] : [x], k % 2 ? {} : { to: CODE[to] }), CODE[to]);
          });
          const ref = await ortRun(b2.build(), feeds);
          const refNames = onnx.ModelProto.decode(b2.build()).graph!.output!.map((o) => o.name!);
          const model = b.build();
          const names = onnx.ModelProto.decode(model).graph!.output!.map((o) => o.name!);
          await h.assertSame(model, {}, Object.fromEntries(names.map((nm, i) => [nm, ref[refNames[i]]])), [X86], { rtol: 0, atol: 0 });
        } else await h.assertSame(b.build(), feeds, await ortRun(b.build(), feeds), TARGETS, { rtol: 0, atol: 0 });
      }
    });
  }

  it('Cast of floats out of an integer type\'s range (undefined in ONNX) gives the same at run time as folded: NaN is 0, the rest saturates to int64 and keeps the low bits', async () => {
    const v = [NaN, -1, 300, -129.5, 1e10, -1e10, 1e20, -1e20, Infinity, -Infinity, 2 ** 63, 2 ** 64, 1.5e19, -0.5];
    for (const from of ['float32', 'float64'] as const) {
      const b = new ModelBuilder(19);
      const x = b.input('x', [v.length], CODE[from]);
      const c = source(b, 'c', from, [v.length], v, true);
      for (const to of INTS) {
        b.output(b.op('Cast', [x], { to: CODE[to] }), CODE[to]);
        b.output(b.op('Cast', [c], { to: CODE[to] }), CODE[to]);
      }
      for (const target of TARGETS) {
        const r = await h.runRaw(b.build(), [array(from, v)], target);
        assert.equal(r.status, 0, r.stderr);
        INTS.forEach((to, k) => {
          const want = v.map((x) => BigInt(castValue(from === 'float32' ? Math.fround(x) : x, from, to)));
          const run = Array.from({ length: v.length }, (_, i) => BigInt(readInt(r.outputs[2 * k], to, i)));
          const folded = Array.from({ length: v.length }, (_, i) => BigInt(readInt(r.outputs[2 * k + 1], to, i)));
          assert.deepEqual(run, want, `${from} -> ${to} at run time on ${target.triple}`);
          assert.deepEqual(folded, want, `${from} -> ${to} folded`);
        });
      }
    }
    // What the rule gives, spelled out.
    assert.equal(castValue(-1, 'float32', 'uint8'), 255);
    assert.equal(castValue(300, 'float32', 'uint8'), 44);
    assert.equal(castValue(NaN, 'float32', 'int32'), 0);
    assert.equal(castValue(1e20, 'float64', 'int64'), (1n << 63n) - 1n);
    assert.equal(castValue(-1e20, 'float64', 'uint64'), 1n << 63n);
    assert.equal(castValue(1.5e19, 'float64', 'uint64'), 15000000000000000000n);
    assert.equal(castValue(2 ** 64, 'float64', 'uint64'), (1n << 64n) - 1n);
  });

  it('float64: Add, Sub, Mul, Div, the comparisons, Max, Min, Sum, Clip, Where and ArgMax, at run time and folded', async () => {
    const rand = prng(5);
    const v = (n: number) => Array.from({ length: n }, () => (rand() - 0.5) * 1e3);
    const data = { a: [...v(20), NaN, 1e308, -1e-310, 0], d: [...v(2), 0] };
    let floatModel: Uint8Array = new Uint8Array();
    for (const constant of [false, true]) {
      const b = new ModelBuilder(18);
      const a = source(b, 'a', 'float64', [2, 3, 4], data.a, constant);
      const d = source(b, 'd', 'float64', [3, 1], data.d, constant);
      for (const op of ['Add', 'Sub', 'Mul', 'Div']) b.output(b.op(op, [a, d]), DT.DOUBLE);
      for (const op of ['Equal', 'Less', 'Greater', 'LessOrEqual', 'GreaterOrEqual']) b.output(b.op(op, [a, d]), DT.BOOL);
      // (ONNX Runtime has no float64 Mean.)
      for (const op of ['Max', 'Min', 'Sum']) b.output(b.op(op, [a, d, a]), DT.DOUBLE);
      b.output(b.op('Clip', [a, source(b, 'lo', 'float64', [], [-100.25], true), source(b, 'hi', 'float64', [], [1e300], true)]), DT.DOUBLE);
      b.output(b.op('Where', [b.op('Less', [a, d]), a, d]), DT.DOUBLE);
      b.output(b.op('ArgMax', [a], { axis: 2 }), DT.INT64);
      const model = b.build();
      const feeds = { a: tensor('float64', [2, 3, 4], data.a), d: tensor('float64', [3, 1], data.d) };
      if (!constant) {
        floatModel = model;
        await h.assertSame(model, feeds, await ortRun(model, feeds), TARGETS, { rtol: 0, atol: 0 });
      } else {
        const ref = await ortRun(floatModel, feeds);
        const names = onnx.ModelProto.decode(model).graph!.output!.map((o) => o.name!);
        await h.assertSame(model, {}, Object.fromEntries(names.map((n, i) => [n, Object.values(ref)[i]])), [X86], { rtol: 0, atol: 0 });
      }
    }
  });

  for (const t of INTS) {
    it(`${t}: BitwiseAnd, BitwiseOr, BitwiseXor and BitwiseNot, broadcast${unsigned(t) ? ', BitShift left and right' : ''}, at run time and folded`, async () => {
      const bits = BITS[t];
      const data = { a: ints(t, 24, 21), d: ints(t, 3, 22), s: ints(t, 24, 23).map((x) => (x < 0n ? -x : x) % BigInt(bits)) };
      const graph = (constant: boolean, reference: boolean) => {
        const b = new ModelBuilder(18);
        const a = source(b, 'a', t, [2, 3, 4], data.a, constant);
        const d = source(b, 'd', t, [3, 1], data.d, constant);
        for (const op of ['BitwiseAnd', 'BitwiseOr', 'BitwiseXor']) b.output(b.op(op, [a, d]), CODE[t]);
        b.output(b.op('BitwiseNot', [a]), CODE[t]);
        if (unsigned(t)) {
          const s = source(b, 's', t, [2, 3, 4], data.s, constant);
          // ONNX Runtime has no uint16 BitShift: the reference shifts in uint32 (shifts are less than 16) and casts back.
          const wide = reference && t === 'uint16';
          const w = (x: string) => (wide ? b.op('Cast', [x], { to: DT.UINT32 }) : x);
          for (const direction of ['LEFT', 'RIGHT']) {
            const r = b.op('BitShift', [w(a), w(s)], { direction });
            b.output(wide ? b.op('Cast', [r], { to: CODE[t] }) : r, CODE[t]);
          }
        }
        return b.build();
      };
      const feeds: Record<string, ort.Tensor> = { a: tensor(t, [2, 3, 4], data.a), d: tensor(t, [3, 1], data.d), ...(unsigned(t) ? { s: tensor(t, [2, 3, 4], data.s) } : {}) };
      const ref = Object.values(await ortRun(graph(false, true), feeds));
      for (const constant of [false, true]) {
        const model = graph(constant, false);
        const names = onnx.ModelProto.decode(model).graph!.output!.map((o) => o.name!);
        await h.assertSame(model, constant ? {} : feeds, Object.fromEntries(names.map((n, i) => [n, ref[i]])), constant ? [X86] : TARGETS);
      }
    });
  }

  it('BitShift at opset 28 on every integer type: arithmetic right shifts of signed values, and shifts that are negative or not less than the width (0, or -1 for a negative value shifted right), at run time and folded', async () => {
    for (const t of INTS) {
      const bits = BigInt(BITS[t]);
      const x = ints(t, 24, 31);
      const y = ints(t, 24, 32, { small: true }).map((v, i) => (unsigned(t) ? (v * 7n + BigInt(i)) % (2n * bits + 2n) : v * 5n + BigInt(i) - 10n));
      const wrap = (v: bigint) => (unsigned(t) ? BigInt.asUintN(BITS[t], v) : BigInt.asIntN(BITS[t], v));
      // As the ONNX reference implementation computes it.
      const want = (left: boolean) => x.map((v, i) => (y[i] < 0n || y[i] >= bits ? (!left && v < 0n ? -1n : 0n) : wrap(left ? v << y[i] : v >> y[i])));
      for (const constant of [false, true]) {
        const b = new ModelBuilder(28);
        const a = source(b, 'x', t, [24], x, constant);
        const s = source(b, 'y', t, [24], y, constant);
        b.output(b.op('BitShift', [a, s], { direction: 'LEFT' }), CODE[t]);
        b.output(b.op('BitShift', [a, s], { direction: 'RIGHT' }), CODE[t]);
        for (const target of constant ? [X86] : TARGETS) {
          const r = await h.runRaw(b.build(), constant ? [] : [array(t, x), array(t, y)], target);
          assert.equal(r.status, 0, r.stderr);
          [true, false].forEach((left, k) => {
            const got = Array.from({ length: 24 }, (_, i) => readInt(r.outputs[k], t, i));
            assert.deepEqual(got, want(left).map(wrap), `${t} ${left ? 'LEFT' : 'RIGHT'}${constant ? ', folded' : ''} on ${target.triple}`);
          });
        }
      }
    }
    // Signed types are BitShift's from opset 28 only.
    const b = new ModelBuilder(18);
    b.output(b.op('BitShift', [b.input('x', [2], DT.INT32), b.input('y', [2], DT.INT32)], { direction: 'LEFT' }), DT.INT32);
    assert.throws(() => compileModel(b.build()), /int32 is defined from opset 28/);
  });

  it('BitCast between types of one width keeps the bytes (NaN payloads, the sign bit), at run time and folded', async () => {
    const pairs: [Kind, Kind][] = [['float32', 'int32'], ['int32', 'float32'], ['float32', 'uint32'], ['float64', 'int64'], ['uint64', 'float64'], ['int16', 'uint16'], ['uint16', 'int16'], ['int8', 'uint8'], ['uint8', 'bool'], ['bool', 'int8'], ['uint64', 'int64']];
    const bytes = Uint8Array.from({ length: 64 }, (_, i) => (i * 73 + 11) & 0xff);
    bytes.set([0x01, 0x00, 0xc0, 0x7f], 0); // a float32 NaN with a payload
    for (const constant of [false, true]) {
      const b = new ModelBuilder(26);
      const feeds: ArrayBufferView[] = [];
      const width: Record<Kind, number> = { ...BITS, float32: 32, float64: 64, bool: 8 } as Record<Kind, number>;
      pairs.forEach(([from, to], k) => {
        const n = 64 / (width[from] / 8);
        const raw = from === 'bool' ? bytes.map((v) => v & 1) : bytes;
        const view = new (array(from, []).constructor as new (b: ArrayBuffer) => ArrayBufferView)(raw.slice().buffer);
        feeds.push(view);
        const x = constant
          ? b.op('Constant', [], { value: { tensor: { dims: [n], dataType: CODE[from], rawData: raw.slice() as Uint8Array } } })
          : b.input(`x${k}`, [n], CODE[from]);
        b.output(b.op('BitCast', [x], { to: CODE[to] }), CODE[to]);
      });
      const r = await h.runRaw(b.build(), constant ? [] : feeds, X86);
      assert.equal(r.status, 0, r.stderr);
      pairs.forEach(([from, to], k) => assert.deepEqual([...r.outputs[k]], [...(from === 'bool' ? bytes.map((v) => v & 1) : bytes)], `${from} -> ${to}${constant ? ', folded' : ''}`));
    }
  });

  it('the header and the harness take the new types at the edges, as their C types, raw little-endian', async () => {
    const b = new ModelBuilder(17);
    for (const t of ['int16', 'uint16', 'uint32', 'uint64'] as Int[]) b.output(b.op('Identity', [b.input(`x_${t}`, [3], CODE[t])]), CODE[t]);
    const { files, metadata } = compileModel(b.build(), { name: 'net' });
    assert.deepEqual(metadata.inputs.map((t) => t.dtype), ['int16', 'uint16', 'uint32', 'uint64']);
    ['int16_t', 'uint16_t', 'uint32_t', 'uint64_t'].forEach((c, i) => assert.ok((files['net.c'] as string).includes(`const ${c} *in${i} = (const ${c} *)inputs[${i}];`), c));
    assert.match(files['net.h'] as string, /\[3\] x_uint64: uint64 \[3\]/);
    const feeds = Object.fromEntries((['int16', 'uint16', 'uint32', 'uint64'] as Int[]).map((t) => [`x_${t}`, tensor(t, [3], [range(t)[0], range(t)[1], 1n])]));
    await check(b.build(), feeds);
  });
});

/** Element i of a little-endian buffer of an integer type, as a bigint. */
function readInt(buf: Buffer, t: Int, i: number): bigint {
  const o = i * (BITS[t] / 8);
  switch (t) {
    case 'int8': return BigInt(buf.readInt8(o));
    case 'uint8': return BigInt(buf.readUInt8(o));
    case 'int16': return BigInt(buf.readInt16LE(o));
    case 'uint16': return BigInt(buf.readUInt16LE(o));
    case 'int32': return BigInt(buf.readInt32LE(o));
    case 'uint32': return BigInt(buf.readUInt32LE(o));
    case 'int64': return buf.readBigInt64LE(o);
    case 'uint64': return buf.readBigUInt64LE(o);
  }
}
