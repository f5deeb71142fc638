import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder, toHalfModel } from '../test/builder';
import { floats, OrtHarness, TARGETS } from '../test/ort-harness';
import { compileModel } from './compile';
import { compileModelCuda } from './cuda/generate';
import { halfBits } from './half';

/*
 * LayerNormalization's optional Mean and InvStdDev outputs, and BatchNormalization in training
 * mode (the batch's moments, and the running mean and variance): compiled, built with clang for
 * x86_64 and aarch64 (under qemu), run on seeded inputs and compared with ONNX Runtime.
 */

const DT = onnx.TensorProto.DataType;
const TOL = { rtol: 1e-4, atol: 1e-5 };

describe('LayerNormalization Mean and InvStdDev, BatchNormalization training mode, against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('LayerNormalization gives Mean and InvStdDev (of X\'s leading dims, then ones) for every axis, with and without a bias, and either alone', async () => {
    const rand = floats(1);
    for (const axis of [0, 1, -1]) {
      const b = new ModelBuilder(17);
      const x = b.input('x', [2, 3, 17]);
      const norm = [2, 3, 17].slice(axis < 0 ? 3 + axis : axis);
      const n = norm.reduce((p, q) => p * q, 1);
      const scale = b.weight('scale', norm, rand([n]).data as Float32Array);
      const bias = b.weight('bias', norm, rand([n]).data as Float32Array);
      const [y, mean, inv] = b.node('LayerNormalization', [x, scale, bias], { axis, epsilon: 1e-3 }, 3);
      b.output(y);
      b.output(mean);
      b.output(inv);
      const [y2, , inv2] = b.node('LayerNormalization', [x, scale], { axis }, 3);
      b.output(y2);
      b.output(inv2);
      const [y3, mean3] = b.node('LayerNormalization', [x, scale, bias], { axis }, 2);
      b.output(y3);
      b.output(mean3);
      // The unnamed outputs are left out, as an exporter leaves them.
      const model = onnx.ModelProto.decode(b.build());
      for (const node of model.graph!.node!) node.output = node.output!.map((o) => (model.graph!.output!.some((g) => g.name === o) ? o : ''));
      const bytes = onnx.ModelProto.encode(model).finish();
      const r = await h.assertSameAsOrt(bytes, { x: rand([2, 3, 17], -3, 5) }, TARGETS, TOL);
      const k = axis < 0 ? 2 : axis;
      assert.deepEqual(r.metadata.outputs[1].shape, [2, 3, 17].map((d, i) => (i < k ? d : 1)));
    }
  });

  it('LayerNormalization of float16 X gives float (stash_type 1) Mean and InvStdDev; other stash types are refused by name', async () => {
    const rand = floats(2);
    const b = new ModelBuilder(17);
    const x = b.input('x', [4, 9]);
    const [y, mean, inv] = b.node('LayerNormalization', [x, b.weight('scale', [9], rand([9]).data as Float32Array), b.weight('bias', [9], rand([9]).data as Float32Array)], {}, 3);
    b.output(y);
    b.output(mean);
    b.output(inv);
    // The model in float16, its Mean and InvStdDev float as stash_type 1 says.
    const model = onnx.ModelProto.decode(toHalfModel(b.build()));
    model.graph!.output![1].type!.tensorType!.elemType = DT.FLOAT;
    model.graph!.output![2].type!.tensorType!.elemType = DT.FLOAT;
    const bytes = onnx.ModelProto.encode(model).finish();
    const xs = rand([4, 9], -2, 2).data as Float32Array;
    const r = await h.assertSameAsOrt(bytes, { x: new ort.Tensor('float16', Uint16Array.from(xs, (v) => halfBits('float16', v)), [4, 9]) }, TARGETS, { rtol: 1e-2, atol: 1e-3 });
    assert.deepEqual(r.metadata.outputs.map((t) => t.dtype), ['float16', 'float32', 'float32']);

    const s = new ModelBuilder(17);
    s.output(s.op('LayerNormalization', [s.input('x', [4, 9]), s.weight('scale', [9], rand([9]).data as Float32Array)], { stash_type: 16 }));
    assert.throws(() => compileModel(s.build()), /stash_type 16 is not supported/);
  });

  it('BatchNormalization with training_mode=1 normalises by the batch\'s moments and gives the running mean and variance; a Conv before it keeps its own weights', async () => {
    const rand = floats(3);
    const w = rand([108]).data as Float32Array;
    const params = [0, 1, 2, 3].map((i) => Float32Array.from(rand([4], i === 3 ? 0.5 : -1, 2).data as Float32Array));
    const model = (outputs: number) => {
      const b = new ModelBuilder(15);
      const x = b.input('x', [2, 3, 5, 7]);
      const conv = b.op('Conv', [x, b.weight('w', [4, 3, 3, 3], w)], { pads: [1, 1, 1, 1] });
      const outs = b.node('BatchNormalization', [conv, ...['s', 'b', 'm', 'v'].map((p, i) => b.weight(p, [4], params[i]))], { training_mode: 1, momentum: 0.7, epsilon: 1e-4 }, 3);
      for (const o of outs.slice(0, outputs)) b.output(o);
      // With one output, the running mean and variance are named '', as left out.
      const m = onnx.ModelProto.decode(b.build());
      const bn = m.graph!.node!.find((n) => n.opType === 'BatchNormalization')!;
      bn.output = bn.output!.map((o, i) => (i < outputs ? o : ''));
      return onnx.ModelProto.encode(m).finish();
    };
    const x = rand([2, 3, 5, 7], -2, 3);
    const r = await h.assertSameAsOrt(model(3), { x }, TARGETS, TOL);
    // Y alone: ONNX Runtime folds a Conv into a training-mode BatchNormalization left with one output as if it
    // were in inference mode (and crashes on it with its optimisations off), so Y is compared with its Y above.
    const want = await h.ortRun(model(3), { x });
    await h.assertSame(model(1), { x }, { [r.metadata.outputs[0].name]: want[r.metadata.outputs[0].name] }, TARGETS, TOL);
  });

  it('the CUDA backend refuses what it does not give: training mode, Mean and InvStdDev', () => {
    const b = new ModelBuilder(15);
    const x = b.input('x', [2, 3, 4]);
    b.output(b.node('BatchNormalization', [x, ...['s', 'b', 'm', 'v'].map((p) => b.weight(p, [3], [1, 1, 1]))], { training_mode: 1 }, 1)[0]);
    assert.throws(() => compileModelCuda(b.build()), /supports inference mode only/);
    const l = new ModelBuilder(17);
    const [y, mean] = l.node('LayerNormalization', [l.input('x', [2, 3]), l.weight('s', [3], [1, 1, 1])], {}, 2);
    l.output(y);
    l.output(mean);
    assert.throws(() => compileModelCuda(l.build()), /does not give the Mean and InvStdDev/);
  });
});
