import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { compareOutput } from '../../src/verification/compare';
import { prng } from '../../src/verification/inputs';
import { MODEL_TOLERANCE } from '../../src/verification/spec';
import { ModelBuilder, randomWeights, sameAsReference, toHalfModel } from '../test/builder';
import { encoderLayer, specialValuesModel, TEST_MODELS } from '../test/models';
import { listCases, ONNX_TESTDATA } from './conformance';
import { hgemmBench, hgemmModel, nvccBenchArgs, nvccModelArgs, PROBE, sgemmBench, sgemmModel } from './cuda/check';
import { runCudaCase } from './cuda/conformance';
import { compileModelCuda, CudaModel } from './cuda/generate';
import { modelHarness } from './harness';
import { f16Bits, halfBits, halfValue } from './half';
import { CompileError, IO_BYTES } from './ir';

const CUDA_HOME = process.env.KILN_CUDA_HOME ?? '/usr/local/cuda';
const NVCC = join(CUDA_HOME, 'bin/nvcc');
const ARCHES = ['sm_80', 'sm_90'];
const hasNvcc = existsSync(NVCC);

/** Writes a generated model and the verification harness into a fresh directory. */
async function writeModel(root: string, label: string, model: CudaModel): Promise<string> {
  const dir = join(root, label);
  execFileSync('mkdir', ['-p', dir]);
  for (const [name, content] of Object.entries(model.files)) await writeFile(join(dir, name), content);
  await writeFile(join(dir, 'harness.c'), modelHarness(model.metadata));
  return dir;
}

/**
 * Builds the generated CUDA in host emulation (the kernels' __host__ __device__ code, with each
 * block's threads stepped phase by phase on the CPU), runs it, and returns the outputs.
 */
async function runEmulated(dir: string, model: CudaModel, inputs: ArrayBufferView[], defines: string[] = []): Promise<Buffer[]> {
  execFileSync('g++', ['-x', 'c++', '-std=c++17', '-O1', '-Wall', '-Wno-unknown-pragmas', '-Werror', '-DKILN_HOST_EMULATION', ...defines.map((d) => `-D${d}`), '-c', 'net.cu', '-o', 'net_emu.o'], { cwd: dir });
  execFileSync('gcc', ['-O1', '-c', 'harness.c', '-o', 'harness.o'], { cwd: dir });
  execFileSync('g++', ['net_emu.o', 'harness.o', '-o', 'net_emu', '-lm'], { cwd: dir });
  await writeFile(join(dir, 'inputs.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
  execFileSync(join(dir, 'net_emu'), ['inputs.bin', 'outputs.bin'], { cwd: dir, timeout: 120_000 });
  const out = await readFile(join(dir, 'outputs.bin'));
  let o = 0;
  return model.metadata.outputs.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1) * IO_BYTES[t.dtype];
    const b = out.subarray(o, o + n);
    o += n;
    return Buffer.from(b);
  });
}

/** Compares the emulated CUDA build of a model with onnxruntime-node's CPU outputs on seeded inputs. */
async function checkAgainstOrt(root: string, label: string, bytes: Uint8Array, inputShapes?: Record<string, number[]>): Promise<CudaModel> {
  const model = compileModelCuda(bytes, { name: 'net', inputShapes });
  const session = await ort.InferenceSession.create(bytes);
  const rand = prng(7);
  const inputs = model.metadata.inputs.map((t) => Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1));
  const feeds = Object.fromEntries(model.metadata.inputs.map((t, i) => [t.name, new ort.Tensor('float32', inputs[i], t.shape)]));
  const expected = await session.run(feeds);
  const actual = await runEmulated(await writeModel(root, label, model), model, inputs);
  model.metadata.outputs.forEach((t, i) => {
    const e = expected[t.name].data as Float32Array;
    const r = compareOutput(t.name, 'float32', Buffer.from(e.buffer, e.byteOffset, e.byteLength), actual[i], MODEL_TOLERANCE);
    assert.ok(r.passed, `${label}/${t.name}: ${r.mismatches} mismatches, worst ${JSON.stringify(r.worst)}, max abs ${r.maxAbsError}`);
    assert.ok(e.some((v) => v !== 0), 'the reference output is not all zeros');
  });
  return model;
}

