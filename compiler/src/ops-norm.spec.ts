import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { floats, OrtHarness, TARGETS, X86 } from '../test/ort-harness';
import { compileModel } from './compile';
import { compileModelCuda } from './cuda/generate';
import { CompileError } from './ir';

/*
 * InstanceNormalization, GroupNormalization (opsets 18 and 21) and RMSNormalization (opset 23):
 * compiled, built with clang for x86_64 and aarch64 (under qemu), run on seeded inputs and
 * compared with ONNX Runtime, on awkward sizes (1, 3, 17 channels and positions) and on the
 * long rows of audio models (16000 samples), where the moments must be accumulated accurately.
 */

const DT = onnx.TensorProto.DataType;
/** What these tests ask of the normalisations against ONNX Runtime. */
const TOL = { rtol: 1e-4, atol: 1e-5 };

/** InstanceNormalization in double, as the definition reads: the test's own reference where ONNX Runtime's float sums would be the less exact. */
function instanceNormRef(x: Float32Array, shape: number[], scale: ArrayLike<number>, bias: ArrayLike<number>, eps: number): Float32Array {
  const [N, C] = shape;
  const S = shape.slice(2).reduce((a, b) => a * b, 1);
  const y = new Float32Array(x.length);
  for (let nc = 0; nc < N * C; nc++) {
    let mean = 0;
    for (let i = 0; i < S; i++) mean += x[nc * S + i];
    mean /= S;
    let v = 0;
    for (let i = 0; i < S; i++) v += (x[nc * S + i] - mean) ** 2;
    v /= S;
    for (let i = 0; i < S; i++) y[nc * S + i] = ((x[nc * S + i] - mean) / Math.sqrt(v + eps)) * scale[nc % C] + bias[nc % C];
  }
  return y;
}

