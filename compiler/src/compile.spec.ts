import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { compareOutput } from '../../src/verification/compare';
import { prng } from '../../src/verification/inputs';
import { ModelBuilder } from '../test/builder';
import { mlp, TEST_MODELS } from '../test/models';
import { compileModel, OPS } from './compile';
import { modelHarness } from './harness';
import { CompileError, DTYPE_BYTES } from './ir';

const TARGETS: { triple: string; run: (exe: string, args: string[]) => string[] }[] = [
  { triple: 'x86_64-linux-gnu', run: (exe, args) => [exe, ...args] },
  { triple: 'aarch64-linux-gnu', run: (exe, args) => ['qemu-aarch64', '-cpu', 'max', exe, ...args] },
];

/** Compiles a model to C, builds it with clang for a target, runs it, returns its outputs. */
async function runCompiled(dir: string, bytes: Uint8Array, inputShapes: Record<string, number[]> | undefined, inputs: Float32Array[], target: (typeof TARGETS)[number]) {
  const { files, metadata } = compileModel(bytes, { name: 'net', inputShapes });
  for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
  await writeFile(join(dir, 'harness.c'), modelHarness(metadata));
  const exe = join(dir, `net-${target.triple}`);
  execFileSync('clang-19', [`--target=${target.triple}`, '-std=c23', '-O2', '-fuse-ld=lld', '-static', '-ffp-contract=off', '-I', dir, join(dir, 'net.c'), join(dir, 'harness.c'), '-o', exe, '-lm'], { cwd: dir });
  await writeFile(join(dir, 'inputs.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer))));
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

describe('the ONNX compiler against ONNX Runtime', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-compiler-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  for (const model of TEST_MODELS) {
    for (const target of TARGETS) {
      it(`${model.name} on ${target.triple} matches onnxruntime-node`, async () => {
        const bytes = model.build();
        const session = await ort.InferenceSession.create(bytes);
        const rand = prng(42);
        const { metadata } = compileModel(bytes, { name: 'net', inputShapes: model.inputShapes });
        const inputs = metadata.inputs.map((t) => Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1));
        const feeds = Object.fromEntries(metadata.inputs.map((t, i) => [t.name, new ort.Tensor('float32', inputs[i], t.shape)]));
        const expected = await session.run(feeds);
        const actual = await runCompiled(dir, bytes, model.inputShapes, inputs, target);
        for (const a of actual) {
          const e = expected[a.name].data as Float32Array;
          const r = compareOutput(a.name, 'float32', Buffer.from(e.buffer, e.byteOffset, e.byteLength), a.bytes, { rtol: 1e-4, atol: 1e-5, maxUlp: null });
          assert.ok(r.passed, `${model.name}/${a.name} on ${target.triple}: ${r.mismatches} mismatches, worst ${JSON.stringify(r.worst)}, max abs ${r.maxAbsError}`);
          assert.ok(e.some((v) => v !== 0), 'the reference output is not all zeros');
        }
      });
    }
  }
});

describe('compileModel refuses what it cannot compile, saying why', () => {
  it('lists unsupported operators by name', async () => {
    const b = new ModelBuilder();
    const x = b.input('x', [1, 4]);
    b.output(b.op('NonMaxSuppression', [b.op('Hardmax', [x])]));
    assert.throws(() => compileModel(b.build()), (e: unknown) => e instanceof CompileError && e.code === 'unsupported' && /unsupported operators: Hardmax, NonMaxSuppression/.test(e.message));
  });

  it('names symbolic dimensions the request did not bind', async () => {
    assert.throws(() => compileModel(mlp()), (e: unknown) => e instanceof CompileError && e.code === 'symbolic-dimension' && /x\[batch\]/.test(e.message));
  });

  it('refuses malformed bytes and oversized models', () => {
    assert.throws(() => compileModel(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])), (e: unknown) => e instanceof CompileError && e.code === 'malformed');
    assert.throws(() => compileModel(new Uint8Array(100), { maxBytes: 10 }), (e: unknown) => e instanceof CompileError && e.code === 'too-large');
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
