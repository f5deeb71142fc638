import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { ModelBuilder } from '../compiler/test/builder';
import { mlp } from '../compiler/test/models';
import { CONSOLE_DIR, serveConsole } from '../src/console/console.static';
import { Kiln, startKiln } from './support/harness';

describe('what the console needs from the API: the caller, model inspection, operator support, the console itself', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ worker: false });
  });
  after(async () => {
    await kiln?.close();
  });

  async function upload(bytes: Uint8Array, name = 'model.onnx'): Promise<string> {
    const res = await kiln.http().post(`/v1/uploads?filename=${name}`).set(kiln.auth).set('Content-Type', 'application/octet-stream').send(Buffer.from(bytes));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }

  it('GET /v1/whoami names the tenant and the key, and needs a valid key', async () => {
    const res = await kiln.http().get('/v1/whoami').set(kiln.auth);
    assert.equal(res.status, 200);
    assert.equal(res.body.tenant.name, 'default');
    assert.equal(res.body.key.name, 'bootstrap');
    assert.match(res.body.tenant.id, /^[0-9a-f-]{36}$/);
    const bad = await kiln.http().get('/v1/whoami').set({ Authorization: 'Bearer nope' });
    assert.equal(bad.status, 401);
    assert.match(bad.body.message, /not valid/);
  });

  it('POST /v1/models/inspect shows inputs with their symbolic dimensions, then the inferred shapes once bound', async () => {
    const uploadId = await upload(mlp(), 'mlp.onnx');
    let res = await kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.filename, 'mlp.onnx');
    assert.deepEqual(res.body.inputs, [{ name: 'x', dtype: 'float32', shape: ['batch', 16] }]);
    assert.deepEqual(res.body.unboundDimensions, ['x[batch]']);
    assert.match(res.body.problem, /symbolic input dimensions: x\[batch\]/);
    assert.deepEqual(res.body.ops, { Gemm: 2, Relu: 1, Softmax: 1 });
    assert.deepEqual(res.body.unsupportedOps, []);
    // The output declares no shape, and none can be inferred yet: unknown, not a scalar.
    assert.deepEqual(res.body.outputs.map((t: { shape: unknown }) => t.shape), [['*']]);

    res = await kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId, inputShapes: { x: [4, 16] } });
    assert.equal(res.status, 200);
    assert.equal(res.body.problem, null);
    assert.deepEqual(res.body.inputs[0].shape, [4, 16]);
    assert.deepEqual(res.body.outputs[0].shape, [4, 10]);

    // Inspecting only reads: a read-only key may do it.
    const key = await kiln.http().post('/v1/keys').set(kiln.auth).send({ name: 'reader', scopes: ['read'] });
    assert.equal(key.status, 201, JSON.stringify(key.body));
    res = await kiln.http().post('/v1/models/inspect').set({ Authorization: `Bearer ${key.body.secret}` }).send({ uploadId });
    assert.equal(res.status, 200, JSON.stringify(res.body));

    res = await kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId, inputShapes: { x: [4, 16], y: [1] } });
    assert.match(res.body.problem, /the model has no input y/);
    res = await kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId, inputShapes: { x: [0] } });
    assert.equal(res.status, 400);
    assert.match(res.body.message, /inputShapes.x must be a list of positive whole numbers/);

    // An input that declares no shape at all: unknown until inputShapes gives all of it, of any rank.
    const b = new ModelBuilder();
    b.output(b.op('Relu', [b.input('x', null)]));
    const shapeless = await upload(b.build(), 'shapeless.onnx');
    res = await kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId: shapeless });
    assert.deepEqual(res.body.inputs, [{ name: 'x', dtype: 'float32', shape: ['*'] }]);
    assert.deepEqual(res.body.unboundDimensions, ['x[*]']);
    assert.match(res.body.problem, /x\[\*\] \(\[\*\]: the model declares no shape for that input/);
    res = await kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId: shapeless, inputShapes: { x: [2, 3, 5] } });
    assert.equal(res.body.problem, null);
    assert.deepEqual(res.body.inputs[0].shape, [2, 3, 5]);
    assert.deepEqual(res.body.outputs[0].shape, [2, 3, 5]);
  });

  it('names unsupported operators, refuses what is not a model, and hides other uploads', async () => {
    const b = new ModelBuilder();
    b.output(b.op('NonMaxSuppression', [b.op('Relu', [b.input('x', [1, 4])])]));
    let res = await kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId: await upload(b.build()) });
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.unsupportedOps, ['NonMaxSuppression']);
    assert.match(res.body.problem, /unsupported operators: NonMaxSuppression/);

    res = await kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId: await upload(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 1, 2, 3])) });
    assert.equal(res.status, 400);
    assert.match(res.body.message, /model: not a valid ONNX model/);

    res = await kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId: '00000000-0000-4000-8000-000000000000' });
    assert.equal(res.status, 404);
  });

  it('GET /v1/models/compilers lists the operators per compiler and the kinds of target it serves', async () => {
    const res = await kiln.http().get('/v1/models/compilers').set(kiln.auth);
    assert.equal(res.status, 200);
    const c = res.body.compilers[0];
    assert.equal(c.name, 'kiln-onnx');
    assert.ok(c.targetKinds.includes('cpu') && c.targetKinds.includes('wasm'));
    assert.ok(c.ops.includes('Conv') && c.ops.includes('Gemm'));
    assert.ok(!c.ops.includes('NonMaxSuppression'));
    assert.ok(c.ops.includes('SequenceAt') && c.ops.includes('StringNormalizer'), 'lowered and string operators count');
    assert.deepEqual(c.ops, [...c.ops].sort());
    const cuda = res.body.compilers.find((x: { backend: string }) => x.backend === 'cuda');
    assert.deepEqual([cuda.targetKinds, cuda.targets], [['gpu'], ['nvptx64-nvidia-cuda']]);
    assert.ok(cuda.ops.includes('MatMul') && !cuda.ops.includes('ArgMax'));
  });

  it('runs without a built console, saying so', () => {
    assert.equal(serveConsole(kiln.api, '/nonexistent/console/dist'), false);
  });

  it('serves the console at / with a strict CSP, falls back to it for client routes, and leaves API paths alone', { skip: !existsSync(`${CONSOLE_DIR}/index.html`) && 'the console is not built' }, async () => {
    const root = await kiln.http().get('/');
    assert.equal(root.status, 200);
    assert.match(root.headers['content-type'], /text\/html/);
    assert.match(root.text, /<div id="root">/);
    const csp = root.headers['content-security-policy'];
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe-inline/);
    assert.doesNotMatch(root.text, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script in index.html');

    const deep = await kiln.http().get('/jobs/3f0c4a36-1111-4111-8111-111111111111');
    assert.equal(deep.status, 200);
    assert.equal(deep.text, root.text);

    const asset = root.text.match(/src="(\/assets\/[^"]+\.js)"/)?.[1];
    assert.ok(asset, 'index.html loads a hashed bundle');
    const js = await kiln.http().get(asset!);
    assert.equal(js.status, 200);
    assert.match(js.headers['cache-control'], /immutable/);
    assert.equal((await kiln.http().get('/assets/missing.js')).status, 404);

    const api = await kiln.http().get('/v1/nothing-here').set(kiln.auth);
    assert.equal(api.status, 404);
    assert.match(api.headers['content-type'], /json/);
    assert.equal((await kiln.http().get('/healthz')).status, 200);
    const docs = await kiln.http().get('/docs/');
    assert.equal(docs.status, 200);
    assert.match(docs.headers['content-security-policy'], /script-src 'self' 'unsafe-inline'/);
  });
});
