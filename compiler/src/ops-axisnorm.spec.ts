import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, X86 } from '../test/ort-harness';

/*
 * LRN, LpNormalization and MeanVarianceNormalization (lowered to the operators of its function
 * body): compiled, built with clang, run and compared with ONNX Runtime on awkward sizes (1, 3,
 * 5, 17 channels and positions), odd and even LRN windows, p 1 and 2, and every axis.
 */

const TOL = { rtol: 1e-4, atol: 1e-5 };

/** LRN as ONNX defines it, in double: the test's reference for even window sizes, which ONNX Runtime refuses. */
function lrnRef(x: Float32Array, shape: number[], size: number, alpha: number, beta: number, bias: number): Float32Array {
  const [N, C] = shape;
  const S = shape.slice(2).reduce((a, b) => a * b, 1);
  const y = new Float32Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      for (let s = 0; s < S; s++) {
        let sum = 0;
        for (let j = Math.max(0, c - Math.floor((size - 1) / 2)); j <= Math.min(C - 1, c + Math.ceil((size - 1) / 2)); j++) sum += x[(n * C + j) * S + s] ** 2;
        const i = (n * C + c) * S + s;
        y[i] = x[i] / (bias + (alpha / size) * sum) ** beta;
      }
    }
  }
  return y;
}

describe('LRN, LpNormalization and MeanVarianceNormalization against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('LRN: windows of 1 to 9 channels over 1, 3, 5 and 17 channels, alpha, beta and bias (even windows against the definition)', async () => {
    const f = floats(71);
    const cases: [number[], Record<string, number>][] = [
      [[1, 3, 5, 5], { size: 3 }],
      [[2, 17, 3, 1], { size: 5, alpha: 0.002, beta: 0.5, bias: 2.5 }],
      [[1, 17, 1, 3], { size: 2 }],
      [[1, 5, 3, 3], { size: 4, alpha: 0.1, beta: 1.5, bias: 0.5 }],
      [[1, 1, 5, 17], { size: 1 }],
      [[1, 3, 2, 2], { size: 9 }],
    ];
    for (const [shape, attrs] of cases) {
      const b = new ModelBuilder(13);
      b.output(b.op('LRN', [b.input('x', shape)], attrs));
      const bytes = b.build('lrn');
      const x = f(shape, -3, 3);
      if (attrs.size % 2) await h.assertSameAsOrt(bytes, { x }, [X86], TOL);
      else {
        const want = lrnRef(x.data as Float32Array, shape, attrs.size, attrs.alpha ?? 1e-4, attrs.beta ?? 0.75, attrs.bias ?? 1);
        await h.assertSame(bytes, { x }, { [h.outputName(bytes)]: { dims: shape, data: want } }, [X86], TOL);
      }
    }
  });

  it('LpNormalization: p 1 and 2 along every axis, and a vector of zeros', async () => {
    const f = floats(72);
    const shape = [3, 5, 17];
    for (const p of [1, 2]) {
      for (const axis of [0, 1, 2, -1]) {
        const b = new ModelBuilder(13);
        b.output(b.op('LpNormalization', [b.input('x', shape)], { p, axis }));
        await h.assertSameAsOrt(b.build('lpnorm'), { x: f(shape) }, [X86], TOL);
      }
      const b = new ModelBuilder(13);
      b.output(b.op('LpNormalization', [b.input('x', [3, 4])], { p }));
      const x = new ort.Tensor('float32', Float32Array.from([1, -2, 3, 0.5, 0, 0, 0, 0, 7, 0, 0, -1]), [3, 4]);
      await h.assertSameAsOrt(b.build('lpnorm_zero'), { x }, [X86], TOL);
    }
  });

  it('MeanVarianceNormalization: default axes and others, at opsets 13 and 18', async () => {
    const f = floats(73);
    for (const opset of [13, 18]) {
      for (const [shape, axes] of [[[2, 3, 5, 17], undefined], [[1, 17, 3, 5], [2, 3]], [[3, 5, 17], [1]], [[2, 3, 5, 1], [0, 1, 2, 3]]] as const) {
        const b = new ModelBuilder(opset);
        b.output(b.op('MeanVarianceNormalization', [b.input('x', [...shape])], axes ? { axes: [...axes] } : {}));
        await h.assertSameAsOrt(b.build('mvn'), { x: f([...shape], -1, 3) }, [X86], TOL);
      }
    }
  });
});
