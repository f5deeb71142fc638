import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, X86 } from '../test/ort-harness';

/*
 * LpPool, GlobalMaxPool and Hardmax: compiled, built with clang, run and compared with ONNX
 * Runtime on awkward sizes (1, 3, 5, 17) and every attribute (p, pads, auto_pad, strides,
 * dilations, ceil_mode; Hardmax's axis before and from opset 13).
 */

const TOL = { rtol: 1e-5, atol: 1e-6 };

describe('LpPool, GlobalMaxPool and Hardmax against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('LpPool: p 1, 2 and 3 over 1, 2 and 3 spatial dimensions, with pads, strides, dilations, auto_pad and ceil_mode', async () => {
    const f = floats(41);
    const cases: [number[], Record<string, number | number[] | string>][] = [
      [[1, 3, 17], { kernel_shape: [3], p: 1 }],
      [[2, 3, 17], { kernel_shape: [5], strides: [2], pads: [2, 1], p: 3 }],
      [[1, 3, 5, 17], { kernel_shape: [2, 3], p: 2 }],
      [[1, 1, 5, 17], { kernel_shape: [3, 3], strides: [2, 3], pads: [1, 2, 1, 0], p: 2 }],
      [[1, 3, 5, 17], { kernel_shape: [2, 2], dilations: [2, 3], p: 2 }],
      [[1, 3, 5, 17], { kernel_shape: [3, 2], auto_pad: 'SAME_UPPER', strides: [2, 2], p: 2 }],
      [[1, 3, 5, 17], { kernel_shape: [3, 4], auto_pad: 'SAME_LOWER', p: 1 }],
      [[1, 3, 5, 17], { kernel_shape: [2, 3], strides: [2, 2], ceil_mode: 1, p: 2 }],
      [[1, 3, 5, 17], { kernel_shape: [3, 3], auto_pad: 'VALID', strides: [1, 3], p: 3 }],
      [[1, 2, 3, 5, 17], { kernel_shape: [2, 2, 3], strides: [1, 2, 2], p: 2 }],
      [[1, 1, 1, 1], { kernel_shape: [1, 1], p: 2 }],
    ];
    for (const [shape, attrs] of cases) {
      const b = new ModelBuilder(18);
      b.output(b.op('LpPool', [b.input('x', shape)], attrs));
      await h.assertSameAsOrt(b.build('lppool'), { x: f(shape, -2, 2) }, [X86], TOL);
    }
  });

  it('GlobalMaxPool over 1, 2 and 3 spatial dimensions, negative values and one spatial element', async () => {
    const f = floats(42);
    for (const shape of [[1, 3, 17], [2, 5, 3, 17], [1, 1, 1, 1], [1, 3, 2, 3, 5]]) {
      const b = new ModelBuilder(17);
      b.output(b.op('GlobalMaxPool', [b.input('x', shape)]));
      await h.assertSameAsOrt(b.build('globalmaxpool'), { x: f(shape, -5, -1) }, [X86]);
    }
  });

  it('Hardmax: every axis at opset 13, the 2-D coercion of opset 11 (default axis 1), ties to the first', async () => {
    const f = floats(43);
    const shape = [3, 5, 17];
    for (const [opset, axes] of [[13, [undefined, 0, 1, 2, -1, -3]], [11, [undefined, 0, 1, 2, -2]]] as const) {
      for (const axis of axes) {
        const b = new ModelBuilder(opset);
        b.output(b.op('Hardmax', [b.input('x', shape)], axis === undefined ? {} : { axis }));
        await h.assertSameAsOrt(b.build('hardmax'), { x: f(shape) }, [X86]);
      }
    }
    // Rows with equal values: the first largest is chosen.
    const b = new ModelBuilder(13);
    b.output(b.op('Hardmax', [b.input('x', [3, 5])]));
    const ties = Float32Array.from([1, 3, 3, 0, 3, 2, 2, 2, 2, 2, -1, -4, -1, -7, -2]);
    await h.assertSameAsOrt(b.build('hardmax_ties'), { x: new ort.Tensor('float32', ties, [3, 5]) }, [X86]);
  });
});
