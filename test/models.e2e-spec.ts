import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { ModelBuilder } from '../compiler/test/builder';
import { lenet, mlp } from '../compiler/test/models';
import { download, ELF_MACHINE, elfMachine, Kiln, startKiln, waitForJob } from './support/harness';

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

  it('binds symbolic dimensions from inputShapes, and builds a shared library', async () => {
    const uploadId = await upload(mlp());
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId }, inputShapes: { x: [3, 16] }, targets: ['riscv64-linux-gnu'], outputs: ['shared', 'static'], verify: { seed: 5 } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id, 120_000);
    assert.equal(job.status, 'succeeded', job.builds[0].statusReason ?? '');
    assert.ok(job.builds[0].artifacts.some((a) => a.name === 'libmodel.so'));
    assert.ok(job.builds[0].artifacts.some((a) => a.name === 'libmodel.a' && a.kind === 'static'));
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

  it('refuses a model it cannot compile, with a 400 that says why and leaves nothing behind', async () => {
    const count = async () => Number((await kiln.api.get((await import('typeorm')).DataSource).query('SELECT count(*)::int AS n FROM jobs'))[0].n);
    const before = await count();
    const post = (body: object) => kiln.http().post('/v1/jobs').set(kiln.auth).send({ targets: ['x86_64-linux-gnu'], ...body });

    const garbage = await upload(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3]));
    let r = await post({ model: { uploadId: garbage } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /model: not a valid ONNX model/);

    const b = new ModelBuilder();
    b.output(b.op('NonMaxSuppression', [b.op('Hardmax', [b.input('x', [1, 4])])]));
    r = await post({ model: { uploadId: await upload(b.build()) } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /unsupported operators: Hardmax, NonMaxSuppression/);

    const mlpId = await upload(mlp());
    r = await post({ model: { uploadId: mlpId } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /symbolic input dimensions: x\[batch\]; bind them with inputShapes/);
    r = await post({ model: { uploadId: mlpId }, inputShapes: { x: [2, 16], y: [1] } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /the model has no input y/);
    r = await post({ model: { uploadId: mlpId }, inputShapes: { x: [2, 16] }, outputs: ['executable'] });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /a model build gives object, shared, static, assembly, llvm-ir/);
    r = await post({ model: { uploadId: mlpId }, inputShapes: { x: [2, 16] }, verify: { entry: 'f' } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /"entry" does not apply to a model/);
    for (const threads of [0, 1.5, 65]) {
      r = await post({ model: { uploadId: mlpId, threads }, inputShapes: { x: [2, 16] } });
      assert.equal(r.status, 400, `threads ${threads}`);
      assert.match(JSON.stringify(r.body.message), /threads/);
    }
    r = await post({ model: { uploadId: mlpId }, source: { language: 'c', files: [{ path: 'a.c', content: 'int x;' }] } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /either "source" .* or "model"/);
    assert.equal(await count(), before);
  });
});
