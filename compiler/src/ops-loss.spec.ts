import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, TARGETS, X86 } from '../test/ort-harness';

/*
 * NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, as training graphs and evaluation
 * scripts export them: compiled with the targets read at run time, built for x86_64 and aarch64
 * (under qemu), and compared with ONNX Runtime over reductions, weights, ignore_index and ranks.
 */

const DT = onnx.TensorProto.DataType;
const TOL = { rtol: 1e-5, atol: 1e-6 };

/** Targets in [0, C), with every third one ignore_index when given. */
function targets(shape: number[], C: number, seed: number, ignore?: number): ort.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = BigInt64Array.from({ length: n }, (_, i) => BigInt(ignore !== undefined && i % 3 === 1 ? ignore : (i * 7 + seed) % C));
  return new ort.Tensor('int64', data, shape);
}

describe('NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  for (const op of ['NegativeLogLikelihoodLoss', 'SoftmaxCrossEntropyLoss']) {
    it(`${op}: none, sum and mean; with and without weights; ignore_index inside and outside [0, C); N x C, N x C x d and N x C x d1 x d2`, async () => {
      const b = new ModelBuilder(13);
      const f = floats(op.length);
      const feeds: Record<string, ort.Tensor> = {};
      const cases: { shape: number[]; reduction: string; weights: boolean; ignore?: number }[] = [
        { shape: [5, 3], reduction: 'mean', weights: false },
        { shape: [3, 17], reduction: 'sum', weights: true, ignore: 2 },
        { shape: [2, 5, 7], reduction: 'none', weights: true },
        { shape: [2, 3, 5, 4], reduction: 'mean', weights: true, ignore: -1 },
        { shape: [1, 4, 3, 5], reduction: 'mean', weights: false, ignore: 1 },
        { shape: [3, 5, 17], reduction: 'none', weights: false, ignore: -100 },
      ];
      cases.forEach(({ shape, reduction, weights, ignore }, k) => {
        const C = shape[1];
        const tshape = [shape[0], ...shape.slice(2)];
        feeds[`x${k}`] = f(shape, op === 'NegativeLogLikelihoodLoss' ? -3 : -4, op === 'NegativeLogLikelihoodLoss' ? 0 : 4);
        feeds[`t${k}`] = targets(tshape, C, k, ignore);
        const inputs = [b.input(`x${k}`, shape), b.input(`t${k}`, tshape, DT.INT64)];
        if (weights) inputs.push(b.weight(`w${k}`, [C], f([C], 0.2, 2).data as Float32Array));
        const attrs: Record<string, string | number> = { reduction };
        if (ignore !== undefined) attrs.ignore_index = ignore;
        const outs = b.node(op, inputs, attrs, op === 'SoftmaxCrossEntropyLoss' && k % 2 === 0 ? 2 : 1);
        for (const o of outs) b.output(o);
      });
      await h.assertSameAsOrt(b.build(op), feeds, TARGETS, TOL);
    });
  }

  it('a target outside [0, C) that is not ignore_index ends the run with the index error', async () => {
    const b = new ModelBuilder(13);
    b.output(b.op('NegativeLogLikelihoodLoss', [b.input('x', [2, 3]), b.input('t', [2], DT.INT64)], { reduction: 'sum' }));
    const bytes = b.build('nll_range');
    for (const bad of [3n, -1n]) {
      const r = await h.runRaw(bytes, [new Float32Array(6), BigInt64Array.from([0n, bad])], X86);
      assert.notEqual(r.status, 0, `target ${bad}: the run must fail`);
      assert.match(r.header, /out of range/);
    }
    const ok = await h.runRaw(bytes, [Float32Array.from([-1, -2, -3, -4, -5, -6]), BigInt64Array.from([0n, 2n])], X86);
    assert.equal(ok.status, 0, ok.stderr);
    assert.equal(ok.outputs[0].readFloatLE(0), 7);
  });
});
