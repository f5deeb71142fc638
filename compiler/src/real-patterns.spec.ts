import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { compareOutput } from '../../src/verification/compare';
import { prng } from '../../src/verification/inputs';
import { ModelBuilder, randomWeights } from '../test/builder';
import { CompileOptions, compileModel } from './compile';
import { modelHarness } from './harness';

/**
 * Shapes of graphs that real exported networks have and small test blocks did not: each case
 * compiles a block the way torchvision exports it, builds it for x86_64 at every ISA level this
 * CPU runs (the kernels specialise per level), and compares every output with ONNX Runtime.
 */
const cpu = readFileSync('/proc/cpuinfo', 'utf8');
const LEVELS = ['x86-64', ...(/\bavx2\b/.test(cpu) ? ['x86-64-v3'] : []), ...(/\bavx512f\b/.test(cpu) && /\bavx512bw\b/.test(cpu) ? ['x86-64-v4'] : [])];

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-patterns-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let seed = 1;
function conv(b: ModelBuilder, x: string, cin: number, cout: number, k: number, attrs: Record<string, number | number[]> = {}): string {
  const group = (attrs.group as number | undefined) ?? 1;
  const s = seed++;
  const w = b.weight(`w${s}`, [cout, cin / group, k, k], randomWeights(s, (cout * cin * k * k) / group, Math.sqrt(2 / ((cin / group) * k * k))));
  const bias = b.weight(`b${s}`, [cout], randomWeights(s + 1000, cout, 0.1));
  return b.op('Conv', [x, w, bias], { kernel_shape: [k, k], pads: [(k - 1) >> 1, (k - 1) >> 1, (k - 1) >> 1, (k - 1) >> 1], ...attrs });
}