describe('InstanceNormalization, GroupNormalization and RMSNormalization against ONNX Runtime', () => {
  const h = new OrtHarness();
  before(() => h.open());
  after(() => h.close());

  it('InstanceNormalization: ranks 3, 4 and 5, 1, 3 and 17 channels, one spatial element, epsilon, scale and bias as weights or inputs', async () => {
    const b = new ModelBuilder(17);
    const f = floats(11);
    const feeds: Record<string, ort.Tensor> = {};
    const cases: [number[], number][] = [
      [[2, 3, 17], 1e-5],
      [[1, 17, 3, 5], 1e-3],
      [[2, 1, 3, 1, 4], 1e-5],
      [[3, 3, 1], 1e-5],
      [[1, 17, 1, 1], 0.25],
    ];
    cases.forEach(([shape, epsilon], k) => {
      const C = shape[1];
      feeds[`x${k}`] = f(shape, -2, 3);
      const x = b.input(`x${k}`, shape);
      const weights = k % 2 === 0;
      const scale = weights ? b.weight(`s${k}`, [C], f([C], 0.5, 1.5).data as Float32Array) : b.input(`s${k}`, [C]);
      const bias = weights ? b.weight(`b${k}`, [C], f([C]).data as Float32Array) : b.input(`b${k}`, [C]);
      if (!weights) {
        feeds[`s${k}`] = f([C], -1.5, 1.5);
        feeds[`b${k}`] = f([C]);
      }
      b.output(b.op('InstanceNormalization', [x, scale, bias], { epsilon }));
    });
    await h.assertSameAsOrt(b.build('instancenorm'), feeds, TARGETS, TOL);
  });

  it('InstanceNormalization over 16000 samples matches ONNX Runtime, and the double reference where the samples sit far from zero', async () => {
    const b = new ModelBuilder(17);
    const C = 3;
    b.output(b.op('InstanceNormalization', [b.input('x', [1, C, 16000]), b.weight('s', [C], [1.5, -0.5, 2]), b.weight('b', [C], [0.1, 0, -3])]));
    const bytes = b.build('instancenorm_long');
    const f = floats(12);
    await h.assertSameAsOrt(bytes, { x: f([1, C, 16000], -1, 3) }, TARGETS, TOL);
    // Around 1000 with a spread of 0.01: a float sum loses the variance; two passes in double keep it.
    const x = f([1, C, 16000], 999.99, 1000.01);
    const want = instanceNormRef(x.data as Float32Array, [1, C, 16000], [1.5, -0.5, 2], [0.1, 0, -3], 1e-5);
    await h.assertSame(bytes, { x }, { [h.outputName(bytes)]: { dims: [1, C, 16000], data: want } }, [X86], TOL);
  });

  it('GroupNorm as PyTorch exports it (Reshape, InstanceNormalization, Reshape, Mul, Add): one group (PoolFormer) and a group per channel over 16000 samples (wav2vec2)', async () => {
    const groupNorm = (b: ModelBuilder, x: string, shape: number[], G: number, seed: number) => {
      const C = shape[1];
      const f = floats(seed);
      const r = b.op('Reshape', [x, b.int64(`g${seed}`, [0, G, -1])]);
      const n = b.op('InstanceNormalization', [r, b.weight(`ones${seed}`, [G], new Array(G).fill(1)), b.weight(`zeros${seed}`, [G], new Array(G).fill(0))], { epsilon: 1e-5 });
      const back = b.op('Reshape', [n, b.int64(`shape${seed}`, shape)]);
      const bcast = [C, ...shape.slice(2).map(() => 1)];
      return b.op('Add', [b.op('Mul', [back, b.weight(`w${seed}`, bcast, f([C], 0.5, 1.5).data as Float32Array)]), b.weight(`bias${seed}`, bcast, f([C]).data as Float32Array)]);
    };
    const b = new ModelBuilder(17);
    b.output(groupNorm(b, b.input('img', [2, 17, 5, 3]), [2, 17, 5, 3], 1, 1));
    b.output(groupNorm(b, b.input('audio', [1, 3, 16000]), [1, 3, 16000], 3, 2));
    const f = floats(13);
    await h.assertSameAsOrt(b.build('groupnorm_pattern'), { img: f([2, 17, 5, 3], -1, 2), audio: f([1, 3, 16000]) }, TARGETS, TOL);
  });

  it('GroupNormalization: per-group scale and bias in opset 18, per-channel in opset 21 (with stash_type), 1, 3 and all groups, ranks 3 and 4', async () => {
    for (const opset of [18, 21]) {
      const b = new ModelBuilder(opset);
      const f = floats(opset);
      const feeds: Record<string, ort.Tensor> = {};
      const cases: [number[], number][] = [
        [[2, 6, 17], 3],
        [[1, 3, 4, 5], 1],
        [[2, 3, 1, 17], 3],
        [[1, 17, 3], 17],
        [[1, 3, 1], 1],
      ];
      cases.forEach(([shape, G], k) => {
        const n = opset >= 21 ? shape[1] : G;
        feeds[`x${k}`] = f(shape, -1, 2);
        const attrs: Record<string, number> = { num_groups: G, epsilon: k === 1 ? 1e-2 : 1e-5 };
        if (opset >= 21 && k % 2 === 0) attrs.stash_type = 1;
        b.output(b.op('GroupNormalization', [b.input(`x${k}`, shape), b.weight(`s${k}`, [n], f([n], 0.5, 1.5).data as Float32Array), b.weight(`b${k}`, [n], f([n]).data as Float32Array)], attrs));
      });
      await h.assertSameAsOrt(b.build(`groupnorm${opset}`), feeds, TARGETS, TOL);
    }
  });

  it('RMSNormalization (opset 23): the last axis, several trailing axes, all axes, negative axes, scale of the normalised shape or broadcast to it, epsilon', async () => {
    const b = new ModelBuilder(23);
    const f = floats(23);
    const feeds: Record<string, ort.Tensor> = {};
    const cases: { shape: number[]; axis?: number; scale: number[]; epsilon?: number }[] = [
      { shape: [2, 3, 17], scale: [17] },
      { shape: [2, 3, 17], axis: 1, scale: [3, 17], epsilon: 1e-3 },
      { shape: [2, 3, 17], axis: -2, scale: [17] },
      { shape: [3, 17], axis: 0, scale: [3, 17] },
      { shape: [1, 1, 3], axis: -1, scale: [1, 1, 3] },
      { shape: [4, 1], scale: [1] },
      { shape: [2, 16000], scale: [16000] },
    ];
    cases.forEach(({ shape, axis, scale, epsilon }, k) => {
      feeds[`x${k}`] = f(shape, -2, 2);
      const attrs: Record<string, number> = {};
      if (axis !== undefined) attrs.axis = axis;
      if (epsilon !== undefined) attrs.epsilon = epsilon;
      b.output(b.op('RMSNormalization', [b.input(`x${k}`, shape), b.weight(`s${k}`, scale, f(scale, 0.5, 1.5).data as Float32Array)], attrs));
    });
    await h.assertSameAsOrt(b.build('rmsnorm'), feeds, TARGETS, TOL);
  });

  it('refuses what it cannot compile, naming the node and why', () => {
    const cases: [string, (b: ModelBuilder) => void, string, RegExp][] = [
      ['InstanceNormalization of rank 2', (b) => b.output(b.op('InstanceNormalization', [b.input('x', [2, 3]), b.weight('s', [3], [1, 1, 1]), b.weight('b', [3], [0, 0, 0])])), 'invalid', /InstanceNormalization InstanceNormalization_\d+: the input must have rank 3 or more/],
      ['InstanceNormalization with a scale of the wrong size', (b) => b.output(b.op('InstanceNormalization', [b.input('x', [1, 3, 4]), b.weight('s', [2], [1, 1]), b.weight('b', [3], [0, 0, 0])])), 'invalid', /scale \(s\) must have shape \[3\], not \[2\]/],
      ['InstanceNormalization of float64', (b) => b.output(b.op('InstanceNormalization', [b.input('x', [1, 3, 4], DT.DOUBLE), b.input('s', [3], DT.DOUBLE), b.input('b', [3], DT.DOUBLE)]), DT.DOUBLE), 'unsupported', /InstanceNormalization InstanceNormalization_\d+: only float32 is supported, not float64/],
      ['GroupNormalization with groups that do not divide the channels', (b) => b.output(b.op('GroupNormalization', [b.input('x', [1, 6, 4]), b.weight('s', [4], [1, 1, 1, 1]), b.weight('b', [4], [0, 0, 0, 0])], { num_groups: 4 })), 'invalid', /GroupNormalization GroupNormalization_\d+: num_groups 4 must be positive and divide the 6 channels/],
      ['GroupNormalization with per-group scale in opset 21', (b) => b.output(b.op('GroupNormalization', [b.input('x', [1, 6, 4]), b.weight('s', [2], [1, 1]), b.weight('b', [2], [0, 0])], { num_groups: 2 })), 'invalid', /scale \(s\) must have shape \[6\], not \[2\]/],
      ['GroupNormalization with a half stash_type', (b) => b.output(b.op('GroupNormalization', [b.input('x', [1, 6, 4]), b.weight('s', [6], [1, 1, 1, 1, 1, 1]), b.weight('b', [6], [0, 0, 0, 0, 0, 0])], { num_groups: 2, stash_type: 10 })), 'unsupported', /stash_type 10 \(float and double are supported\)/],
      ['RMSNormalization with a scale that does not broadcast', (b) => b.output(b.op('RMSNormalization', [b.input('x', [2, 3, 4]), b.weight('s', [3], [1, 1, 1])])), 'invalid', /RMSNormalization RMSNormalization_\d+: scale \[3\] does not broadcast to the normalised shape \[4\]/],
    ];
    for (const [label, make, code, message] of cases) {
      const b = new ModelBuilder(label.includes('RMS') ? 23 : 21);
      make(b);
      assert.throws(() => compileModel(b.build()), (e: unknown) => e instanceof CompileError && e.code === code && message.test(e.message), label);
    }
  });

  it('the CUDA backend refuses each of them by name', () => {
    const models: [string, (b: ModelBuilder) => void][] = [
      ['InstanceNormalization', (b) => b.output(b.op('InstanceNormalization', [b.input('x', [1, 3, 4]), b.weight('s', [3], [1, 1, 1]), b.weight('b', [3], [0, 0, 0])]))],
      ['GroupNormalization', (b) => b.output(b.op('GroupNormalization', [b.input('x', [1, 4, 4]), b.weight('s', [4], [1, 1, 1, 1]), b.weight('b', [4], [0, 0, 0, 0])], { num_groups: 2 }))],
      ['RMSNormalization', (b) => b.output(b.op('RMSNormalization', [b.input('x', [2, 4]), b.weight('s', [4], [1, 1, 1, 1])]))],
    ];
    for (const [op, make] of models) {
      const b = new ModelBuilder(23);
      make(b);
      const bytes = b.build();
      compileModel(bytes); // the C backend takes it
      assert.throws(() => compileModelCuda(bytes), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && new RegExp(`the CUDA backend does not support these operators: ${op}$`).test(e.message), op);
    }
  });
});
