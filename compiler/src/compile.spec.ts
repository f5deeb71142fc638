import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { compareOutput } from '../../src/verification/compare';
import { prng } from '../../src/verification/inputs';
import { ModelBuilder, randomWeights, sameAsReference, toHalfModel } from '../test/builder';
import { gemm512, mlp, mobilenetV2Block, resnetBasicBlock, specialValuesModel, TEST_MODELS } from '../test/models';
import { CompileOptions, compileModel, OPS } from './compile';
import { onnx } from 'onnx-proto';
import { compareCaseOutputs, harnessBytes, VERIFY_DTYPE } from './conformance';
import { modelHarness } from './harness';
import { CompileError, IO_BYTES as DTYPE_BYTES } from './ir';
import { f16Bits, halfBits, halfValue } from './half';

const TARGETS: { triple: string; run: (exe: string, args: string[]) => string[]; flags?: string[] }[] = [
  { triple: 'x86_64-linux-gnu', run: (exe, args) => [exe, ...args] },
  { triple: 'aarch64-linux-gnu', run: (exe, args) => ['qemu-aarch64', '-cpu', 'max', exe, ...args] },
];

/** Compiles a model to C, builds it with clang for a target, runs it, returns its outputs. */
async function runCompiled(dir: string, bytes: Uint8Array, inputShapes: Record<string, number[]> | undefined, inputs: ArrayBufferView[], target: (typeof TARGETS)[number], threads = 1, kernels = true, more: CompileOptions = {}) {
  const { files, metadata } = compileModel(bytes, { name: 'net', inputShapes, threads, kernels, ...more });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  await writeFile(join(dir, 'harness.c'), modelHarness(metadata));
  const exe = join(dir, `net-${target.triple}`);
  execFileSync('clang-19', [`--target=${target.triple}`, ...(target.flags ?? []), '-std=c23', '-O2', '-fuse-ld=lld', '-static', '-ffp-contract=off', '-I', dir, join(dir, 'net.c'), join(dir, 'harness.c'), '-o', exe, '-lm', ...(threads > 1 ? ['-lpthread'] : [])], { cwd: dir });
  await writeFile(join(dir, 'inputs.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
  const [cmd, ...args] = target.run(exe, [join(dir, 'inputs.bin'), join(dir, 'outputs.bin')]);
  execFileSync(cmd, args, { cwd: dir, timeout: 60_000 });
  const out = await readFile(join(dir, 'outputs.bin'));
  let o = 0;
  return metadata.outputs.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    const slice = out.subarray(o, o + n);
    o += n;
    return { name: t.name, bytes: Buffer.from(slice) };
  });
}

/**
 * Compiles a float32 model, runs it on a target on seeded inputs in [-1, 1), and checks every
 * output against onnxruntime-node's on the same inputs (rtol 1e-4, atol 1e-5; a reference that is
 * all zeros would prove nothing, so it is refused).
 */
async function assertMatchesOrt(dir: string, bytes: Uint8Array, target: (typeof TARGETS)[number], opts: { seed: number; inputShapes?: Record<string, number[]>; threads?: number; label?: string; compile?: CompileOptions }): Promise<void> {
  const { metadata } = compileModel(bytes, { name: 'net', inputShapes: opts.inputShapes });
  const rand = prng(opts.seed);
  const inputs = metadata.inputs.map((t) => Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1));
  const session = await ort.InferenceSession.create(bytes);
  const expected = await session.run(Object.fromEntries(metadata.inputs.map((t, i) => [t.name, new ort.Tensor('float32', inputs[i], t.shape)])));
  await session.release();
  const actual = await runCompiled(dir, bytes, opts.inputShapes, inputs, target, opts.threads, true, opts.compile);
  for (const a of actual) {
    const e = expected[a.name].data as Float32Array;
    const r = compareOutput(a.name, 'float32', Buffer.from(e.buffer, e.byteOffset, e.byteLength), a.bytes, { rtol: 1e-4, atol: 1e-5, maxUlp: null });
    assert.ok(r.passed, `${opts.label ?? 'model'}/${a.name} on ${target.triple}: ${r.mismatches} mismatches, worst ${JSON.stringify(r.worst)}, max abs ${r.maxAbsError}`);
    assert.ok(e.some((v) => v !== 0), 'the reference output is not all zeros');
  }
}

describe('the ONNX compiler against ONNX Runtime', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-compiler-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  for (const model of TEST_MODELS) {
    for (const target of TARGETS) {
      it(`${model.name} on ${target.triple} matches onnxruntime-node`, async () => {
        await assertMatchesOrt(dir, model.build(), target, { seed: 42, inputShapes: model.inputShapes, label: model.name });
      });
    }
  }
});

