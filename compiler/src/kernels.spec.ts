import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { compareOutput } from '../../src/verification/compare';
import { prng } from '../../src/verification/inputs';
import { ModelBuilder, randomWeights } from '../test/builder';
import { compileModel, CompileOptions } from './compile';
import { CompileError } from './ir';
import { modelHarness } from './harness';
import { gemmRowBlock, packPanels } from './kernels';

const hostFlags = (() => {
  try {
    return new Set((/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? '').split(/\s+/));
  } catch {
    return new Set<string>();
  }
})();

/** Builds of the same C that take different paths through the kernel library (row blocking by ISA, threads). */
const BUILDS: { name: string; flags: string[]; run: (exe: string, args: string[]) => string[]; threads?: number; wasm?: boolean }[] = [
  { name: 'x86_64 baseline (SSE2)', flags: ['--target=x86_64-linux-gnu'], run: (exe, args) => [exe, ...args] },
  ...(process.arch === 'x64' && hostFlags.has('avx2') && hostFlags.has('fma') ? [{ name: 'x86-64-v3 (AVX2)', flags: ['--target=x86_64-linux-gnu', '-march=x86-64-v3'], run: (exe: string, args: string[]) => [exe, ...args] }] : []),
  ...(process.arch === 'x64' && hostFlags.has('avx512f') && hostFlags.has('avx512bw') && hostFlags.has('avx512vl') && hostFlags.has('avx512dq')
    ? [{ name: 'x86-64-v4 (AVX-512)', flags: ['--target=x86_64-linux-gnu', '-march=x86-64-v4'], run: (exe: string, args: string[]) => [exe, ...args] }]
    : []),
  { name: 'x86_64 with 3 threads', flags: ['--target=x86_64-linux-gnu', '-DKILN_DW_THREADS'], run: (exe, args) => [exe, ...args], threads: 3 },
  { name: 'x86_64 with 3 threads, two panels per microkernel call', flags: ['--target=x86_64-linux-gnu', '-DKILN_NP=2'], run: (exe, args) => [exe, ...args], threads: 3 },
  { name: 'aarch64 (NEON, qemu)', flags: ['--target=aarch64-linux-gnu'], run: (exe, args) => ['qemu-aarch64', '-cpu', 'max', exe, ...args] },
  { name: 'armv7 (hard-float NEON, qemu)', flags: ['--target=armv7-linux-gnueabihf', '-mfloat-abi=hard', '-mfpu=neon'], run: (exe, args) => ['qemu-arm', exe, ...args] },
  { name: 'riscv64 (rv64gc, qemu)', flags: ['--target=riscv64-linux-gnu'], run: (exe, args) => ['qemu-riscv64', exe, ...args] },
  { name: 'wasm32-wasi (SIMD128, threads asked for)', flags: ['--target=wasm32-wasi', '-msimd128'], run: (exe, args) => [process.execPath, '--no-warnings', '-e', WASI_LAUNCHER, exe, ...args], threads: 2, wasm: true },
];

/** Runs a WASI program under Node, in the working directory. */
const WASI_LAUNCHER = `const { readFileSync } = require('node:fs'); const { WASI } = require('node:wasi');
const [file, ...args] = process.argv.slice(1);
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {}, preopens: { '.': '.' }, returnOnExit: true });
WebAssembly.instantiate(readFileSync(file), wasi.getImportObject()).then(({ instance }) => { process.exitCode = wasi.start(instance); });`;

let dir: string;
let serial = 0;