describe('CUDA generator: the kernels\' arithmetic, run on the host, against onnxruntime-node', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'kiln-cuda-'));
  });
  after(async () => rm(root, { recursive: true, force: true }));

  for (const m of TEST_MODELS) {
    it(`${m.name}`, async () => {
      const model = await checkAgainstOrt(root, m.name, m.build(), m.inputShapes);
      assert.ok(model.launches.length > 0);
    });
  }

  it('uses the tiled GEMM, implicit-GEMM convolution, warp-row kernels and fused element-wise kernels where they apply', () => {
    const kinds = (i: number) => new Set(compileModelCuda(TEST_MODELS[i].build(), { name: 'net', inputShapes: TEST_MODELS[i].inputShapes }).launches.map((l) => l.kernel));
    assert.deepEqual([...kinds(0)].sort(), ['gemm', 'warp-rows']);
    assert.ok(kinds(1).has('implicit-gemm'));
    assert.ok(kinds(2).has('elementwise') && kinds(2).has('direct'));
    const gelu = compileModelCuda(TEST_MODELS[4].build(), { name: 'net', fusion: false });
    // Without the GEMM epilogue fusion, GELU's five nodes become one element-wise kernel.
    assert.ok(gelu.launches.some((l) => l.kernel === 'elementwise' && /Erf/.test(l.node) && /Mul/.test(l.node)), JSON.stringify(gelu.launches));
  });

  it('intermediates share device memory where their lifetimes do not overlap (and the results stay right)', async () => {
    const model = await checkAgainstOrt(root, 'encoder', encoderLayer(16, 64, 2));
    assert.ok(model.memory.arena < model.memory.intermediates, JSON.stringify(model.memory));
    assert.ok(model.memory.arena > 0);
  });

  it('net_run_device refuses a buffer that is not 16-byte aligned (the GEMM reads 16 bytes at a time)', async () => {
    const model = compileModelCuda(TEST_MODELS[0].build(), { name: 'net', inputShapes: TEST_MODELS[0].inputShapes });
    const dir = await writeModel(root, 'aligned', model);
    await writeFile(join(dir, 'main.c'), `#include <stdio.h>
#include "net.h"
static float x[4 * 16 + 4] __attribute__((aligned(16))), y[4 * 10 + 4] __attribute__((aligned(16)));
int main(void) {
  const void *in[1] = { x + 1 };
  void *out[1] = { y };
  const void *in2[1] = { x };
  printf("%d %d\\n", net_run_device(in, out), net_run_device(in2, out));
  return 0;
}
`);
    execFileSync('g++', ['-x', 'c++', '-std=c++17', '-O1', '-DKILN_HOST_EMULATION', '-c', 'net.cu', '-o', 'net_emu.o'], { cwd: dir });
    execFileSync('gcc', ['-c', 'main.c', '-o', 'main.o'], { cwd: dir });
    execFileSync('g++', ['net_emu.o', 'main.o', '-o', 'main', '-lm'], { cwd: dir });
    assert.equal(execFileSync(join(dir, 'main'), { encoding: 'utf8' }).trim(), '716 0');
  });

  it('GEMM tiles with ragged edges (large and small tile configurations), batch broadcasting, transposes, alpha and beta', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', [2, 130, 45]);
    const big = b.op('MatMul', [x, b.weight('w', [45, 131], randomWeights(3, 45 * 131, 0.2))]);
    const y = b.input('y', [3, 1, 7, 5]);
    const bat = b.op('MatMul', [y, b.weight('v', [2, 5, 9], randomWeights(4, 90, 0.3))]);
    const a = b.input('a', [11, 6]);
    const g = b.op('Gemm', [a, b.weight('gb', [13, 11], randomWeights(5, 143, 0.3)), b.weight('gc', [1, 13], randomWeights(6, 13, 0.3))], { transA: 1, transB: 1, alpha: 0.5, beta: 2.0 });
    const vec = b.op('Add', [b.op('MatMul', [b.input('u', [3, 5]), b.weight('u1', [5], randomWeights(14, 5, 0.5))]), b.weight('ub', [3], randomWeights(15, 3, 0.5))]);
    b.output(b.op('Relu', [big]));
    b.output(bat);
    b.output(g);
    b.output(vec);
    const model = await checkAgainstOrt(root, 'gemm-edges', b.build());
    assert.deepEqual(model.launches.map((l) => l.kernel), ['gemm', 'gemm', 'gemm', 'gemm']);
  });

  it('convolution: strides, dilations, padding, batches, groups; pooling with padding', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', [2, 6, 13, 11]);
    const c1 = b.op('Conv', [x, b.weight('k1', [7, 6, 3, 3], randomWeights(7, 7 * 54, 0.2)), b.weight('k1b', [7], randomWeights(8, 7, 0.2))], { strides: [2, 1], dilations: [1, 2], pads: [1, 2, 0, 1] });
    const c2 = b.op('Conv', [x, b.weight('k2', [6, 2, 3, 3], randomWeights(9, 108, 0.3))], { group: 3, pads: [1, 1, 1, 1] });
    b.output(b.op('MaxPool', [c1], { kernel_shape: [3, 2], strides: [2, 2], pads: [1, 0, 1, 1] }));
    b.output(b.op('AveragePool', [c2], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], count_include_pad: 1 }));
    b.output(b.op('AveragePool', [c2], { kernel_shape: [2, 2], strides: [2, 2] }));
    const model = await checkAgainstOrt(root, 'conv-edges', b.build());
    assert.ok(model.launches.some((l) => l.kernel === 'implicit-gemm') && model.launches.some((l) => l.kernel === 'direct'));
  });

  it('AveragePool counting pads in ceil mode, with dilations (1-D, 2-D): taps past the end pad are not counted', async () => {
    const b = new ModelBuilder(19);
    const x1 = b.input('x1', [2, 3, 32]);
    b.output(b.op('AveragePool', [x1], { kernel_shape: [5], strides: [3], dilations: [2], ceil_mode: 1, count_include_pad: 1 }));
    const x2 = b.input('x2', [1, 2, 17, 16]);
    b.output(b.op('AveragePool', [x2], { kernel_shape: [3, 2], strides: [3, 2], dilations: [2, 3], pads: [1, 0, 0, 1], ceil_mode: 1, count_include_pad: 1 }));
    b.output(b.op('AveragePool', [x2], { kernel_shape: [2, 2], strides: [2, 3], pads: [0, 1, 1, 0], ceil_mode: 1, count_include_pad: 1 }));
    await checkAgainstOrt(root, 'averagepool-ceil', b.build());
  });

  it('softmax along an inner axis and over long rows, layer norm, reductions, transpose, concat, broadcasting element-wise chains', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', [3, 70, 4]);
    b.output(b.op('Softmax', [x], { axis: 1 }));
    b.output(b.op('LogSoftmax', [x], { axis: -1 }));
    const ln = b.op('LayerNormalization', [x, b.weight('g', [70, 4], randomWeights(10, 280, 0.5)), b.weight('bb', [4], randomWeights(11, 4, 0.5))], { axis: 1, epsilon: 1e-5 });
    b.output(ln);
    b.output(b.op('ReduceMean', [x], { axes: [0, 2], keepdims: 1 }));
    b.output(b.op('ReduceMax', [x], { axes: [1], keepdims: 0 }));
    const t = b.op('Transpose', [x], { perm: [2, 0, 1] });
    b.output(b.op('Concat', [t, b.op('Sigmoid', [t])], { axis: 1 }));
    const chain = b.op('Tanh', [b.op('Sub', [b.op('Mul', [x, b.weight('s', [70, 1], randomWeights(12, 70, 1))]), b.weight('o', [4], randomWeights(13, 4, 1))])]);
    b.output(b.op('Clip', [chain, b.weight('lo', [], [-0.5]), b.weight('hi', [], [0.6])]));
    const model = await checkAgainstOrt(root, 'rows', b.build());
    // Mul, Sub, Tanh and Clip are one kernel.
    assert.ok(model.launches.some((l) => l.kernel === 'elementwise' && /Mul \+ Sub \+ Tanh \+ Clip|Clip.*Tanh.*Sub.*Mul|Mul.*Sub.*Tanh.*Clip/.test(l.node)), JSON.stringify(model.launches));
  });

  it('element-wise operators give NaN, infinities and -0 where ONNX Runtime does, and stay finite for large inputs', async () => {
    const { bytes, ops, input, shape } = specialValuesModel();
    const session = await ort.InferenceSession.create(bytes);
    const expected = await session.run({ x: new ort.Tensor('float32', input, shape) });
    await session.release();
    const model = compileModelCuda(bytes, { name: 'net' });
    const actual = await runEmulated(await writeModel(root, 'nan', model), model, [input]);
    model.metadata.outputs.forEach((t, k) => {
      const got = new Float32Array(actual[k].buffer.slice(actual[k].byteOffset, actual[k].byteOffset + actual[k].byteLength));
      const want = expected[t.name].data as Float32Array;
      for (let i = 0; i < want.length; i++) {
        const same = sameAsReference(got[i], want[i]);
        assert.ok(same, `${ops[k]}(${input[i]}): ${got[i]}, ONNX Runtime ${want[i]}`);
      }
    });
  });
});

