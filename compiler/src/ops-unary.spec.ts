import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, TARGETS, X86 } from '../test/ort-harness';

/*
 * Gelu (opset 20, erf and tanh forms), IsNaN and IsInf (each sign on and off) against ONNX
 * Runtime on x86_64 and aarch64; Swish (opset 24, newer than ONNX Runtime here) against its definition.
 */

const DT = onnx.TensorProto.DataType;

describe('Gelu, Swish, IsNaN and IsInf', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('Gelu: the erf form matches ONNX Runtime, the tanh form its definition in double (ONNX Runtime approximates tanh), over [-8, 8]', async () => {
    const xs = floats(3)([3, 17], -8, 8);
    const b = new ModelBuilder(20);
    b.output(b.op('Gelu', [b.input('x', [3, 17])]));
    await h.assertSameAsOrt(b.build('gelu'), { x: xs }, TARGETS, { rtol: 1e-5, atol: 1e-7 });
    const t = new ModelBuilder(20);
    t.output(t.op('Gelu', [t.input('x', [3, 17])], { approximate: 'tanh' }));
    const r = await h.runRaw(t.build('gelu_tanh'), [xs.data as Float32Array], X86);
    assert.equal(r.status, 0, r.stderr);
    (xs.data as Float32Array).forEach((v, i) => {
      const want = 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)));
      const got = r.outputs[0].readFloatLE(i * 4);
      assert.ok(Math.abs(got - want) <= 1e-6 * Math.abs(want) + 1e-9, `x ${v}: ${got} != ${want}`);
    });
  });

  it('IsNaN and IsInf (both signs, positive only, negative only) on NaN, both infinities, zero and numbers match ONNX Runtime', async () => {
    const b = new ModelBuilder(20);
    const x = b.input('x', [9]);
    b.output(b.op('IsNaN', [x]), DT.BOOL);
    b.output(b.op('IsInf', [x]), DT.BOOL);
    b.output(b.op('IsInf', [x], { detect_negative: 0 }), DT.BOOL);
    b.output(b.op('IsInf', [x], { detect_positive: 0 }), DT.BOOL);
    const data = Float32Array.from([NaN, Infinity, -Infinity, 0, -0, 1, -3.5, 3.4e38, -NaN]);
    await h.assertSameAsOrt(b.build('isinf'), { x: new ort.Tensor('float32', data, [9]) }, TARGETS, { rtol: 0, atol: 0 });
  });

  it('Swish with alpha 1 and 0.5 is x * sigmoid(alpha x)', async () => {
    const b = new ModelBuilder(24);
    const x = b.input('x', [17]);
    b.output(b.op('Swish', [x]));
    b.output(b.op('Swish', [x], { alpha: 0.5 }));
    const xs = floats(4)([17], -10, 10).data as Float32Array;
    const r = await h.runRaw(b.build('swish'), [xs], X86);
    assert.equal(r.status, 0, r.stderr);
    [1, 0.5].forEach((alpha, o) => {
      xs.forEach((v, i) => {
        const want = v / (1 + Math.exp(-alpha * v));
        const got = r.outputs[o].readFloatLE(i * 4);
        assert.ok(Math.abs(got - want) <= 1e-6 * Math.abs(want) + 1e-7, `alpha ${alpha}, x ${v}: ${got} != ${want}`);
      });
    });
  });
});