async function assertMatches(bytes: Uint8Array, label: string, opts: CompileOptions = {}): Promise<void> {
  const { files, metadata } = compileModel(bytes, { name: 'net', ...opts });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  await writeFile(join(dir, 'harness.c'), modelHarness(metadata));
  const rand = prng(42);
  const inputs = metadata.inputs.map((t) => Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1));
  await writeFile(join(dir, 'inputs.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer))));
  const session = await ort.InferenceSession.create(bytes);
  const expected = await session.run(Object.fromEntries(metadata.inputs.map((t, i) => [t.name, new ort.Tensor('float32', inputs[i], t.shape)])));
  await session.release();
  for (const level of LEVELS) {
    const exe = join(dir, `net-${level}`);
    execFileSync('clang-19', [`-march=${level}`, '-std=c23', '-O2', '-I', dir, join(dir, 'net.c'), join(dir, 'harness.c'), '-o', exe, '-lm']);
    execFileSync(exe, [join(dir, 'inputs.bin'), join(dir, 'outputs.bin')], { timeout: 60_000 });
    const out = await readFile(join(dir, 'outputs.bin'));
    let o = 0;
    for (const t of metadata.outputs) {
      const e = expected[t.name].data as Float32Array;
      const n = e.byteLength;
      const r = compareOutput(t.name, 'float32', Buffer.from(e.buffer, e.byteOffset, n), out.subarray(o, o + n), { rtol: 1e-4, atol: 1e-5, maxUlp: null });
      o += n;
      assert.ok(r.passed, `${label} at ${level}: ${r.mismatches} of ${r.count} differ, max abs ${r.maxAbsError}`);
    }
    assert.equal(o, out.length, `${label} at ${level}: the output file has ${out.length - o} bytes too many`);
  }
}

describe('patterns of real networks, at every ISA level', () => {
  it('sums two branches when the one computed first is the one added into the other (RegNet, RepVGG)', async () => {
    // x = proj(x) + f(x): the exporter writes the projection first, so the Add is fused into the
    // last convolution of f, and the projection's result must still be computed.
    const b = new ModelBuilder();
    const x = b.input('x', [1, 16, 20, 20]);
    const proj = conv(b, x, 16, 32, 1, { strides: [2, 2], pads: [0, 0, 0, 0] });
    let f = b.op('Relu', [conv(b, x, 16, 32, 1)]);
    f = b.op('Relu', [conv(b, f, 32, 32, 3, { strides: [2, 2], group: 2 })]);
    f = conv(b, f, 32, 32, 1);
    b.output(b.op('Relu', [b.op('Add', [proj, f])]));
    await assertMatches(b.build('regnet_block'), 'RegNet block');
  });

  it('runs an inverted residual whose width is not a multiple of the vector length, with a stride-2 depthwise convolution (ShuffleNetV2)', async () => {
    for (const [c, e, m, hw] of [
      [24, 58, 58, 56],
      [58, 58, 58, 28],
      [116, 116, 116, 14],
      [8, 17, 33, 9],
    ]) {
      for (const stride of [1, 2]) {
        const b = new ModelBuilder();
        const x = b.input('x', [1, c, hw, hw]);
        let h = b.op('Relu', [conv(b, x, c, e, 1)]);
        h = conv(b, h, e, e, 3, { strides: [stride, stride], group: e });
        h = b.op('Relu', [conv(b, h, e, m, 1)]);
        b.output(h);
        await assertMatches(b.build('shufflenet_branch'), `inverted residual ${c}->${e}->${m} at ${hw}x${hw}, stride ${stride}`);
      }
    }
  });

  it('expands a class token to a shape the exporter computes from the input through Shape, Gather, Concat, Equal and Where (ViT, DeiT, BERT)', async () => {
    // cls_token.expand(B, -1, -1), as torch.onnx.export writes it: the -1s become 1s through
    // Where(Equal(shape, -1), ones, shape), all of it foldable once the input shape is bound.
    const b = new ModelBuilder();
    const D = 24;
    const x = b.input('x', [2, 5, D]);
    const cls = b.weight('cls', [1, 1, D], randomWeights(7, D, 1));
    const batch = b.op('Gather', [b.op('Shape', [x]), b.int64('zero', [0])], { axis: 0 });
    const shape = b.op('Concat', [batch, b.int64('minus', [-1, -1])], { axis: 0 });
    const ones = b.op('ConstantOfShape', [b.int64('three', [3])], { value: { tensor: { dims: [1], dataType: 7, int64Data: [1] } } });
    const isMinus = b.op('Equal', [shape, b.op('Mul', [ones, b.int64('m1', [-1])])]);
    const target = b.op('Where', [isMinus, ones, shape]);
    b.output(b.op('Concat', [b.op('Expand', [cls, target]), x], { axis: 1 }));
    await assertMatches(b.build('class_token'), 'class token');
  });

  it('tiles a tensor known only at run time (position embeddings, repeated masks)', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', [2, 3, 5]);
    b.output(b.op('Tile', [x, b.int64('reps', [2, 1, 3])]));
    b.output(b.op('Tile', [b.op('Relu', [x]), b.int64('reps1', [1, 4, 1])]));
    await assertMatches(b.build('tile'), 'Tile');
  });

  it('writes the branches of a Concat straight into its output (SqueezeNet, GoogLeNet), nested, as a graph output, and where a part would start off a 64-byte boundary', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', [1, 8, 6, 6]);
    // Parts of 16 x 36 floats: in place. Then a Concat of that with another branch (nested).
    const inner = b.op('Concat', [b.op('Relu', [conv(b, x, 8, 16, 1)]), conv(b, x, 8, 16, 3)], { axis: 1 });
    const outer = b.op('Concat', [inner, conv(b, x, 8, 4, 1)], { axis: 1 });
    b.output(b.op('Relu', [outer]));
    // Parts of 3 x 36 floats: the second would start off a 64-byte boundary, so this one copies.
    b.output(b.op('Concat', [conv(b, x, 8, 3, 1), conv(b, x, 8, 5, 1)], { axis: 1 }));
    const bytes = b.build('concat_in_place');
    const c = compileModel(bytes, { name: 'net' }).files['net.c'] as string;
    assert.equal((c.match(/\/\* Concat /g) ?? []).length, 2, 'the outer Concat is elided (the inner one copies into its part of it) and the misaligned one copies');
    await assertMatches(bytes, 'Concat in place');
  });

  it('fuses SiLU (Sigmoid and Mul, EfficientNet) and HardSwish (MobileNetV3) into the convolution before them, on every convolution path: 1x1, 3x3, strided, depthwise, grouped and inverted residuals', async () => {
    const silu = (b: ModelBuilder, v: string) => b.op('Mul', [v, b.op('Sigmoid', [v])]);
    const hswish = (b: ModelBuilder, v: string) => b.op('HardSwish', [v]);
    for (const [name, act] of [['SiLU', silu], ['HardSwish', hswish]] as const) {
      const b = new ModelBuilder(17);
      const x = b.input('x', [1, 8, 17, 17]);
      let h = act(b, conv(b, x, 8, 24, 3, { strides: [2, 2] }));
      const e = act(b, conv(b, h, 24, 40, 1));
      const d = act(b, conv(b, e, 40, 40, 5, { group: 40, pads: [2, 2, 2, 2] }));
      h = b.op('Add', [conv(b, d, 40, 24, 1), h]);
      h = act(b, conv(b, h, 24, 24, 3, { group: 4 }));
      // Sigmoid(x) * x with the operands the other way round, and a Mul by a Sigmoid of another tensor (not SiLU).
      const other = b.op('Mul', [b.op('Sigmoid', [h]), h]);
      b.output(b.op('Mul', [conv(b, other, 24, 16, 1), b.op('Sigmoid', [conv(b, other, 24, 16, 1)])]));
      const bytes = b.build(`act_${name}`);
      const c = compileModel(bytes, { name: 'net' }).files['net.c'] as string;
      const fused = (c.match(new RegExp(name === 'SiLU' ? 'SiLU \\(' : '\\+ HardSwish', 'g')) ?? []).length;
      assert.ok(fused >= 4, `${name}: fused ${fused} times`);
      await assertMatches(bytes, `${name} fused into convolutions`);
    }
  });

  it('scales a 1x1 convolution\'s weights by squeeze-and-excitation\'s channel scale instead of multiplying the tensor (EfficientNet, MobileNetV3, RegNetY)', async () => {
    const b = new ModelBuilder(17);
    const silu = (v: string) => b.op('Mul', [v, b.op('Sigmoid', [v])]);
    // A 7x7 plane: 49 elements, not a whole number of vectors, for the pooling's sums.
    let h = silu(conv(b, b.input('x', [1, 24, 7, 7]), 24, 24, 3, { group: 24 }));
    const se = (x: string, gate: (v: string) => string) => gate(conv(b, silu(conv(b, b.op('GlobalAveragePool', [x]), 24, 6, 1)), 6, 24, 1));
    h = conv(b, b.op('Mul', [h, se(h, (v) => b.op('Sigmoid', [v]))]), 24, 24, 1);
    // The scale first, a HardSigmoid gate (MobileNetV3), and a residual into the scaled convolution.
    const g = b.op('Relu', [conv(b, h, 24, 24, 3, { group: 24 })]);
    h = b.op('Add', [conv(b, b.op('Mul', [se(g, (v) => b.op('HardSigmoid', [v], { alpha: 1 / 6, beta: 0.5 })), g]), 24, 24, 1), h]);
    // A scaled tensor that is also added back after the convolutions that read it stays a Mul (RepViT).
    const m = b.op('Mul', [h, se(h, (v) => b.op('Sigmoid', [v]))]);
    h = b.op('Add', [conv(b, b.op('Relu', [conv(b, m, 24, 48, 1)]), 48, 24, 1), m]);
    // And so does a scale a 3x3 convolution reads.
    b.output(conv(b, b.op('Mul', [h, se(h, (v) => b.op('Sigmoid', [v]))]), 24, 8, 3));
    const bytes = b.build('squeeze_excitation');
    const { metadata } = compileModel(bytes, { name: 'net' });
    const kernels = metadata.kernels!.map((k) => k.ops.join('+'));
    assert.equal(kernels.filter((k) => k.startsWith('Conv+Mul')).length, 2, kernels.join(', '));
    assert.equal(kernels.filter((k) => k === 'Mul').length, 2, 'the residual and the 3x3 convolution\'s input are multiplied');
    await assertMatches(bytes, 'squeeze-and-excitation');
    await assertMatches(bytes, 'squeeze-and-excitation, plain loops', { kernels: false });
  });

  it('writes a part of a Concat that an Unsqueeze of a Split gives into the Concat\'s output (SKNet\'s selective kernel)', async () => {
    const b = new ModelBuilder(17);
    const [s1, s2] = b.node('Split', [b.input('x', [1, 8, 6, 6]), b.int64('sizes', [4, 4])], { axis: 1 }, 2);
    const p = b.op('Relu', [conv(b, s1, 4, 16, 3)]);
    const q = b.op('Relu', [conv(b, s2, 4, 16, 3, { dilations: [2, 2], pads: [2, 2, 2, 2] })]);
    const axes = b.int64('axes', [1]);
    const stacked = b.op('Concat', [b.op('Unsqueeze', [p, axes]), b.op('Unsqueeze', [q, axes])], { axis: 1 });
    b.output(b.op('ReduceSum', [b.op('Mul', [stacked, b.op('Softmax', [b.op('ReduceMean', [stacked], { axes: [3, 4] })], { axis: 1 })]), axes], { keepdims: 0 }));
    const bytes = b.build('split_unsqueeze_concat');
    await assertMatches(bytes, 'Split, Unsqueeze, Concat');
  });

  it('runs depthwise convolutions of small planes 16 channels at a time: 5x5, stride 2, dilated, 24 channels, with bias and clamp (the last stages of MobileNetV3 and EfficientNet)', async () => {
    const b = new ModelBuilder(17);
    const relu6 = (v: string) => b.op('Clip', [v, b.weight(`lo${seed++}`, [], [0]), b.weight(`hi${seed++}`, [], [6])]);
    let h = relu6(conv(b, b.input('x', [1, 24, 14, 14]), 24, 24, 3, { group: 24, strides: [2, 2] }));
    h = relu6(conv(b, h, 24, 24, 5, { group: 24 }));
    h = conv(b, h, 24, 24, 3, { group: 24, dilations: [2, 2], pads: [2, 2, 2, 2] });
    b.output(b.op('Sigmoid', [conv(b, h, 24, 24, 7, { group: 24, pads: [3, 3, 3, 3] })]));
    const bytes = b.build('small_depthwise');
    const c = compileModel(bytes, { name: 'net' }).files['net.c'] as string;
    assert.equal((c.match(/\.bh = [1-9]/g) ?? []).length, 4, 'every one blocked');
    await assertMatches(bytes, 'small depthwise planes');
  });

  it('computes GPT-2\'s GELU (Pow by 3, Tanh) in vectorised loops without calls into the C library', async () => {
    const b = new ModelBuilder(17);
    const x = b.op('MatMul', [b.input('x', [1, 32, 64]), b.weight('w', [64, 128], randomWeights(7, 64 * 128, 0.5))]);
    const k = (v: number) => b.weight(`k${seed++}`, [], [v]);
    const inner = b.op('Mul', [b.op('Add', [x, b.op('Mul', [b.op('Pow', [x, k(3)]), k(0.044715)])]), k(Math.sqrt(2 / Math.PI))]);
    b.output(b.op('Mul', [b.op('Mul', [x, k(0.5)]), b.op('Add', [b.op('Tanh', [inner]), k(1)])]));
    const bytes = b.build('gelu_tanh');
    const c = compileModel(bytes, { name: 'net' }).files['net.c'] as string;
    assert.doesNotMatch(c, /\b(powf|tanhf)\(/);
    await assertMatches(bytes, 'GELU (tanh)');
  });

  it('adds each residual in the epilogue of the convolution before it, also after earlier fusions removed nodes (ResNet, MobileNetV2)', async () => {
    const b = new ModelBuilder();
    let h = b.op('Relu', [conv(b, b.input('x', [1, 16, 12, 12]), 16, 16, 3)]);
    for (let i = 0; i < 3; i++) {
      const f = b.op('Relu', [conv(b, h, 16, 16, 3)]);
      h = b.op('Relu', [b.op('Add', [conv(b, f, 16, 16, 3), h])]);
    }
    b.output(h);
    const bytes = b.build('resnet_blocks');
    const c = compileModel(bytes, { name: 'net' }).files['net.c'] as string;
    assert.equal((c.match(/\/\* Add /g) ?? []).length, 0, 'every residual Add is fused into a convolution');
    assert.equal((c.match(/\+ Add /g) ?? []).length, 3);
    await assertMatches(bytes, 'ResNet blocks');
  });
});