describe('NaN, infinities and signed zeros', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-compiler-nan-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  for (const target of TARGETS) {
    it(`Relu and Clip keep NaN and -0 as ONNX Runtime does, standalone and fused into the kernels' epilogues, on ${target.triple}`, async () => {
      const b = new ModelBuilder();
      const x = b.input('x', [1, 8, 6, 6]);
      b.output(b.op('Relu', [x]));
      b.output(b.op('Clip', [x, b.weight('lo', [], [-0.5]), b.weight('hi', [], [0.5])]));
      // A 1x1 convolution (the GEMM kernel) with Relu, and a depthwise one with Clip (Relu6), both fused.
      b.output(b.op('Relu', [b.op('Conv', [x, b.weight('w1', [16, 8, 1, 1], randomWeights(1, 128, 0.5))])]));
      const dw = b.op('Conv', [x, b.weight('wd', [8, 1, 3, 3], randomWeights(2, 72, 0.5))], { group: 8, pads: [1, 1, 1, 1] });
      b.output(b.op('Clip', [dw, b.weight('z', [], [0]), b.weight('six', [], [6])]));
      const bytes = b.build('nan');
      const rand = prng(5);
      const input = Float32Array.from({ length: 8 * 36 }, () => rand() * 2 - 1);
      [[0, NaN], [7, -0], [40, Infinity], [77, -Infinity], [150, NaN], [200, -0], [251, NaN]].forEach(([i, v]) => (input[i] = v));
      const session = await ort.InferenceSession.create(bytes);
      const expected = await session.run({ x: new ort.Tensor('float32', input, [1, 8, 6, 6]) });
      await session.release();
      const actual = await runCompiled(dir, bytes, undefined, [input], target);
      let nans = 0;
      for (const [k, a] of actual.entries()) {
        const got = new Float32Array(a.bytes.buffer.slice(a.bytes.byteOffset, a.bytes.byteOffset + a.bytes.byteLength));
        const want = expected[a.name].data as Float32Array;
        assert.equal(got.length, want.length);
        for (let i = 0; i < want.length; i++) {
          const e = want[i];
          const v = got[i];
          const where = `output ${k} (${a.name}) [${i}]: ${v}, ONNX Runtime ${e}`;
          if (Number.isNaN(e)) {
            nans++;
            assert.ok(Number.isNaN(v), where);
          } else if (k < 2 || !Number.isFinite(e)) assert.ok(Object.is(v, e), where);
          else assert.ok(Math.abs(v - e) <= 1e-5 + 1e-4 * Math.abs(e), where);
        }
      }
      assert.ok(nans > 10, 'NaN reached the outputs of every path');
    });
  }

  it('element-wise operators give NaN, infinities and -0 where ONNX Runtime does, and stay finite for large inputs', async () => {
    const { bytes, ops, input, shape } = specialValuesModel();
    const session = await ort.InferenceSession.create(bytes);
    const expected = await session.run({ x: new ort.Tensor('float32', input, shape) });
    await session.release();
    for (const target of TARGETS) {
      const actual = await runCompiled(dir, bytes, undefined, [input], target);
      for (const [k, a] of actual.entries()) {
        const got = new Float32Array(a.bytes.buffer.slice(a.bytes.byteOffset, a.bytes.byteOffset + a.bytes.byteLength));
        const want = expected[a.name].data as Float32Array;
        for (let i = 0; i < want.length; i++) {
          const same = sameAsReference(got[i], want[i]);
          assert.ok(same, `${ops[k]}(${input[i]}) on ${target.triple}: ${got[i]}, ONNX Runtime ${want[i]}`);
        }
      }
    }
  });
});

describe('Softmax and LogSoftmax on large numbers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-compiler-softmax-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  for (const target of TARGETS) {
    it(`are within a few ulp of ONNX Runtime, with the kernel library and the plain loops, on ${target.triple}`, async () => {
      // ONNX's test_logsoftmax_large_number, rows of 37 (16-float vectors and a tail) around 1e4 and -5e3, and along an outer axis.
      const b = new ModelBuilder(13);
      const a = b.input('a', [2, 4]);
      const w = b.input('w', [3, 37]);
      const t = b.input('t', [37, 3]);
      for (const op of ['LogSoftmax', 'Softmax']) {
        b.output(b.op(op, [a]));
        b.output(b.op(op, [w]));
        b.output(b.op(op, [t], { axis: 0 }));
      }
      const bytes = b.build('softmax_large');
      const rand = prng(3);
      const inputs = [
        Float32Array.from([0, 1, 2, 3, 10000, 10001, 10002, 10003]),
        Float32Array.from({ length: 111 }, (_, i) => (i < 37 ? rand() * 4 : i < 74 ? 10000 + rand() * 8 : -5000 + rand() * 20)),
        Float32Array.from({ length: 111 }, (_, i) => (i % 3 === 0 ? rand() * 4 : i % 3 === 1 ? 10000 + rand() * 8 : -5000 + rand() * 20)),
      ];
      const session = await ort.InferenceSession.create(bytes);
      const expected = await session.run({ a: new ort.Tensor('float32', inputs[0], [2, 4]), w: new ort.Tensor('float32', inputs[1], [3, 37]), t: new ort.Tensor('float32', inputs[2], [37, 3]) });
      await session.release();
      for (const kernels of [true, false]) {
        for (const o of await runCompiled(dir, bytes, undefined, inputs, target, 1, kernels)) {
          const e = expected[o.name].data as Float32Array;
          const r = compareOutput(o.name, 'float32', Buffer.from(e.buffer, e.byteOffset, e.byteLength), o.bytes, { rtol: 0, atol: 0, maxUlp: 4 });
          assert.ok(r.passed, `${o.name}${kernels ? '' : ' (plain loops)'}: ${r.mismatches} mismatches, max ${r.maxUlp} ulp, worst ${JSON.stringify(r.worst)}`);
        }
      }
    });
  }
});

describe('large intermediate buffers', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-compiler-huge-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('are advised onto huge pages on Linux, and the model still matches onnxruntime-node on x86_64 and aarch64; other systems build without it', async () => {
    // A 64 x 128 x 128 intermediate, 4 MiB (a 1x1 convolution and its HardSwish).
    const m = new ModelBuilder();
    const x = m.input('x', [1, 16, 128, 128]);
    const h = m.op('HardSwish', [m.op('Conv', [x, m.weight('e', [64, 16, 1, 1], randomWeights(3, 1024, 0.25))])]);
    m.output(m.op('Conv', [h, m.weight('p', [16, 64, 1, 1], randomWeights(4, 1024, 0.125))]));
    const bytes = m.build('huge');
    const source = compileModel(bytes, { name: 'net' }).files['net.c'] as string;
    // The intermediate tensors are parts of one block (the memory plan); HardSwish is fused into the first convolution.
    assert.match(source, /static char kiln_tensors\[4194304\] KILN_HUGE;/);
    assert.match(source, /kiln_advise_huge\(kiln_tensors, sizeof kiln_tensors\);/);
    assert.match(source, /madvise\(/);
    for (const target of TARGETS) await assertMatchesOrt(dir, bytes, target, { seed: 5 });
    // Without Linux (WASI here), the buffers are plain aligned statics.
    execFileSync('clang-19', ['--target=wasm32-wasi', '-std=c23', '-O2', '-Wall', '-Werror', '-fsyntax-only', '-I', dir, join(dir, 'net.c')], { cwd: dir });
  });
});