describe('CUDA generator: half-precision models, tensor-core GEMM (host emulation) against onnxruntime-node', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'kiln-cuda-half-'));
  });
  after(async () => rm(root, { recursive: true, force: true }));

  /** A float16 model, emulated on tensor cores and on CUDA cores, against ONNX Runtime's float16 outputs. */
  async function checkHalf(label: string, bytes: Uint8Array, inputShapes?: Record<string, number[]>): Promise<CudaModel> {
    const model = compileModelCuda(bytes, { name: 'net', inputShapes });
    const session = await ort.InferenceSession.create(bytes);
    const rand = prng(5);
    const inputs = model.metadata.inputs.map((t) => Uint16Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => f16Bits(rand() * 2 - 1)));
    const expected = await session.run(Object.fromEntries(model.metadata.inputs.map((t, i) => [t.name, new ort.Tensor('float16', inputs[i], t.shape)])));
    const dir = await writeModel(root, label, model);
    for (const defines of [[], ['KILN_EMULATE_CUDA_CORES']]) {
      const actual = await runEmulated(dir, model, inputs, defines);
      model.metadata.outputs.forEach((t, i) => {
        assert.equal(t.dtype, 'float16');
        const e = expected[t.name].data as Uint16Array;
        const r = compareOutput(t.name, 'float16', Buffer.from(e.buffer, e.byteOffset, e.byteLength), actual[i], { rtol: 1e-2, atol: 1e-3, maxUlp: null });
        assert.ok(r.passed, `${label}/${t.name} ${defines.join(' ')}: ${r.mismatches} mismatches, worst ${JSON.stringify(r.worst)}, max ${r.maxUlp} ulp`);
        assert.ok(Array.from(e).some((v) => (v & 0x7fff) !== 0), 'the reference output is not all zeros');
      });
    }
    return model;
  }

  for (const m of TEST_MODELS) {
    it(`${m.name} in float16`, async () => {
      const model = await checkHalf(m.name, toHalfModel(m.build()), m.inputShapes);
      if (m.name === 'mlp' || m.name === 'lenet' || m.name === 'transformer_layer') assert.ok(model.launches.some((l) => l.kernel === 'tensor-core-gemm'), JSON.stringify(model.launches));
      assert.ok(!model.launches.some((l) => l.kernel === 'gemm' || l.kernel === 'implicit-gemm'), 'no float16 GEMM falls back to the SIMT kernel');
    });
  }

  it('float16 GEMM tiles with ragged edges, batch broadcasting, transposes, alpha and beta', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', [3, 70, 45]);
    const y = b.op('MatMul', [x, b.weight('w', [45, 131], randomWeights(1, 45 * 131, 0.2))]);
    const flat = b.op('Reshape', [y, b.int64('s', [210, 131])]);
    b.output(b.op('Gemm', [flat, b.weight('g', [33, 131], randomWeights(2, 33 * 131, 0.1)), b.weight('c', [33], randomWeights(3, 33, 0.5))], { transB: 1, alpha: 0.5, beta: 2 }));
    const model = await checkHalf('ragged', toHalfModel(b.build('ragged')));
    assert.equal(model.launches.filter((l) => l.kernel === 'tensor-core-gemm').length, 2);
  });

  it('bfloat16 GEMM on tensor cores and CUDA cores rounds its operands and result to bfloat16', async () => {
    const [M, K, N] = [37, 70, 50];
    const b = new ModelBuilder();
    const x = b.input('x', [M, K]);
    const wv = randomWeights(9, K * N, 0.3);
    const h = b.op('MatMul', [b.op('Cast', [x], { to: 16 }), b.op('Cast', [b.weight('w', [K, N], wv)], { to: 16 })]);
    b.output(b.op('Cast', [h], { to: 1 }));
    const model = compileModelCuda(b.build('bf16'), { name: 'net' });
    assert.deepEqual(model.launches.filter((l) => l.kernel === 'tensor-core-gemm').length, 1, JSON.stringify(model.launches));
    const rand = prng(3);
    const xv = Float32Array.from({ length: M * K }, () => rand() * 4 - 2);
    const bf = (v: number) => halfValue('bfloat16', halfBits('bfloat16', v));
    const want = new Float32Array(M * N);
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += bf(xv[m * K + k]) * bf(wv[k * N + n]);
        want[m * N + n] = bf(s);
      }
    const dir = await writeModel(root, 'bf16', model);
    for (const defines of [[], ['KILN_EMULATE_CUDA_CORES']]) {
      const [got] = await runEmulated(dir, model, [xv], defines);
      const r = compareOutput('y', 'float32', Buffer.from(want.buffer), got, { rtol: 1e-2, atol: 1e-2, maxUlp: null });
      assert.ok(r.passed, `${defines.join(' ')}: ${r.mismatches} mismatches, worst ${JSON.stringify(r.worst)}`);
      const values = new Float32Array(got.buffer, got.byteOffset, M * N);
      assert.ok(values.every((v) => v === bf(v)), 'every result is a bfloat16 value');
    }
  });
});

