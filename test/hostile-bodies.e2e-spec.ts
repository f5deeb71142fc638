import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Kiln, startKiln } from './support/harness';

const PROGRAM = { language: 'c', files: [{ path: 'main.c', content: 'int main(void) { return 0; }\n' }] };

/** Bodies made to break the API, not to be served: each is a 4xx that says why, never a 500. */
describe('hostile request bodies are 4xx', () => {
  let kiln: Kiln;
  /** Every operation that takes a JSON body, from the API's own OpenAPI document. */
  let jsonRoutes: { method: 'post' | 'put' | 'patch'; path: string }[];

  before(async () => {
    kiln = await startKiln({ worker: false, env: { KILN_MAX_REQUEST_BYTES: String(4 * 1024 * 1024), KILN_WEBHOOK_ALLOW_PRIVATE: 'false' } });
    const spec = (await kiln.http().get('/openapi.json')).body as { paths: Record<string, Record<string, { requestBody?: { content?: Record<string, unknown> } }>> };
    jsonRoutes = [];
    for (const [path, item] of Object.entries(spec.paths)) {
      for (const method of ['post', 'put', 'patch'] as const) {
        if (item[method]?.requestBody?.content?.['application/json']) jsonRoutes.push({ method, path: path.replace(/\{[^}]+\}/g, '00000000-0000-4000-8000-000000000000') });
      }
    }
    assert.ok(jsonRoutes.some((r) => r.path === '/v1/jobs') && jsonRoutes.some((r) => r.path === '/v1/keys') && jsonRoutes.some((r) => r.path === '/v1/models/inspect'), JSON.stringify(jsonRoutes));
  });
  after(async () => {
    await kiln?.close();
  });

  function send(route: { method: 'post' | 'put' | 'patch'; path: string }, body: string) {
    return kiln.http()[route.method](route.path).set(kiln.auth).set('Content-Type', 'application/json').send(body);
  }

  it('JSON nested 100,000 to 200,000 deep, on every JSON route: 400 that says so', async () => {
    for (const depth of [100_000, 200_000]) {
      const bodies = [`{"source":${'['.repeat(depth)}${']'.repeat(depth)}}`, `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`];
      for (const route of jsonRoutes) {
        for (const body of bodies) {
          const res = await send(route, body);
          assert.equal(res.status, 400, `${route.method} ${route.path} at depth ${depth}: ${JSON.stringify(res.body)}`);
          assert.match(res.body.message, /nests objects and arrays more than 64 levels deep/);
        }
      }
    }
    // Brackets inside strings are text, not nesting; 64 levels are accepted.
    const inString = await kiln.http().post('/v1/keys').set(kiln.auth).send({ name: 'ok', scopes: ['read'], note: '['.repeat(10_000) } as object);
    assert.equal(inString.status, 400);
    assert.doesNotMatch(inString.body.message.join?.('; ') ?? inString.body.message, /levels deep/);
    const deepest = await send({ method: 'post', path: '/v1/keys' }, `{"name":"deep","scopes":["read"],"x":${'['.repeat(63)}${']'.repeat(63)}}`);
    assert.equal(deepest.status, 400);
    assert.doesNotMatch(JSON.stringify(deepest.body.message), /levels deep/);
    assert.equal((await kiln.http().get('/healthz')).status, 200);
  });

  it('a NUL character or a lone surrogate in any string of any JSON body: 400 that names the field', async () => {
    const job = (verify: unknown) => ({ source: PROGRAM, targets: ['x86_64-linux-gnu'], verify });
    const cases: [unknown, RegExp][] = [
      [job({ program: { stdin: 'a\u0000b', expect: { stdout: 'x' } } }), /^verify\.program\.stdin contains a NUL character/],
      [job({ program: { stdin: 'ab', expect: { stdout: 'x\u0000' } } }), /^verify\.program\.expect\.stdout contains a NUL character/],
      [job({ program: { stdin: 'a\ud800b', expect: { stdout: 'x' } } }), /^verify\.program\.stdin is not valid Unicode \(a lone surrogate\)/],
      [job({ program: { args: ['ok', 'x\u0000'], expect: { stdout: 'x' } } }), /^verify\.program\.args\[1\] contains a NUL character/],
      [{ source: PROGRAM, targets: ['x86_64-linux-gnu'], callbackUrl: 'https://example.com/\u0000' }, /^callbackUrl contains a NUL character/],
      [{ source: { ...PROGRAM, files: [{ path: 'main.c', content: 'int main(void) { return 0; }\u0000' }] }, targets: ['x86_64-linux-gnu'] }, /^source\.files\[0\]\.content contains a NUL character/],
      [{ source: PROGRAM, targets: ['x86_64-linux-gnu'], 'odd\u0000key': 1 }, /^a key in the request body contains a NUL character/],
    ];
    for (const [body, message] of cases) {
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send(body as object);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.message, message);
    }
    for (const route of jsonRoutes) {
      const res = await send(route, JSON.stringify({ name: 'n\u0000' }));
      assert.equal(res.status, 400, `${route.method} ${route.path}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.message, /^name contains a NUL character/);
    }
    // Nothing was stored: the tenant has no jobs.
    const list = await kiln.http().get('/v1/jobs').set(kiln.auth);
    assert.deepEqual(list.body.items, []);
  });

  it('callback URLs in the IPv6 forms of loopback and private addresses: 400', async () => {
    const forms = [
      'http://[::127.0.0.1]/', // IPv4-compatible
      'http://[::ffff:0:127.0.0.1]/', // IPv4-translated
      'http://[2002:7f00:1::1]/', // 6to4 of 127.0.0.1
      'http://[2002:a00:1::1]:8080/hook', // 6to4 of 10.0.0.1
      'http://[::ffff:169.254.169.254]/latest/meta-data', // IPv4-mapped metadata service
      'http://[64:ff9b::192.168.1.1]/', // NAT64
      'http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/', // Teredo of 127.0.0.1
    ];
    for (const callbackUrl of forms) {
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: PROGRAM, targets: ['x86_64-linux-gnu'], callbackUrl });
      assert.equal(res.status, 400, `${callbackUrl}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.message, /is a loopback, private, link-local or reserved address, which webhooks may not reach/, callbackUrl);
    }
  });
});
