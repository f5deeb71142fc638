import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { compareOutput } from '../../src/verification/compare';
import { prng } from '../../src/verification/inputs';
import { ModelBuilder } from '../test/builder';
import { compileModel } from './compile';
import { VERIFY_DTYPE } from './conformance';
import { compileModelCuda } from './cuda/generate';
import { modelHarness } from './harness';
import { CompileError, IO_BYTES } from './ir';

/*
 * ScatterND, ScatterElements, CumSum, TopK, Einsum, Mod and Trilu: compiled, built with clang for
 * x86_64 and aarch64 (under qemu), run on seeded inputs and compared with ONNX Runtime, with
 * indices read at run time where ONNX allows them, negative ones, and awkward sizes (1, 3, 17).
 */

const DT = onnx.TensorProto.DataType;
type Target = { triple: string; run: (exe: string, args: string[]) => string[] };
const X86: Target = { triple: 'x86_64-linux-gnu', run: (exe, args) => [exe, ...args] };
const ARM64: Target = { triple: 'aarch64-linux-gnu', run: (exe, args) => ['qemu-aarch64', '-cpu', 'max', exe, ...args] };
// A 32-bit long: indices are checked as int64 before they become offsets.
const ARMV7: Target = { triple: 'armv7-linux-gnueabihf', run: (exe, args) => ['qemu-arm', exe, ...args] };
const TARGETS = [X86, ARM64];
/** The compiler's options a test varies: the kernel library or the plain loops, and threads. */
type Options = { kernels?: boolean; threads?: number };
const OUT_OF_RANGE = "kiln harness: the model's entry point returned 2: an index was out of range";

type Kind = 'float32' | 'float64' | 'int64' | 'int32' | 'int8' | 'uint8';
const ONNX_TYPE: Record<Kind, number> = { float32: DT.FLOAT, float64: DT.DOUBLE, int64: DT.INT64, int32: DT.INT32, int8: DT.INT8, uint8: DT.UINT8 };

function typed(kind: Kind, v: number[]): ArrayBufferView & { length: number } {
  switch (kind) {
    case 'float32':
      return Float32Array.from(v);
    case 'float64':
      return Float64Array.from(v);
    case 'int64':
      return BigInt64Array.from(v, (x) => BigInt(x));
    case 'int32':
      return Int32Array.from(v);
    case 'int8':
      return Int8Array.from(v);
    case 'uint8':
      return Uint8Array.from(v);
  }
}

/** A constant of any element type and shape (a scalar with shape []), as a Constant node. */
function constant(b: ModelBuilder, kind: Kind, shape: number[], v: number[]): string {
  const a = typed(kind, v);
  return b.op('Constant', [], { value: { tensor: { dims: shape, dataType: ONNX_TYPE[kind], rawData: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) } } });
}

/** Seeded inputs: floats in [-1, 1), integers in [lo, hi). */
function source(seed: number) {
  const rand = prng(seed);
  const n = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
  const ints = (shape: number[], lo: number, hi: number) => Array.from({ length: n(shape) }, () => lo + Math.floor(rand() * (hi - lo)));
  return {
    floats: (shape: number[], kind: 'float32' | 'float64' = 'float32') => new ort.Tensor(kind, typed(kind, Array.from({ length: n(shape) }, () => rand() * 2 - 1)) as Float32Array, shape),
    ints: (shape: number[], lo: number, hi: number, kind: Kind = 'int64') => new ort.Tensor(kind, typed(kind, ints(shape, lo, hi)) as Int32Array, shape),
    values: ints,
  };
}

