import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { prng } from '../../src/verification/inputs';
import { ModelBuilder } from '../test/builder';
import { compileModel } from './compile';
import { compileModelCuda } from './cuda/generate';
import { modelHarness } from './harness';
import { C_TYPE, CompileError, IO_BYTES } from './ir';

/*
 * The quantization operators (QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
 * MatMulInteger, ConvInteger, QLinearMatMul, QLinearConv): compiled, built with clang for every
 * path of the integer GEMM (x86-64's SSE2, AVX2, AVX-VNNI, AVX-512BW and AVX-512 VNNI where this
 * host runs them; aarch64 with and without the dot-product extension, under qemu), run on seeded
 * inputs and compared with ONNX Runtime: integers bit for bit.
 */

const DT = onnx.TensorProto.DataType;
type Kind = 'float32' | 'int8' | 'uint8' | 'int32' | 'int16' | 'uint16' | 'int64';
const ONNX_TYPE: Record<Kind, number> = { float32: DT.FLOAT, int8: DT.INT8, uint8: DT.UINT8, int32: DT.INT32, int16: DT.INT16, uint16: DT.UINT16, int64: DT.INT64 };
const RANGE: Record<string, [number, number]> = { int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535] };

function typed(kind: Kind, v: ArrayLike<number>): ArrayBufferView & ArrayLike<number | bigint> {
  switch (kind) {
    case 'float32':
      return Float32Array.from(v);
    case 'int8':
      return Int8Array.from(v);
    case 'uint8':
      return Uint8Array.from(v);
    case 'int32':
      return Int32Array.from(v);
    case 'int16':
      return Int16Array.from(v);
    case 'uint16':
      return Uint16Array.from(v);
    case 'int64':
      return BigInt64Array.from(Array.from(v), (x) => BigInt(x));
  }
}

function tensor(kind: Kind, shape: number[], v: ArrayLike<number>): ort.Tensor {
  return new ort.Tensor(kind, typed(kind, v) as Float32Array, shape);
}

/** A model with initializers of any type added (the builder makes float ones only). */
function withInits(bytes: Uint8Array, inits: { name: string; kind: Kind; shape: number[]; values: ArrayLike<number> }[]): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  for (const t of inits) {
    const a = typed(t.kind, t.values);
    model.graph!.initializer!.push({ name: t.name, dims: t.shape, dataType: ONNX_TYPE[t.kind], rawData: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) });
  }
  return onnx.ModelProto.encode(model).finish();
}

/** Seeded values. */
/**
 * The range of int8 weights (a GEMM's B operand) where ONNX Runtime is the reference. Its u8 x s8
 * integer GEMM on x86 hosts with AVX2 but no VNNI adds pairs of products in saturating 16-bit
 * arithmetic (vpmaddubsw), so with int8 weights past +-64 its results are not exact there (its
 * quantizer's reduce_range option exists for this). Kiln's integer GEMMs are exact on every path:
 * full-range weights are checked against an exact reference below.
 */
const W8: [number, number] = [-64, 63];

function source(seed: number) {
  const rand = prng(seed);
  const n = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const ints = (shape: number[], lo: number, hi: number) => Array.from({ length: n(shape) }, () => lo + Math.floor(rand() * (hi - lo + 1)));
  const floats = (shape: number[], lo = -1, hi = 1) => Array.from({ length: n(shape) }, () => Math.fround(lo + rand() * (hi - lo)));
  return {
    ints,
    floats,
    q: (kind: Kind, shape: number[]) => tensor(kind, shape, ints(shape, ...RANGE[kind])),
    /** int8 weights (a GEMM's B operand) within W8. */
    w8: (shape: number[]) => tensor('int8', shape, ints(shape, ...W8)),
    f: (shape: number[], lo = -1, hi = 1) => tensor('float32', shape, floats(shape, lo, hi)),
  };
}

const cpu = (() => {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
})();
const has = (...flags: string[]) => process.arch === 'x64' && flags.every((f) => new RegExp(`\\b${f}\\b`).test(cpu));

/** A build of the generated C: a target, clang's flags, how to run it, and the integer GEMM path the flags select. */
interface Build {
  name: string;
  triple: string;
  flags: string[];
  path: string;
  run: (exe: string, args: string[]) => string[];
}
const native = (exe: string, args: string[]) => [exe, ...args];
const qemu = (exe: string, args: string[]) => ['qemu-aarch64', '-cpu', 'max', exe, ...args];
const ALL_BUILDS: (Build & { available: boolean })[] = [
  { name: 'x86-64', triple: 'x86_64-linux-gnu', flags: [], path: 'sse2', run: native, available: process.arch === 'x64' },
  { name: 'x86-64-v3', triple: 'x86_64-linux-gnu', flags: ['-march=x86-64-v3'], path: 'avx2', run: native, available: has('avx2', 'fma') },
  { name: 'x86-64-v3 + AVX-VNNI', triple: 'x86_64-linux-gnu', flags: ['-march=x86-64-v3', '-mavxvnni'], path: 'avx-vnni', run: native, available: has('avx2', 'fma', 'avx_vnni') },
  { name: 'x86-64-v4', triple: 'x86_64-linux-gnu', flags: ['-march=x86-64-v4'], path: 'avx512bw', run: native, available: has('avx512f', 'avx512bw', 'avx512vl', 'avx512dq') },
  { name: 'x86-64-v4 + AVX-512 VNNI', triple: 'x86_64-linux-gnu', flags: ['-march=x86-64-v4', '-mavx512vnni'], path: 'avx512-vnni', run: native, available: has('avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512_vnni') },
  { name: 'aarch64', triple: 'aarch64-linux-gnu', flags: [], path: 'c', run: qemu, available: true },
  { name: 'aarch64 + dotprod (neoverse-n1)', triple: 'aarch64-linux-gnu', flags: ['-mcpu=neoverse-n1'], path: 'sdot', run: qemu, available: true },
];
const BUILDS: Build[] = ALL_BUILDS.filter((b) => b.available);
/** One x86-64 build and one aarch64 build: for the operators that do not use the integer GEMM. */
const TWO: Build[] = [BUILDS.find((b) => b.triple === 'x86_64-linux-gnu')!, BUILDS.find((b) => b.name === 'aarch64')!].filter(Boolean);