/** An inverted residual without batch norm: 1x1 expand + act, depthwise (stride, pads) + act, 1x1 project (+ the input, when it fits). */
function invertedResidual(c: number, h: number, w: number, e: number, m: number, dw: { k: number; stride: number; pads: number[] }, batch = 1): Uint8Array {
  const b = new ModelBuilder();
  const x = b.input('x', [batch, c, h, w]);
  const relu6 = (v: string) => b.op('Clip', [v, b.weight('lo', [], [0]), b.weight('hi', [], [6])]);
  let t = relu6(b.op('Conv', [x, b.weight('we', [e, c, 1, 1], randomWeights(11, e * c, 1 / Math.sqrt(c))), b.weight('be', [e], randomWeights(12, e, 0.1))]));
  t = b.op('Relu', [b.op('Conv', [t, b.weight('wd', [e, 1, dw.k, dw.k], randomWeights(13, e * dw.k * dw.k, 1 / dw.k)), b.weight('bd', [e], randomWeights(14, e, 0.1))], { group: e, strides: [dw.stride, dw.stride], pads: dw.pads })]);
  t = b.op('Conv', [t, b.weight('wp', [m, e, 1, 1], randomWeights(15, m * e, 1 / Math.sqrt(e))), b.weight('bp', [m], randomWeights(16, m, 0.1))]);
  b.output(dw.stride === 1 && m === c && dw.pads.every((p) => p === (dw.k - 1) / 2) ? b.op('Add', [t, x]) : t);
  return b.build('inverted_residual');
}

describe('large weights', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-compiler-weights-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('are copied into anonymous memory by the first run on Linux, and the model still matches onnxruntime-node on x86_64 and aarch64; in place elsewhere', async () => {
    const bytes = gemm512(256); // 256 KiB of weights: read in place
    assert.doesNotMatch(compileModel(bytes, { name: 'net' }).files['net.c'] as string, /kiln_copy_weights/);
    const big = gemm512(384); // 576 KiB
    assert.match(compileModel(big, { name: 'net' }).files['net.c'] as string, /^    kiln_copy_weights\(\);$/m);
    for (const target of TARGETS) await assertMatchesOrt(dir, big, target, { seed: 21 });
    // Kept in place when asked, and where there is no Linux.
    execFileSync('clang-19', ['-std=c23', '-O2', '-DKILN_WEIGHTS_IN_PLACE', '-fsyntax-only', '-I', dir, join(dir, 'net.c')], { cwd: dir });
    execFileSync('clang-19', ['--target=wasm32-wasi', '-std=c23', '-O2', '-Wall', '-Werror', '-fsyntax-only', '-I', dir, join(dir, 'net.c')], { cwd: dir });
  });
});

describe('inverted residuals, run as one kernel a row at a time', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-compiler-ir-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const cases = [
    { name: 'stride 1 with the residual, rows of 16', bytes: () => mobilenetV2Block(16, 16, 4), threads: 1 },
    { name: 'stride 2, 5x5, asymmetric pads, rows of 15, two images', bytes: () => invertedResidual(8, 15, 15, 24, 12, { k: 5, stride: 2, pads: [2, 1, 1, 2] }, 2), threads: 1 },
    { name: 'stride 1, 3x3, rows of 20, on two threads', bytes: () => invertedResidual(12, 21, 20, 48, 12, { k: 3, stride: 1, pads: [1, 1, 1, 1] }), threads: 2 },
  ];
  for (const c of cases) {
    for (const target of TARGETS) {
      it(`${c.name} on ${target.triple} matches onnxruntime-node`, async () => {
        const bytes = c.bytes();
        assert.doesNotMatch(compileModel(bytes, { name: 'net', threads: c.threads }).files['net.c'] as string, /kiln_ir\(&r\);/, 'small blocks run as three kernels');
        const source = compileModel(bytes, { name: 'net', threads: c.threads, invertedResidualBytes: 0 }).files['net.c'] as string;
        assert.match(source, /kiln_ir\(&r\);/, 'the block runs as one kernel');
        assert.doesNotMatch(source, /kiln_dwconv\(&d\);/);
        await assertMatchesOrt(dir, bytes, target, { seed: 9, threads: c.threads, compile: { invertedResidualBytes: 0 } });
      });
    }
  }
});