describe('CUDA generator on ONNX backend test cases (host emulation)', { skip: existsSync(ONNX_TESTDATA) ? false : 'libonnx-testdata is not installed' }, () => {
  const GROUPS = ['test_conv_', 'test_gemm_', 'test_matmul_', 'test_softmax_', 'test_logsoftmax_', 'test_maxpool_2d_', 'test_averagepool_2d_', 'test_reduce_mean_', 'test_transpose_', 'test_concat_', 'test_batchnorm_', 'test_slice', 'test_split_', 'test_expand_', 'test_gather_', 'test_constant_pad', 'test_selu', 'test_celu'];
  for (const prefix of GROUPS) {
    it(`${prefix}* computes the expected outputs or is refused by name`, async () => {
      const cases = (await listCases('node')).filter((d) => d.split('/').pop()!.startsWith(prefix) && !d.endsWith('_expanded'));
      const results = [];
      for (const dir of cases) results.push(await runCudaCase(dir, 'node'));
      const wrong = results.filter((r) => r.status === 'failed' || r.status === 'error');
      assert.deepEqual(wrong.map((r) => `${r.name}: ${r.detail}`), []);
      assert.ok(results.some((r) => r.status === 'passed'), `none of ${results.length} cases ran`);
      for (const r of results.filter((x) => x.status === 'unsupported')) assert.match(r.detail, /CUDA backend|unsupported|not supported|only/);
    });
  }
});