/** Compiles a model, builds it, runs it on the given inputs, returns its outputs as floats. */
async function run(bytes: Uint8Array, inputs: Float32Array[], build: (typeof BUILDS)[number], opts: CompileOptions = {}): Promise<Float32Array[]> {
  const sub = join(dir, String(serial++));
  execFileSync('mkdir', ['-p', sub]);
  const { files, metadata } = compileModel(bytes, { name: 'net', threads: build.threads, ...opts });
  for (const [name, content] of Object.entries(files)) await writeFile(join(sub, name), content);
  await writeFile(join(sub, 'harness.c'), modelHarness(metadata));
  const exe = build.wasm ? 'net.wasm' : 'net';
  execFileSync('clang-19', [...build.flags, '-std=c23', '-O2', '-fuse-ld=lld', ...(build.wasm ? [] : ['-static']), '-I', sub, 'net.c', 'harness.c', '-o', exe, '-lm', ...(build.wasm ? [] : ['-lpthread'])], { cwd: sub });
  await writeFile(join(sub, 'in.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
  const [cmd, ...args] = build.run(build.wasm ? exe : `./${exe}`, ['in.bin', 'out.bin']);
  execFileSync(cmd, args, { cwd: sub, timeout: 120_000 });
  const out = await readFile(join(sub, 'out.bin'));
  let o = 0;
  return metadata.outputs.map((t) => {
    const n = t.shape.reduce((a, b) => a * b, 1);
    const f = new Float32Array(out.buffer.slice(out.byteOffset + o, out.byteOffset + o + n * 4));
    o += n * 4;
    return f;
  });
}

function assertClose(what: string, expected: Float32Array, actual: Float32Array, rtol = 1e-4, atol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const r = compareOutput(what, 'float32', Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength), Buffer.from(actual.buffer, actual.byteOffset, actual.byteLength), { rtol, atol, maxUlp: null });
  assert.ok(r.passed, `${what}: ${r.mismatches} mismatches, worst ${JSON.stringify(r.worst)}, max abs ${r.maxAbsError}`);
  assert.ok(expected.some((v) => v !== 0), `${what}: the reference is not all zeros`);
}

/** C = A x B with double accumulation: the reference the GEMM is checked against. */
function naiveGemm(a: Float32Array, b: Float32Array, M: number, K: number, N: number, bAt = (k: number, n: number) => b[k * N + n]): Float32Array {
  const c = new Float32Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += a[m * K + k] * bAt(k, n);
      c[m * N + n] = s;
    }
  }
  return c;
}

const random = (seed: number, n: number) => {
  const r = prng(seed);
  return Float32Array.from({ length: n }, () => r() * 2 - 1);
};