describe('half-precision models against ONNX Runtime', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-compiler-half-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  for (const model of TEST_MODELS) {
    it(`${model.name} in float16 on x86_64 matches onnxruntime-node within float16's precision`, async () => {
      const bytes = toHalfModel(model.build());
      const session = await ort.InferenceSession.create(bytes);
      const rand = prng(11);
      const { metadata } = compileModel(bytes, { name: 'net', inputShapes: model.inputShapes });
      assert.ok(metadata.inputs.every((t) => t.dtype === 'float16') && metadata.outputs.every((t) => t.dtype === 'float16'), 'the edges are float16');
      const inputs = metadata.inputs.map((t) => Uint16Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => f16Bits(rand() * 2 - 1)));
      const expected = await session.run(Object.fromEntries(metadata.inputs.map((t, i) => [t.name, new ort.Tensor('float16', inputs[i], t.shape)])));
      for (const a of await runCompiled(dir, bytes, model.inputShapes, inputs, TARGETS[0])) {
        const e = expected[a.name].data as Uint16Array;
        assert.equal(e.byteLength, a.bytes.length);
        const r = compareOutput(a.name, 'float16', Buffer.from(e.buffer, e.byteOffset, e.byteLength), a.bytes, { rtol: 1e-2, atol: 1e-3, maxUlp: null });
        assert.ok(r.passed, `${model.name}/${a.name}: ${r.mismatches} mismatches, worst ${JSON.stringify(r.worst)}, max ${r.maxUlp} ulp`);
        assert.ok(Array.from(e).some((v) => (v & 0x7fff) !== 0), 'the reference output is not all zeros');
      }
    });
  }

  it('rounds to float16 and bfloat16 as ONNX Runtime casts do: ties to even, subnormals, overflow, NaN', async () => {
    const values = [0, -0, 1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 65504, 65520, 65519.99, 1e6, -1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14 - 2 ** -25, 5.960464477539063e-8, Infinity, -Infinity, NaN, 0.1, -3.14159, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4e38, 1e-40];
    // x86_64 built without F16C takes the portable conversions; with F16C, and on aarch64 (FCVT), the hardware's.
    const f16c = { ...TARGETS[0], flags: ['-mf16c'] };
    for (const [kind, code, target] of [['float16', 10, TARGETS[0]], ['float16', 10, f16c], ['float16', 10, TARGETS[1]], ['bfloat16', 16, TARGETS[0]]] as const) {
      const b = new ModelBuilder();
      const x = b.input('x', [values.length]);
      const h = b.op('Cast', [x], { to: code });
      b.output(b.op('Cast', [b.op('Mul', [h, h])], { to: 1 }));
      b.output(b.op('Cast', [h], { to: 1 }));
      const bytes = b.build(`cast_${kind}`);
      const input = Float32Array.from(values);
      const { metadata } = compileModel(bytes, { name: 'net' });
      assert.deepEqual(metadata.outputs.map((o) => o.dtype), ['float32', 'float32']);
      const actual = await runCompiled(dir, bytes, undefined, [input], target);
      const roundTrip = new Float32Array(actual[1].bytes.buffer, actual[1].bytes.byteOffset, values.length);
      const expect = values.map((v) => halfValue(kind, halfBits(kind, v)));
      assert.deepEqual(Array.from(roundTrip, (v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : v)), expect.map((v) => (Number.isNaN(v) ? 'NaN' : Object.is(v, -0) ? '-0' : Math.fround(v))), kind);
      const squared = new Float32Array(actual[0].bytes.buffer, actual[0].bytes.byteOffset, values.length);
      squared.forEach((v, i) => {
        const e = halfValue(kind, halfBits(kind, expect[i] * expect[i]));
        assert.ok(Object.is(v, Math.fround(e)) || (Number.isNaN(v) && Number.isNaN(e)), `${kind}: ${values[i]}^2 gave ${v}, not ${e}`);
      });
      if (kind === 'float16' && target === TARGETS[0]) {
        // ONNX Runtime's own Cast agrees on every value (its CPU provider has no bfloat16 Mul to compare with).
        const cast = new ModelBuilder();
        const cx = cast.input('x', [values.length]);
        cast.output(cast.op('Cast', [cast.op('Cast', [cx], { to: code })], { to: 1 }));
        const session = await ort.InferenceSession.create(cast.build('cast_only'));
        const out = (await session.run({ x: new ort.Tensor('float32', input, [values.length]) }))[session.outputNames[0]].data as Float32Array;
        assert.deepEqual(Array.from(out, String), Array.from(roundTrip, String));
      }
    }
  });
});

/** Models for operators the five test models do not use, each checked against ONNX Runtime. */
const OPERATOR_MODELS: { name: string; build: () => Uint8Array }[] = [
  {
    name: '1-D convolution and pooling (NCW)',
    build() {
      const b = new ModelBuilder();
      const x = b.input('x', [2, 4, 19]);
      let h = b.op('Conv', [x, b.weight('w', [6, 4, 3], randomWeights(3, 72, 0.3)), b.weight('bias', [6], randomWeights(4, 6, 0.1))], { pads: [1, 2], strides: [2], dilations: [2] });
      h = b.op('MaxPool', [b.op('Relu', [h])], { kernel_shape: [3], pads: [1, 1], strides: [1] });
      h = b.op('Conv', [h, b.weight('g', [6, 3, 2], randomWeights(5, 36, 0.3))], { group: 2 });
      b.output(b.op('AveragePool', [h], { kernel_shape: [2], pads: [1, 1], count_include_pad: 1 }));
      return b.build('conv1d');
    },
  },
  {
    name: '3-D convolution and pooling (NCDHW)',
    build() {
      const b = new ModelBuilder();
      const x = b.input('x', [1, 4, 6, 7, 5]);
      let h = b.op('Conv', [x, b.weight('w', [4, 2, 3, 3, 2], randomWeights(6, 144, 0.3)), b.weight('bias', [4], randomWeights(7, 4, 0.1))], { group: 2, pads: [1, 1, 0, 1, 1, 1], strides: [1, 2, 1] });
      h = b.op('MaxPool', [h], { kernel_shape: [2, 2, 2], strides: [2, 1, 2], pads: [0, 1, 1, 1, 0, 0] });
      b.output(b.op('AveragePool', [h], { kernel_shape: [2, 3, 2], pads: [1, 1, 0, 0, 1, 1] }));
      return b.build('conv3d');
    },
  },
  {
    name: 'AveragePool counting pads in ceil mode, with dilations (1-D, 2-D, 3-D): taps past the end pad are not counted',
    build() {
      // Opset 19 gives AveragePool dilations. The last window of each axis reaches past the end pad only because of ceil_mode.
      const b = new ModelBuilder(19);
      const pool = (x: string, attrs: Record<string, number | number[]>) => b.output(b.op('AveragePool', [x], { ceil_mode: 1, count_include_pad: 1, ...attrs }));
      const x1 = b.input('x1', [2, 3, 32]);
      pool(x1, { kernel_shape: [5], strides: [3], dilations: [2] });
      pool(x1, { kernel_shape: [3], strides: [2], pads: [1, 0] });
      const x2 = b.input('x2', [1, 2, 17, 16]);
      pool(x2, { kernel_shape: [3, 2], strides: [3, 2], dilations: [2, 3], pads: [1, 0, 0, 1] });
      pool(x2, { kernel_shape: [2, 2], strides: [2, 3], pads: [0, 1, 1, 0] });
      const x3 = b.input('x3', [1, 2, 16, 11, 13]);
      pool(x3, { kernel_shape: [5, 5, 5], strides: [3, 3, 3], dilations: [2, 2, 2] });
      pool(x3, { kernel_shape: [2, 3, 2], strides: [2, 2, 3], dilations: [2, 1, 3], pads: [1, 1, 0, 0, 1, 1] });
      return b.build('averagepool_ceil');
    },
  },
  {
    name: 'sequences lowered at compile time, and Shrink',
    build() {
      const b = new ModelBuilder();
      const x = b.input('x', [3, 4, 5]);
      const seq = b.op('SplitToSequence', [x], { axis: 1, keepdims: 0 });
      const inserted = b.op('SequenceInsert', [seq, b.op('Shrink', [b.op('SequenceAt', [seq, b.int64('last', [-1])])], { lambd: 0.3, bias: 0.1 }), b.int64('first', [0])]);
      const erased = b.op('SequenceErase', [inserted, b.int64('two', [2])]);
      b.output(b.op('ConcatFromSequence', [erased], { axis: -1, new_axis: 1 }));
      return b.build('sequences');
    },
  },
];

