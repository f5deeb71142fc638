import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, X86 } from '../test/ort-harness';
import { RUN_ERRORS } from './ops/op';

/*
 * RoiAlign, DeformConv, MaxUnpool and Col2Im: compiled, built with clang for x86_64, run on
 * seeded inputs of awkward sizes and compared with ONNX Runtime.
 */

const DT = onnx.TensorProto.DataType;
const TOL = { rtol: 1e-4, atol: 1e-5 };
const OUT_OF_RANGE = new RegExp(`returned ${RUN_ERRORS.indexOutOfRange}: an index was out of range`);

const int64 = (values: number[], dims = [values.length]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);

describe('spatial operators', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  /** RoiAlign on X [2, 3, 7, 9] and 5 regions, some partly outside the image and one inverted. */
  const roiModel = (opset: number, attrs: Record<string, number | string>) => {
    const m = new ModelBuilder(opset);
    const y = m.op('RoiAlign', [m.input('X', [2, 3, 7, 9]), m.input('rois', [5, 4]), m.input('idx', [5], DT.INT64)], attrs);
    m.output(y);
    return m.build();
  };
  const roiFeeds = () => ({
    X: floats(3)([2, 3, 7, 9]),
    rois: new ort.Tensor('float32', Float32Array.from([0, 0, 8, 6, 1.3, 2.2, 5.7, 4.1, -2, -1, 4, 3, 6.5, 5.5, 12, 9, 5, 4, 3.2, 2.5]), [5, 4]),
    idx: int64([1, 0, 1, 0, 1]),
  });
  for (const [what, opset, attrs] of [
    ['avg, half_pixel, adaptive sampling', 16, { output_height: 3, output_width: 4, spatial_scale: 0.9 }],
    ['max, output_half_pixel, sampling_ratio 2', 16, { output_height: 2, output_width: 5, sampling_ratio: 2, mode: 'max', coordinate_transformation_mode: 'output_half_pixel' }],
    ['opset 10, avg', 10, { output_height: 4, output_width: 3, sampling_ratio: 3, spatial_scale: 0.5 }],
  ] as const) {
    it(`RoiAlign: ${what}`, async () => {
      await h.assertSameAsOrt(roiModel(opset, attrs), roiFeeds(), [X86], TOL);
    });
  }

  it('RoiAlign ends the run with error 2 for a batch index out of range', async () => {
    const f = roiFeeds();
    const r = await h.runRaw(roiModel(16, { output_height: 2, output_width: 2 }), [f.X.data as Float32Array, f.rois.data as Float32Array, BigInt64Array.from([0n, 1n, 2n, 0n, 0n])], X86);
    assert.equal(r.status, 107, r.stderr);
    assert.match(r.stderr, OUT_OF_RANGE);
  });

  it('DeformConv: groups, offset groups, stride, dilation, pads, mask and bias', async () => {
    // X [2, 4, 6, 5], W [6, 2, 2, 3] (two groups), offset groups 2: output [2, 6, 3, 2].
    const [N, Ci, H, W, Co, kh, kw, og] = [2, 4, 6, 5, 6, 2, 3, 2];
    const attrs = { group: 2, offset_group: og, strides: [2, 2], dilations: [2, 1], pads: [1, 0, 1, 1], kernel_shape: [kh, kw] };
    const [OH, OW] = [Math.floor((H + 2 - 3) / 2) + 1, Math.floor((W + 1 - 3) / 2) + 1];
    const m = new ModelBuilder(19);
    const ins = [m.input('X', [N, Ci, H, W]), m.input('W', [Co, Ci / 2, kh, kw]), m.input('offset', [N, og * kh * kw * 2, OH, OW]), m.input('B', [Co]), m.input('mask', [N, og * kh * kw, OH, OW])];
    m.output(m.op('DeformConv', ins, attrs));
    const rand = floats(21);
    const feeds = { X: rand([N, Ci, H, W]), W: rand([Co, Ci / 2, kh, kw]), offset: rand([N, og * kh * kw * 2, OH, OW], -2, 2), B: rand([Co]), mask: rand([N, og * kh * kw, OH, OW], 0, 1) };
    await h.assertSameAsOrt(m.build(), feeds, [X86], TOL);
  });

  it('DeformConv: no bias or mask, offsets reaching outside the image', async () => {
    const m = new ModelBuilder(19);
    m.output(m.op('DeformConv', [m.input('X', [1, 3, 5, 7]), m.input('W', [2, 3, 3, 2]), m.input('offset', [1, 12, 3, 6])], {}));
    const rand = floats(22);
    const feeds = { X: rand([1, 3, 5, 7]), W: rand([2, 3, 3, 2]), offset: rand([1, 12, 3, 6], -4, 4) };
    await h.assertSameAsOrt(m.build(), feeds, [X86], TOL);
  });

  /** MaxUnpool of X [2, 3, 3, 3] and its indices (kernel [2, 3], strides 2: the unpooled shape is [2, 3, 6, 7]). */
  const unpoolModel = (outputShape?: number[]) => {
    const m = new ModelBuilder(11);
    const ins = [m.input('X', [2, 3, 3, 3]), m.input('I', [2, 3, 3, 3], DT.INT64)];
    if (outputShape) ins.push(m.int64('shape', outputShape));
    m.output(m.op('MaxUnpool', ins, { kernel_shape: [2, 3], strides: [2, 2] }));
    return m.build();
  };
  it('MaxUnpool, inferred shape and a constant output_shape of it', async () => {
    // 54 distinct positions of the 252, spread by a stride prime to 252.
    const feeds = { X: floats(31)([2, 3, 3, 3]), I: int64(Array.from({ length: 54 }, (_, k) => (k * 173 + 11) % 252), [2, 3, 3, 3]) };
    await h.assertSameAsOrt(unpoolModel(), feeds, [X86], TOL);
    await h.assertSameAsOrt(unpoolModel([2, 3, 6, 7]), feeds, [X86], TOL);
  });

  it('MaxUnpool with a larger constant output_shape: the unpooled shape at its start (as ONNX defines it)', async () => {
    const m = new ModelBuilder(11);
    const y = m.op('MaxUnpool', [m.input('X', [1, 1, 2, 2]), m.input('I', [1, 1, 2, 2], DT.INT64), m.int64('shape', [1, 1, 5, 5])], { kernel_shape: [2, 2], strides: [2, 2] });
    m.output(y);
    const data = new Float32Array(25);
    [data[6], data[8], data[16], data[18]] = [5, 6, 7, 8];
    const feeds = { X: new ort.Tensor('float32', Float32Array.from([5, 6, 7, 8]), [1, 1, 2, 2]), I: int64([5, 7, 13, 15], [1, 1, 2, 2]) };
    await h.assertSame(m.build(), feeds, { [y]: { dims: [1, 1, 5, 5], data } }, [X86], TOL);
  });

  it('MaxUnpool ends the run with error 2 for an index out of range', async () => {
    const m = new ModelBuilder(11);
    m.output(m.op('MaxUnpool', [m.input('X', [1, 1, 2, 2]), m.input('I', [1, 1, 2, 2], DT.INT64)], { kernel_shape: [2, 2], strides: [2, 2] }));
    const r = await h.runRaw(m.build(), [new Float32Array(4), BigInt64Array.from([0n, 3n, 16n, 5n])], X86);
    assert.equal(r.status, 107, r.stderr);
    assert.match(r.stderr, OUT_OF_RANGE);
  });

  for (const [what, image, block, attrs] of [
    ['2-D with strides, dilations and pads', [7, 6], [2, 3], { strides: [2, 1], dilations: [2, 1], pads: [1, 0, 0, 2] }],
    ['3-D', [3, 4, 5], [2, 1, 3], {}],
  ] as const) {
    it(`Col2Im: ${what}`, async () => {
      const r = image.length;
      const st = 'strides' in attrs ? attrs.strides : image.map(() => 1);
      const dl = 'dilations' in attrs ? attrs.dilations : image.map(() => 1);
      const pd = 'pads' in attrs ? attrs.pads : image.map(() => [0, 0]).flat();
      const L = image.map((s, d) => Math.floor((s + pd[d] + pd[r + d] - dl[d] * (block[d] - 1) - 1) / st[d]) + 1).reduce((a, b) => a * b, 1);
      const K = (block as readonly number[]).reduce((a, b) => a * b, 1);
      const m = new ModelBuilder(18);
      m.output(m.op('Col2Im', [m.input('x', [2, 3 * K, L]), m.int64('image', [...image]), m.int64('block', [...block])], { ...attrs } as Record<string, number[]>));
      await h.assertSameAsOrt(m.build(), { x: floats(41)([2, 3 * K, L]) }, [X86], TOL);
    });
  }
});