type Options = { kernels?: boolean; threads?: number };
type Expected = Record<string, { dims: readonly number[]; data: unknown; type?: string }>;

describe('quantization operators against ONNX Runtime', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-quant-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  /** Compiles a model and builds it for one build; the exe, the metadata and the C. */
  async function build(bytes: Uint8Array, b: Build, opts: Options = {}) {
    const { files, metadata } = compileModel(bytes, { name: 'net', ...opts });
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    await writeFile(join(dir, 'harness.c'), modelHarness(metadata));
    const exe = join(dir, `net-${b.triple}`);
    const flags = [`--target=${b.triple}`, ...b.flags, '-std=c23', '-O2', '-ffp-contract=off', '-Wall', '-Werror', '-Wno-unused-function', '-I', dir];
    execFileSync('clang-19', [...flags, '-fuse-ld=lld', '-static', join(dir, 'net.c'), join(dir, 'harness.c'), '-o', exe, '-lm', ...(opts.threads ? ['-lpthread'] : [])], { cwd: dir });
    const source = files['net.c'] as string;
    // The integer GEMM's path these flags select must be the one this build is meant to test.
    if (source.includes('KILN_QG_PATH')) {
      const macros = execFileSync('clang-19', [...flags, '-E', '-dM', join(dir, 'net.c')], { cwd: dir, encoding: 'utf8', maxBuffer: 1 << 26 });
      assert.match(macros, new RegExp(`#define KILN_QG_PATH "${b.path}"`), `${b.name} selects another integer GEMM path`);
    }
    return { exe, metadata, source };
  }

  async function run(bytes: Uint8Array, inputs: ArrayBufferView[], b: Build, opts: Options = {}) {
    const { exe, metadata, source } = await build(bytes, b, opts);
    await writeFile(join(dir, 'inputs.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
    await rm(join(dir, 'outputs.bin'), { force: true });
    const [cmd, ...args] = b.run(exe, [join(dir, 'inputs.bin'), join(dir, 'outputs.bin')]);
    const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = await readFile(join(dir, 'outputs.bin'));
    let o = 0;
    const outputs = metadata.outputs.map((t) => {
      const n = t.shape.reduce((a, c) => a * c, 1) * IO_BYTES[t.dtype];
      o += n;
      return Buffer.from(out.subarray(o - n, o));
    });
    assert.equal(o, out.length, 'the output file has extra bytes');
    return { outputs, metadata, source };
  }

  async function ortRun(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, optimize = true): Promise<Expected> {
    const session = await ort.InferenceSession.create(bytes, optimize ? {} : { graphOptimizationLevel: 'disabled' });
    const r = await session.run(feeds);
    await session.release();
    return r as unknown as Expected;
  }

  /** Runs the model for each build and compares every output with `expected`: integers exactly, floats within rtol/atol. */
  async function assertSame(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, expected: Expected, builds: Build[], opts: Options = {}, tol = { rtol: 1e-6, atol: 1e-6 }) {
    let last: Awaited<ReturnType<typeof run>> | undefined;
    for (const b of builds) {
      const r = await run(bytes, Object.values(feeds).map((t) => t.data as ArrayBufferView), b, opts);
      r.metadata.outputs.forEach((t, i) => {
        const e = expected[t.name];
        assert.ok(e, `no expected values for ${t.name}`);
        assert.deepEqual(t.shape, [...e.dims], `${t.name}'s shape`);
        const want = e.data as ArrayBufferView & ArrayLike<number>;
        const got = r.outputs[i];
        if (t.dtype === 'float32') {
          const g = new Float32Array(got.buffer, got.byteOffset, got.length / 4);
          for (let k = 0; k < g.length; k++) {
            const ok = Number.isNaN(want[k]) ? Number.isNaN(g[k]) : Math.abs(g[k] - want[k]) <= tol.atol + tol.rtol * Math.abs(want[k]);
            assert.ok(ok, `${t.name}[${k}] on ${b.name}${opts.kernels === false ? ' (plain loops)' : ''}: ${g[k]}, ONNX Runtime ${want[k]}`);
          }
        } else {
          const wb = Buffer.from(want.buffer, want.byteOffset, want.byteLength);
          if (!wb.equals(got)) {
            const size = IO_BYTES[t.dtype];
            let k = 0;
            while (k < got.length && got[k] === wb[k]) k++;
            assert.fail(`${t.name} (${t.dtype}) on ${b.name}${opts.kernels === false ? ' (plain loops)' : ''} differs first at element ${Math.floor(k / size)}: ${[...got.subarray(k - (k % size), k - (k % size) + size)]} vs ONNX Runtime's ${[...wb.subarray(k - (k % size), k - (k % size) + size)]}`);
          }
        }
      });
      last = r;
    }
    return last!;
  }

  async function assertSameAsOrt(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, builds: Build[], opts: Options = {}, tol?: { rtol: number; atol: number }) {
    return assertSame(bytes, feeds, await ortRun(bytes, feeds), builds, opts, tol);
  }

  it('QuantizeLinear: per tensor (uint8 by default, int8 with a zero point), per axis and blocked (opset 21), scales and zero points read at run time, ties rounded to even, saturation, NaN and infinities', async () => {
    const b = new ModelBuilder(21);
    const x = b.input('x', [2, 6, 5]);
    // Per tensor, no zero point: uint8.
    b.output(b.op('QuantizeLinear', [x, b.input('s', [])]), DT.UINT8);
    // Per tensor, int8 zero point.
    b.output(b.op('QuantizeLinear', [x, b.input('s1', []), b.input('z1', [], DT.INT8)]), DT.INT8);
    // Per axis (axis 1, and axis -1 on uint8).
    b.output(b.op('QuantizeLinear', [x, b.input('sa', [6]), b.input('za', [6], DT.INT8)], { axis: 1 }), DT.INT8);
    b.output(b.op('QuantizeLinear', [x, b.input('sl', [5]), b.input('zl', [5], DT.UINT8)], { axis: -1 }), DT.UINT8);
    // Blocked along axis 1 by 4 (6 = 4 + 2: the last block is short).
    b.output(b.op('QuantizeLinear', [x, b.input('sb', [2, 2, 5]), b.input('zb', [2, 2, 5], DT.INT8)], { axis: 1, block_size: 4 }), DT.INT8);
    // output_dtype without a zero point.
    b.output(b.op('QuantizeLinear', [x, b.input('so', [])], { output_dtype: DT.INT8 }), DT.INT8);
    const s = source(11);
    // Values on the half-way points of the scale (ties), out of range, NaN and infinities among random ones.
    const xs = s.floats([60], -40, 40);
    [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 1000, -1000, NaN, Infinity, -Infinity, 0, -0].forEach((v, i) => (xs[i * 4] = Math.fround(v * 0.25)));
    await assertSameAsOrt(b.build('quantize'), {
      x: tensor('float32', [2, 6, 5], xs),
      s: tensor('float32', [], [0.25]),
      s1: tensor('float32', [], [0.25]),
      z1: tensor('int8', [], [-3]),
      sa: s.f([6], 0.05, 0.5),
      za: s.q('int8', [6]),
      sl: s.f([5], 0.05, 0.5),
      zl: s.q('uint8', [5]),
      sb: s.f([2, 2, 5], 0.05, 0.5),
      zb: s.q('int8', [2, 2, 5]),
      so: tensor('float32', [], [0.1]),
    }, TWO);
  });

  it('DequantizeLinear: per tensor, per axis and blocked, int8, uint8 and int32 (no zero point), read at run time', async () => {
    const b = new ModelBuilder(21);
    const q8 = b.input('q8', [3, 4, 5], DT.INT8);
    const u8 = b.input('u8', [3, 4, 5], DT.UINT8);
    b.output(b.op('DequantizeLinear', [q8, b.input('s', []), b.input('z', [], DT.INT8)]));
    b.output(b.op('DequantizeLinear', [u8, b.input('s2', [])]));
    b.output(b.op('DequantizeLinear', [u8, b.input('sa', [4]), b.input('za', [4], DT.UINT8)], { axis: 1 }));
    b.output(b.op('DequantizeLinear', [q8, b.input('sb', [3, 4, 2]), b.input('zb', [3, 4, 2], DT.INT8)], { axis: -1, block_size: 3 }));
    b.output(b.op('DequantizeLinear', [b.input('i32', [9], DT.INT32), b.input('si', [])]));
    const s = source(12);
    await assertSameAsOrt(b.build('dequantize'), {
      q8: s.q('int8', [3, 4, 5]),
      u8: s.q('uint8', [3, 4, 5]),
      s: s.f([], 0.01, 0.1),
      z: s.q('int8', []),
      s2: s.f([], 0.01, 0.1),
      sa: s.f([4], 0.01, 0.1),
      za: s.q('uint8', [4]),
      sb: s.f([3, 4, 2], 0.01, 0.1),
      zb: s.q('int8', [3, 4, 2]),
      i32: tensor('int32', [9], [-2147483648, -100000, -7, -1, 0, 1, 7, 100000, 2147483647]),
      si: s.f([], 0.001, 0.01),
    }, TWO);
  });

  it('int16 and uint16 QuantizeLinear and DequantizeLinear (opset 21), where the IR has them', { skip: !('int16' in C_TYPE) && 'the IR has no int16' }, async () => {
    const b = new ModelBuilder(21);
    const x = b.input('x', [4, 9]);
    const q = b.op('QuantizeLinear', [x, b.input('s', [9]), b.input('z', [9], DT.INT16)], { axis: 1 });
    b.output(q, DT.INT16);
    b.output(b.op('DequantizeLinear', [q, b.input('s2', [9]), b.input('z2', [9], DT.INT16)], { axis: 1 }));
    const u = b.op('QuantizeLinear', [x, b.input('su', []), b.input('zu', [], DT.UINT16)]);
    b.output(u, DT.UINT16);
    b.output(b.op('DequantizeLinear', [u, b.input('su2', []), b.input('zu2', [], DT.UINT16)]));
    const s = source(13);
    await assertSameAsOrt(b.build('quantize16'), {
      x: s.f([4, 9], -100, 100),
      s: s.f([9], 0.0005, 0.01),
      z: s.q('int16', [9]),
      s2: s.f([9], 0.0005, 0.01),
      z2: s.q('int16', [9]),
      su: tensor('float32', [], [0.002]),
      zu: tensor('uint16', [], [30000]),
      su2: tensor('float32', [], [0.002]),
      zu2: tensor('uint16', [], [30000]),
    }, TWO);
  });

  it('a QDQ model (as ONNX Runtime quantize_static writes it): int8 weights and int32 bias behind DequantizeLinear fold to float at compile time, so the float kernels run; activations go through QuantizeLinear and DequantizeLinear at run time', async () => {
    const b = new ModelBuilder(13);
    const s = source(14);
    const x = b.input('x', [1, 3, 9, 9]);
    const qx = b.op('QuantizeLinear', [x, 'xs', 'xz']);
    const dx = b.op('DequantizeLinear', [qx, 'xs', 'xz']);
    const w = b.op('DequantizeLinear', ['wq', 'ws', 'wz'], { axis: 0 });
    const bias = b.op('DequantizeLinear', ['bq', 'bs']);
    const y = b.op('Relu', [b.op('Conv', [dx, w, bias], { pads: [1, 1, 1, 1] })]);
    const qy = b.op('QuantizeLinear', [y, 'ys', 'yz']);
    const flat = b.op('Flatten', [b.op('DequantizeLinear', [qy, 'ys', 'yz'])]);
    const w2 = b.op('DequantizeLinear', ['w2q', 'w2s', 'w2z']);
    b.output(b.op('MatMul', [flat, w2]));
    const ws = s.floats([4], 0.002, 0.01);
    const xs = 0.02;
    const bytes = withInits(b.build('qdq'), [
      { name: 'xs', kind: 'float32', shape: [], values: [xs] },
      { name: 'xz', kind: 'uint8', shape: [], values: [128] },
      { name: 'wq', kind: 'int8', shape: [4, 3, 3, 3], values: s.ints([4, 3, 3, 3], -127, 127) },
      { name: 'ws', kind: 'float32', shape: [4], values: ws },
      { name: 'wz', kind: 'int8', shape: [4], values: [0, 0, 0, 0] },
      { name: 'bq', kind: 'int32', shape: [4], values: s.ints([4], -2000, 2000) },
      { name: 'bs', kind: 'float32', shape: [], values: [xs * 0.005] },
      { name: 'ys', kind: 'float32', shape: [], values: [0.03] },
      { name: 'yz', kind: 'uint8', shape: [], values: [0] },
      { name: 'w2q', kind: 'int8', shape: [324, 10], values: s.ints([324, 10], -127, 127) },
      { name: 'w2s', kind: 'float32', shape: [], values: [0.004] },
      { name: 'w2z', kind: 'int8', shape: [], values: [0] },
    ]);
    const feeds = { x: s.f([1, 3, 9, 9], -2, 2) };
    // ONNX Runtime as the model says (its optimizer would fuse the QDQ groups into integer kernels, which round differently).
    const r = await assertSame(bytes, feeds, await ortRun(bytes, feeds, false), TWO, {}, { rtol: 1e-5, atol: 1e-5 });
    // The weights' and the bias's DequantizeLinear are folded: only the activations' run.
    assert.equal(r.metadata.ops.DequantizeLinear, 2, JSON.stringify(r.metadata.ops));
    assert.equal(r.metadata.ops.QuantizeLinear, 2);
    assert.ok(r.metadata.ops.Conv && r.metadata.ops.MatMul);
    // The CUDA backend takes the folded weights; it refuses the run-time QuantizeLinear by name.
    assert.throws(() => compileModelCuda(bytes, { name: 'net' }), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /DequantizeLinear, QuantizeLinear/.test(e.message));
  });

  it('DynamicQuantizeLinear: scale and zero point from the data (negative only, positive only, mixed, all zeros)', async () => {
    const b = new ModelBuilder(11);
    for (const name of ['mixed', 'neg', 'pos', 'zeros']) {
      const [y, sc, zp] = b.node('DynamicQuantizeLinear', [b.input(name, [3, 7])], {}, 3);
      b.output(y, DT.UINT8);
      b.output(sc);
      b.output(zp, DT.UINT8);
    }
    const s = source(15);
    await assertSameAsOrt(b.build('dynamic_quantize'), {
      mixed: s.f([3, 7], -3, 5),
      neg: s.f([3, 7], -4, -0.5),
      pos: s.f([3, 7], 0.25, 6),
      zeros: tensor('float32', [3, 7], new Array(21).fill(0)),
    }, TWO, {}, { rtol: 0, atol: 0 });
  });

  it('MatMulInteger: uint8 and int8 operands, zero points per tensor and per column, batches broadcast, constant and run-time B, on every integer GEMM path', async () => {
    const b = new ModelBuilder(10);
    const a = b.input('a', [2, 26, 37], DT.UINT8);
    const a8 = b.input('a8', [5, 37], DT.INT8);
    // Run-time B, uint8 x int8 with a per-column B zero point.
    b.output(b.op('MatMulInteger', [a, b.input('b', [37, 19], DT.INT8), b.input('az', [], DT.UINT8), b.input('bz', [19], DT.INT8)]), DT.INT32);
    // Constant B (packed at compile time), uint8 x uint8, batched B.
    b.output(b.op('MatMulInteger', [a, 'bc', b.input('az2', [], DT.UINT8), 'bcz']), DT.INT32);
    // int8 x int8, no zero points, B with its own batch broadcast against A's.
    b.output(b.op('MatMulInteger', [a8, b.input('b8', [3, 37, 33], DT.INT8)]), DT.INT32);
    // int8 x uint8, 1-D A.
    b.output(b.op('MatMulInteger', [b.input('v', [37], DT.INT8), 'bc2', b.input('vz', [], DT.INT8)]), DT.INT32);
    const s = source(16);
    const bytes = withInits(b.build('matmul_integer'), [
      { name: 'bc', kind: 'uint8', shape: [2, 37, 17], values: s.ints([2, 37, 17], 0, 255) },
      { name: 'bcz', kind: 'uint8', shape: [], values: [131] },
      { name: 'bc2', kind: 'uint8', shape: [37, 5], values: s.ints([37, 5], 0, 255) },
    ]);
    const feeds = {
      a: s.q('uint8', [2, 26, 37]),
      a8: s.q('int8', [5, 37]),
      b: s.w8([37, 19]),
      az: tensor('uint8', [], [255]),
      bz: s.q('int8', [19]),
      az2: tensor('uint8', [], [3]),
      b8: s.w8([3, 37, 33]),
      v: s.q('int8', [37]),
      vz: tensor('int8', [], [-128]),
    };
    const expected = await ortRun(bytes, feeds);
    await assertSame(bytes, feeds, expected, BUILDS);
    await assertSame(bytes, feeds, expected, TWO.slice(0, 1), { kernels: false });
  });

  it('MatMulInteger with full-range operands (uint8 x int8 with -128 and 127, int8 x int8) is exact on every integer GEMM path', async () => {
    const [M, K, N] = [7, 70, 19];
    const b = new ModelBuilder(10);
    b.output(b.op('MatMulInteger', [b.input('a', [M, K], DT.UINT8), b.input('b', [K, N], DT.INT8), b.input('az', [], DT.UINT8), b.input('bz', [], DT.INT8)]), DT.INT32);
    b.output(b.op('MatMulInteger', [b.input('a8', [M, K], DT.INT8), 'b']), DT.INT32);
    const bytes = b.build('matmul_integer_full');
    const s = source(17);
    // Extremes in every row and column, where a saturating 16-bit pair sum would show.
    const a = s.ints([M, K], 0, 255).map((v, i) => (i % 5 === 0 ? 255 : v));
    const bv = s.ints([K, N], -128, 127).map((v, i) => (i % 7 === 0 ? -128 : i % 7 === 1 ? 127 : v));
    const a8 = s.ints([M, K], -128, 127).map((v, i) => (i % 3 === 0 ? -128 : v));
    const mm = (x: number[], xz: number, yz: number) => Int32Array.from({ length: M * N }, (_, o) => {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += (x[Math.floor(o / N) * K + k] - xz) * (bv[k * N + (o % N)] - yz);
      return acc;
    });
    const feeds = { a: tensor('uint8', [M, K], a), b: tensor('int8', [K, N], bv), az: tensor('uint8', [], [3]), bz: tensor('int8', [], [-2]), a8: tensor('int8', [M, K], a8) };
    const outs = onnx.ModelProto.decode(bytes).graph!.output!.map((o) => o.name!);
    const expected = { [outs[0]]: { dims: [M, N], data: mm(a, 3, -2) }, [outs[1]]: { dims: [M, N], data: mm(a8, 0, 0) } };
    await assertSame(bytes, feeds, expected, BUILDS);
    await assertSame(bytes, feeds, expected, TWO.slice(0, 1), { kernels: false });
  });

  it('a dynamically quantized MatMul (as ONNX Runtime quantize_dynamic writes it): DynamicQuantizeLinear, MatMulInteger with int8 weights, Cast, Mul by the scales; with two threads', async () => {
    const b = new ModelBuilder(13);
    const s = source(20);
    const [q, sc, zp] = b.node('DynamicQuantizeLinear', [b.input('x', [20, 48])], {}, 3);
    const acc = b.op('MatMulInteger', [q, 'w', zp, 'wz']);
    const scale = b.op('Mul', [sc, 'ws']);
    b.output(b.op('Add', [b.op('Mul', [b.op('Cast', [acc], { to: DT.FLOAT }), scale]), 'bias']));
    const bytes = withInits(b.build('dynamic_matmul'), [
      { name: 'w', kind: 'int8', shape: [48, 40], values: s.ints([48, 40], ...W8) },
      { name: 'wz', kind: 'int8', shape: [], values: [0] },
      { name: 'ws', kind: 'float32', shape: [], values: [0.01] },
      { name: 'bias', kind: 'float32', shape: [40], values: s.floats([40]) },
    ]);
    const feeds = { x: s.f([20, 48], -3, 3) };
    await assertSame(bytes, feeds, await ortRun(bytes, feeds, false), BUILDS.slice(0, 1), { threads: 2 }, { rtol: 1e-5, atol: 1e-5 });
  });

  it('QLinearMatMul: uint8 x int8 with per-column scales and zero points, uint8 x uint8, int8 x int8, 2-D and batched, constant and run-time B, outputs saturating at both ends, on every integer GEMM path', async () => {
    const b = new ModelBuilder(10);
    const s = source(17);
    const a = b.input('a', [2, 30, 70], DT.UINT8);
    const as = b.input('as', []);
    const az = b.input('az', [], DT.UINT8);
    // Run-time int8 B, per-column parameters, uint8 output.
    b.output(b.op('QLinearMatMul', [a, as, az, b.input('b', [70, 21], DT.INT8), b.input('bs', [21]), b.input('bz', [21], DT.INT8), b.input('ys', []), b.input('yz', [], DT.UINT8)]), DT.UINT8);
    // Constant uint8 B, per tensor.
    b.output(b.op('QLinearMatMul', [a, as, az, 'bc', 'bcs', 'bcz', 'ys2', 'yz2']), DT.UINT8);
    // int8 x int8 (constant B, per column), int8 output; a 2-D A against a batched B.
    b.output(b.op('QLinearMatMul', [b.input('a8', [6, 70], DT.INT8), 'a8s', 'a8z', 'b8', 'b8s', 'b8z', 'y8s', 'y8z']), DT.INT8);
    const bytes = withInits(b.build('qlinear_matmul'), [
      { name: 'bc', kind: 'uint8', shape: [70, 16], values: s.ints([70, 16], 0, 255) },
      { name: 'bcs', kind: 'float32', shape: [], values: [0.02] },
      { name: 'bcz', kind: 'uint8', shape: [], values: [120] },
      { name: 'ys2', kind: 'float32', shape: [], values: [0.9] },
      { name: 'yz2', kind: 'uint8', shape: [], values: [100] },
      { name: 'a8s', kind: 'float32', shape: [], values: [0.05] },
      { name: 'a8z', kind: 'int8', shape: [], values: [-5] },
      { name: 'b8', kind: 'int8', shape: [3, 70, 17], values: s.ints([3, 70, 17], ...W8) },
      { name: 'b8s', kind: 'float32', shape: [3, 1, 17], values: s.floats([3, 1, 17], 0.005, 0.02) },
      { name: 'b8z', kind: 'int8', shape: [3, 1, 17], values: new Array(51).fill(0) },
      { name: 'y8s', kind: 'float32', shape: [], values: [0.2] },
      { name: 'y8z', kind: 'int8', shape: [], values: [3] },
    ]);
    const feeds = {
      a: s.q('uint8', [2, 30, 70]),
      as: tensor('float32', [], [0.03]),
      az: tensor('uint8', [], [128]),
      b: s.w8([70, 21]),
      bs: s.f([21], 0.005, 0.03),
      bz: s.q('int8', [21]),
      ys: tensor('float32', [], [0.35]),
      yz: tensor('uint8', [], [130]),
      a8: s.q('int8', [6, 70]),
    };
    const expected = await ortRun(bytes, feeds);
    // The outputs reach both ends of their range (saturation is tested).
    const y0 = expected[onnx.ModelProto.decode(bytes).graph!.output![0].name!].data as Uint8Array;
    assert.ok(y0.includes(0) && y0.includes(255), 'the first output saturates at both ends');
    await assertSame(bytes, feeds, expected, BUILDS);
    await assertSame(bytes, feeds, expected, TWO.slice(0, 1), { kernels: false });
  });

  it('QLinearMatMul large enough for threads to share the integer GEMM (two and three threads)', async () => {
    const b = new ModelBuilder(10);
    const s = source(21);
    b.output(b.op('QLinearMatMul', [b.input('a', [100, 300], DT.UINT8), 'as', 'az', 'b', 'bs', 'bz', 'ys', 'yz']), DT.UINT8);
    const bytes = withInits(b.build('qlinear_matmul_threads'), [
      { name: 'as', kind: 'float32', shape: [], values: [0.02] },
      { name: 'az', kind: 'uint8', shape: [], values: [120] },
      { name: 'b', kind: 'int8', shape: [300, 50], values: s.ints([300, 50], ...W8) },
      { name: 'bs', kind: 'float32', shape: [50], values: s.floats([50], 0.001, 0.01) },
      { name: 'bz', kind: 'int8', shape: [50], values: new Array(50).fill(0) },
      { name: 'ys', kind: 'float32', shape: [], values: [0.15] },
      { name: 'yz', kind: 'uint8', shape: [], values: [128] },
    ]);
    const feeds = { a: s.q('uint8', [100, 300]) };
    const expected = await ortRun(bytes, feeds);
    const r = await assertSame(bytes, feeds, expected, BUILDS.slice(-1), { threads: 2 });
    assert.match(r.source, /kiln_parallel\(kiln_qgemm_task/);
    await assertSame(bytes, feeds, expected, TWO, { threads: 3 });
  });

  it('ConvInteger: uint8 input, uint8 and int8 weights, zero points, pads, strides, dilations and groups, 1-D and 2-D, constant and run-time weights', async () => {
    const b = new ModelBuilder(10);
    const s = source(18);
    const x = b.input('x', [2, 4, 9, 11], DT.UINT8);
    const xz = b.input('xz', [], DT.UINT8);
    b.output(b.op('ConvInteger', [x, b.input('w', [8, 4, 3, 3], DT.UINT8), xz, b.input('wz', [], DT.UINT8)], { pads: [1, 2, 1, 0], strides: [2, 1] }), DT.INT32);
    b.output(b.op('ConvInteger', [x, 'wc', xz, 'wcz'], { group: 2, dilations: [2, 1], pads: [2, 1, 2, 1] }), DT.INT32);
    b.output(b.op('ConvInteger', [b.input('x1', [1, 3, 20], DT.UINT8), 'w1', b.input('x1z', [], DT.UINT8)], { strides: [3], pads: [1, 1] }), DT.INT32);
    const bytes = withInits(b.build('conv_integer'), [
      { name: 'wc', kind: 'uint8', shape: [16, 2, 3, 2], values: s.ints([16, 2, 3, 2], 0, 255) },
      { name: 'wcz', kind: 'uint8', shape: [], values: [77] },
      { name: 'w1', kind: 'uint8', shape: [5, 3, 4], values: s.ints([5, 3, 4], 0, 255) },
    ]);
    const feeds = {
      x: s.q('uint8', [2, 4, 9, 11]),
      xz: tensor('uint8', [], [100]),
      w: s.q('uint8', [8, 4, 3, 3]),
      wz: tensor('uint8', [], [140]),
      x1: s.q('uint8', [1, 3, 20]),
      x1z: tensor('uint8', [], [7]),
    };
    const expected = await ortRun(bytes, feeds);
    await assertSame(bytes, feeds, expected, BUILDS);
    await assertSame(bytes, feeds, expected, TWO.slice(0, 1), { kernels: false });
  });

  it('QLinearConv: uint8 and int8 activations, per-channel int8 weights, an int32 bias, groups and depthwise, pads and strides, on every integer GEMM path', async () => {
    const b = new ModelBuilder(10);
    const s = source(19);
    const x = b.input('x', [1, 8, 10, 10], DT.UINT8);
    const xs = b.input('xs', []);
    const xz = b.input('xz', [], DT.UINT8);
    // Per-channel weights (zero points 0, as quantizers write them), a bias, uint8 out.
    b.output(b.op('QLinearConv', [x, xs, xz, 'w', 'ws', 'wz', 'ys', 'yz', 'bias'], { pads: [1, 1, 1, 1] }), DT.UINT8);
    // Depthwise 3x3 stride 2 (the plain loops), per-channel.
    b.output(b.op('QLinearConv', [x, xs, xz, 'dw', 'dws', 'dwz', 'ys', 'yz', 'dbias'], { group: 8, strides: [2, 2], pads: [1, 1, 1, 1] }), DT.UINT8);
    // Run-time weights, per tensor, no bias.
    b.output(b.op('QLinearConv', [x, xs, xz, b.input('wr', [6, 8, 1, 1], DT.INT8), b.input('wrs', []), b.input('wrz', [], DT.INT8), 'ys', 'yz']), DT.UINT8);
    // int8 activations, int8 out, groups of 4 with 4 filters each.
    b.output(b.op('QLinearConv', [b.input('x8', [1, 8, 7, 7], DT.INT8), 'x8s', 'x8z', 'g', 'gs', 'gz', 'y8s', 'y8z', 'gbias'], { group: 2, pads: [0, 1, 0, 1] }), DT.INT8);
    const bytes = withInits(b.build('qlinear_conv'), [
      { name: 'w', kind: 'int8', shape: [16, 8, 3, 3], values: s.ints([16, 8, 3, 3], ...W8) },
      { name: 'ws', kind: 'float32', shape: [16], values: s.floats([16], 0.002, 0.01) },
      { name: 'wz', kind: 'int8', shape: [16], values: new Array(16).fill(0) },
      { name: 'ys', kind: 'float32', shape: [], values: [0.05] },
      { name: 'yz', kind: 'uint8', shape: [], values: [110] },
      { name: 'bias', kind: 'int32', shape: [16], values: s.ints([16], -5000, 5000) },
      { name: 'dw', kind: 'int8', shape: [8, 1, 3, 3], values: s.ints([8, 1, 3, 3], ...W8) },
      { name: 'dws', kind: 'float32', shape: [8], values: s.floats([8], 0.005, 0.02) },
      { name: 'dwz', kind: 'int8', shape: [8], values: new Array(8).fill(0) },
      { name: 'dbias', kind: 'int32', shape: [8], values: s.ints([8], -500, 500) },
      { name: 'x8s', kind: 'float32', shape: [], values: [0.04] },
      { name: 'x8z', kind: 'int8', shape: [], values: [-10] },
      { name: 'g', kind: 'int8', shape: [8, 4, 3, 3], values: s.ints([8, 4, 3, 3], ...W8) },
      { name: 'gs', kind: 'float32', shape: [8], values: s.floats([8], 0.005, 0.02) },
      { name: 'gz', kind: 'int8', shape: [8], values: new Array(8).fill(0) },
      { name: 'y8s', kind: 'float32', shape: [], values: [0.1] },
      { name: 'y8z', kind: 'int8', shape: [], values: [-20] },
      { name: 'gbias', kind: 'int32', shape: [8], values: s.ints([8], -1000, 1000) },
    ]);
    const feeds = {
      x: s.q('uint8', [1, 8, 10, 10]),
      xs: tensor('float32', [], [0.02]),
      xz: tensor('uint8', [], [128]),
      wr: s.w8([6, 8, 1, 1]),
      wrs: tensor('float32', [], [0.01]),
      wrz: tensor('int8', [], [0]),
      x8: s.q('int8', [1, 8, 7, 7]),
    };
    const expected = await ortRun(bytes, feeds);
    await assertSame(bytes, feeds, expected, BUILDS);
    await assertSame(bytes, feeds, expected, TWO.slice(0, 1), { kernels: false });
  });

  it('the CUDA backend refuses the integer operators by name', () => {
    const b = new ModelBuilder(10);
    b.output(b.op('MatMulInteger', [b.input('a', [2, 3], DT.UINT8), b.input('b', [3, 4], DT.UINT8)]), DT.INT32);
    assert.throws(() => compileModelCuda(b.build('cuda'), { name: 'net' }), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /MatMulInteger/.test(e.message));
  });
});

describe('GridSample against ONNX Runtime', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-gridsample-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  async function assertSameAsOrt(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, targets: Build[]) {
    const session = await ort.InferenceSession.create(bytes);
    const expected = (await session.run(feeds)) as unknown as Expected;
    await session.release();
    const { files, metadata } = compileModel(bytes, { name: 'net' });
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    await writeFile(join(dir, 'harness.c'), modelHarness(metadata));
    await writeFile(join(dir, 'inputs.bin'), Buffer.concat(Object.values(feeds).map((t) => Buffer.from((t.data as Float32Array).buffer))));
    for (const b of targets) {
      const exe = join(dir, `net-${b.triple}`);
      execFileSync('clang-19', [`--target=${b.triple}`, ...b.flags, '-std=c23', '-O2', '-ffp-contract=off', '-Wall', '-Werror', '-Wno-unused-function', '-fuse-ld=lld', '-static', '-I', dir, join(dir, 'net.c'), join(dir, 'harness.c'), '-o', exe, '-lm'], { cwd: dir });
      await rm(join(dir, 'outputs.bin'), { force: true });
      const [cmd, ...args] = b.run(exe, [join(dir, 'inputs.bin'), join(dir, 'outputs.bin')]);
      const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      const out = await readFile(join(dir, 'outputs.bin'));
      let o = 0;
      for (const t of metadata.outputs) {
        const want = expected[t.name];
        assert.deepEqual(t.shape, [...want.dims], t.name);
        const n = t.shape.reduce((a, c) => a * c, 1);
        const got = new Float32Array(out.buffer.slice(out.byteOffset + o, out.byteOffset + o + n * 4));
        o += n * 4;
        const w = want.data as Float32Array;
        for (let k = 0; k < n; k++) assert.ok(Math.abs(got[k] - w[k]) <= 1e-5 + 1e-5 * Math.abs(w[k]), `${t.name}[${k}] on ${b.name}: ${got[k]}, ONNX Runtime ${w[k]}`);
      }
      assert.equal(o, out.length);
    }
  }

  /**
   * Grid coordinates: random ones reaching past the image on every side, a few far outside, and
   * some on exact half-pixel points with align_corners 0 (nearest's ties; sizes a power of 2 make them exact).
   */
  function gridValues(s: ReturnType<typeof source>, shape: number[], sizes: number[]): number[] {
    const r = sizes.length;
    const v = s.floats(shape, -1.4, 1.4);
    for (let i = 0; i < v.length; i += 5) {
      const size = sizes[i % r];
      const k = Math.floor(s.floats([1], -1, size)[0]);
      v[i] = ((2 * k + 2) / size) - 1;
    }
    v[1] = 3.7;
    v[2] = -5.2;
    return v;
  }

  it('opset 16: bilinear, nearest and bicubic with zeros, border and reflection padding, align_corners 0 and 1, the grid read at run time', async () => {
    const b = new ModelBuilder(16);
    const x = b.input('x', [2, 3, 4, 8]);
    const grid = b.input('grid', [2, 4, 6, 2]);
    for (const mode of ['bilinear', 'nearest', 'bicubic']) {
      for (const padding_mode of ['zeros', 'border', 'reflection']) {
        for (const align_corners of [0, 1]) b.output(b.op('GridSample', [x, grid], { mode, padding_mode, align_corners }));
      }
    }
    b.output(b.op('GridSample', [x, grid]));
    const s = source(31);
    await assertSameAsOrt(b.build('gridsample16'), { x: s.f([2, 3, 4, 8]), grid: tensor('float32', [2, 4, 6, 2], gridValues(s, [2, 4, 6, 2], [8, 4])) }, TWO);
  });

  it('opset 20: linear and nearest on 5-D volumes, cubic on 4-D, every padding mode', async () => {
    const b = new ModelBuilder(20);
    const x = b.input('x', [1, 2, 3, 4, 5]);
    const grid = b.input('grid', [1, 2, 3, 4, 3]);
    for (const mode of ['linear', 'nearest']) {
      for (const padding_mode of ['zeros', 'border', 'reflection']) {
        for (const align_corners of [0, 1]) b.output(b.op('GridSample', [x, grid], { mode, padding_mode, align_corners }));
      }
    }
    const x2 = b.input('x2', [1, 2, 6, 4]);
    const grid2 = b.input('grid2', [1, 3, 5, 2]);
    for (const padding_mode of ['zeros', 'border', 'reflection']) b.output(b.op('GridSample', [x2, grid2], { mode: 'cubic', padding_mode, align_corners: 1 }));
    const s = source(32);
    await assertSameAsOrt(b.build('gridsample20'), {
      x: s.f([1, 2, 3, 4, 5]),
      grid: tensor('float32', [1, 2, 3, 4, 3], gridValues(s, [1, 2, 3, 4, 3], [5, 4, 3])),
      x2: s.f([1, 2, 6, 4]),
      grid2: tensor('float32', [1, 3, 5, 2], gridValues(s, [1, 3, 5, 2], [4, 6])),
    }, TWO);
  });

  it('is refused by the CUDA backend by name, and refuses cubic on 5-D input', () => {
    const b = new ModelBuilder(20);
    b.output(b.op('GridSample', [b.input('x', [1, 1, 4, 4]), b.input('g', [1, 2, 2, 2])]));
    assert.throws(() => compileModelCuda(b.build('cuda'), { name: 'net' }), (e: unknown) => e instanceof CompileError && /GridSample/.test(e.message));
    const c = new ModelBuilder(20);
    c.output(c.op('GridSample', [c.input('x', [1, 1, 2, 4, 4]), c.input('g', [1, 2, 2, 2, 3])], { mode: 'cubic' }));
    assert.throws(() => compileModel(c.build('cubic5d'), { name: 'net' }), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /cubic/.test(e.message));
  });
});