describe('operators beyond the test models, against ONNX Runtime', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-compiler-ops-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  for (const model of OPERATOR_MODELS) {
    it(`${model.name} on x86_64 matches onnxruntime-node`, async () => {
      const bytes = model.build();
      const session = await ort.InferenceSession.create(bytes);
      const rand = prng(7);
      const { metadata } = compileModel(bytes, { name: 'net' });
      const inputs = metadata.inputs.map((t) => Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1));
      const expected = await session.run(Object.fromEntries(metadata.inputs.map((t, i) => [t.name, new ort.Tensor('float32', inputs[i], t.shape)])));
      for (const a of await runCompiled(dir, bytes, undefined, inputs, TARGETS[0])) {
        const e = expected[a.name];
        assert.deepEqual(metadata.outputs.find((o) => o.name === a.name)!.shape, [...e.dims]);
        const data = e.data as Float32Array;
        const r = compareOutput(a.name, 'float32', Buffer.from(data.buffer, data.byteOffset, data.byteLength), a.bytes, { rtol: 1e-5, atol: 1e-6, maxUlp: null });
        assert.ok(r.passed, `${model.name}/${a.name}: ${r.mismatches} mismatches, worst ${JSON.stringify(r.worst)}`);
      }
    });
  }
});

describe('string tensors: StringNormalizer against ONNX Runtime', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-compiler-strings-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  // ONNX Runtime needs the locale named (en_US.UTF-8 by default, not installed here); Kiln changes ASCII letters only.
  const words = ['Monday', 'tuesday', 'MONDAY', 'Straße', 'wednesday', 'monday', ''];
  const cases: { name: string; attrs: Record<string, unknown>; shape: number[]; input: string[] }[] = [
    { name: 'case-insensitive stopwords, upper case, [1, C]', attrs: { case_change_action: 'UPPER', stopwords: { strings: ['monday', 'tuesday'] }, locale: 'C.UTF-8' }, shape: [1, 6], input: ['Monday', 'tuesday', 'MONDAY', 'Friday', 'wednesday', ''] },
    { name: 'case-sensitive stopwords, lower case, [C], UTF-8 passed through', attrs: { case_change_action: 'LOWER', is_case_sensitive: 1, stopwords: { strings: ['monday'] }, locale: 'C.UTF-8' }, shape: [7], input: words },
    { name: 'every word a stopword: one empty string', attrs: { stopwords: { strings: ['a', 'b'] }, locale: 'C.UTF-8' }, shape: [3], input: ['A', 'b', 'B'] },
    { name: 'no stopwords, no change: a static shape', attrs: { locale: 'C.UTF-8' }, shape: [2], input: ['x y', 'Z'] },
  ];
  for (const target of [TARGETS[0], TARGETS[1], { triple: 'armv7-linux-gnueabihf', run: (exe: string, args: string[]) => ['qemu-arm', exe, ...args] }]) {
    it(`matches onnxruntime-node on ${target.triple} (pointers of its width, ASCII case changes)`, async () => {
      for (const c of cases) {
        const b = new ModelBuilder();
        b.output(b.op('StringNormalizer', [b.input('x', c.shape, onnx.TensorProto.DataType.STRING)], c.attrs as never), onnx.TensorProto.DataType.STRING);
        const bytes = b.build();
        const session = await ort.InferenceSession.create(bytes);
        const expected = (await session.run({ x: new ort.Tensor('string', c.input, c.shape) }))[session.outputNames[0]];
        const { files, metadata } = compileModel(bytes, { name: 'net' });
        assert.equal(metadata.outputs[0].dynamic, 'stopwords' in c.attrs ? true : undefined);
        for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
        await writeFile(join(dir, 'harness.c'), modelHarness(metadata));
        const exe = join(dir, `strings-${target.triple}`);
        execFileSync('clang-19', [`--target=${target.triple}`, ...(target.flags ?? []), '-std=c23', '-O2', '-fuse-ld=lld', '-static', '-Wall', '-Werror', '-Wno-unused-function', '-I', dir, join(dir, 'net.c'), join(dir, 'harness.c'), '-o', exe, '-lm']);
        await writeFile(join(dir, 'in.bin'), harnessBytes({ dtype: 'string', strings: c.input }));
        const [cmd, ...args] = target.run(exe, [join(dir, 'in.bin'), join(dir, 'out.bin')]);
        execFileSync(cmd, args, { cwd: dir });
        const r = compareCaseOutputs({ suite: 'test', name: c.name, ops: [] }, metadata.outputs, [{ dtype: 'string', shape: [...expected.dims], strings: expected.data as string[] }], await readFile(join(dir, 'out.bin')), () => 'uint8');
        assert.equal(r.status, 'passed', `${c.name}: ${r.detail}`);
      }
    });
  }

  it('refuses a string tensor fed to another operator, and the value-dependent shape anywhere but a graph output', () => {
    const b = new ModelBuilder();
    const y = b.op('StringNormalizer', [b.input('x', [3], onnx.TensorProto.DataType.STRING)], { stopwords: { strings: ['a'] } });
    b.output(b.op('Identity', [y]));
    assert.throws(() => compileModel(b.build()), (e: unknown) => e instanceof CompileError && /its output must be a graph output/.test(e.message));
    const c = new ModelBuilder();
    c.output(c.op('Cast', [c.input('x', [3], onnx.TensorProto.DataType.STRING)], { to: 1 }));
    assert.throws(() => compileModel(c.build()), (e: unknown) => e instanceof CompileError && /Cast Cast_\d+: string tensors are supported by StringNormalizer only/.test(e.message));
    const f = new ModelBuilder();
    f.output(f.op('StringNormalizer', [f.input('x', [3])]));
    assert.throws(() => compileModel(f.build()), (e: unknown) => e instanceof CompileError && /must be a string tensor, not float32/.test(e.message));
  });
});