describe('CUDA generator refuses what it cannot emit, naming the operators', () => {
  it('an operator without a CUDA kernel fails generation by name', () => {
    const b = new ModelBuilder();
    const x = b.input('x', [1, 3, 4, 4]);
    b.output(b.op('Relu', [b.op('Resize', [x, '', b.weight('scales', [4], [1, 1, 2, 2])], { mode: 'nearest' })]));
    assert.throws(() => compileModelCuda(b.build()), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /CUDA backend does not support these operators: Resize/.test(e.message));
  });

  it('Gather with indices read at run time (token ids), GatherElements and GatherND are refused as unsupported, saying so', () => {
    const DT = onnx.TensorProto.DataType;
    const g = new ModelBuilder();
    g.output(g.op('Gather', [g.weight('table', [10, 4], randomWeights(1, 40, 1)), g.input('ids', [3], DT.INT64)]));
    assert.throws(() => compileModelCuda(g.build()), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /supports Gather with constant indices only: Gather_\d+ reads its indices from ids at run time/.test(e.message));
    for (const op of ['GatherElements', 'GatherND']) {
      const b = new ModelBuilder();
      b.output(b.op(op, [b.input('x', [3, 4]), b.input('i', [3, 1], DT.INT64)]));
      assert.throws(() => compileModelCuda(b.build()), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && new RegExp(`does not support these operators: ${op}`).test(e.message), op);
    }
  });

  it('non-float tensors fail generation, naming the node', () => {
    const b = new ModelBuilder();
    const x = b.input('x', [2, 5]);
    b.output(b.op('Where', [b.op('Greater', [x, b.weight('z', [], [0])]), x, b.weight('m', [], [1])]));
    assert.throws(() => compileModelCuda(b.build()), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /Greater|Where/.test(e.message));
  });
});