/** Shapes [M, K, N]: 1, primes, not multiples of the 16-column panel or of any row block, K over the 256-row block, M over the row block, rows of 4 KiB. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 5],
  [3, 17, 31],
  [13, 300, 17],
  [37, 513, 29],
  [200, 64, 16],
  [251, 521, 19],
  [24, 16, 48],
  [40, 1024, 33], // rows of A 4 KiB long: copied with a pad; big enough to be shared out between threads
];

describe('kernel library: the packed GEMM against a naive reference', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-kernels-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('refuses a thread count that is not a whole number from 1 to 256', () => {
    const b = new ModelBuilder();
    b.output(b.op('MatMul', [b.input('x', [2, 3]), b.weight('w', [3, 5], randomWeights(1, 15, 1))]));
    const bytes = b.build();
    for (const threads of [0, 1.5, 257]) assert.throws(() => compileModel(bytes, { threads }), (e: unknown) => e instanceof CompileError && e.code === 'invalid' && /threads/.test(e.message));
    assert.match(String(compileModel(bytes, { threads: 4 }).files['model.c']), /#define KILN_THREADS 4\n/);
  });

  it('keeps names from the model out of the C (a name cannot close a comment)', () => {
    const b = new ModelBuilder();
    const x = b.input('x', [1, 4]);
    b.output(b.op('Relu', [b.op('MatMul', [x, b.weight('w*/ int evil; /*', [4, 4], randomWeights(1, 16, 1))])]));
    const c = String(compileModel(b.build()).files['model.c']);
    assert.ok(!c.includes('*/ int evil;'));
  });

  it('generates the same C for the same model every time (folded constants are numbered per graph)', () => {
    const first = compileModel(CONVS.bytes, { name: 'net' }).files['net.c'];
    compileModel(CONVS.bytes, { name: 'other' });
    assert.equal(compileModel(CONVS.bytes, { name: 'net' }).files['net.c'], first);
    assert.match(String(first), /BatchNormalization/); // a fold happened, so there were constants to number
  });

  it('covers a shape with several row blocks and K blocks', () => {
    const [M, K] = SHAPES[6];
    assert.ok(gemmRowBlock(M, K) < M && K > 256);
  });

  it('packs panels of 16 columns, zero-padded, transposed on request', () => {
    const b = Float32Array.from({ length: 3 * 18 }, (_, i) => i + 1);
    const p = packPanels(b, 3, 18, 18, 1);
    assert.equal(p.length, 2 * 3 * 16);
    assert.deepEqual(Array.from(p.slice(0, 16)), Array.from(b.slice(0, 16)));
    assert.deepEqual(Array.from(p.slice(3 * 16, 3 * 16 + 4)), [17, 18, 0, 0]);
    const t = packPanels(b, 18, 3, 1, 18); // B^T: element (k, n) at n * 18 + k
    assert.equal(t[1 * 16 + 2], b[2 * 18 + 1]);
  });

  for (const build of BUILDS) {
    it(`MatMul and Gemm (constant, run-time and transposed B, bias, alpha, beta) on ${build.name}`, async () => {
      const b = new ModelBuilder();
      const inputs: Float32Array[] = [];
      const expected: Float32Array[] = [];
      SHAPES.forEach(([M, K, N], i) => {
        const a = random(100 + i, M * K);
        const w = randomWeights(200 + i, K * N, 1);
        const x = b.input(`a${i}`, [M, K]);
        inputs.push(a);
        // MatMul by constant weights (packed at compile time).
        b.output(b.op('MatMul', [x, b.weight(`w${i}`, [K, N], w)]));
        expected.push(naiveGemm(a, w, M, K, N));
        // Gemm, B transposed and constant, alpha, beta and a bias along N.
        const bias = randomWeights(300 + i, N, 1);
        b.output(b.op('Gemm', [x, b.weight(`wt${i}`, [N, K], w), b.weight(`c${i}`, [N], bias)], { transB: 1, alpha: 0.5, beta: 2 }));
        expected.push(naiveGemm(a, w, M, K, N, (k, n) => w[n * K + k]).map((v, j) => 0.5 * v + 2 * bias[j % N]));
        // MatMul by a run-time B.
        const bt = random(400 + i, K * N);
        inputs.push(bt);
        b.output(b.op('MatMul', [x, b.input(`b${i}`, [K, N])]));
        expected.push(naiveGemm(a, bt, M, K, N));
        // Gemm by a run-time, transposed B.
        b.output(b.op('Gemm', [x, b.input(`bt${i}`, [N, K])], { transB: 1 }));
        inputs.push(bt);
        expected.push(naiveGemm(a, bt, M, K, N, (k, n) => bt[n * K + k]));
      });
      const outputs = await run(b.build('gemms'), inputs, build);
      outputs.forEach((o, j) => assertClose(`output ${j} (shape ${SHAPES[Math.floor(j / 4)]})`, expected[j], o));
    });

    it(`convolution kernels, fused epilogues, Softmax and LayerNormalization match the plain loops on ${build.name}`, async () => {
      const [fast, fusedLoops, plain] = await Promise.all([
        run(CONVS.bytes, CONVS.inputs, build),
        run(CONVS.bytes, CONVS.inputs, build, { kernels: false }),
        run(CONVS.bytes, CONVS.inputs, build, { kernels: false, fusion: false }),
      ]);
      assert.equal(fast.length, CONVS.names.length);
      fast.forEach((o, j) => assertClose(CONVS.names[j], plain[j], o));
      // The plain loops with the fused epilogues applied after them (what a shape without a kernel gets).
      fusedLoops.forEach((o, j) => assertClose(`${CONVS.names[j]} (plain loops, fused)`, plain[j], o));
    });
  }
});