describe('indices known only at run time: Gather, GatherElements, GatherND', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-compiler-gather-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  const DT = onnx.TensorProto.DataType;
  // armv7: a 32-bit long, so indices are checked as int64 before they become offsets.
  const ARMV7 = { triple: 'armv7-linux-gnueabihf', run: (exe: string, args: string[]) => ['qemu-arm', exe, ...args] };
  const ERROR = "kiln harness: the model's entry point returned 2: an index was out of range";

  /** Builds a model with the harness for a target, runs it on raw inputs: the exit status, stderr, and the outputs' bytes. */
  async function runRaw(bytes: Uint8Array, inputs: ArrayBufferView[], target: { triple: string; run: (exe: string, args: string[]) => string[] }) {
    const { files, metadata } = compileModel(bytes, { name: 'net' });
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    await writeFile(join(dir, 'harness.c'), modelHarness(metadata));
    const exe = join(dir, `gather-${target.triple}`);
    execFileSync('clang-19', [`--target=${target.triple}`, '-std=c23', '-O2', '-fuse-ld=lld', '-static', '-Wall', '-Werror', '-Wno-unused-function', '-I', dir, join(dir, 'net.c'), join(dir, 'harness.c'), '-o', exe, '-lm'], { cwd: dir });
    await writeFile(join(dir, 'inputs.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
    await rm(join(dir, 'outputs.bin'), { force: true });
    const [cmd, ...args] = target.run(exe, [join(dir, 'inputs.bin'), join(dir, 'outputs.bin')]);
    const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    const out = r.status === 0 ? await readFile(join(dir, 'outputs.bin')) : Buffer.alloc(0);
    let o = 0;
    const outputs = metadata.outputs.map((t) => {
      const n = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
      o += n;
      return Buffer.from(out.subarray(o - n, o));
    });
    return { status: r.status, stderr: r.stderr, outputs, metadata, header: files['net.h'] as string };
  }

  /** Runs the model here and in ONNX Runtime on the same inputs; every output must match (floats to 1e-5, integers exactly). */
  async function assertSameAsOrt(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, target: { triple: string; run: (exe: string, args: string[]) => string[] }) {
    const session = await ort.InferenceSession.create(bytes);
    const expected = await session.run(feeds);
    await session.release();
    const r = await runRaw(bytes, Object.values(feeds).map((t) => t.data as ArrayBufferView), target);
    assert.equal(r.status, 0, r.stderr);
    r.metadata.outputs.forEach((t, i) => {
      const e = expected[t.name];
      assert.deepEqual(t.shape, [...e.dims], t.name);
      const data = e.data as ArrayBufferView;
      const tol = t.dtype === 'float32' ? { rtol: 1e-5, atol: 1e-6, maxUlp: null } : { rtol: 0, atol: 0, maxUlp: null };
      const c = compareOutput(t.name, VERIFY_DTYPE[t.dtype as 'float32'], Buffer.from(data.buffer, data.byteOffset, data.byteLength), r.outputs[i], tol);
      assert.ok(c.passed, `${t.name} on ${target.triple}: ${c.mismatches} mismatches, worst ${JSON.stringify(c.worst)}`);
    });
    return r;
  }

  /** Token ids (int64) -> embedding table -> + positions -> MatMul: what a text transformer's first layer does. */
  function embedding(vocab: number, seq: number, hidden: number): Uint8Array {
    const b = new ModelBuilder();
    const ids = b.input('ids', [2, seq], DT.INT64);
    const emb = b.op('Gather', [b.weight('table', [vocab, hidden], randomWeights(31, vocab * hidden, 1)), ids]);
    const h = b.op('Add', [emb, b.weight('positions', [seq, hidden], randomWeights(32, seq * hidden, 0.1))]);
    b.output(b.op('MatMul', [h, b.weight('proj', [hidden, 8], randomWeights(33, hidden * 8, 0.3))]));
    b.output(emb);
    return b.build('embedding');
  }

  for (const target of [...TARGETS, ARMV7]) {
    it(`an embedding lookup on int64 token ids matches onnxruntime-node on ${target.triple}, negative ids counted from the end`, async () => {
      const rand = prng(17);
      const ids = BigInt64Array.from({ length: 14 }, () => BigInt(Math.floor(rand() * 100) - 50));
      ids[0] = 49n;
      ids[1] = -50n;
      await assertSameAsOrt(embedding(50, 7, 24), { ids: new ort.Tensor('int64', ids, [2, 7]) }, target);
    });
  }

  it('int32 indices along an inner axis, int64 data along the last, GatherElements and GatherND (batch_dims 0 and 1) match onnxruntime-node', async () => {
    const b = new ModelBuilder(13);
    const x = b.input('x', [3, 10, 4]);
    const i32 = b.input('i32', [2, 3], DT.INT32);
    b.output(b.op('Gather', [x, i32], { axis: 1 }));
    const table = b.op('Reshape', [b.int64('values', Array.from({ length: 24 }, (_, i) => i * 1000 - 7)), b.int64('tshape', [4, 6])]);
    b.output(b.op('Gather', [table, b.input('i64', [5], DT.INT64)], { axis: -1 }), DT.INT64);
    const e = b.input('e', [4, 5]);
    b.output(b.op('GatherElements', [e, b.input('ei', [4, 3], DT.INT64)], { axis: 1 }));
    b.output(b.op('GatherElements', [e, b.input('ej', [2, 5], DT.INT32)], { axis: 0 }));
    const n = b.input('n', [2, 3, 4]);
    b.output(b.op('GatherND', [n, b.input('ni', [2, 2, 2], DT.INT64)]));
    b.output(b.op('GatherND', [n, b.input('nb', [2, 3, 1], DT.INT64)], { batch_dims: 1 }));
    b.output(b.op('GatherND', [n, b.input('nf', [1, 3], DT.INT64)]));
    const bytes = b.build('gathers');
    const rand = prng(23);
    const floats = (k: number) => Float32Array.from({ length: k }, () => rand() * 2 - 1);
    const ints = (k: number, lo: number, hi: number) => Array.from({ length: k }, () => lo + Math.floor(rand() * (hi - lo)));
    const big = (k: number, lo: number, hi: number) => BigInt64Array.from(ints(k, lo, hi), BigInt);
    const feeds = {
      x: new ort.Tensor('float32', floats(120), [3, 10, 4]),
      i32: new ort.Tensor('int32', Int32Array.from(ints(6, -10, 10)), [2, 3]),
      i64: new ort.Tensor('int64', big(5, -6, 6), [5]),
      e: new ort.Tensor('float32', floats(20), [4, 5]),
      ei: new ort.Tensor('int64', big(12, -5, 5), [4, 3]),
      ej: new ort.Tensor('int32', Int32Array.from(ints(10, -4, 4)), [2, 5]),
      n: new ort.Tensor('float32', floats(24), [2, 3, 4]),
      ni: new ort.Tensor('int64', BigInt64Array.from([1n, 2n, -2n, 0n, 0n, -1n, 1n, 1n]), [2, 2, 2]),
      nb: new ort.Tensor('int64', BigInt64Array.from([2n, 0n, -1n, 1n, 1n, -3n]), [2, 3, 1]),
      nf: new ort.Tensor('int64', BigInt64Array.from([1n, -1n, 3n]), [1, 3]),
    };
    for (const target of TARGETS) await assertSameAsOrt(bytes, feeds, target);
  });

  it('an index out of range (past either end, or beyond 32 bits) makes net_run return 2, which the header documents and the harness reports', async () => {
    const cases: { label: string; bytes: () => Uint8Array; inputs: (bad: bigint) => ArrayBufferView[]; bad: bigint[] }[] = [
      { label: 'Gather', bytes: () => embedding(50, 7, 24), inputs: (bad) => [BigInt64Array.from([0n, 1n, 2n, bad, 4n, 5n, 6n, 7n, 8n, 9n, 10n, 11n, 12n, 13n])], bad: [50n, -51n, 1n << 32n, (1n << 32n) + 1n, -(1n << 62n)] },
      {
        label: 'GatherElements',
        bytes() {
          const b = new ModelBuilder();
          b.output(b.op('GatherElements', [b.input('e', [4, 5]), b.input('ei', [4, 3], DT.INT64)], { axis: 1 }));
          return b.build('gather_elements');
        },
        inputs: (bad) => [new Float32Array(20), BigInt64Array.from({ length: 12 }, (_, i) => (i === 7 ? bad : 1n))],
        bad: [5n, -6n, 1n << 32n],
      },
      {
        label: 'GatherND',
        bytes() {
          const b = new ModelBuilder();
          b.output(b.op('GatherND', [b.input('n', [2, 3, 4]), b.input('ni', [2, 2], DT.INT64)]));
          return b.build('gather_nd');
        },
        inputs: (bad) => [new Float32Array(24), BigInt64Array.from([1n, 2n, 0n, bad])],
        bad: [3n, -4n, (1n << 32n) + 2n],
      },
    ];
    for (const c of cases) {
      const bytes = c.bytes();
      for (const target of [TARGETS[0], ARMV7]) {
        for (const bad of c.bad) {
          const r = await runRaw(bytes, c.inputs(bad), target);
          assert.equal(r.status, 107, `${c.label} with ${bad} on ${target.triple}: exit ${r.status}, ${r.stderr}`);
          assert.equal(r.stderr.trim(), ERROR, c.label);
          assert.deepEqual(r.metadata.errors, { '2': 'an index was out of range' });
          assert.match(r.header, /Returns 0,\n \* or 2 when an index the model reads at run time \(Gather, GatherElements, GatherND,\n \* ScatterElements, ScatterND, RotaryEmbedding\) is out of range for its axis/);
        }
      }
    }
    // Without run-time indices, the entry point only returns 0, and says so.
    const plain = compileModel(TEST_MODELS[0].build(), { name: 'net', inputShapes: TEST_MODELS[0].inputShapes });
    assert.equal(plain.metadata.errors, undefined);
    assert.match(plain.files['net.h'] as string, / \* Returns 0\. Not reentrant/);
  });

  it('keeps constant indices folded, and refuses constant ones out of range at compile time', () => {
    const b = new ModelBuilder();
    const x = b.input('x', [4, 3]);
    b.output(b.op('Gather', [x, b.int64('i', [3, -4, 1])]));
    const source = compileModel(b.build(), { name: 'net' }).files['net.c'] as string;
    assert.match(source, /static const long idx\[3\] = \{ 3, 0, 1 \};/);
    assert.doesNotMatch(source, /return 2;/);
    const bad: [string, (m: ModelBuilder, x: string) => string, RegExp][] = [
      ['Gather', (m, v) => m.op('Gather', [v, m.int64('i', [4])]), /Gather .*an index is out of range/],
      ['GatherElements', (m, v) => m.op('GatherElements', [v, m.op('Reshape', [m.int64('i', [0, 1, -5, 2]), m.int64('s', [2, 2])])]), /GatherElements .*index -5 is out of range for an axis of 4/],
      ['GatherND', (m, v) => m.op('GatherND', [v, m.op('Reshape', [m.int64('i', [1, 3]), m.int64('s', [1, 2])])]), /GatherND .*index 3 is out of range for an axis of 3/],
    ];
    for (const [label, make, message] of bad) {
      const m = new ModelBuilder();
      m.output(make(m, m.input('x', [4, 3])));
      assert.throws(() => compileModel(m.build()), (e: unknown) => e instanceof CompileError && e.code === 'invalid' && message.test(e.message), label);
    }
  });
});

describe('embedded weights', () => {
  it('hold a constant the kernels read packed (or transformed) once, not also as it came', () => {
    // MatMul by a 512 x 512 constant: its 16-column panels only.
    assert.equal(compileModel(gemm512(), { name: 'net' }).metadata.weightsBytes, 512 * 512 * 4);
    // Two 3x3 convolutions run by Winograd: 16 transformed taps per weight pair, and the biases (BatchNormalization folded in), 64-byte aligned.
    assert.equal(compileModel(resnetBasicBlock(), { name: 'net' }).metadata.weightsBytes, 2 * (16 * 64 * 64 * 4 + 256));
    // The plain loops read every constant as it came.
    assert.equal(compileModel(gemm512(), { name: 'net', kernels: false }).metadata.weightsBytes, 512 * 512 * 4);
  });
});

describe('compileModel refuses what it cannot compile, saying why', () => {
  it('refuses sequence positions only known at run time, and sequence outputs', () => {
    const b = new ModelBuilder();
    const x = b.input('x', [2, 3]);
    const seq = b.op('SplitToSequence', [x]);
    const size = b.op('Size', [x]);
    b.output(b.op('SequenceAt', [seq, b.op('Sub', [size, size])]));
    assert.doesNotThrow(() => compileModel(b.build()), 'a position folded from shapes is known');
    const far = new ModelBuilder();
    const f = far.input('x', [2, 3]);
    far.output(far.op('SequenceAt', [far.op('SplitToSequence', [f]), far.op('Size', [f])]));
    assert.throws(() => compileModel(far.build()), (e: unknown) => e instanceof CompileError && /position 6 is out of range for a sequence of 2/.test(e.message));
    const r = new ModelBuilder();
    const y = r.input('y', [2, 3]);
    const s = r.op('SplitToSequence', [y]);
    r.output(r.op('SequenceAt', [s, r.op('Cast', [r.op('ReduceMax', [y], { keepdims: 0 })], { to: 7 })]));
    assert.throws(() => compileModel(r.build()), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /position must be known at compile time/.test(e.message));
    const o = new ModelBuilder();
    o.output(o.op('SplitToSequence', [o.input('z', [4])]));
    assert.throws(() => compileModel(o.build()), (e: unknown) => e instanceof CompileError && /is a sequence; only tensor outputs/.test(e.message));
  });

  it('lists unsupported operators by name', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', [1, 4]);
    b.output(b.op('TfIdfVectorizer', [b.op('ImageDecoder', [x])]));
    assert.throws(() => compileModel(b.build()), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /unsupported operators: ImageDecoder, TfIdfVectorizer/.test(e.message));
  });

  it('names symbolic dimensions the request did not bind, and takes a whole shape for an input that declares none', async () => {
    assert.throws(() => compileModel(mlp()), (e: unknown) => e instanceof CompileError && e.code === 'symbolic-dimension' && /x\[batch\]/.test(e.message));
    const b = new ModelBuilder();
    b.output(b.op('Relu', [b.input('x', null)]));
    const bytes = b.build();
    assert.throws(() => compileModel(bytes), (e: unknown) => e instanceof CompileError && e.code === 'symbolic-dimension' && /x\[\*\] \(\[\*\]: the model declares no shape/.test(e.message));
    assert.deepEqual(compileModel(bytes, { inputShapes: { x: [2, 3] } }).metadata.inputs[0].shape, [2, 3]);
    assert.deepEqual(compileModel(bytes, { inputShapes: { x: [5] } }).metadata.outputs[0].shape, [5]);
  });

  it('refuses malformed bytes and oversized models', () => {
    assert.throws(() => compileModel(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])), (e: unknown) => e instanceof CompileError && e.code === 'malformed');
    assert.throws(() => compileModel(new Uint8Array(100), { maxBytes: 10 }), (e: unknown) => e instanceof CompileError && e.code === 'too-large');
  });

  it('refuses shapes that break an operator\'s rules, naming the rule (ONNX Runtime refuses to load these models)', () => {
    const cases: [string, (b: ModelBuilder, x: string) => string, RegExp][] = [
      ['Concat', (b, x) => b.op('Concat', [x, b.input('y', [2, 1])], { axis: 0 }), /Concat .*inputs \[2,3\], \[2,1\] must have the same rank and agree on every axis but 0/],
      ['Concat rank', (b, x) => b.op('Concat', [x, b.input('y', [2, 3, 1])], { axis: 0 }), /must have the same rank/],
      ['Expand', (b, x) => b.op('Expand', [x, b.int64('s', [4, 4])]), /Expand .*\[2,3\] does not broadcast to \[4,4\]/],
      ['Flatten', (b, x) => b.op('Flatten', [x], { axis: 3 }), /Flatten .*axis 3 is outside \[-2, 2\]/],
      ['ConstantOfShape', (b, x) => b.op('Add', [x, b.op('ConstantOfShape', [b.int64('s', [-3])])]), /ConstantOfShape .*negative dimension/],
      ['Range', (b, x) => b.op('Add', [x, b.op('Range', [b.weight('a', [], [0]), b.weight('l', [], [3]), b.weight('d', [], [0])])]), /Range .*delta is 0/],
      ['Slice', (b, x) => b.op('Slice', [x, b.int64('st', [0]), b.int64('en', [2]), b.int64('ax', [1]), b.int64('sp', [0])]), /Slice .*a step of 0/],
      ['Pad', (b, x) => b.op('Pad', [x, b.int64('p', [1, 1, 1])]), /Pad .*3 pads for 2 axes/],
      ['Unsqueeze', (b, x) => b.op('Unsqueeze', [x, b.int64('ax', [0, 0])]), /Unsqueeze .*an axis is listed twice/],
      ['ReduceMean', (b, x) => b.op('ReduceMean', [x, b.int64('ax', [1])]), /ReduceMean .*axes is an input from opset 18; at opset 17 it is the "axes" attribute/],
    ];
    for (const [label, make, message] of cases) {
      const b = new ModelBuilder();
      b.output(make(b, b.input('x', [2, 3])));
      assert.throws(() => compileModel(b.build()), (e: unknown) => e instanceof CompileError && e.code === 'invalid' && message.test(e.message), label);
    }
  });

  it('refuses tensors too large to allocate instead of trying', () => {
    const b = new ModelBuilder();
    const x = b.input('x', [1]);
    const huge = b.op('ConstantOfShape', [b.int64('shape', [1 << 20, 1 << 20])]);
    b.output(b.op('Add', [huge, x]));
    assert.throws(() => compileModel(b.build()), (e: unknown) => e instanceof CompileError && e.code === 'too-large');
    const wide = new ModelBuilder();
    wide.output(wide.op('Relu', [wide.input('x', [1 << 15, 1 << 15])]));
    assert.throws(() => compileModel(wide.build()), (e: unknown) => e instanceof CompileError && e.code === 'too-large' && /input x/.test(e.message));
  });

  it('has one definition per operator', () => {
    assert.ok(OPS.size >= 50, `${OPS.size} operators`);
  });
});
