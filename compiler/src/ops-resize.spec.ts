import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, TARGETS, X86 } from '../test/ort-harness';
import { compileModel } from './compile';
import { compileModelCuda } from './cuda/generate';
import { CompileError } from './ir';

/*
 * Resize in every mode ONNX defines: nearest (each nearest_mode), linear, cubic (cubic_coeff_a,
 * exclude_outside), antialiased linear and cubic, every coordinate_transformation_mode (with
 * tf_crop_and_resize's roi and extrapolation_value), keep_aspect_ratio_policy and axes; compiled,
 * built with clang for x86_64 and aarch64 (under qemu), run on seeded inputs and compared with
 * ONNX Runtime on awkward sizes (1, 3, 17). ONNX Runtime takes linear on 2-D to 5-D inputs with the
 * outer axes kept, and cubic on 2-D and NCHW inputs, so the cases stay there; the compiler takes any.
 */

const CTMS = ['half_pixel', 'half_pixel_symmetric', 'pytorch_half_pixel', 'align_corners', 'asymmetric'];

type Attrs = Record<string, number | string | number[]>;

/** A model of many Resize nodes over a few inputs: each case is an input, scales or sizes (or neither), and attributes. */
class Cases {
  readonly b: ModelBuilder;
  readonly feeds: Record<string, ort.Tensor> = {};
  private n = 0;
  private readonly f: ReturnType<typeof floats>;

  constructor(opset: number, seed: number) {
    this.b = new ModelBuilder(opset);
    this.f = floats(seed);
  }

  input(shape: number[]): string {
    const name = `x${this.n++}`;
    this.feeds[name] = this.f(shape, -2, 2);
    return this.b.input(name, shape);
  }

  resize(x: string, how: { scales?: number[]; sizes?: number[]; roi?: number[] }, attrs: Attrs): void {
    const k = this.n++;
    const roi = how.roi ? this.b.weight(`roi${k}`, [how.roi.length], how.roi) : '';
    const scales = how.scales ? this.b.weight(`scales${k}`, [how.scales.length], how.scales) : '';
    const inputs = how.sizes ? [x, roi, scales, this.b.int64(`sizes${k}`, how.sizes)] : [x, roi, scales];
    this.b.output(this.b.op('Resize', inputs, attrs));
  }
}