/** One model with a convolution per kernel choice (and fused epilogues), each on its own input. */
const CONVS = (() => {
  const b = new ModelBuilder();
  const inputs: Float32Array[] = [];
  const names: string[] = [];
  let k = 0;
  const input = (shape: number[]) => {
    inputs.push(random(500 + k, shape.reduce((x, y) => x * y, 1)));
    return b.input(`x${k++}`, shape);
  };
  const wt = (shape: number[]) => b.weight(`w${k++}`, shape, randomWeights(600 + k, shape.reduce((x, y) => x * y, 1), 1 / Math.sqrt(shape.slice(1).reduce((x, y) => x * y, 1))));
  const bn = (x: string, c: number) =>
    b.op('BatchNormalization', [x, wt([c]), wt([c]), wt([c]), b.weight(`v${k++}`, [c], randomWeights(k, c, 0.3).map((v) => 1 + v))], { epsilon: 1e-5 });
  const out = (name: string, v: string) => {
    names.push(name);
    b.output(v);
  };
  const conv = (x: string, w: number[], attrs: Record<string, number | number[]>, bias = true) => b.op('Conv', bias ? [x, wt(w), wt([w[0]])] : [x, wt(w)], attrs);
  // 1x1 (a GEMM on the input in place), odd channel counts and sizes (planes over PIXEL_ROWS_MAX pixels).
  out('1x1', conv(input([1, 5, 17, 19]), [19, 5, 1, 1], {}));
  // 3x3 pad 1 (the padded-width implicit im2col) + BN + Relu.
  out('3x3 pad 1 + BN + Relu', b.op('Relu', [bn(conv(input([1, 6, 17, 19]), [17, 6, 3, 3], { pads: [1, 1, 1, 1] }, false), 17)]));
  // Few output pixels: a row per pixel, the output channels as columns, stored transposed (pixelRowsConv).
  const xp = input([1, 19, 7, 7]);
  out('pixel rows: 3x3 pad 1 + bias + residual + Relu', b.op('Relu', [b.op('Add', [conv(input([1, 8, 7, 7]), [19, 8, 3, 3], { pads: [1, 1, 1, 1] }), xp])]));
  out('pixel rows: 3x3, batch 2, no bias (on 3 threads too)', conv(input([2, 24, 6, 5]), [97, 24, 3, 3], { pads: [1, 1, 1, 1] }, false));
  out('pixel rows: 3x3 stride 2, asymmetric pads + Clip', b.op('Clip', [conv(input([1, 12, 13, 11]), [20, 12, 3, 3], { strides: [2, 2], pads: [1, 0, 1, 2] }), b.weight('lo3', [], [-0.3]), b.weight('hi3', [], [0.3])]));
  // Asymmetric pads, dilation, batch 2, + Clip (Relu6).
  out('5x5 dilated, asymmetric pads + Clip', b.op('Clip', [conv(input([2, 3, 12, 10]), [7, 3, 5, 5], { pads: [2, 0, 1, 3], dilations: [2, 1] }), b.weight('lo', [], [0]), b.weight('hi', [], [0.5])]));
  // 3x3 no pad (implicit im2col on the input itself) + residual Add + Relu.
  const xr = input([1, 4, 9, 9]);
  out('3x3 valid + residual + Relu', b.op('Relu', [b.op('Add', [conv(input([1, 4, 11, 11]), [4, 4, 3, 3], {}), xr])]));
  // Winograd F(2x2, 3x3): odd output sizes, widths across several 16-tile vectors, asymmetric and no padding, fused epilogues.
  const xw = input([1, 17, 9, 37]);
  out('3x3 Winograd + BN + residual + Relu', b.op('Relu', [b.op('Add', [bn(conv(input([1, 16, 9, 37]), [17, 16, 3, 3], { pads: [1, 1, 1, 1] }, false), 17), xw])]));
  out('3x3 Winograd, no padding, batch 2', conv(input([2, 20, 18, 20]), [16, 20, 3, 3], {}));
  out('3x3 Winograd, asymmetric pads + Clip', b.op('Clip', [conv(input([1, 16, 7, 70]), [24, 16, 3, 3], { pads: [0, 2, 1, 0] }), b.weight('lo2', [], [-0.25]), b.weight('hi2', [], [0.25])]));
  // Stride 2 (im2col + GEMM).
  out('3x3 stride 2', conv(input([1, 8, 15, 14]), [10, 8, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }));
  // Depthwise, stride 1 and 2, with BN + Clip, and a residual.
  out('depthwise 3x3 + BN + Relu6', b.op('Clip', [bn(conv(input([1, 12, 23, 37]), [12, 1, 3, 3], { group: 12, pads: [1, 1, 1, 1] }), 12), b.weight('z', [], [0]), b.weight('six', [], [6])]));
  out('depthwise 3x3 stride 2', conv(input([1, 9, 20, 33]), [9, 1, 3, 3], { group: 9, strides: [2, 2], pads: [1, 0, 1, 1] }));
  const xd = input([1, 5, 6, 40]);
  out('depthwise 5x5 + residual', b.op('Add', [xd, conv(input([1, 5, 6, 40]), [5, 1, 5, 5], { group: 5, pads: [2, 2, 2, 2] })]));
  // A kernel larger than 5x5 at stride 3 (sizes not known to the compiler), and a dilated one (the generic loop).
  out('depthwise 7x7 stride 3 + Relu', b.op('Relu', [conv(input([1, 6, 25, 50]), [6, 1, 7, 7], { group: 6, strides: [3, 3], pads: [3, 3, 3, 3] })]));
  out('depthwise 3x3 dilation 2', conv(input([1, 7, 13, 21]), [7, 1, 3, 3], { group: 7, dilations: [2, 2], pads: [2, 2, 2, 2] }));
  // Grouped (the plain loop) with a fused Relu.
  out('grouped', b.op('Relu', [conv(input([1, 6, 7, 7]), [4, 3, 3, 3], { group: 2, pads: [1, 1, 1, 1] })]));
  // MatMul + bias + GELU; MatMul / scale then Softmax; Gemm + Relu.
  const t = input([3, 20, 24]);
  const f = b.op('Add', [b.op('MatMul', [t, wt([24, 40])]), wt([40])]);
  out('MatMul + bias + GELU', b.op('Mul', [b.op('Mul', [f, b.weight('half', [], [0.5])]), b.op('Add', [b.op('Erf', [b.op('Div', [f, b.weight('sqrt2', [], [Math.SQRT2])])]), b.weight('one', [], [1])])]));
  out('MatMul / scale, Softmax', b.op('Softmax', [b.op('Div', [b.op('MatMul', [input([2, 9, 33]), input([2, 33, 21])]), b.weight('s', [], [3])])], { axis: -1 }));
  out('LogSoftmax', b.op('LogSoftmax', [input([5, 37])], { axis: -1 }));
  out('LayerNormalization (last axis, bias)', b.op('LayerNormalization', [input([4, 3, 40]), wt([40]), wt([40])], { axis: -1, epsilon: 1e-5 }));
  out('LayerNormalization (two axes, scale repeated, no bias)', b.op('LayerNormalization', [input([2, 5, 19]), wt([19])], { axis: -2, epsilon: 1e-3 }));
  out('Gemm + Relu', b.op('Relu', [b.op('Gemm', [input([6, 30]), wt([30, 18]), wt([18])])]));
  return { bytes: b.build('convs'), inputs, names };
})();
