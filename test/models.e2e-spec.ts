import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CUDA_HOME } from '../workers/toolchains/nvcc';
import { ModelBuilder, toHalfModel } from '../compiler/test/builder';
import { lenet, mlp } from '../compiler/test/models';
import { download, ELF_MACHINE, elfMachine, JobView, Kiln, startKiln, waitForJob } from './support/harness';

describe('model jobs: an uploaded ONNX model compiled for several targets and verified against ONNX Runtime', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs' });
  });
  after(async () => {
    await kiln?.close();
  });

  async function upload(bytes: Uint8Array, name = 'model.onnx'): Promise<string> {
    const res = await kiln.http().post(`/v1/uploads?filename=${name}`).set(kiln.auth).set('Content-Type', 'application/octet-stream').send(Buffer.from(bytes));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }

  it('compiles LeNet for three targets and proves each against onnxruntime-node', async () => {
    const uploadId = await upload(lenet(), 'lenet.onnx');
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId }, targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'wasm32-wasi'], verify: true });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.model.filename, 'lenet.onnx');
    assert.deepEqual(res.body.model.inputs, [{ name: 'image', dtype: 'float32', shape: [1, 1, 28, 28] }]);
    assert.equal(res.body.model.ops.Conv, 2);
    const job = await waitForJob(kiln, res.body.id, 180_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => b.statusReason)));
    for (const b of job.builds as (typeof job.builds[number] & { verification: { status: string; runner: string; reference: string; outputs: { maxAbsError: number }[] } })[]) {
      assert.equal(b.verification.status, 'passed');
      assert.match(b.verification.reference, /onnxruntime-node/);
      assert.equal(b.toolchain?.key, 'kiln-onnx');
      const names = b.artifacts.map((a) => a.name);
      for (const n of ['model.h', 'model.c', 'model.json', 'model.o']) assert.ok(names.includes(n), `${b.target.name} has ${n}`);
      const header = (await download(kiln, b.artifacts.find((a) => a.name === 'model.h')!.id)).toString();
      assert.match(header, /int model_run\(const void \*const inputs\[\], void \*const outputs\[\]\);/);
      const obj = await download(kiln, b.artifacts.find((a) => a.name === 'model.o')!.id);
      if (b.target.name === 'wasm32-wasi') assert.equal(obj.subarray(0, 4).toString('latin1'), '\0asm');
      else assert.equal(elfMachine(obj), b.target.name === 'x86_64-linux-gnu' ? ELF_MACHINE.x86_64 : ELF_MACHINE.aarch64);
      const meta = JSON.parse((await download(kiln, b.artifacts.find((a) => a.name === 'model.json')!.id)).toString());
      assert.deepEqual(meta.outputs[0].shape, [1, 10]);
    }
  });

  it('compiles a model for an NVIDIA GPU with nvcc, and its verification waits for a device with that GPU', { skip: !existsSync(join(CUDA_HOME, 'bin/nvcc')) && 'no CUDA toolkit' }, async () => {
    const uploadId = await upload(lenet(), 'lenet.onnx');
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId }, targets: ['h100'], outputs: ['ptx', 'cubin', 'shared'], verify: true });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.builds[0].verifyPool, 'verify-cuda-sm_90');
    let build: JobView['builds'][number] & { verifyPool: string };
    for (const deadline = Date.now() + 240_000; ; ) {
      const job = await kiln.http().get(`/v1/jobs/${res.body.id}`).set(kiln.auth);
      build = job.body.builds[0];
      if (build.status !== 'queued' && build.status !== 'compiling') break;
      assert.ok(Date.now() < deadline, `still ${build.status}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    // No worker here has an NVIDIA GPU: the build is compiled and says what it waits for.
    assert.equal(build.status, 'compiled', build.statusReason ?? '');
    assert.match(build.statusReason ?? '', /waiting for a device: no runner with an NVIDIA sm_90 GPU serves pool "verify-cuda-sm_90"/);
    const file = async (name: string) => download(kiln, build.artifacts.find((a) => a.name === name)!.id);
    assert.match((await file('model.ptx')).toString(), /\.target sm_90/);
    assert.equal(elfMachine(await file('model.cubin')), 190);
    const lib = await file('libmodel.so');
    assert.equal(elfMachine(lib), ELF_MACHINE.x86_64);
    assert.ok(lib.includes('model_run\0') && lib.includes('model_run_device\0'), 'the host library exports the C entry points');
    assert.match((await file('model.cu')).toString(), /__global__/);
    const manifest = JSON.parse((await file('verify/manifest.json')).toString());
    assert.equal(manifest.target, 'nvptx64-nvidia-cuda');
    assert.equal(manifest.device, 'sm_90');
    assert.match(manifest.reference, /onnxruntime-node/);
    assert.equal(elfMachine(await file('verify/program')), ELF_MACHINE.x86_64);
    // The bundle runs by hand only where such a GPU is: here the runner CLI says so.
    const dir = await mkdtemp(join(tmpdir(), 'kiln-gpu-bundle-'));
    try {
      for (const a of build.artifacts.filter((x) => x.name.startsWith('verify/'))) await writeFile(join(dir, a.name.slice(7)), await download(kiln, a.id));
      const cli = spawnSync(process.execPath, [join(__dirname, '../workers/verify/cli.js'), dir], { encoding: 'utf8' });
      assert.equal(cli.status, 2, cli.stderr);
      assert.match(cli.stderr, /this machine has no NVIDIA GPU of architecture sm_90 \(nvidia-smi lists none\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.equal((await kiln.http().delete(`/v1/jobs/${res.body.id}`).set(kiln.auth)).status, 200);

    // What the CUDA generator cannot do is refused when the job is created, by name.
    const argmax = new ModelBuilder();
    argmax.output(argmax.op('ArgMax', [argmax.input('x', [2, 8])], { axis: 1 }));
    const post = (body: object) => kiln.http().post('/v1/jobs').set(kiln.auth).send(body);
    let r = await post({ model: { uploadId: await upload(argmax.build()) }, targets: ['sm_80'] });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /targets: sm_80: the CUDA backend does not support these operators: ArgMax/);
    r = await post({ model: { uploadId }, targets: ['sm_80'], outputs: ['assembly'] });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /a model build for sm_80 gives ptx, cubin, fatbin, object, static, shared, not assembly/);
    r = await post({ model: { uploadId }, targets: ['x86_64-linux-gnu'], outputs: ['ptx'] });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /a model build for x86_64-linux-gnu gives object, shared, static, assembly, llvm-ir, not ptx/);
    // A shared library for WebAssembly would export nothing that a WASI runtime can load: refused, as for source builds.
    r = await post({ model: { uploadId }, targets: ['x86_64-linux-gnu', 'wasm32-wasi'], outputs: ['object', 'shared'] });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /a model build for wasm32-wasi gives object, static, assembly, llvm-ir, not shared/);
    r = await post({ model: { uploadId }, targets: ['mi300'] });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /AMD GPU code generation for models is not offered yet/);
  });

  it('binds symbolic dimensions from inputShapes, and builds a shared library', async () => {
    const uploadId = await upload(mlp());
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId }, inputShapes: { x: [3, 16] }, targets: ['riscv64-linux-gnu'], outputs: ['shared', 'static'], verify: { seed: 5 } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id, 120_000);
    assert.equal(job.status, 'succeeded', job.builds[0].statusReason ?? '');
    assert.ok(job.builds[0].artifacts.some((a) => a.name === 'libmodel.so'));
    assert.ok(job.builds[0].artifacts.some((a) => a.name === 'libmodel.a' && a.kind === 'static'));
  });

  it('profiles a verified model build on its runner: every kernel after fusion, natively, under an emulator and as WebAssembly', async () => {
    const uploadId = await upload(lenet(), 'lenet.onnx');
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId }, targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'wasm32-wasi'], verify: { profile: { runs: 2 } } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id, 180_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => b.statusReason)));
    type Profiled = { verification: { status: string; kind: string; profileError?: string; profile?: { clock: string; runs: number; latencyMs: number; kernelsMs: number; peakMemoryBytes: number | null; weightsBytes: number; codeBytes: number; flops: number; kernels: { label: string; ops: string[]; nodes: string[]; flops: number; ms: number; share: number }[] } } };
    for (const b of job.builds as (typeof job.builds[number] & Profiled)[]) {
      const v = b.verification;
      assert.equal(v.status, 'passed');
      assert.equal(v.kind, 'model');
      assert.equal(v.profileError, undefined);
      const p = v.profile!;
      assert.ok(p, `${b.target.name} has a profile`);
      assert.equal(p.clock, { 'x86_64-linux-gnu': 'native', 'aarch64-linux-gnu': 'emulated', 'wasm32-wasi': 'wasm' }[b.target.name]);
      assert.equal(p.runs, 2);
      // The kernels are those the compiler listed in model.json, each timed.
      const meta = JSON.parse((await download(kiln, b.artifacts.find((a) => a.name === 'model.json')!.id)).toString()) as { flops: number; weightsBytes: number; kernels: { label: string }[] };
      assert.deepEqual(p.kernels.map((k) => k.label).sort(), meta.kernels.map((k) => k.label).sort());
      assert.ok(p.kernels.some((k) => k.ops.includes('Conv')));
      assert.equal(p.flops, meta.flops);
      assert.equal(p.weightsBytes, meta.weightsBytes);
      assert.ok(p.codeBytes > 0 && p.latencyMs > 0 && p.kernelsMs > 0);
      assert.ok(Math.abs(p.kernels.reduce((a, k) => a + k.share, 0) - 1) < 1e-6);
      for (let i = 1; i < p.kernels.length; i++) assert.ok(p.kernels[i - 1].ms >= p.kernels[i].ms, 'slowest first');
      assert.ok(p.peakMemoryBytes === null || p.peakMemoryBytes > p.weightsBytes);
    }
    // Not for a GPU target, and not with nonsense.
    for (const [body, message] of [
      [{ verify: { profile: { runs: 0 } }, targets: ['x86_64-linux-gnu'] }, /profile.runs" must be a whole number from 1 to 100/],
      [{ verify: { profile: 'yes' }, targets: ['x86_64-linux-gnu'] }, /"profile" is true, false or/],
      [{ verify: { profile: { every: 1 } }, targets: ['x86_64-linux-gnu'] }, /"profile.every" is not known/],
    ] as const) {
      const bad = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId }, ...body });
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      assert.match(bad.body.message, message);
    }
  });

  it('compiles a model whose kernels use threads, and proves it on two targets', async () => {
    const b = new ModelBuilder();
    const w = Float32Array.from({ length: 128 * 256 }, (_, i) => Math.sin(i) / 11);
    b.output(b.op('Relu', [b.op('MatMul', [b.input('x', [64, 128]), b.weight('w', [128, 256], w)])]));
    const uploadId = await upload(b.build(), 'matmul.onnx');
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId, threads: 2 }, targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu'], verify: true });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.model.threads, 2);
    const job = await waitForJob(kiln, res.body.id, 180_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((x) => x.statusReason)));
    for (const build of job.builds as (typeof job.builds[number] & { verification: { status: string } })[]) {
      assert.equal(build.verification.status, 'passed');
      const c = (await download(kiln, build.artifacts.find((a) => a.name === 'model.c')!.id)).toString();
      assert.match(c, /#define KILN_THREADS 2\n/);
    }
  });

  it('compiles a float16 model and proves it against onnxruntime-node at float16\'s precision; bfloat16 edges are refused with a reason', async () => {
    const uploadId = await upload(toHalfModel(mlp()), 'mlp16.onnx');
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId }, inputShapes: { x: [4, 16] }, targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu'], verify: true });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(res.body.model.inputs, [{ name: 'x', dtype: 'float16', shape: [4, 16] }]);
    const job = await waitForJob(kiln, res.body.id, 180_000);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((x) => x.statusReason)));
    for (const build of job.builds as (typeof job.builds[number] & { verification: { status: string; outputs: { dtype: string; count: number; tolerance: { rtol: number } }[] } })[]) {
      assert.equal(build.verification.status, 'passed');
      assert.deepEqual(build.verification.outputs.map((o) => [o.dtype, o.count]), [['float16', 40]]);
      assert.equal(build.verification.outputs[0].tolerance.rtol, 1e-2, 'a float16 output is compared at float16\'s precision');
      const header = (await download(kiln, build.artifacts.find((a) => a.name === 'model.h')!.id)).toString();
      assert.match(header, /float16 \(uint16_t, the format's bits\) \[4, 16\]/);
    }
    const bf16 = await upload(toHalfModel(mlp(), 'bfloat16'), 'mlpbf16.onnx');
    const refused = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId: bf16 }, inputShapes: { x: [4, 16] }, targets: ['x86_64-linux-gnu'], verify: true });
    assert.equal(refused.status, 400);
    assert.match(refused.body.message, /bfloat16 inputs and outputs \(x, .*\) are compiled by the compiler library and CLI, not by model jobs/);
  });

  it('refuses a model it cannot compile, with a 400 that says why and leaves nothing behind', async () => {
    const count = async () => Number((await kiln.api.get((await import('typeorm')).DataSource).query('SELECT count(*)::int AS n FROM jobs'))[0].n);
    const before = await count();
    const post = (body: object) => kiln.http().post('/v1/jobs').set(kiln.auth).send({ targets: ['x86_64-linux-gnu'], ...body });

    const garbage = await upload(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]));
    let r = await post({ model: { uploadId: garbage } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /model: not a valid ONNX model/);

    const b = new ModelBuilder();
    b.output(b.op('TfIdfVectorizer', [b.op('ImageDecoder', [b.input('x', [1, 4])])]));
    r = await post({ model: { uploadId: await upload(b.build()) } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /unsupported operators: ImageDecoder, TfIdfVectorizer/);

    const mlpId = await upload(mlp());
    r = await post({ model: { uploadId: mlpId } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /symbolic input dimensions: x\[batch\]; bind them with inputShapes/);
    r = await post({ model: { uploadId: mlpId }, inputShapes: { x: [2, 16], y: [1] } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /the model has no input y/);
    r = await post({ model: { uploadId: mlpId }, inputShapes: { x: [2, 16] }, outputs: ['executable'] });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /a model build gives object, shared, static, assembly, llvm-ir for CPU and WebAssembly targets/);
    r = await post({ model: { uploadId: mlpId }, inputShapes: { x: [2, 16] }, verify: { entry: 'f' } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /"entry" does not apply to a model/);
    for (const threads of [0, 1.5, 65]) {
      r = await post({ model: { uploadId: mlpId, threads }, inputShapes: { x: [2, 16] } });
      assert.equal(r.status, 400, `threads ${threads}`);
      assert.match(JSON.stringify(r.body.message), /threads/);
    }
    const strings = new ModelBuilder();
    strings.output(strings.op('StringNormalizer', [strings.input('words', [3], 8)], { stopwords: { strings: ['a'] } }), 8);
    r = await post({ model: { uploadId: await upload(strings.build()) } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /model: string tensors \(words, stringnormalizer_\d+\) are compiled by the compiler library and CLI, not by model jobs/);
    r = await post({ model: { uploadId: mlpId }, source: { language: 'c', files: [{ path: 'a.c', content: 'int x;' }] } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /either "source" .* or "model"/);
    assert.equal(await count(), before);
  });
});