describe('CUDA generator: nvcc builds cubin, PTX and the host library', { skip: hasNvcc ? false : `no nvcc at ${NVCC}` }, () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'kiln-nvcc-'));
  });
  after(async () => rm(root, { recursive: true, force: true }));

  for (const m of TEST_MODELS) {
    for (const arch of ARCHES) {
      it(`${m.name}: cubin and PTX for ${arch}`, async () => {
        const model = compileModelCuda(m.build(), { name: 'net', inputShapes: m.inputShapes });
        const dir = await writeModel(root, `${m.name}-${arch}`, model);
        execFileSync(NVCC, ['-std=c++17', '-O3', `-arch=${arch}`, '-cubin', '-Werror', 'all-warnings', 'net.cu', '-o', 'net.cubin'], { cwd: dir });
        execFileSync(NVCC, ['-std=c++17', '-O3', `-arch=${arch.replace('sm_', 'compute_')}`, '-ptx', 'net.cu', '-o', 'net.ptx'], { cwd: dir });
        const cubin = await readFile(join(dir, 'net.cubin'));
        assert.deepEqual([...cubin.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], 'an ELF file');
        assert.equal(cubin.readUInt16LE(18), 190, 'e_machine is EM_CUDA (190)');
        const ptx = await readFile(join(dir, 'net.ptx'), 'utf8');
        assert.match(ptx, new RegExp(`^\\.target ${arch}\\b`, 'm'));
        const entries = [...ptx.matchAll(/^(?:\.visible |\.weak )?\.entry (\S+)\(/gm)].map((e) => e[1]);
        // One kernel per launch kind used: the GEMM template's instances, pointwise instances, the row kernels.
        if (model.launches.some((l) => l.kernel === 'gemm' || l.kernel === 'implicit-gemm')) assert.ok(entries.some((e) => e.includes('kiln_gemm_kernel')), entries.join(' '));
        if (model.launches.some((l) => l.kernel === 'elementwise' || l.kernel === 'direct')) assert.ok(entries.some((e) => e.includes('kiln_pointwise')), entries.join(' '));
        if (model.launches.some((l) => l.kernel === 'warp-rows')) assert.ok(entries.some((e) => /kiln_(softmax|layernorm)_kernel/.test(e)), entries.join(' '));
      });
    }
  }

  for (const arch of ['sm_75', ...ARCHES]) {
    it(`float16 and bfloat16 GEMMs build for ${arch}: tensor-core instructions where the architecture has them for the format`, async () => {
      const b = new ModelBuilder();
      const x = b.input('x', [64, 96]);
      const h = b.op('MatMul', [x, b.weight('w', [96, 80], randomWeights(4, 96 * 80, 0.1))]);
      b.output(b.op('Cast', [b.op('MatMul', [b.op('Cast', [h], { to: 16 }), b.op('Cast', [b.weight('v', [80, 24], randomWeights(5, 80 * 24, 0.1))], { to: 16 })])], { to: 10 }));
      const model = compileModelCuda(toHalfModel(b.build('mixed')), { name: 'net' });
      const dir = await writeModel(root, `half-${arch}`, model);
      execFileSync(NVCC, ['-std=c++17', '-O3', `-arch=${arch}`, '-cubin', '-Werror', 'all-warnings', 'net.cu', '-o', 'net.cubin'], { cwd: dir });
      execFileSync(NVCC, ['-std=c++17', '-O3', `-arch=${arch.replace('sm_', 'compute_')}`, '-ptx', 'net.cu', '-o', 'net.ptx'], { cwd: dir });
      const ptx = await readFile(join(dir, 'net.ptx'), 'utf8');
      const f16 = /mma\.sync\.aligned\.[^\n]*\.f32\.f16\.f16\.f32/.test(ptx) || /wmma\.mma\.sync\.aligned\.[^\n]*\.f32\.f32/.test(ptx);
      assert.ok(f16, `float16 tensor-core instructions in the PTX for ${arch}`);
      const bf16 = /(w)?mma\.[^\n]*bf16/.test(ptx);
      assert.equal(bf16, arch !== 'sm_75', `bfloat16 tensor-core instructions only from sm_80 (${arch})`);
    });
  }

  it('the host shared library exports the C entry points, links cudart statically, and reports a CUDA error (not results) where there is no GPU', async () => {
    const m = TEST_MODELS[0];
    const model = compileModelCuda(m.build(), { name: 'net', inputShapes: m.inputShapes });
    const dir = await writeModel(root, 'shared', model);
    execFileSync(NVCC, ['-std=c++17', '-O3', '-gencode', 'arch=compute_80,code=[sm_80,compute_80]', '-gencode', 'arch=compute_90,code=[sm_90,compute_90]', '-shared', '-Xcompiler', '-fPIC', '-cudart', 'static', 'net.cu', '-o', 'libnet.so'], { cwd: dir });
    const symbols = execFileSync('nm', ['-D', '--defined-only', 'libnet.so'], { cwd: dir, encoding: 'utf8' });
    for (const s of ['net_run', 'net_run_device', 'net_release']) assert.match(symbols, new RegExp(`\\bT ${s}$`, 'm'));
    assert.doesNotMatch(symbols, /kiln_/, 'nothing but the entry points is exported');
    const lib = await readFile(join(dir, 'libnet.so'));
    const weights = model.files['net.weights.bin'] as Uint8Array;
    assert.ok(weights.length > 0 && lib.indexOf(Buffer.from(weights)) >= 0, 'the weights are embedded as binary data');
    const needed = execFileSync('readelf', ['-d', 'libnet.so'], { cwd: dir, encoding: 'utf8' });
    assert.doesNotMatch(needed, /libcudart/, 'cudart is linked statically');
    execFileSync('gcc', ['harness.c', '-o', 'run', '-L.', '-lnet', '-Wl,-rpath,$ORIGIN'], { cwd: dir });
    await writeFile(join(dir, 'inputs.bin'), Buffer.alloc(4 * 16 * 4));
    const gpu = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
    const run = spawnSync(join(dir, 'run'), ['inputs.bin', 'outputs.bin'], { cwd: dir, timeout: 60_000 });
    if (gpu.status === 0 && /GPU \d+:/.test(gpu.stdout)) assert.equal(run.status, 0, `on a GPU the library runs: ${run.stderr}`);
    else assert.equal(run.status, 107, 'without a GPU net_run returns a CUDA error, and the harness exits 107');
  });
});