describe('ScatterND, ScatterElements, CumSum, TopK, Einsum, Mod and Trilu against ONNX Runtime', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-ops-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  /** Builds a model with the harness for a target and runs it on raw inputs: the exit status, stderr, and the outputs' bytes. */
  async function runRaw(bytes: Uint8Array, inputs: ArrayBufferView[], target: Target, opts: Options = {}) {
    const { files, metadata } = compileModel(bytes, { name: 'net', ...opts });
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    await writeFile(join(dir, 'harness.c'), modelHarness(metadata));
    const exe = join(dir, `net-${target.triple}`);
    execFileSync('clang-19', [`--target=${target.triple}`, '-std=c23', '-O2', '-fuse-ld=lld', '-static', '-ffp-contract=off', '-Wall', '-Werror', '-Wno-unused-function', '-I', dir, join(dir, 'net.c'), join(dir, 'harness.c'), '-o', exe, '-lm', ...(opts.threads ? ['-lpthread'] : [])], { cwd: dir });
    await writeFile(join(dir, 'inputs.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
    await rm(join(dir, 'outputs.bin'), { force: true });
    const [cmd, ...args] = target.run(exe, [join(dir, 'inputs.bin'), join(dir, 'outputs.bin')]);
    const r = spawnSync(cmd, args, { cwd: dir, encoding: 'utf8', timeout: 60_000 });
    const out = r.status === 0 ? await readFile(join(dir, 'outputs.bin')) : Buffer.alloc(0);
    let o = 0;
    const outputs = metadata.outputs.map((t) => {
      const n = t.shape.reduce((a, b) => a * b, 1) * IO_BYTES[t.dtype];
      o += n;
      return Buffer.from(out.subarray(o - n, o));
    });
    return { status: r.status, stderr: r.stderr, outputs, metadata, source: files['net.c'] as string, header: files['net.h'] as string };
  }

  /**
   * Runs the model on every target and in ONNX Runtime on the same inputs; every output must have
   * ONNX Runtime's shape and values (floats to rtol 1e-5, atol 1e-6 unless given; integers exactly).
   */
  async function assertSameAsOrt(bytes: Uint8Array, feeds: Record<string, ort.Tensor>, targets = TARGETS, tol = { rtol: 1e-5, atol: 1e-6 }, opts: Options = {}) {
    const session = await ort.InferenceSession.create(bytes);
    const expected = await session.run(feeds);
    await session.release();
    let last;
    for (const target of targets) {
      const r = await runRaw(bytes, Object.values(feeds).map((t) => t.data as ArrayBufferView), target, opts);
      assert.equal(r.status, 0, r.stderr);
      r.metadata.outputs.forEach((t, i) => {
        const e = expected[t.name];
        assert.deepEqual(t.shape, [...e.dims], t.name);
        const data = e.data as ArrayBufferView;
        const float = t.dtype === 'float32' || t.dtype === 'float64';
        const c = compareOutput(t.name, VERIFY_DTYPE[t.dtype as 'float32'], Buffer.from(data.buffer, data.byteOffset, data.byteLength), r.outputs[i], float ? { ...tol, maxUlp: null } : { rtol: 0, atol: 0, maxUlp: null });
        assert.ok(c.passed, `output ${i} (${t.name}) on ${target.triple}: ${c.mismatches} of ${c.count} differ, worst ${JSON.stringify(c.worst)}`);
      });
      last = r;
    }
    return last!;
  }

  it('ScatterND: constant indices with updates known at run time (as Swin Transformer exports it), indices read at run time with every reduction, negative and repeated indices', async () => {
    const b = new ModelBuilder(18);
    const x = b.input('x', [2, 5, 3]);
    // Constant index pairs (one negative) pick rows of 3; the updates come at run time.
    const pairs = b.op('Reshape', [b.int64('pairs', [0, 1, 1, -1, -2, 0, 1, 2]), b.int64('pshape', [4, 2])]);
    b.output(b.op('ScatterND', [x, pairs, b.input('rows', [4, 3])]));
    // Run-time indices into the first axis, repeated (1 and -1 are both 1): each reduction.
    const ri = b.input('ri', [3, 1], DT.INT64);
    const slabs = b.input('slabs', [3, 5, 3]);
    b.output(b.op('ScatterND', [x, ri, slabs], { reduction: 'add' }));
    b.output(b.op('ScatterND', [x, ri, slabs], { reduction: 'mul' }));
    b.output(b.op('ScatterND', [x, ri, slabs], { reduction: 'max' }));
    b.output(b.op('ScatterND', [x, ri, slabs], { reduction: 'min' }));
    b.output(b.op('ScatterND', [x, b.input('rn', [2, 1], DT.INT64), b.input('slabs2', [2, 5, 3])]));
    // Whole index tuples (17 of them, elements of x), with many repeats, added.
    b.output(b.op('ScatterND', [x, b.input('full', [17, 3], DT.INT64), b.input('elems', [17])], { reduction: 'add' }));
    // Integers, and a tensor of one element.
    b.output(b.op('ScatterND', [b.input('ix', [17], DT.INT64), b.input('ii', [3, 1], DT.INT64), b.input('iu', [3], DT.INT64)], { reduction: 'add' }), DT.INT64);
    b.output(b.op('ScatterND', [b.input('one', [1, 1]), b.input('oi', [1, 2], DT.INT64), b.input('ou', [1])]));
    const s = source(101);
    const full = s.values([17, 3], 0, 1).map((_, i) => (i % 3 === 0 ? s.values([1], -2, 2)[0] : i % 3 === 1 ? s.values([1], -5, 5)[0] : s.values([1], -3, 3)[0]));
    await assertSameAsOrt(b.build('scatternd'), {
      x: s.floats([2, 5, 3]),
      rows: s.floats([4, 3]),
      ri: new ort.Tensor('int64', BigInt64Array.from([1n, 0n, -1n]), [3, 1]),
      slabs: s.floats([3, 5, 3]),
      rn: new ort.Tensor('int64', BigInt64Array.from([-1n, 0n]), [2, 1]),
      slabs2: s.floats([2, 5, 3]),
      full: new ort.Tensor('int64', BigInt64Array.from(full, BigInt), [17, 3]),
      elems: s.floats([17]),
      ix: s.ints([17], -1000, 1000),
      ii: new ort.Tensor('int64', BigInt64Array.from([16n, -17n, 16n]), [3, 1]),
      iu: s.ints([3], -1000, 1000),
      one: s.floats([1, 1]),
      oi: new ort.Tensor('int64', BigInt64Array.from([0n, -1n]), [1, 2]),
      ou: s.floats([1]),
    });
  });

  it('ScatterND with repeated indices and no reduction applies them in order (the last one wins)', async () => {
    const b = new ModelBuilder(16);
    b.output(b.op('ScatterND', [b.input('x', [4, 3]), b.input('i', [3, 1], DT.INT64), b.input('u', [3, 3])]));
    const x = Float32Array.from({ length: 12 }, (_, i) => i);
    const u = Float32Array.from({ length: 9 }, (_, i) => 100 + i);
    const r = await runRaw(b.build('scatternd_repeat'), [x, BigInt64Array.from([2n, 0n, -2n]), u], X86);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual([...new Float32Array(r.outputs[0].buffer, r.outputs[0].byteOffset, 12)], [103, 104, 105, 3, 4, 5, 106, 107, 108, 9, 10, 11]);
  });

  it('ScatterElements: indices read at run time on either axis (int64 and int32, negative ones), every reduction, constant indices with updates at run time', async () => {
    const b = new ModelBuilder(18);
    const e = b.input('e', [3, 17]);
    const ei = b.input('ei', [3, 4], DT.INT64);
    const eu = b.input('eu', [3, 4]);
    b.output(b.op('ScatterElements', [e, ei, eu], { axis: 1 }));
    for (const reduction of ['add', 'mul', 'max', 'min']) b.output(b.op('ScatterElements', [e, ei, eu], { axis: -1, reduction }));
    b.output(b.op('ScatterElements', [e, b.input('ej', [2, 17], DT.INT32), b.input('ev', [2, 17])], { axis: 0, reduction: 'add' }));
    const ci = b.op('Reshape', [b.int64('ci', [0, -1, 3, 16, 2, -17]), b.int64('cshape', [3, 2])]);
    b.output(b.op('ScatterElements', [e, ci, b.input('cu', [3, 2])], { axis: 1 }));
    b.output(b.op('ScatterElements', [b.input('k', [1, 3], DT.INT64), b.input('ki', [1, 3], DT.INT64), b.input('ku', [1, 3], DT.INT64)], { axis: 1, reduction: 'mul' }), DT.INT64);
    const s = source(202);
    await assertSameAsOrt(b.build('scatter_elements'), {
      e: s.floats([3, 17]),
      ei: s.ints([3, 4], -17, 17),
      eu: s.floats([3, 4]),
      ej: s.ints([2, 17], -3, 3, 'int32'),
      ev: s.floats([2, 17]),
      cu: s.floats([3, 2]),
      k: s.ints([1, 3], -50, 50),
      ki: new ort.Tensor('int64', BigInt64Array.from([2n, -1n, 0n]), [1, 3]),
      ku: s.ints([1, 3], -50, 50),
    });
  });

  it('ScatterND and ScatterElements of constants fold at compile time', async () => {
    const b = new ModelBuilder(18);
    const data = b.weight('data', [3, 4], Array.from({ length: 12 }, (_, i) => i - 5.5));
    const nd = b.op('ScatterND', [data, b.op('Reshape', [b.int64('i', [2, -1]), b.int64('s', [2, 1])]), b.weight('u', [2, 4], [1, 2, 3, 4, 5, 6, 7, 8])], { reduction: 'mul' });
    const el = b.op('ScatterElements', [nd, b.op('Reshape', [b.int64('j', [3, -4, 0]), b.int64('t', [1, 3])]), b.weight('v', [1, 3], [10, 20, 30])], { axis: 1, reduction: 'add' });
    b.output(b.op('Add', [el, b.input('x', [3, 4])]));
    const r = await assertSameAsOrt(b.build('scatter_folded'), { x: source(3).floats([3, 4]) }, [X86]);
    assert.doesNotMatch(r.source, /\/\* Scatter/);
  });

  it('an index read at run time out of range (past either end, or beyond 32 bits) makes ScatterND and ScatterElements return 2, as the header says', async () => {
    const cases: { label: string; bytes: Uint8Array; inputs: (bad: bigint) => ArrayBufferView[] }[] = [];
    {
      const b = new ModelBuilder();
      b.output(b.op('ScatterND', [b.input('x', [17, 3]), b.input('i', [3, 1], DT.INT64), b.input('u', [3, 3])]));
      cases.push({ label: 'ScatterND', bytes: b.build('scatternd_oob'), inputs: (bad) => [new Float32Array(51), BigInt64Array.from([0n, bad, 2n]), new Float32Array(9)] });
    }
    {
      const b = new ModelBuilder();
      b.output(b.op('ScatterElements', [b.input('x', [3, 17]), b.input('i', [3, 2], DT.INT64), b.input('u', [3, 2])], { axis: 1 }));
      cases.push({ label: 'ScatterElements', bytes: b.build('scatter_elements_oob'), inputs: (bad) => [new Float32Array(51), BigInt64Array.from([1n, 2n, 3n, 4n, bad, 5n]), new Float32Array(6)] });
    }
    for (const c of cases) {
      for (const target of [X86, ARMV7]) {
        for (const bad of [17n, -18n, 1n << 32n, (1n << 32n) + 1n]) {
          const r = await runRaw(c.bytes, c.inputs(bad), target);
          assert.equal(r.status, 107, `${c.label} with ${bad} on ${target.triple}: exit ${r.status}, ${r.stderr}`);
          assert.equal(r.stderr.trim(), OUT_OF_RANGE, c.label);
          assert.deepEqual(r.metadata.errors, { '2': 'an index was out of range' });
          assert.match(r.header, /or 2 when an index the model reads at run time \(Gather, GatherElements, GatherND,\n \* ScatterElements, ScatterND, RotaryEmbedding\) is out of range/);
        }
        const ok = await runRaw(c.bytes, c.inputs(-17n), target);
        assert.equal(ok.status, 0, `${c.label} with -17 on ${target.triple}: ${ok.stderr}`);
      }
    }
  });

  it('constant indices out of range are refused at compile time', () => {
    const cases: [string, (b: ModelBuilder, x: string) => string, RegExp][] = [
      ['ScatterND', (b, x) => b.op('ScatterND', [x, b.op('Reshape', [b.int64('i', [4]), b.int64('s', [1, 1])]), b.input('u', [1, 3])]), /ScatterND .*index 4 is out of range for an axis of 4/],
      ['ScatterElements', (b, x) => b.op('ScatterElements', [x, b.op('Reshape', [b.int64('i', [-4]), b.int64('s', [1, 1])]), b.input('u', [1, 1])], { axis: 1 }), /ScatterElements .*index -4 is out of range for an axis of 3/],
    ];
    for (const [label, make, message] of cases) {
      const b = new ModelBuilder();
      b.output(make(b, b.input('x', [4, 3])));
      assert.throws(() => compileModel(b.build()), (e: unknown) => e instanceof CompileError && e.code === 'invalid' && message.test(e.message), label);
    }
  });

  it('CumSum: inclusive and exclusive, forwards and in reverse, on any axis (int64 or int32, scalar or one element, negative), for float32, float64, int32 and int64', async () => {
    const b = new ModelBuilder(14);
    const x = b.input('x', [3, 17]);
    const axis1 = constant(b, 'int64', [], [1]);
    for (const exclusive of [0, 1]) for (const reverse of [0, 1]) b.output(b.op('CumSum', [x, axis1], { exclusive, reverse }));
    b.output(b.op('CumSum', [x, constant(b, 'int32', [1], [-2])], { reverse: 1 }));
    b.output(b.op('CumSum', [b.input('d', [17], DT.DOUBLE), constant(b, 'int64', [1], [0])], { exclusive: 1 }), DT.DOUBLE);
    b.output(b.op('CumSum', [b.input('i', [4, 3], DT.INT32), constant(b, 'int32', [], [0])]), DT.INT32);
    b.output(b.op('CumSum', [b.input('l', [1, 3, 1], DT.INT64), constant(b, 'int64', [], [-2])], { exclusive: 1, reverse: 1 }), DT.INT64);
    b.output(b.op('CumSum', [b.input('l2', [2, 1, 3], DT.INT64), constant(b, 'int64', [], [1])]), DT.INT64);
    const s = source(303);
    await assertSameAsOrt(b.build('cumsum'), {
      x: s.floats([3, 17]),
      d: s.floats([17], 'float64'),
      i: s.ints([4, 3], -1000, 1000, 'int32'),
      l: s.ints([1, 3, 1], -(2 ** 40), 2 ** 40),
      l2: s.ints([2, 1, 3], -1000, 1000),
    });
  });

  it('CumSum of a constant folds at compile time', async () => {
    const b = new ModelBuilder(14);
    const c = b.op('CumSum', [b.weight('w', [2, 3], [1, 2, 3, 4, 5, 6]), constant(b, 'int64', [], [1])], { exclusive: 1, reverse: 1 });
    b.output(b.op('Add', [c, b.input('x', [2, 3])]));
    const r = await assertSameAsOrt(b.build('cumsum_folded'), { x: source(4).floats([2, 3]) }, [X86]);
    assert.doesNotMatch(r.source, /\/\* CumSum/);
  });

  it('TopK: largest and smallest, k of 1, 3 and the whole axis, any axis, ties broken by the lower index, for float32, float64 and int64', async () => {
    const b = new ModelBuilder(11);
    const x = b.input('x', [3, 17]);
    let kn = 0;
    const k = (v: number) => b.int64(`k${kn++}`, [v]);
    const both = (inputs: string[], attrs: Record<string, number>, type = DT.FLOAT) => {
      const [v, i] = b.node('TopK', inputs, attrs, 2);
      b.output(v, type);
      b.output(i, DT.INT64);
    };
    both([x, k(3)], {});
    both([x, k(3)], { largest: 0 });
    both([x, k(17)], {});
    both([x, k(17)], { largest: 0 });
    both([x, k(1)], { axis: 1 });
    both([x, k(2)], { axis: 0, largest: 0 });
    // Ties: a few distinct values, so that equal ones must come in the order of their indices.
    const t = b.input('t', [4, 17]);
    both([t, k(5)], {});
    both([t, k(5)], { largest: 0 });
    both([t, k(17)], { axis: -1 });
    both([t, k(17)], { largest: 0 });
    both([t, k(4)], { axis: 0 });
    both([b.input('d', [2, 17], DT.DOUBLE), k(4)], { largest: 0 }, DT.DOUBLE);
    both([b.input('l', [2, 17], DT.INT64), k(6)], {}, DT.INT64);
    both([b.input('l1', [2, 17], DT.INT64), k(17)], { largest: 0 }, DT.INT64);
    both([b.input('one', [5, 1]), k(1)], {});
    const s = source(404);
    await assertSameAsOrt(b.build('topk'), {
      x: s.floats([3, 17]),
      t: new ort.Tensor('float32', Float32Array.from(s.values([4, 17], -2, 2)), [4, 17]),
      d: s.floats([2, 17], 'float64'),
      l: s.ints([2, 17], -3, 3),
      l1: s.ints([2, 17], -3, 3),
      one: s.floats([5, 1]),
    });
  });

  it('TopK with sorted=0 gives the same elements as ONNX Runtime, and a constant input folds', async () => {
    const b = new ModelBuilder(11);
    const [v, i] = b.node('TopK', [b.input('x', [3, 17]), b.int64('k', [5])], { sorted: 0 }, 2);
    b.output(v);
    b.output(i, DT.INT64);
    const [cv] = b.node('TopK', [b.weight('w', [1, 6], [3, -1, 4, 1, -5, 9]), b.int64('k2', [3])], { largest: 0 }, 2);
    b.output(b.op('Add', [cv, b.input('y', [1, 3])]));
    const bytes = b.build('topk_unsorted');
    const feeds = { x: source(5).floats([3, 17]), y: source(6).floats([1, 3]) };
    const session = await ort.InferenceSession.create(bytes);
    const expected = await session.run(feeds);
    await session.release();
    const r = await runRaw(bytes, Object.values(feeds).map((t) => t.data as ArrayBufferView), X86);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.source.match(/\/\* TopK /g)?.length, 1, 'the constant TopK is folded, the other runs');
    const got = new BigInt64Array(r.outputs[1].buffer.slice(r.outputs[1].byteOffset, r.outputs[1].byteOffset + r.outputs[1].byteLength));
    const want = expected[r.metadata.outputs[1].name].data as BigInt64Array;
    for (let row = 0; row < 3; row++) {
      const set = (a: BigInt64Array) => [...a.slice(row * 5, row * 5 + 5)].sort((p, q) => Number(p - q));
      assert.deepEqual(set(got), set(want), `row ${row}`);
    }
    const sum = new Float32Array(r.outputs[2].buffer.slice(r.outputs[2].byteOffset, r.outputs[2].byteOffset + 12));
    const y = feeds.y.data as Float32Array;
    assert.deepEqual([...sum], [-5 + y[0], -1 + y[1], 1 + y[2]].map(Math.fround));
  });

  it('Einsum: batched matrix products, transposes, sums, outer products, diagonals, ellipses and three operands, on the GEMM kernel and the plain loops', async () => {
    const cases: [string, number[][]][] = [
      ['bhid,bhjd->bhij', [[2, 3, 5, 17], [2, 3, 4, 17]]],
      ['bhid,bhjd->bhij', [[1, 2, 33, 20], [1, 2, 40, 20]]],
      ['bhij,bhjd->bhid', [[1, 3, 5, 4], [1, 3, 4, 17]]],
      ['bhij,bhjd->bhid', [[1, 2, 33, 40], [1, 2, 40, 20]]],
      ['bij,bjk->bik', [[3, 4, 17], [3, 17, 5]]],
      ['bhqd,bkhd->bhqk', [[2, 3, 4, 8], [2, 5, 3, 8]]],
      ['bid,jd->bij', [[2, 3, 4], [17, 4]]],
      ['nchw,oc->nohw', [[1, 3, 2, 4], [5, 3]]],
      ['ij->ji', [[3, 17]]],
      ['ij->i', [[3, 17]]],
      ['ij->', [[3, 17]]],
      ['i,j->ij', [[3], [17]]],
      ['i,i->', [[17], [17]]],
      ['ii->i', [[5, 5]]],
      ['bii->bi', [[2, 3, 3]]],
      ['ij,jk', [[3, 4], [4, 5]]],
      ['ba,ca', [[3, 17], [4, 17]]],
      ['...ij,...jk->...ik', [[2, 3, 4], [2, 4, 5]]],
      ['...ij,...jk->...ik', [[3, 1, 3, 4], [1, 2, 4, 5]]],
      ['...ij,jk->...ik', [[2, 1, 3, 4], [4, 1]]],
      ['b...d,b...d->b...', [[2, 3, 17], [2, 1, 17]]],
      ['...i', [[2, 3, 4]]],
      ['ij,jk,kl->il', [[3, 4], [4, 5], [5, 1]]],
      ['i j , j k -> i k', [[2, 3], [3, 2]]],
    ];
    const b = new ModelBuilder(12);
    const feeds: Record<string, ort.Tensor> = {};
    const s = source(505);
    cases.forEach(([equation, shapes], c) => {
      const ins = shapes.map((shape, k) => {
        const name = `e${c}_${k}`;
        feeds[name] = s.floats(shape);
        return b.input(name, shape);
      });
      b.output(b.op('Einsum', ins, { equation }));
    });
    feeds.l = s.ints([3, 4], -100, 100);
    feeds.m = s.ints([4, 2], -100, 100);
    b.output(b.op('Einsum', [b.input('l', [3, 4], DT.INT64), b.input('m', [4, 2], DT.INT64)], { equation: 'ij,jk->ik' }), DT.INT64);
    feeds.d = s.floats([2, 17], 'float64');
    b.output(b.op('Einsum', [b.input('d', [2, 17], DT.DOUBLE)], { equation: 'ij->j' }), DT.DOUBLE);
    const bytes = b.build('einsum');
    const tol = { rtol: 1e-5, atol: 1e-5 };
    const r = await assertSameAsOrt(bytes, feeds, TARGETS, tol);
    // The matrix products run on the GEMM kernel (the first eight cases, and more).
    assert.ok((r.source.match(/kiln_gemm\(&g\)/g)?.length ?? 0) >= 8, 'the matrix products run on the GEMM kernel');
    await assertSameAsOrt(bytes, feeds, [X86], tol, { kernels: false });
    await assertSameAsOrt(bytes, feeds, [X86], tol, { threads: 4 });
  });

  it('Einsum of constants folds at compile time', async () => {
    const b = new ModelBuilder(12);
    const e = b.op('Einsum', [b.weight('a', [2, 3], [1, 2, 3, 4, 5, 6]), b.weight('c', [3, 2], [0.5, -1, 2, 0.25, -3, 1])], { equation: 'ij,jk->ki' });
    b.output(b.op('Add', [e, b.input('x', [2, 2])]));
    const r = await assertSameAsOrt(b.build('einsum_folded'), { x: source(7).floats([2, 2]) }, [X86]);
    assert.doesNotMatch(r.source, /\/\* Einsum/);
  });

  it('Mod: integers with fmod=0 take the divisor\'s sign (as numpy) and with fmod=1 the dividend\'s, broadcast; floats with fmod=1', async () => {
    const b = new ModelBuilder(13);
    const feeds: Record<string, ort.Tensor> = {};
    const s = source(606);
    const nonzero = (shape: number[], lo: number, hi: number, kind: Kind) => new ort.Tensor(kind, typed(kind, s.values(shape, lo, hi).map((v) => (v === 0 ? hi - 1 : v))) as Int32Array, shape);
    const pair = (kind: Kind, type: number, a: number[], bs: number[], lo: number, hi: number) => {
      const tag = `${kind}_${Object.keys(feeds).length}`;
      feeds[`a_${tag}`] = new ort.Tensor(kind, typed(kind, s.values(a, lo * 5, hi * 5)) as Int32Array, a);
      feeds[`b_${tag}`] = nonzero(bs, lo, hi, kind);
      const ia = b.input(`a_${tag}`, a, type);
      const ib = b.input(`b_${tag}`, bs, type);
      for (const fmod of [0, 1]) b.output(b.op('Mod', [ia, ib], { fmod }), type);
    };
    pair('int32', DT.INT32, [3, 17], [3, 17], -9, 9);
    pair('int64', DT.INT64, [3, 1], [17], -9, 9);
    pair('int8', DT.INT8, [17], [1], -9, 9);
    pair('uint8', DT.UINT8, [3, 17], [17], 1, 40);
    feeds.f = s.floats([3, 17]);
    feeds.g = s.floats([17]);
    b.output(b.op('Mod', [b.op('Mul', [b.input('f', [3, 17]), b.weight('ten', [], [10])]), b.input('g', [17])], { fmod: 1 }));
    feeds.h = s.floats([17], 'float64');
    feeds.k = s.floats([1], 'float64');
    b.output(b.op('Mod', [b.input('h', [17], DT.DOUBLE), b.input('k', [1], DT.DOUBLE)], { fmod: 1 }), DT.DOUBLE);
    await assertSameAsOrt(b.build('mod'), feeds);
  });

  it('Mod of an integer by 0 gives 0, and by -1 gives 0 even for the most negative integer, with no trap', async () => {
    const b = new ModelBuilder(13);
    const a = b.input('a', [4], DT.INT32);
    const d = b.input('d', [4], DT.INT32);
    b.output(b.op('Mod', [a, d]), DT.INT32);
    b.output(b.op('Mod', [a, d], { fmod: 1 }), DT.INT32);
    const r = await runRaw(b.build('mod_zero'), [Int32Array.from([7, -7, -(2 ** 31), 5]), Int32Array.from([0, -1, -1, -3])], X86);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual([...new Int32Array(r.outputs[0].buffer, r.outputs[0].byteOffset, 4)], [0, 0, 0, -1]);
    assert.deepEqual([...new Int32Array(r.outputs[1].buffer, r.outputs[1].byteOffset, 4)], [0, 0, 0, 2]);
  });

  it('Trilu: upper and lower, k absent, negative, positive and past the matrix, on floats and integers; a constant input folds', async () => {
    const b = new ModelBuilder(14);
    const x = b.input('x', [2, 3, 17]);
    b.output(b.op('Trilu', [x]));
    b.output(b.op('Trilu', [x], { upper: 0 }));
    b.output(b.op('Trilu', [x, constant(b, 'int64', [], [-1])]));
    b.output(b.op('Trilu', [x, constant(b, 'int64', [], [2])], { upper: 0 }));
    b.output(b.op('Trilu', [x, constant(b, 'int64', [], [2 ** 40])], { upper: 0 }));
    b.output(b.op('Trilu', [x, constant(b, 'int64', [], [-(2 ** 40)])]));
    b.output(b.op('Trilu', [b.input('l', [17, 1], DT.INT64), constant(b, 'int64', [], [-3])], { upper: 0 }), DT.INT64);
    const folded = b.op('Trilu', [b.weight('w', [3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]), constant(b, 'int64', [], [1])]);
    b.output(b.op('Add', [folded, b.input('y', [3, 3])]));
    const s = source(707);
    const r = await assertSameAsOrt(b.build('trilu'), { x: s.floats([2, 3, 17]), l: s.ints([17, 1], -100, 100), y: s.floats([3, 3]) });
    assert.equal(r.source.match(/\/\* Trilu /g)?.length, 7, 'the constant Trilu is folded, the others run');
  });

  it('refuses what it cannot compile, naming the node and why', () => {
    const cases: [string, (b: ModelBuilder) => void, string, RegExp][] = [
      ['CumSum with an axis of two values', (b) => b.output(b.op('CumSum', [b.input('x', [3]), b.input('a', [2], DT.INT64)])), 'invalid', /CumSum CumSum_\d+: axis must hold one value, not 2/],
      ['TopK with K read at run time and no declared output shape', (b) => b.output(b.node('TopK', [b.input('x', [3]), b.input('k', [1], DT.INT64)], {}, 2)[0]), 'unsupported', /TopK TopK_\d+: K must be known at compile time, or the model must declare the shape of output/],
      ['TopK with K past the axis', (b) => b.output(b.node('TopK', [b.input('x', [3]), b.int64('k', [4])], {}, 2)[0]), 'invalid', /TopK TopK_\d+: K 4 is outside \[0, 3\]/],
      ['Trilu with an int32 k', (b) => b.output(b.op('Trilu', [b.input('x', [3, 3]), b.input('k', [], DT.INT32)])), 'invalid', /Trilu Trilu_\d+: k must be int64, not int32/],
      ['Einsum summing over an ellipsis', (b) => b.output(b.op('Einsum', [b.input('x', [2, 3, 4])], { equation: '...ij->ij' })), 'unsupported', /Einsum Einsum_\d+: equation '...ij->ij' sums over the dimensions of an ellipsis/],
      ['Einsum with sizes that differ', (b) => b.output(b.op('Einsum', [b.input('x', [2, 3]), b.input('y', [4, 2])], { equation: 'ij,jk->ik' })), 'invalid', /Einsum Einsum_\d+: equation 'ij,jk->ik' gives 'j' sizes 3 and 4/],
      ['Einsum with ellipses that do not broadcast', (b) => b.output(b.op('Einsum', [b.input('x', [2, 3, 4]), b.input('y', [3, 4, 5])], { equation: '...ij,...jk->...ik' })), 'invalid', /Einsum Einsum_\d+: equation '...ij,...jk->...ik' gives '...' sizes 2 and 3/],
      ['Mod of floats with fmod=0', (b) => b.output(b.op('Mod', [b.input('x', [3]), b.input('y', [3])])), 'invalid', /Mod Mod_\d+: float32 inputs require fmod=1/],
      ['ScatterND with reduction max before opset 18', (b) => b.output(b.op('ScatterND', [b.input('x', [3]), b.input('i', [1, 1], DT.INT64), b.input('u', [1])], { reduction: 'max' })), 'invalid', /ScatterND ScatterND_\d+: reduction 'max' is defined from opset 18, and the model's opset is 17/],
      ['ScatterElements with updates of another shape', (b) => b.output(b.op('ScatterElements', [b.input('x', [3]), b.input('i', [2], DT.INT64), b.input('u', [1])])), 'invalid', /ScatterElements ScatterElements_\d+: updates \[1\] and indices \[2\] differ in shape/],
    ];
    for (const [label, make, code, message] of cases) {
      const b = new ModelBuilder(17);
      make(b);
      assert.throws(() => compileModel(b.build()), (e: unknown) => e instanceof CompileError && e.code === code && message.test(e.message), label);
    }
  });

  it('the CUDA backend refuses each of them by name', () => {
    const models: [string, (b: ModelBuilder) => void][] = [
      ['ScatterND', (b) => b.output(b.op('ScatterND', [b.input('x', [4, 3]), b.op('Reshape', [b.int64('i', [1]), b.int64('s', [1, 1])]), b.input('u', [1, 3])]))],
      ['ScatterElements', (b) => b.output(b.op('ScatterElements', [b.input('x', [4, 3]), b.input('i', [1, 3], DT.INT64), b.input('u', [1, 3])]))],
      ['CumSum', (b) => b.output(b.op('CumSum', [b.input('x', [4, 3]), b.int64('a', [1])]))],
      ['TopK', (b) => b.output(b.node('TopK', [b.input('x', [4, 3]), b.int64('k', [2])], {}, 2)[0])],
      ['Einsum', (b) => b.output(b.op('Einsum', [b.input('x', [4, 3]), b.input('y', [3, 2])], { equation: 'ij,jk->ik' }))],
      ['Mod', (b) => b.output(b.op('Mod', [b.input('x', [4, 3]), b.input('y', [4, 3])], { fmod: 1 }))],
      ['Trilu', (b) => b.output(b.op('Trilu', [b.input('x', [4, 3])]))],
    ];
    for (const [op, make] of models) {
      const b = new ModelBuilder(17);
      make(b);
      const bytes = b.build();
      compileModel(bytes); // the C backend takes it
      assert.throws(() => compileModelCuda(bytes), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && new RegExp(`the CUDA backend does not support these operators: ${op}$`).test(e.message), op);
    }
  });
});
