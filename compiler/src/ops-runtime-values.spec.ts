import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, TARGETS, X86 } from '../test/ort-harness';
import { compileModel } from './compile';
import { CompileError } from './ir';
import { RUN_ERRORS } from './ops/op';

/*
 * Operators whose output shape depends on a value given as a graph input (a reduction's axes):
 * compiled for the output shape the model declares, the value read at run time and checked
 * against it. Compared with ONNX Runtime on x86_64 and aarch64; a value that gives another shape,
 * or an axis out of range, ends the run with its error and no output.
 */

const DT = onnx.TensorProto.DataType;

/** A model with one ReduceX node whose axes are the graph input `axes`, and its output declared `out`. */
function reduceModel(op: string, shape: number[], out: number[], keepdims: number, nAxes: number, dtype: number = DT.FLOAT): Uint8Array {
  const b = new ModelBuilder(18);
  const y = b.op(op, [b.input('x', shape, dtype), b.input('axes', [nAxes], DT.INT64)], { keepdims });
  b.output(y, dtype);
  const bytes = b.build(op);
  const m = onnx.ModelProto.decode(bytes);
  m.graph!.output![0].type!.tensorType!.shape = { dim: out.map((d) => ({ dimValue: d })) };
  return onnx.ModelProto.encode(m).finish();
}

/** The model with its outputs declared of these shapes. */
function declare(bytes: Uint8Array, shapes: number[][]): Uint8Array {
  const m = onnx.ModelProto.decode(bytes);
  shapes.forEach((shape, i) => (m.graph!.output![i].type!.tensorType!.shape = { dim: shape.map((d) => ({ dimValue: d })) }));
  return onnx.ModelProto.encode(m).finish();
}

const ints = (...a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [a.length]);

const axes = (...a: number[]) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [a.length]);