describe('gpu-check refuses to pretend', () => {
  it('its device probe builds with nvcc and, on this machine, reports the device count it gets', { skip: hasNvcc ? false : `no nvcc at ${NVCC}` }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-probe-'));
    try {
      await writeFile(join(dir, 'probe.cu'), PROBE);
      execFileSync(NVCC, ['probe.cu', '-o', 'probe'], { cwd: dir });
      const out = execFileSync(join(dir, 'probe'), { cwd: dir, encoding: 'utf8' });
      const gpu = spawnSync('nvidia-smi', ['-L']).status === 0;
      assert.match(out, gpu ? /^count [1-9]\d* ok\nsm_\d+ /m : /^count 0 /m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('its model executables build with nvcc and, without a GPU, exit with the harness\'s error code instead of writing outputs', { skip: hasNvcc ? false : `no nvcc at ${NVCC}` }, async () => {
    const root = await mkdtemp(join(tmpdir(), 'kiln-gpu-exe-'));
    try {
      const m = TEST_MODELS[4];
      const model = compileModelCuda(m.build(), { name: 'net', inputShapes: m.inputShapes });
      const dir = await writeModel(root, 'exe', model);
      execFileSync(NVCC, nvccModelArgs('sm_90'), { cwd: dir });
      const n = model.metadata.inputs.reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1) * 4, 0);
      await writeFile(join(dir, 'inputs.bin'), Buffer.alloc(n));
      const run = spawnSync(join(dir, 'run'), ['inputs.bin', 'outputs.bin'], { cwd: dir, timeout: 60_000 });
      const gpu = spawnSync('nvidia-smi', ['-L']).status === 0;
      assert.equal(run.status, gpu ? 0 : 107);
      assert.equal(existsSync(join(dir, 'outputs.bin')), gpu);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });

  it('its SGEMM and float16 GEMM benchmarks build against cuBLAS', { skip: existsSync(join(CUDA_HOME, 'include/cublas_v2.h')) ? false : 'cuBLAS is not installed with this toolkit' }, async () => {
    for (const [model, source] of [[sgemmModel(256), sgemmBench(256)], [hgemmModel(256), hgemmBench(256)]] as const) {
      const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-'));
      try {
        for (const [name, content] of Object.entries(compileModelCuda(model, { name: 'net' }).files)) await writeFile(join(dir, name), content);
        await writeFile(join(dir, 'bench.cu'), source);
        execFileSync(NVCC, nvccBenchArgs('sm_90'), { cwd: dir });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
  });

  it('fails clearly where there is no NVIDIA GPU', { skip: spawnSync('nvidia-smi', ['-L']).status === 0 ? 'this machine has a GPU' : false }, () => {
    const script = join(__dirname, '../../scripts/gpu-check.js');
    const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 120_000 });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no NVIDIA GPU: (nvidia-smi not found|nvidia-smi lists no GPU|cudaGetDeviceCount = 0)/);
    assert.doesNotMatch(r.stdout, /TFLOP\/s/);
  });
});
