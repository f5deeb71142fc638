import { strict as assert } from 'node:assert';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { AuthService } from '../src/auth/auth.service';
import { queueName, redisConnectionOptions } from '../src/queue/queue.types';
import { POOLS } from '../src/targets/catalog';
import { Kiln, startKiln, waitForJob } from './support/harness';

const GOOD_SOURCE = { language: 'c', files: [{ path: 'a.c', content: 'int f(void) { return 1; }\n' }] };
const LIMIT = 4096;

async function listFiles(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
  } catch {
    return [];
  }
}

describe('bad input gets a clear 4xx and leaves nothing behind', () => {
  let kiln: Kiln;
  let queues: Queue[];
  let db: DataSource;
  let otherKey: string;

  /** Everything a request could leave behind: rows, stored objects and queue entries. */
  async function snapshot() {
    const counts: Record<string, number> = {};
    for (const t of ['jobs', 'builds', 'build_events', 'uploads', 'artifacts']) {
      counts[t] = Number((await db.query(`SELECT count(*)::int AS n FROM ${t}`))[0].n);
    }
    for (const q of queues) {
      const c = await q.getJobCounts();
      counts[`queue:${q.name}`] = Object.values(c).reduce((a, b) => a + b, 0);
    }
    const storage = kiln.config.storage;
    const objects = storage.driver === 'fs' ? (await listFiles(storage.dir)).filter((f) => !f.includes('/.tmp/')) : [];
    return { counts, objects };
  }

  async function expectNothingLeft(fn: () => Promise<void>) {
    const before = await snapshot();
    await fn();
    assert.deepEqual(await snapshot(), before);
  }

  async function postJob(body: unknown, status: number, message: RegExp) {
    await expectNothingLeft(async () => {
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send(body as object);
      assert.equal(res.status, status, JSON.stringify(res.body));
      const text = Array.isArray(res.body.message) ? res.body.message.join('; ') : res.body.message;
      assert.match(text, message);
    });
  }

  before(async () => {
    kiln = await startKiln({ storage: 'fs', env: { KILN_MAX_UPLOAD_BYTES: String(LIMIT), KILN_MAX_REQUEST_BYTES: '65536' } });
    db = kiln.api.get(DataSource);
    queues = POOLS.map((p) => new Queue(queueName(p), { connection: redisConnectionOptions(kiln.config.redisUrl), prefix: kiln.config.queuePrefix }));
    const auth = kiln.api.get(AuthService);
    const other = await auth.ensureTenant('other-tenant');
    otherKey = (await auth.createKey(other.id, 'other')).secret;
  });
  after(async () => {
    for (const q of queues ?? []) await q.close();
    await kiln?.close();
  });

  it('every error has one shape: statusCode, a stable code, the reason phrase, one message line, the request id', async () => {
    const shape = (res: { status: number; body: Record<string, unknown>; headers: Record<string, string> }, status: number, code: string, error: string) => {
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.deepEqual(Object.keys(res.body).filter((k) => k !== 'details').sort(), ['code', 'error', 'message', 'requestId', 'statusCode']);
      assert.equal(res.body.statusCode, status);
      assert.equal(res.body.code, code);
      assert.equal(res.body.error, error);
      assert.equal(typeof res.body.message, 'string');
      assert.equal(res.body.requestId, res.headers['x-request-id']);
      return res.body.message as string;
    };
    // A missing field says that it is missing, not every other rule about it.
    const missing = shape(await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: GOOD_SOURCE }), 400, 'invalid_request', 'Bad Request');
    assert.match(missing, /targets/);
    assert.doesNotMatch(missing, /no more than 32 elements/);
    // Several problems: one line in message, each in details.
    const several = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: GOOD_SOURCE, targets: ['x86_64-linux-gnu'], bogus: 1, other: 2 });
    shape(several, 400, 'invalid_request', 'Bad Request');
    assert.deepEqual((several.body.details as string[]).length, 2);
    assert.equal(several.body.message, (several.body.details as string[]).join('; '));
    // The body parser's refusal reads like the rest ("Bad Request", not "BAD_REQUEST").
    shape(await kiln.http().post('/v1/jobs').set(kiln.auth).set('Content-Type', 'application/json').send('{"targets": ['), 400, 'invalid_request', 'Bad Request');
    shape(await kiln.http().get('/v1/jobs').set('Authorization', 'Bearer nope'), 401, 'unauthenticated', 'Unauthorized');
    shape(await kiln.http().get('/v1/jobs/00000000-0000-4000-8000-000000000000').set(kiln.auth), 404, 'not_found', 'Not Found');
    const body = { source: GOOD_SOURCE, targets: ['x86_64-linux-gnu'] };
    const first = await kiln.http().post('/v1/jobs').set(kiln.auth).set('Idempotency-Key', 'shape-1').send(body);
    assert.equal(first.status, 202);
    await waitForJob(kiln, first.body.id); // finished, so nothing of it moves while later tests count rows
    const reused = shape(await kiln.http().post('/v1/jobs').set(kiln.auth).set('Idempotency-Key', 'shape-1').send({ ...body, targets: ['aarch64-linux-gnu'] }), 422, 'idempotency_key_reused', 'Unprocessable Entity');
    assert.match(reused, /was already used for a different request/);
  });

  it('an unknown target: 400 that lists the supported ones', async () => {
    await postJob({ source: GOOD_SOURCE, targets: ['x86_64-linux-gnu', 'pdp11-bsd'] }, 400, /unknown target "pdp11-bsd"; supported targets: .*aarch64-linux-gnu.*wasm32-wasi/);
    await postJob({ source: GOOD_SOURCE, targets: [{ triple: 'sparc64-linux-gnu' }] }, 400, /unknown target triple "sparc64-linux-gnu"/);
    await postJob({ source: GOOD_SOURCE, targets: [{ triple: 'aarch64-linux-gnu', cpu: 'cortex-z99' }] }, 400, /cpu "cortex-z99" is not known for aarch64-linux-gnu/);
    await postJob({ source: GOOD_SOURCE, targets: [] }, 400, /at least one target/);
  });

  it('a misspelt target descriptor field: 400 that names it and the fields there are', async () => {
    await postJob({ source: GOOD_SOURCE, targets: [{ triple: 'x86_64-unknown-linux-gnu', fetaures: ['+avx2'] }] }, 400, /a target descriptor has no field "fetaures"; its fields are triple, cpu, features, abi, floatAbi, os, libc, gpu/);
    await postJob({ source: GOOD_SOURCE, targets: [{ name: 'x86_64-linux-gnu' }] }, 400, /no field "name" \(a catalog name goes in "triple"/);
  });

  it('malformed JSON: 400 that says so', async () => {
    await expectNothingLeft(async () => {
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).set('Content-Type', 'application/json').send('{"source": {"language": "c",');
      assert.equal(res.status, 400);
      assert.match(res.body.message, /not valid JSON/);
    });
  });

  it('a JSON body sent without Content-Type: application/json: 415 that says to send it', async () => {
    const json = JSON.stringify({ source: GOOD_SOURCE, targets: ['x86_64-linux-gnu'] });
    await expectNothingLeft(async () => {
      for (const type of ['application/x-www-form-urlencoded', 'text/plain;charset=UTF-8']) {
        const res = await kiln.http().post('/v1/jobs').set(kiln.auth).set('Content-Type', type).send(json);
        assert.equal(res.status, 415, `${type}: ${JSON.stringify(res.body)}`);
        assert.match(res.body.message, /send the request body as JSON with Content-Type: application\/json \(it was sent as (application\/x-www-form-urlencoded|text\/plain)\)/);
      }
      // fetch with no type at all (a Blob without one), and another JSON endpoint.
      const none = await fetch(`${kiln.baseUrl}/v1/jobs`, { method: 'POST', headers: kiln.auth, body: new Blob([json]) });
      assert.equal(none.status, 415);
      assert.match(((await none.json()) as { message: string }).message, /Content-Type: application\/json \(it was sent without a Content-Type\)/);
      const inspect = await kiln.http().post('/v1/models/inspect').set(kiln.auth).set('Content-Type', 'text/plain').send('{"uploadId":"x"}');
      assert.equal(inspect.status, 415);
    });
    // Requests without a body are not about the media type: a POST with none is refused for
    // what it lacks, GET and DELETE go through; uploads keep taking raw bytes; no key is a 401.
    const empty = await kiln.http().post('/v1/jobs').set(kiln.auth).set('Content-Type', 'text/plain');
    assert.equal(empty.status, 400);
    assert.equal((await kiln.http().get('/v1/jobs').set(kiln.auth).set('Content-Type', 'text/plain')).status, 200);
    const upload = await kiln.http().post('/v1/uploads?filename=a.c').set(kiln.auth).set('Content-Type', 'text/x-c').send('int x;\n');
    assert.equal(upload.status, 201, JSON.stringify(upload.body));
    assert.equal((await kiln.http().delete(`/v1/uploads/${upload.body.id}`).set(kiln.auth)).status, 204);
    assert.equal((await kiln.http().post('/v1/jobs').set('Content-Type', 'text/plain').send(json)).status, 401);
    // And with the right type the same body is a job.
    const ok = await kiln.http().post('/v1/jobs').set(kiln.auth).set('Content-Type', 'application/json; charset=utf-8').send(json);
    assert.equal(ok.status, 202, JSON.stringify(ok.body));
    await waitForJob(kiln, ok.body.id);
  });

  it('missing or empty files: 400', async () => {
    await postJob({ targets: ['x86_64-linux-gnu'] }, 400, /source/);
    await postJob({ source: { language: 'c', files: [] }, targets: ['x86_64-linux-gnu'] }, 400, /needs "files" \(at least one\), an "archive", or both/);
    await postJob({ source: { language: 'c', files: [{ path: 'a.h', content: 'int f(void);' }] }, targets: ['x86_64-linux-gnu'] }, 400, /no c file to compile/);
    await postJob({ source: { language: 'c', files: [{ path: 'a.c' }] }, targets: ['x86_64-linux-gnu'] }, 400, /exactly one of "content" or "uploadId"/);
    await postJob({ source: { language: 'c', files: [{ path: 'a.c', uploadId: '5f0c6d8e-1d5e-4d4e-9d6a-0b6f1f0e2a11' }] }, targets: ['x86_64-linux-gnu'] }, 400, /no upload with id/);
  });

  it('a path with .. or an absolute path: 400', async () => {
    await postJob({ source: { language: 'c', files: [{ path: '../../etc/passwd.c', content: 'int x;' }] }, targets: ['x86_64-linux-gnu'] }, 400, /contains "\.\."/);
    await postJob({ source: { language: 'c', files: [{ path: '/etc/passwd.c', content: 'int x;' }] }, targets: ['x86_64-linux-gnu'] }, 400, /absolute/);
  });

  it('text PostgreSQL cannot store, and a file that is also a folder: 400', async () => {
    await postJob({ source: { language: 'c', files: [{ path: 'a.c', content: 'int x;\u0000' }] }, targets: ['x86_64-linux-gnu'] }, 400, /NUL character/);
    await postJob({ source: { language: 'c', files: [{ path: 'a.c', content: 'int x; /* \ud800 */' }] }, targets: ['x86_64-linux-gnu'] }, 400, /lone surrogate/);
    await postJob({ source: { ...GOOD_SOURCE, options: ['-DX=\u0000'] }, targets: ['x86_64-linux-gnu'] }, 400, /NUL character/);
    await postJob({ source: { language: 'c', files: [{ path: 'a.h', content: 'int y;' }, { path: 'a.h/b.c', content: 'int x;' }] }, targets: ['x86_64-linux-gnu'] }, 400, /"a.h" is both a file and a folder/);
  });

  it('a verification request that cannot work: 400 that says why', async () => {
    const v = (verify: unknown) => ({ source: GOOD_SOURCE, targets: ['x86_64-linux-gnu'], verify });
    await postJob(v({ entry: 'f', args: [{ name: 'x', type: 'float32*', shape: [4] }] }), 400, /at least one pointer argument must be "out" or "inout"/);
    await postJob(v({ entry: 'f', args: [{ name: 'x', type: 'complex64*', shape: [4], dir: 'out' }] }), 400, /type must be one of/);
    await postJob(v({ entry: 'f', args: [{ name: 'x', type: 'float32*', shape: [100000, 100000], dir: 'out' }] }), 400, /more than \d+ bytes/);
    await postJob(v({ entry: 'main', args: [{ name: 'x', type: 'float32*', shape: [4], dir: 'out' }] }), 400, /"entry" must name the C function/);
    await postJob(v({ entry: 'f', args: [{ name: 'n', type: 'int8', value: 300 }, { name: 'x', type: 'float32*', shape: [4], dir: 'out' }] }), 400, /300 does not fit in int8/);
    await postJob(v({ entry: 'f', args: [{ name: 'x', type: 'float32*', shape: [4], dir: 'out' }], tolerance: { rtol: -1 } }), 400, /tolerance.rtol must be a number >= 0/);
    await postJob(v({ program: { expect: {} } }), 400, /program.expect needs "stdout", "exitCode" or both/);
    await postJob(v({ entry: 'f', args: [{ name: 'x', type: 'float32*', shape: [4], dir: 'out' }], tolerence: { rtol: 1 } }), 400, /unknown field "tolerence"/);
    await postJob(v({ program: { stdn: '1' } }), 400, /program has no field "stdn"/);
  });

  it('an empty source: 400', async () => {
    await postJob({ source: { language: 'c', files: [{ path: 'a.c', content: '  \n\t\n' }] }, targets: ['x86_64-linux-gnu'] }, 400, /source is empty/);
  });

  it('an option that loads code or touches paths: 400 that names it', async () => {
    await postJob({ source: { ...GOOD_SOURCE, options: ['-O2', '-fplugin=/tmp/evil.so'] }, targets: ['x86_64-linux-gnu'] }, 400, /"-fplugin=\/tmp\/evil.so" is not allowed/);
    await postJob({ source: { ...GOOD_SOURCE, options: ['-march=native'] }, targets: ['x86_64-linux-gnu'] }, 400, /target descriptor/);
  });

  it('a misspelt field or a bad output: 400', async () => {
    await postJob({ source: GOOD_SOURCE, targets: ['x86_64-linux-gnu'], outptus: ['object'] }, 400, /property outptus should not exist/);
    await postJob({ source: GOOD_SOURCE, targets: ['x86_64-linux-gnu'], outputs: ['binary'] }, 400, /each output must be one of/);
    await postJob({ source: GOOD_SOURCE, targets: ['wasm32-wasi'], outputs: ['shared'] }, 400, /c for wasm32-wasi can produce object, executable, static, assembly, llvm-ir, not shared/);
    await postJob({ source: { ...GOOD_SOURCE, language: 'cobol' }, targets: ['x86_64-linux-gnu'] }, 400, /language must be one of/);
  });

  it('a request body over the limit: 413', async () => {
    await postJob({ source: { language: 'c', files: [{ path: 'a.c', content: 'x'.repeat(70_000) }] }, targets: ['x86_64-linux-gnu'] }, 413, /larger than the limit/);
  });

  it('an upload over the limit: 413, with no row and no object', async () => {
    await expectNothingLeft(async () => {
      const res = await kiln.http().post('/v1/uploads?filename=big.tar').set(kiln.auth).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(LIMIT + 1));
      assert.equal(res.status, 413);
      assert.match(res.body.message, new RegExp(`limit is ${LIMIT} bytes`));
    });
    // Without a Content-Length the limit is enforced while streaming.
    await expectNothingLeft(async () => {
      const res = await fetch(`${kiln.baseUrl}/v1/uploads?filename=big.tar`, {
        method: 'POST',
        headers: { ...kiln.auth, 'Content-Type': 'application/octet-stream' },
        body: new ReadableStream({
          start(controller) {
            for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(1024));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      assert.equal(res.status, 413);
      assert.match(((await res.json()) as { message: string }).message, /larger than the limit/);
    });
  });

  it('an empty upload, or one sent as JSON: 4xx', async () => {
    await expectNothingLeft(async () => {
      const empty = await kiln.http().post('/v1/uploads?filename=a.c').set(kiln.auth).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(0));
      assert.equal(empty.status, 400);
      assert.match(empty.body.message, /the upload is empty/);
      const json = await kiln.http().post('/v1/uploads?filename=a.json').set(kiln.auth).send({ a: 1 });
      assert.equal(json.status, 415);
      assert.match(json.body.message, /application\/octet-stream/);
    });
  });

  it('an upload without a usable file name: 400', async () => {
    await expectNothingLeft(async () => {
      const res = await kiln.http().post('/v1/uploads?filename=../x.c').set(kiln.auth).set('Content-Type', 'application/octet-stream').send(Buffer.from('int x;'));
      assert.equal(res.status, 400);
      assert.match(res.body.message, /plain file name/);
    });
  });

  it('a wrong or missing API key: 401', async () => {
    await expectNothingLeft(async () => {
      const none = await kiln.http().post('/v1/jobs').send({ source: GOOD_SOURCE, targets: ['x86_64-linux-gnu'] });
      assert.equal(none.status, 401);
      assert.match(none.body.message, /missing Authorization header/);
      const wrong = await kiln.http().get('/v1/jobs').set('Authorization', 'Bearer not-a-key');
      assert.equal(wrong.status, 401);
      assert.match(wrong.body.message, /not valid/);
      const basic = await kiln.http().get('/v1/jobs').set('Authorization', 'Basic dXNlcjpwYXNz');
      assert.equal(basic.status, 401);
    });
  });

  it("another tenant's job, artifact or upload: 404", async () => {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: GOOD_SOURCE, targets: ['x86_64-linux-gnu'] });
    assert.equal(res.status, 202);
    const job = await waitForJob(kiln, res.body.id);
    const artifact = job.builds[0].artifacts[0];
    const upload = await kiln.http().post('/v1/uploads?filename=a.c').set(kiln.auth).set('Content-Type', 'application/octet-stream').send(Buffer.from('int x;'));
    assert.equal(upload.status, 201);

    const other = { Authorization: `Bearer ${otherKey}` };
    await expectNothingLeft(async () => {
      for (const path of [`/v1/jobs/${job.id}`, `/v1/artifacts/${artifact.id}`, `/v1/artifacts/${artifact.id}/content`, `/v1/uploads/${upload.body.id}`]) {
        const r = await kiln.http().get(path).set(other);
        assert.equal(r.status, 404, path);
      }
      assert.equal((await kiln.http().delete(`/v1/jobs/${job.id}`).set(other)).status, 404);
      const list = await kiln.http().get('/v1/jobs').set(other);
      assert.deepEqual(list.body.items, []);
      const usesUpload = await kiln.http().post('/v1/jobs').set(other).send({ source: { language: 'c', files: [{ path: 'a.c', uploadId: upload.body.id }] }, targets: ['x86_64-linux-gnu'] });
      assert.equal(usesUpload.status, 400);
      assert.match(usesUpload.body.message, /no upload with id/);
    });
    // The owner still sees everything.
    assert.equal((await kiln.http().get(`/v1/artifacts/${artifact.id}`).set(kiln.auth)).status, 200);
  });

  it('unknown ids: 404, not 500', async () => {
    for (const path of ['/v1/jobs/not-a-uuid', '/v1/jobs/00000000-0000-4000-8000-000000000000', '/v1/artifacts/nope', '/v1/uploads/nope', `/v1/artifacts/${'-'.repeat(36)}`, `/v1/uploads/${'a'.repeat(36)}`]) {
      assert.equal((await kiln.http().get(path).set(kiln.auth)).status, 404, path);
    }
  });

  it('a bad cursor: 400', async () => {
    const r = await kiln.http().get('/v1/jobs?cursor=garbage').set(kiln.auth);
    assert.equal(r.status, 400);
    assert.match(r.body.message, /cursor is not valid/);
    const sneaky = Buffer.from(JSON.stringify({ createdAt: '1', id: '00000000-0000-4000-8000-000000000000' })).toString('base64url');
    assert.equal((await kiln.http().get(`/v1/jobs?cursor=${sneaky}`).set(kiln.auth)).status, 400);
  });

  it('an Idempotency-Key reused for a different request: 422, and the first job stands', async () => {
    const key = `reuse-${Date.now()}`;
    const first = await kiln.http().post('/v1/jobs').set(kiln.auth).set('Idempotency-Key', key).send({ source: GOOD_SOURCE, targets: ['x86_64-linux-gnu'] });
    assert.equal(first.status, 202);
    const retry = await kiln.http().post('/v1/jobs').set(kiln.auth).set('Idempotency-Key', key).send({ targets: ['x86_64-linux-gnu'], source: GOOD_SOURCE });
    assert.equal(retry.status, 200);
    assert.equal(retry.body.id, first.body.id);
    const other = await kiln.http().post('/v1/jobs').set(kiln.auth).set('Idempotency-Key', key).send({ source: GOOD_SOURCE, targets: ['aarch64-linux-gnu'] });
    assert.equal(other.status, 422);
    assert.match(other.body.message, new RegExp(`Idempotency-Key "${key}" was already used for a different request \\(job ${first.body.id}\\)`));
  });
});
