import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, X86 } from '../test/ort-harness';
import { compileModel } from './compile';
import { CompileError } from './ir';

/*
 * Upsample (opsets 7 to 9, lowered to Resize) and Binarizer (ai.onnx.ml, lowered to Greater and
 * Cast): compiled, built with clang, run and compared with ONNX Runtime on awkward sizes.
 */

const DT = onnx.TensorProto.DataType;

describe('Upsample and Binarizer against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('Upsample: nearest and linear, scales as opset 7 and 8 attributes and as an opset 9 constant input, whole and fractional', async () => {
    const f = floats(81);
    const shape = [1, 3, 5, 3];
    for (const mode of ['nearest', 'linear']) {
      for (const scales of [[1, 1, 2, 3], [1, 1, 1.5, 2.5], [1, 2, 1, 1]]) {
        for (const opset of [7, 8]) {
          const b = new ModelBuilder(opset);
          b.output(b.op('Upsample', [b.input('x', shape)], { mode, scales: { floats: scales } }));
          await h.assertSameAsOrt(b.build('upsample'), { x: f(shape) }, [X86]);
        }
        const b = new ModelBuilder(9);
        b.output(b.op('Upsample', [b.input('x', shape), b.weight('scales', [4], scales)], { mode }));
        await h.assertSameAsOrt(b.build('upsample9'), { x: f(shape) }, [X86]);
      }
    }
  });

  it('Upsample with scales read at run time is refused: the output shape depends on them', () => {
    const b = new ModelBuilder(9);
    b.output(b.op('Upsample', [b.input('x', [1, 1, 2, 2]), b.input('scales', [4])]));
    assert.throws(() => compileModel(b.build('upsample_dynamic')), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /scales/.test(e.message));
  });

  it('Binarizer (ai.onnx.ml): float32 against ONNX Runtime; float64, int32 and int64 (which it does not take) against x > threshold', async () => {
    const f = floats(82);
    const model = (et: number, threshold: number): Uint8Array => {
      const b = new ModelBuilder(17);
      b.output(b.op('Binarizer', [b.input('x', [17], et)]), et);
      const m = onnx.ModelProto.decode(b.build('binarizer'));
      m.graph!.node![0].domain = 'ai.onnx.ml';
      m.graph!.node![0].attribute = [{ name: 'threshold', type: onnx.AttributeProto.AttributeType.FLOAT, f: threshold }];
      m.opsetImport!.push({ domain: 'ai.onnx.ml', version: 1 });
      return onnx.ModelProto.encode(m).finish();
    };
    const x = f([17], -2, 2);
    (x.data as Float32Array)[4] = 1.5;
    const ints = Array.from({ length: 17 }, (_, i) => (i % 5) - 2);
    for (const threshold of [0, -0.5, 1, 1.5]) {
      await h.assertSameAsOrt(model(DT.FLOAT, threshold), { x }, [X86]);
      const above = (v: number) => (v > threshold ? 1 : 0);
      // NaN is not above any threshold (ONNX Runtime refuses it; the definition gives 0).
      const x64 = new ort.Tensor('float64', Float64Array.from(x.data as Float32Array, (v, i) => (i === 3 ? NaN : v)), [17]);
      const bytes64 = model(DT.DOUBLE, threshold);
      await h.assertSame(bytes64, { x: x64 }, { [h.outputName(bytes64)]: { dims: [17], data: Float64Array.from(x64.data as Float64Array, above) } }, [X86]);
      const bytes32 = model(DT.INT32, threshold);
      await h.assertSame(bytes32, { x: new ort.Tensor('int32', Int32Array.from(ints), [17]) }, { [h.outputName(bytes32)]: { dims: [17], data: Int32Array.from(ints, above) } }, [X86]);
      const bytesL = model(DT.INT64, threshold);
      const xl = new ort.Tensor('int64', BigInt64Array.from(ints.map(BigInt)), [17]);
      await h.assertSame(bytesL, { x: xl }, { [h.outputName(bytesL)]: { dims: [17], data: BigInt64Array.from(ints.map((v) => BigInt(above(v)))) } }, [X86]);
    }
  });
});