describe('Resize against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('cubic (bicubic, as timm CrossViT exports it): every coordinate transformation, cubic_coeff_a, exclude_outside, up and down, sizes and scales, 2-D and NCHW', async () => {
    const c = new Cases(13, 1);
    const img = c.input([1, 3, 17, 13]);
    const plane = c.input([5, 17]);
    for (const ctm of CTMS) {
      c.resize(img, { sizes: [1, 3, 15, 29] }, { mode: 'cubic', cubic_coeff_a: -0.75, coordinate_transformation_mode: ctm });
      c.resize(plane, { sizes: [17, 3] }, { mode: 'cubic', cubic_coeff_a: -0.5, exclude_outside: 1, coordinate_transformation_mode: ctm });
    }
    // CrossViT scales its image with bicubic interpolation from one size to another (pytorch_half_pixel), and to a single row.
    c.resize(img, { sizes: [1, 3, 16, 16] }, { mode: 'cubic', cubic_coeff_a: -0.75, coordinate_transformation_mode: 'pytorch_half_pixel' });
    c.resize(img, { sizes: [1, 3, 1, 3] }, { mode: 'cubic', cubic_coeff_a: -0.75, coordinate_transformation_mode: 'pytorch_half_pixel' });
    c.resize(img, { scales: [1, 1, 2, 2] }, { mode: 'cubic' });
    c.resize(img, { scales: [1, 1, 3, 1] }, { mode: 'cubic', cubic_coeff_a: -0.5, exclude_outside: 1 });
    c.resize(plane, { scales: [0.2, 1] }, { mode: 'cubic', coordinate_transformation_mode: 'asymmetric' });
    await h.assertSameAsOrt(c.b.build('resize_cubic'), c.feeds, TARGETS, { rtol: 1e-4, atol: 1e-5 });
  });

  it('linear: every coordinate transformation, up and down by sizes and by scales, on 2-D, 3-D, NCHW and 5-D inputs', async () => {
    const c = new Cases(13, 2);
    const plane = c.input([3, 17]);
    const vol = c.input([3, 5, 4]);
    const img = c.input([2, 3, 17, 5]);
    const vid = c.input([1, 1, 3, 4, 5]);
    for (const ctm of CTMS) {
      const attrs = { mode: 'linear', coordinate_transformation_mode: ctm };
      c.resize(plane, { sizes: [1, 5] }, attrs);
      c.resize(plane, { sizes: [7, 17] }, attrs);
      c.resize(vol, { sizes: [5, 3, 17] }, attrs);
      c.resize(img, { sizes: [2, 3, 3, 17] }, attrs);
      c.resize(img, { scales: [1, 1, 2, 0.4] }, attrs);
      c.resize(vid, { sizes: [1, 1, 5, 1, 17] }, attrs);
    }
    await h.assertSameAsOrt(c.b.build('resize_linear'), c.feeds, TARGETS, { rtol: 1e-5, atol: 1e-5 });
  });

  it('nearest: every nearest_mode with every coordinate transformation, up and down, on inputs of rank 1 to 5', async () => {
    const c = new Cases(13, 3);
    const line = c.input([17]);
    const img = c.input([1, 3, 7, 5]);
    const vid = c.input([2, 1, 3, 4, 5]);
    for (const nearest_mode of ['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil']) {
      for (const ctm of CTMS) {
        const attrs = { mode: 'nearest', nearest_mode, coordinate_transformation_mode: ctm };
        c.resize(line, { sizes: [5] }, attrs);
        c.resize(line, { sizes: [40] }, attrs);
        c.resize(line, { sizes: [34] }, attrs); // halves: ties for the rounding modes
        c.resize(img, { sizes: [1, 3, 17, 3] }, attrs);
        c.resize(img, { scales: [1, 1, 3, 0.4] }, attrs);
        c.resize(vid, { sizes: [1, 3, 1, 9, 2] }, attrs);
      }
    }
    c.resize(img, { scales: [1, 1, 2, 2] }, { mode: 'nearest', nearest_mode: 'floor', coordinate_transformation_mode: 'asymmetric' });
    await h.assertSameAsOrt(c.b.build('resize_nearest'), c.feeds);
  });

  it('tf_crop_and_resize: a roi on each mode, with extrapolation_value where the crop leaves the input', async () => {
    const c = new Cases(13, 4);
    const img = c.input([1, 2, 17, 14]);
    const roi = [0, 0, 0.2, -0.1, 1, 1, 0.9, 1.3];
    const inside = [0, 0, 0.1, 0.25, 1, 1, 0.8, 0.5];
    for (const mode of ['nearest', 'linear', 'cubic']) {
      c.resize(img, { roi, sizes: [1, 2, 9, 17] }, { mode, coordinate_transformation_mode: 'tf_crop_and_resize', extrapolation_value: -7.5 });
      c.resize(img, { roi: inside, sizes: [1, 2, 3, 1] }, { mode, coordinate_transformation_mode: 'tf_crop_and_resize' });
      c.resize(img, { roi, scales: [1, 1, 2, 0.5] }, { mode, coordinate_transformation_mode: 'tf_crop_and_resize' });
    }
    await h.assertSameAsOrt(c.b.build('resize_crop'), c.feeds, TARGETS, { rtol: 1e-4, atol: 1e-5 });
  });

  it('antialias (opset 18): linear and cubic downsampling by scales and sizes, with and without exclude_outside, and upsampling', async () => {
    const c = new Cases(18, 5);
    const img = c.input([1, 3, 17, 13]);
    const plane = c.input([17, 40]);
    for (const mode of ['linear', 'cubic']) {
      for (const exclude_outside of [0, 1]) {
        const attrs = { mode, antialias: 1, exclude_outside };
        c.resize(img, { scales: [1, 1, 0.5, 0.25] }, attrs);
        c.resize(img, { sizes: [1, 3, 3, 5] }, attrs);
        c.resize(img, { sizes: [1, 3, 1, 17] }, { ...attrs, coordinate_transformation_mode: 'pytorch_half_pixel' });
        c.resize(plane, { sizes: [5, 3] }, { ...attrs, coordinate_transformation_mode: 'align_corners' });
        c.resize(plane, { scales: [0.3, 0.1] }, { ...attrs, coordinate_transformation_mode: 'asymmetric' });
      }
    }
    await h.assertSameAsOrt(c.b.build('resize_antialias'), c.feeds, TARGETS, { rtol: 1e-4, atol: 1e-5 });
  });

  it('axes and keep_aspect_ratio_policy (opset 18): scales and sizes over some axes in any order, negative axes, not_larger and not_smaller', async () => {
    const c = new Cases(18, 6);
    const img = c.input([1, 3, 17, 5]);
    c.resize(img, { scales: [2, 0.5] }, { mode: 'nearest', axes: [2, 3] });
    c.resize(img, { scales: [0.5, 2] }, { mode: 'linear', axes: [3, 2] });
    c.resize(img, { sizes: [9] }, { mode: 'cubic', axes: [-1] });
    c.resize(img, { sizes: [3, 17] }, { mode: 'linear', axes: [-2, -1] });
    for (const keep_aspect_ratio_policy of ['not_larger', 'not_smaller']) {
      c.resize(img, { sizes: [10, 10] }, { mode: 'nearest', axes: [2, 3], keep_aspect_ratio_policy });
      c.resize(img, { sizes: [7, 7] }, { mode: 'linear', axes: [2, 3], keep_aspect_ratio_policy });
      c.resize(img, { sizes: [9, 4] }, { mode: 'cubic', axes: [3, 2], keep_aspect_ratio_policy });
    }
    c.resize(img, { roi: [0.1, 0.2, 0.9, 0.7], sizes: [3, 6] }, { mode: 'linear', axes: [2, 3], coordinate_transformation_mode: 'tf_crop_and_resize' });
    await h.assertSameAsOrt(c.b.build('resize_axes'), c.feeds, TARGETS, { rtol: 1e-4, atol: 1e-5 });
  });

  it('opset 10 (scales as input 1, asymmetric coordinates) and opset 11 (tf_half_pixel_for_nn); a resize to the same shape copies', async () => {
    for (const opset of [10, 11]) {
      const b = new ModelBuilder(opset);
      const f = floats(opset);
      const x = b.input('x', [1, 2, 5, 17]);
      const pre = opset === 10 ? [x] : [x, b.weight('roi', [0], [])];
      for (const mode of ['nearest', 'linear']) {
        b.output(b.op('Resize', [...pre, b.weight(`up_${mode}`, [4], [1, 1, 3, 0.5])], { mode }));
        b.output(b.op('Resize', [...pre, b.weight(`down_${mode}`, [4], [1, 1, 0.4, 2])], { mode }));
      }
      b.output(b.op('Resize', [...pre, b.weight('same', [4], [1, 1, 1, 1])], { mode: 'linear' }));
      // tf_half_pixel_for_nn, defined in opsets 11 and 12.
      if (opset === 11) for (const nearest_mode of ['round_prefer_floor', 'floor']) b.output(b.op('Resize', [...pre, b.weight(`tf_${nearest_mode}`, [4], [1, 1, 3, 0.5])], { mode: 'nearest', nearest_mode, coordinate_transformation_mode: 'tf_half_pixel_for_nn' }));
      const r = await h.assertSameAsOrt(b.build(`resize${opset}`), { x: f([1, 2, 5, 17]) });
      assert.match(r.source, /memcpy\(out4, in0, sizeof\(float\) \* 170\);/);
    }
  });

  it('with scales, align_corners divides by input length x scale as ONNX defines it (ONNX Runtime divides by the rounded output length)', async () => {
    // test_resize_downsample_scales_{linear,cubic}_align_corners of the ONNX backend suite: the reference's outputs.
    const b = new ModelBuilder(13);
    b.output(b.op('Resize', [b.input('x', [1, 1, 2, 4]), '', b.weight('s', [4], [1, 1, 0.6, 0.6])], { mode: 'linear', coordinate_transformation_mode: 'align_corners' }));
    b.output(b.op('Resize', [b.input('y', [1, 1, 4, 4]), '', b.weight('t', [4], [1, 1, 0.8, 0.8])], { mode: 'cubic', coordinate_transformation_mode: 'align_corners' }));
    const bytes = b.build('resize_align_corners');
    const x = new ort.Tensor('float32', Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8]), [1, 1, 2, 4]);
    const y = new ort.Tensor('float32', Float32Array.from({ length: 16 }, (_, i) => i + 1), [1, 1, 4, 4]);
    const expected = {
      [h.outputName(bytes, 0)]: { dims: [1, 1, 1, 2], data: Float32Array.from([1, 3.142857]) },
      [h.outputName(bytes, 1)]: { dims: [1, 1, 3, 3], data: Float32Array.from([1, 2.3951917, 3.7903831, 6.5807662, 7.9759579, 9.3711491, 12.161532, 13.556724, 14.951916]) },
    };
    await h.assertSame(bytes, { x, y }, expected, [X86], { rtol: 1e-5, atol: 1e-6 });
  });

  it('refuses what it cannot compile, naming the node and why', () => {
    const cases: [string, (b: ModelBuilder) => void, string, RegExp][] = [
      ['scales read at run time', (b) => b.output(b.op('Resize', [b.input('x', [1, 1, 4, 4]), '', b.input('s', [4])])), 'unsupported', /Resize Resize_\d+: scales \(s\) must be known at compile time/],
      ['both scales and sizes', (b) => b.output(b.op('Resize', [b.input('x', [1, 1, 4, 4]), '', b.weight('s', [4], [1, 1, 2, 2]), b.int64('z', [1, 1, 8, 8])])), 'invalid', /Resize Resize_\d+: both scales and sizes are given/],
      ['an unknown mode', (b) => b.output(b.op('Resize', [b.input('x', [1, 1, 4, 4]), '', b.weight('s', [4], [1, 1, 2, 2])], { mode: 'area' })), 'invalid', /Resize Resize_\d+: mode area \(nearest, linear and cubic are defined\)/],
      ['antialias with nearest', (b) => b.output(b.op('Resize', [b.input('x', [1, 1, 4, 4]), '', b.weight('s', [4], [1, 1, 0.5, 0.5])], { antialias: 1 })), 'invalid', /Resize Resize_\d+: antialias applies to linear and cubic modes only/],
      ['tf_crop_and_resize without a roi', (b) => b.output(b.op('Resize', [b.input('x', [1, 1, 4, 4]), '', b.weight('s', [4], [1, 1, 2, 2])], { coordinate_transformation_mode: 'tf_crop_and_resize' })), 'invalid', /tf_crop_and_resize needs a roi of 8 values/],
      ['scales for other axes', (b) => b.output(b.op('Resize', [b.input('x', [1, 1, 4, 4]), '', b.weight('s', [2], [2, 2])], { axes: [1, 2, 3] })), 'invalid', /Resize Resize_\d+: scales have 2 values for 3 axes/],
      ['int64 data', (b) => b.output(b.op('Resize', [b.input('x', [1, 1, 4, 4], 7), '', b.weight('s', [4], [1, 1, 2, 2])]), 7), 'unsupported', /Resize Resize_\d+: only float32 is supported, not int64/],
    ];
    for (const [label, make, code, message] of cases) {
      const b = new ModelBuilder(18);
      make(b);
      assert.throws(() => compileModel(b.build()), (e: unknown) => e instanceof CompileError && e.code === code && message.test(e.message), label);
    }
  });

  it('the CUDA backend refuses Resize by name', () => {
    const b = new ModelBuilder(13);
    b.output(b.op('Resize', [b.input('x', [1, 1, 4, 4]), '', b.weight('s', [4], [1, 1, 2, 2])], { mode: 'cubic' }));
    const bytes = b.build();
    compileModel(bytes);
    assert.throws(() => compileModelCuda(bytes), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /the CUDA backend does not support these operators: Resize$/.test(e.message));
  });
});
