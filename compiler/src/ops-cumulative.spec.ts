import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, X86 } from '../test/ort-harness';
import { RUN_ERRORS } from './ops/op';

/*
 * CumSum, CumProd and Trilu with their axis or k given as a graph input, read at run time:
 * compiled, built with clang, run and compared with ONNX Runtime on awkward shapes (1, 3, 5, 17)
 * for every axis, negative ones included, and every exclusive and reverse combination. An axis
 * out of range ends the run with RUN_ERRORS.indexOutOfRange.
 */

const DT = onnx.TensorProto.DataType;
const TOL = { rtol: 1e-5, atol: 1e-6 };

function int64(values: number[], dims: number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);
}

/** Small integers of a type, seeded, so that products stay exact. */
function ints(type: 'int32' | 'int64', shape: number[], seed: number): ort.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const v = Array.from({ length: n }, (_, i) => ((i * 7 + seed * 3) % 5) - 2);
  return type === 'int32' ? new ort.Tensor('int32', Int32Array.from(v), shape) : int64(v, shape);
}

describe('CumSum, CumProd and Trilu with run-time axis and k against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  for (const op of ['CumSum', 'CumProd'] as const) {
    const opset = op === 'CumProd' ? 26 : 17;
    it(`${op}: float32 [3, 5, 17] and [1, 17], every axis read at run time, exclusive and reverse`, async () => {
      const f = floats(op === 'CumSum' ? 21 : 22);
      for (const shape of [[3, 5, 17], [1, 17]]) {
        for (const [exclusive, reverse] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
          const b = new ModelBuilder(opset);
          b.output(b.op(op, [b.input('x', shape), b.input('axis', [], DT.INT64)], { exclusive, reverse }));
          const bytes = b.build(`cum_${exclusive}${reverse}`);
          for (let axis = -shape.length; axis < shape.length; axis++) {
            await h.assertSameAsOrt(bytes, { x: f(shape, 0.5, 1.5), axis: int64([axis], []) }, [X86], TOL);
          }
        }
      }
    });

    it(`${op}: int32 and int64 elements, an int32 axis of one element, and an axis out of range`, async () => {
      for (const [type, et] of [['int32', DT.INT32], ['int64', DT.INT64]] as const) {
        const b = new ModelBuilder(opset);
        b.output(b.op(op, [b.input('x', [5, 3], et), b.input('axis', [1], DT.INT32)], { exclusive: 1 }), et);
        const bytes = b.build('cum_int');
        for (const axis of [0, 1, -1, -2]) await h.assertSameAsOrt(bytes, { x: ints(type, [5, 3], axis + 2), axis: new ort.Tensor('int32', Int32Array.from([axis]), [1]) }, [X86]);
        for (const axis of [2, -3]) {
          const r = await h.runRaw(bytes, [ints(type, [5, 3], 0).data as ArrayBufferView, Int32Array.from([axis])], X86);
          assert.equal(r.status, 107, `axis ${axis}`);
          assert.match(r.stderr, new RegExp(`entry point returned ${RUN_ERRORS.indexOutOfRange}: an index was out of range`));
        }
      }
    });
  }

  it('CumProd with a constant axis is folded when the input is a constant too, and matches ONNX Runtime', async () => {
    const b = new ModelBuilder(26);
    const x = b.input('x', [3, 5]);
    const c = b.op('CumProd', [b.weight('w', [3, 5], Array.from({ length: 15 }, (_, i) => 0.5 + i / 10)), b.int64('axis', [1])], { reverse: 1 });
    b.output(b.op('Add', [x, c]));
    const r = await h.assertSameAsOrt(b.build('cumprod_fold'), { x: floats(3)([3, 5]) }, [X86], TOL);
    assert.ok(!r.source.includes('CumProd'), 'the product is a constant');
  });

  it('Trilu: k read at run time, upper and lower, k within, at and beyond the edges of 1 x 17, 5 x 3 and 3 x 3 matrices', async () => {
    const f = floats(31);
    for (const shape of [[1, 17], [2, 5, 3], [3, 3]]) {
      for (const upper of [0, 1]) {
        const b = new ModelBuilder(17);
        b.output(b.op('Trilu', [b.input('x', shape), b.input('k', [], DT.INT64)], { upper }));
        const bytes = b.build('trilu');
        for (const k of [-20, -5, -3, -1, 0, 1, 2, 3, 16, 17, 40]) await h.assertSameAsOrt(bytes, { x: f(shape), k: int64([k], []) }, [X86]);
      }
    }
  });
});
