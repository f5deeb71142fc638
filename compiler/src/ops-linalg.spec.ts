import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, X86 } from '../test/ort-harness';

/*
 * EyeLike, Det and ReverseSequence: compiled, built with clang, run and compared with ONNX
 * Runtime on awkward sizes (1, 3, 5, 17), every k, dtype and axis order; sequence lengths out of
 * range end the run with RUN_ERRORS.indexOutOfRange.
 */

const DT = onnx.TensorProto.DataType;

describe('EyeLike, Det and ReverseSequence against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('EyeLike: square and oblong shapes, k inside and beyond the matrix, dtype float, int32 and int64 or the input\'s', async () => {
    const f = floats(61);
    for (const shape of [[3, 5], [5, 3], [1, 17], [4, 4]]) {
      for (const k of [-5, -1, 0, 2, 17]) {
        for (const dtype of [undefined, DT.INT32, DT.INT64]) {
          const b = new ModelBuilder(17);
          b.output(b.op('EyeLike', [b.input('x', shape)], { k, ...(dtype === undefined ? {} : { dtype }) }), dtype ?? DT.FLOAT);
          await h.assertSameAsOrt(b.build('eyelike'), { x: f(shape) }, [X86]);
        }
      }
    }
  });

  it('Det: one matrix and batches of them, 1 x 1 to 17 x 17, a singular one, and pivots that need swapping', async () => {
    const f = floats(62);
    for (const shape of [[1, 1], [3, 3], [2, 5, 5], [2, 3, 4, 4], [17, 17]]) {
      const b = new ModelBuilder(17);
      b.output(b.op('Det', [b.input('x', shape)]));
      await h.assertSameAsOrt(b.build('det'), { x: f(shape, -2, 2) }, [X86], { rtol: 1e-4, atol: 1e-5 });
    }
    const b = new ModelBuilder(17);
    b.output(b.op('Det', [b.input('x', [3, 3, 3])]));
    // A zero first pivot, a singular matrix, and a permutation.
    const x = Float32Array.from([0, 2, 1, 3, 1, 4, 5, 6, 0, 1, 2, 3, 2, 4, 6, 7, 8, 9, 0, 0, 1, 1, 0, 0, 0, 1, 0]);
    const r = await h.assertSameAsOrt(b.build('det_special'), { x: new ort.Tensor('float32', x, [3, 3, 3]) }, [X86], { rtol: 1e-5, atol: 1e-6 });
    assert.deepEqual(r.metadata.outputs[0].shape, [3]);
  });

  it('ReverseSequence: time and batch axes in both orders, lengths 1 to the whole, int64 and float elements', async () => {
    const f = floats(63);
    for (const [shape, time_axis, batch_axis] of [[[5, 3, 4], 0, 1], [[3, 5, 4], 1, 0], [[17, 2], 0, 1], [[1, 5, 2, 3], 1, 0]] as const) {
      const B = shape[batch_axis];
      const T = shape[time_axis];
      const b = new ModelBuilder(17);
      b.output(b.op('ReverseSequence', [b.input('x', [...shape]), b.input('lens', [B], DT.INT64)], { time_axis, batch_axis }));
      const bytes = b.build('revseq');
      const lens = new ort.Tensor('int64', BigInt64Array.from({ length: B }, (_, i) => BigInt(1 + ((i * 2 + T - 1) % T))), [B]);
      await h.assertSameAsOrt(bytes, { x: f([...shape]), lens }, [X86]);
    }
    const b = new ModelBuilder(17);
    b.output(b.op('ReverseSequence', [b.input('x', [4, 2], DT.INT64), b.input('lens', [2], DT.INT64)]), DT.INT64);
    const bytes = b.build('revseq_int');
    const x = new ort.Tensor('int64', BigInt64Array.from([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n].map((v) => v << 40n)), [4, 2]);
    await h.assertSameAsOrt(bytes, { x, lens: new ort.Tensor('int64', BigInt64Array.from([4n, 2n]), [2]) }, [X86]);
    // A length of 0 leaves the sequence as it is; one below 0 or beyond the time axis ends the run.
    const zero = await h.runRaw(bytes, [x.data as BigInt64Array, BigInt64Array.from([0n, 3n])], X86);
    assert.equal(zero.status, 0, zero.stderr);
    assert.deepEqual([...new BigInt64Array(zero.outputs[0].buffer, zero.outputs[0].byteOffset, 8)].map((v) => Number(v >> 40n)), [1, 6, 3, 4, 5, 2, 7, 8]);
    for (const bad of [[5n, 1n], [1n, -1n]]) {
      const r = await h.runRaw(bytes, [x.data as BigInt64Array, BigInt64Array.from(bad)], X86);
      assert.equal(r.status, 107, `lengths ${bad}`);
    }
  });
});
