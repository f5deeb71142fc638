import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { mlp } from '../compiler/test/models';
import { SPEC_PATH } from '../scripts/openapi';
import { tarOf } from './support/archives';
import { binaryParser, Kiln, startKiln, waitForJob } from './support/harness';

interface Operation {
  summary?: string;
  description?: string;
  responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }>;
  requestBody?: { content: Record<string, { examples?: Record<string, { value: Record<string, unknown> }> }> };
}

describe('the API contract: the spec describes every operation, its examples work, uploads list, downloads take ranges', () => {
  let kiln: Kiln;
  let spec: { servers: { url: string }[]; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };
  before(async () => {
    kiln = await startKiln({ storage: 'fs' });
    spec = JSON.parse(await readFile(SPEC_PATH, 'utf8'));
  });
  after(async () => {
    await kiln?.close();
  });

  type Schema = { $ref?: string; example?: unknown; items?: Schema; properties?: Record<string, Schema>; allOf?: Schema[]; oneOf?: Schema[] };
  /** Whether a schema, or any schema it holds, gives an example value. */
  const hasExample = (schema: Schema | undefined, depth = 0): boolean => {
    if (!schema || depth > 8) return false;
    if (schema.$ref) return hasExample(spec.components.schemas[schema.$ref.split('/').pop()!] as Schema, depth + 1);
    if (schema.example !== undefined) return true;
    return [schema.items, ...Object.values(schema.properties ?? {}), ...(schema.allOf ?? []), ...(schema.oneOf ?? [])].some((s) => hasExample(s, depth + 1));
  };

  it('gives every operation a summary, a description, examples, and its errors in the one error schema', () => {
    assert.ok(spec.servers.length > 0, 'servers names where the API is');
    assert.ok(spec.components.schemas.ErrorDto);
    let n = 0;
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(item)) {
        n++;
        const where = `${method.toUpperCase()} ${path}`;
        assert.ok(op.summary && op.summary.length > 5, `${where} has a summary`);
        assert.ok(op.description && op.description.length > 20, `${where} has a description`);
        for (const status of ['401', '403', '429', '500']) assert.ok(op.responses[status], `${where} documents ${status}`);
        // An example of what it takes and what it gives (a JSON body's; binary and event streams aside).
        const body = op.requestBody?.content['application/json'];
        if (body) assert.ok(body.examples || hasExample((body as { schema?: Schema }).schema), `${where} has a request example`);
        for (const [status, r] of Object.entries(op.responses)) {
          const json = r.content?.['application/json'];
          if (Number(status) < 400 && json) assert.ok(hasExample(json.schema as Schema), `${where} ${status} has an example`);
        }
        for (const [status, r] of Object.entries(op.responses)) {
          if (Number(status) >= 400) assert.equal(r.content?.['application/json']?.schema?.$ref, '#/components/schemas/ErrorDto', `${where} ${status} has the error schema`);
        }
      }
    }
    assert.ok(n >= 22, `${n} operations`);
  });

  it('has a request example of each kind of job, and the API accepts every one', async () => {
    const examples = spec.paths['/v1/jobs'].post.requestBody!.content['application/json'].examples!;
    assert.deepEqual(Object.keys(examples).sort(), ['archive', 'cuda', 'kernel', 'library', 'model', 'program']);
    for (const [name, { value }] of Object.entries(examples)) assert.ok(!(value.source && value.model), `${name} is source or model, not both`);
    // The examples that name an upload get a real one of the right kind.
    const upload = async (filename: string, bytes: Buffer) => (await kiln.http().post(`/v1/uploads?filename=${filename}`).set(kiln.auth).set('Content-Type', 'application/octet-stream').send(bytes)).body.id as string;
    const tar = tarOf([
      { name: 'CMakeLists.txt', body: 'cmake_minimum_required(VERSION 3.16)\nproject(hello C)\nadd_executable(hello main.c)\nadd_library(util STATIC util.c)\n' },
      { name: 'main.c', body: 'int main(void) { return 0; }\n' },
      { name: 'util.c', body: 'int util(void) { return 1; }\n' },
    ]);
    const ids = { archive: await upload('project.tar', tar), model: await upload('mlp.onnx', Buffer.from(mlp())) };
    for (const [name, { value }] of Object.entries(examples)) {
      const body = JSON.parse(JSON.stringify(value).replaceAll('3f1b9c2e-6a4d-4e1f-9b7a-2c5d8e0f1a23', ids[name as keyof typeof ids] ?? 'none'));
      if (name === 'model') body.inputShapes = { x: [2, 16] };
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send(body);
      assert.equal(res.status, 202, `${name}: ${JSON.stringify(res.body)}`);
      await kiln.http().delete(`/v1/jobs/${res.body.id}`).set(kiln.auth);
    }
  });

  it('lists uploads newest first, a page at a time', async () => {
    const made: string[] = [];
    for (const i of [1, 2, 3]) made.push((await kiln.http().post(`/v1/uploads?filename=f${i}.c`).set(kiln.auth).set('Content-Type', 'text/x-c').send(Buffer.from(`int f${i};\n`))).body.id);
    const first = await kiln.http().get('/v1/uploads?limit=2').set(kiln.auth);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body.items.map((u: { id: string }) => u.id), [made[2], made[1]]);
    assert.equal(first.body.items[0].filename, 'f3.c');
    assert.equal(first.body.items[0].sha256, createHash('sha256').update('int f3;\n').digest('hex'));
    const second = await kiln.http().get(`/v1/uploads?limit=2&cursor=${first.body.nextCursor}`).set(kiln.auth);
    assert.equal(second.body.items[0].id, made[0]);
    const bad = await kiln.http().get('/v1/uploads?cursor=nonsense').set(kiln.auth);
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /cursor is not valid/);
  });

  it('downloads a byte range of an artifact (206, Content-Range), refuses one past its end (416), and ignores a stale If-Range', async () => {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'a.c', content: 'int answer(void) { return 42; }\n' }] }, targets: ['x86_64-linux-gnu'] });
    const job = await waitForJob(kiln, res.body.id);
    const obj = job.builds[0].artifacts[0];
    const whole = await kiln.http().get(`/v1/artifacts/${obj.id}/content`).set(kiln.auth).buffer(true).parse(binaryParser);
    assert.equal(whole.status, 200);
    assert.equal(whole.headers['accept-ranges'], 'bytes');
    const part = await kiln.http().get(`/v1/artifacts/${obj.id}/content`).set(kiln.auth).set('Range', 'bytes=4-19').buffer(true).parse(binaryParser);
    assert.equal(part.status, 206);
    assert.equal(part.headers['content-range'], `bytes 4-19/${obj.size}`);
    assert.deepEqual(part.body, (whole.body as Buffer).subarray(4, 20));
    const tail = await kiln.http().get(`/v1/artifacts/${obj.id}/content`).set(kiln.auth).set('Range', 'bytes=-8').buffer(true).parse(binaryParser);
    assert.deepEqual(tail.body, (whole.body as Buffer).subarray(obj.size - 8));
    const past = await kiln.http().get(`/v1/artifacts/${obj.id}/content`).set(kiln.auth).set('Range', `bytes=${obj.size + 10}-`);
    assert.equal(past.status, 416);
    assert.equal(past.headers['content-range'], `bytes */${obj.size}`);
    assert.equal(past.body.code, 'range_not_satisfiable');
    const stale = await kiln.http().get(`/v1/artifacts/${obj.id}/content`).set(kiln.auth).set('Range', 'bytes=0-3').set('If-Range', '"other"').buffer(true).parse(binaryParser);
    assert.equal(stale.status, 200);
    assert.equal((stale.body as Buffer).length, obj.size);
  });
});