describe('run-time axes, shapes and counts, checked against the declared output shape', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('every reduction with its axes read at run time matches ONNX Runtime, keeping the reduced dimensions or not, with negative and unordered axes', async () => {
    const f = floats(21);
    const x = f([3, 5, 17]);
    for (const op of ['ReduceSum', 'ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare']) {
      const pos = op === 'ReduceLogSum' ? floats(22)([3, 5, 17], 0.1, 2) : x;
      await h.assertSameAsOrt(reduceModel(op, [3, 5, 17], [3, 1, 1], 1, 2), { x: pos, axes: axes(-1, 1) }, TARGETS, { rtol: 1e-5, atol: 1e-6 });
      await h.assertSameAsOrt(reduceModel(op, [3, 5, 17], [5], 0, 2), { x: pos, axes: axes(2, 0) }, [X86], { rtol: 1e-5, atol: 1e-6 });
    }
  });

  it('int64 and float64 reductions with run-time axes match ONNX Runtime', async () => {
    const ints = new ort.Tensor('int64', BigInt64Array.from({ length: 60 }, (_, i) => BigInt((i * 37) % 23) - 11n), [3, 4, 5]);
    await h.assertSameAsOrt(reduceModel('ReduceSum', [3, 4, 5], [3, 5], 0, 1, DT.INT64), { x: ints, axes: axes(1) }, TARGETS, { rtol: 0, atol: 0 });
    const doubles = new ort.Tensor('float64', Float64Array.from({ length: 60 }, (_, i) => Math.sin(i) * 40), [3, 4, 5]);
    await h.assertSameAsOrt(reduceModel('ReduceLogSumExp', [3, 4, 5], [1, 4, 1], 1, 2, DT.DOUBLE), { x: doubles, axes: axes(0, 2) }, [X86], { rtol: 1e-12, atol: 1e-12 });
  });

  it('axes that give another shape than the declared one, or an axis out of range, end the run with their errors', async () => {
    const bytes = reduceModel('ReduceSum', [3, 5, 17], [3, 1, 1], 1, 2);
    const x = floats(23)([3, 5, 17]).data as Float32Array;
    const run = (a: number[]) => h.runRaw(bytes, [x, BigInt64Array.from(a.map(BigInt))], X86);
    assert.equal((await run([1, 2])).status, 0);
    for (const [a, code] of [[[0, 1], RUN_ERRORS.shapeMismatch], [[1, 1], RUN_ERRORS.shapeMismatch], [[1, 3], RUN_ERRORS.indexOutOfRange], [[-4, 1], RUN_ERRORS.indexOutOfRange]] as const) {
      const r = await run([...a]);
      assert.equal(r.status, 107, `axes [${a}]: exit ${r.status}`);
      assert.match(r.stderr, new RegExp(`\\b${code}\\b`), `axes [${a}]: ${r.stderr}`);
    }
  });

  it('without a declared output shape, run-time axes are refused with a message that says what to give', () => {
    const b = new ModelBuilder(18);
    b.output(b.op('ReduceSum', [b.input('x', [3, 4]), b.input('axes', [1], DT.INT64)]));
    const bytes = onnx.ModelProto.decode(b.build('undeclared'));
    bytes.graph!.output![0].type!.tensorType!.shape = null;
    assert.throws(() => compileModel(onnx.ModelProto.encode(bytes).finish()), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /declare the shape of output/.test(e.message));
  });

  it('Reshape, Squeeze, Unsqueeze, Expand, Tile, TopK, Split, Slice, Pad, ConstantOfShape and Range with their shape-deciding values read at run time match ONNX Runtime', async () => {
    const f = floats(24);
    const x = f([2, 3, 4]);
    const one = (op: string, extra: [string, number[], number][], out: number[][], attrs: Record<string, number | string> = {}, input = [2, 3, 4]) => {
      const b = new ModelBuilder(18);
      const ins = [b.input('x', input), ...extra.map(([n, shape, dt]) => b.input(n, shape, dt))];
      for (const o of b.node(op, ins, attrs, out.length)) b.output(o, op === 'TopK' && out.length > 1 ? undefined : DT.FLOAT);
      return declare(b.build(op), out);
    };
    const I64 = DT.INT64;
    await h.assertSameAsOrt(one('Reshape', [['s', [3], I64]], [[4, 3, 2]]), { x, s: ints(4, -1, 2) }, TARGETS);
    await h.assertSameAsOrt(one('Unsqueeze', [['a', [2], I64]], [[2, 1, 3, 4, 1]]), { x, a: ints(-1, 1) }, [X86]);
    await h.assertSameAsOrt(one('Squeeze', [['a', [1], I64]], [[3, 4]], {}, [1, 3, 4]), { x: f([1, 3, 4]), a: ints(0) }, [X86]);
    await h.assertSameAsOrt(one('Expand', [['s', [4], I64]], [[5, 2, 3, 4]]), { x, s: ints(5, 1, 3, 1) }, [X86]);
    await h.assertSameAsOrt(one('Tile', [['r', [3], I64]], [[4, 3, 8]]), { x, r: ints(2, 1, 2) }, [X86]);
    await h.assertSameAsOrt(one('Split', [['s', [2], I64]], [[2, 1, 4], [2, 2, 4]], { axis: 1 }), { x, s: ints(1, 2) }, [X86]);
    await h.assertSameAsOrt(one('Slice', [['st', [2], I64], ['en', [2], I64], ['ax', [2], I64], ['sp', [2], I64]], [[2, 2, 2]]), { x, st: ints(-1, 0), en: ints(-100, 4), ax: ints(1, -1), sp: ints(-2, 3) }, TARGETS);
    await h.assertSameAsOrt(one('Pad', [['p', [6], I64]], [[3, 6, 3]], { mode: 'reflect' }), { x, p: ints(1, 2, 0, 0, 1, -1) }, TARGETS);
    const topk = new ModelBuilder(18);
    for (const o of topk.node('TopK', [topk.input('x', [2, 3, 4]), topk.input('k', [1], I64)], { axis: 1 }, 2)) topk.output(o, o.endsWith('1') ? I64 : DT.FLOAT);
    await h.assertSameAsOrt(declare(topk.build('topk'), [[2, 2, 4], [2, 2, 4]]), { x, k: ints(2) }, [X86]);
    const cos = new ModelBuilder(18);
    cos.output(cos.op('ConstantOfShape', [cos.input('s', [2], I64)], { value: { tensor: { dataType: DT.FLOAT, dims: [1], floatData: [2.5] } } }));
    await h.assertSameAsOrt(declare(cos.build('cos'), [[3, 5]]), { s: ints(3, 5) }, [X86]);
    const range = new ModelBuilder(18);
    range.output(range.op('Range', ['a', 'b', 'c'].map((n) => range.input(n, [], I64))), I64);
    const scalar = (v: number) => new ort.Tensor('int64', BigInt64Array.of(BigInt(v)), []);
    await h.assertSameAsOrt(declare(range.build('range'), [[4]]), { a: scalar(10), b: scalar(-1), c: scalar(-3) }, [X86], { rtol: 0, atol: 0 });
  });

  it('a run-time shape, slice or pad that gives another shape than the declared one ends the run with the shape error', async () => {
    const b = new ModelBuilder(18);
    b.output(b.op('Reshape', [b.input('x', [2, 6]), b.input('s', [2], DT.INT64)]));
    const reshape = declare(b.build('reshape'), [[3, 4]]);
    const x = new Float32Array(12);
    assert.equal((await h.runRaw(reshape, [x, BigInt64Array.from([3n, -1n])], X86)).status, 0);
    for (const s of [[4n, 3n], [-1n, -1n], [0n, 4n]]) {
      const r = await h.runRaw(reshape, [x, BigInt64Array.from(s)], X86);
      assert.equal(r.status, 107, `shape [${s}]`);
      assert.match(r.stderr, new RegExp(`\\b${RUN_ERRORS.shapeMismatch}\\b`));
    }
    const s = new ModelBuilder(18);
    s.output(s.op('Slice', [s.input('x', [10]), s.input('st', [1], DT.INT64), s.input('en', [1], DT.INT64)]));
    const slice = declare(s.build('slice'), [[3]]);
    const xs = Float32Array.from({ length: 10 }, (_, i) => i);
    const ok = await h.runRaw(slice, [xs, BigInt64Array.of(-4n), BigInt64Array.of(-1n)], X86);
    assert.deepEqual([0, 1, 2].map((i) => ok.outputs[0].readFloatLE(i * 4)), [6, 7, 8]);
    assert.equal((await h.runRaw(slice, [xs, BigInt64Array.of(0n), BigInt64Array.of(4n)], X86)).status, 107);
  });
});
