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
});
