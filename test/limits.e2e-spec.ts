import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import type { NestExpressApplication } from '@nestjs/platform-express';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { ApiKeyCache } from '../src/auth/api-key-cache';
import { AuthService } from '../src/auth/auth.service';
import type { Scope } from '../src/auth/scopes';
import { createApi } from '../src/bootstrap';
import { PgNotifications } from '../src/database/notifications';
import { TenantAdmin } from '../scripts/tenant';
import { Kiln, startKiln } from './support/harness';

const source = (n: number) => ({ language: 'c', files: [{ path: 'q.c', content: `int quota_${n}(void) { return ${n}; }\n` }] });
const messageOf = (body: { message: string | string[] }) => (Array.isArray(body.message) ? body.message.join('; ') : body.message);

describe('API key scopes, quotas', () => {
  let kiln: Kiln;
  let auth: AuthService;
  let db: DataSource;

  /** A tenant of its own with a key of the given scopes. */
  async function tenant(name: string, scopes: Scope[] = ['read', 'build', 'admin']): Promise<{ id: string; key: { Authorization: string } }> {
    const t = await auth.ensureTenant(name);
    const { secret } = await auth.createKey(t.id, 'test', scopes);
    return { id: t.id, key: { Authorization: `Bearer ${secret}` } };
  }

  before(async () => {
    kiln = await startKiln({ storage: 'fs', worker: false, env: { KILN_QUOTA_CONCURRENT_BUILDS: '3', KILN_QUOTA_STORAGE_BYTES: '1000' } });
    auth = kiln.api.get(AuthService);
    db = kiln.api.get(DataSource);
  });
  after(async () => {
    await kiln?.close();
  });

  it('keys get scopes when made (default read and build); the bootstrap key has all three', async () => {
    const who = await kiln.http().get('/v1/whoami').set(kiln.auth);
    assert.deepEqual(who.body.key.scopes, ['read', 'build', 'admin']);
    const plain = await kiln.http().post('/v1/keys').set(kiln.auth).send({ name: 'ci' });
    assert.equal(plain.status, 201, JSON.stringify(plain.body));
    assert.deepEqual(plain.body.scopes, ['read', 'build']);
    const reader = await kiln.http().post('/v1/keys').set(kiln.auth).send({ name: 'dashboards', scopes: ['read'] });
    assert.deepEqual(reader.body.scopes, ['read']);
    const listed = await kiln.http().get('/v1/keys').set(kiln.auth);
    assert.deepEqual(listed.body.items.find((k: { id: string }) => k.id === reader.body.id).scopes, ['read']);
    for (const [scopes, why] of [
      [['read', 'deploy'], /each scope must be one of: read, build, admin/],
      [[], /at least one scope/],
      ['read', /scopes must be an array/],
    ] as const) {
      const bad = await kiln.http().post('/v1/keys').set(kiln.auth).send({ name: 'x', scopes });
      assert.equal(bad.status, 400, JSON.stringify(bad.body));
      assert.match(messageOf(bad.body), why);
    }
  });

  it('each route needs its scope: 403 names the missing one', async () => {
    const { secret: readKey } = await auth.createKey((await auth.ensureTenant('default')).id, 'r', ['read']);
    const { secret: buildKey } = await auth.createKey((await auth.ensureTenant('default')).id, 'b', ['build']);
    const { secret: rbKey } = await auth.createKey((await auth.ensureTenant('default')).id, 'rb', ['read', 'build']);
    const as = (k: string) => ({ Authorization: `Bearer ${k}` });
    const expect403 = async (res: request.Response, scope: string) => {
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.match(res.body.message, new RegExp(`lacks the "${scope}" scope`));
    };

    // read
    assert.equal((await kiln.http().get('/v1/jobs').set(as(readKey))).status, 200);
    assert.equal((await kiln.http().get('/v1/targets').set(as(readKey))).status, 200);
    assert.equal((await kiln.http().post('/v1/models/inspect').set(as(readKey)).send({ uploadId: '00000000-0000-4000-8000-000000000000' })).status, 404);
    const denied = await kiln.http().post('/v1/jobs').set(as(readKey)).send({ source: source(0), targets: ['x86_64-linux-gnu'] });
    await expect403(denied, 'build');
    assert.equal(denied.body.message, 'this API key lacks the "build" scope that POST /v1/jobs needs; its scopes: read');
    await expect403(await kiln.http().post('/v1/uploads?filename=a.c').set(as(readKey)).set('Content-Type', 'application/octet-stream').send('int a;'), 'build');
    await expect403(await kiln.http().delete('/v1/jobs/00000000-0000-4000-8000-000000000000').set(as(readKey)), 'build');
    await expect403(await kiln.http().delete('/v1/jobs/00000000-0000-4000-8000-000000000000?purge=true').set(as(readKey)), 'build');
    const deny = await kiln.http().delete('/v1/uploads/00000000-0000-4000-8000-000000000000').set(as(readKey));
    await expect403(deny, 'build');
    assert.equal(deny.body.message, 'this API key lacks the "build" scope that DELETE /v1/uploads/:id needs; its scopes: read');
    await expect403(await kiln.http().get('/v1/keys').set(as(readKey)), 'admin');

    // build
    const up = await kiln.http().post('/v1/uploads?filename=b.c').set(as(buildKey)).set('Content-Type', 'application/octet-stream').send('int b;');
    assert.equal(up.status, 201, JSON.stringify(up.body));
    await expect403(await kiln.http().get(`/v1/uploads/${up.body.id}`).set(as(buildKey)), 'read');
    // Deleting is building's business: a build-only key may delete what it uploaded.
    assert.equal((await kiln.http().delete(`/v1/uploads/${up.body.id}`).set(as(buildKey))).status, 204);
    await expect403(await kiln.http().get('/v1/jobs').set(as(buildKey)), 'read');
    await expect403(await kiln.http().post('/v1/keys').set(as(buildKey)).send({ name: 'escalate', scopes: ['admin'] }), 'admin');

    // read + build, the default: no key management, no webhook secret
    await expect403(await kiln.http().get('/v1/keys').set(as(rbKey)), 'admin');
    await expect403(await kiln.http().delete('/v1/keys/00000000-0000-4000-8000-000000000000').set(as(rbKey)), 'admin');
    await expect403(await kiln.http().get('/v1/webhooks/secret').set(as(rbKey)), 'admin');
    await expect403(await kiln.http().post('/v1/webhooks/secret').set(as(rbKey)), 'admin');
    assert.equal((await kiln.http().get('/v1/whoami').set(as(rbKey))).status, 200);
    // Health needs no key at all.
    assert.equal((await kiln.http().get('/healthz')).status, 200);
  });

  it('concurrent builds: 429 with Retry-After and the numbers, nothing created; room again once builds finish', async () => {
    const t = await tenant('builds-quota');
    const jobs = async () => Number((await db.query(`SELECT count(*)::int AS n FROM jobs WHERE tenant_id = $1`, [t.id]))[0].n);
    const first = await kiln.http().post('/v1/jobs').set(t.key).send({ source: source(1), targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu'] });
    assert.equal(first.status, 202, JSON.stringify(first.body));
    const over = await kiln.http().post('/v1/jobs').set(t.key).send({ source: source(2), targets: ['x86_64-linux-gnu', 'wasm32-wasi'] });
    assert.equal(over.status, 429, JSON.stringify(over.body));
    assert.equal(over.headers['retry-after'], '30');
    assert.match(over.body.message, /the tenant has 2 builds queued or running and this job adds 2; the limit is 3 at once \(KILN_QUOTA_CONCURRENT_BUILDS\)/);
    assert.equal(await jobs(), 1);
    const tooBig = await kiln.http().post('/v1/jobs').set(t.key).send({ source: source(3), targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'riscv64-linux-gnu', 'wasm32-wasi'] });
    assert.equal(tooBig.status, 400, JSON.stringify(tooBig.body));
    assert.match(tooBig.body.message, /this job has 4 targets, but the tenant may have at most 3 builds queued or running at once/);
    // Other tenants have their own count.
    const other = await tenant('builds-quota-other');
    assert.equal((await kiln.http().post('/v1/jobs').set(other.key).send({ source: source(4), targets: ['x86_64-linux-gnu', 'wasm32-wasi'] })).status, 202);
    // Finished (here: canceled) builds no longer count.
    await kiln.http().delete(`/v1/jobs/${first.body.id}`).set(t.key);
    assert.equal((await kiln.http().post('/v1/jobs').set(t.key).send({ source: source(2), targets: ['x86_64-linux-gnu', 'wasm32-wasi'] })).status, 202);
  });

  it('concurrent requests cannot slip past the build limit together', async () => {
    const t = await tenant('builds-race');
    const results = await Promise.all([1, 2, 3, 4, 5].map((n) => kiln.http().post('/v1/jobs').set(t.key).send({ source: source(10 + n), targets: ['x86_64-linux-gnu'] })));
    assert.deepEqual(results.map((r) => r.status).sort(), [202, 202, 202, 429, 429]);
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM builds WHERE tenant_id = $1`, [t.id]);
    assert.equal(n, 3);
  });

  it('storage: an upload that does not fit is a 413 with the numbers; a full tenant gets no new job', async () => {
    const t = await tenant('storage-quota');
    const upload = (bytes: number) => kiln.http().post('/v1/uploads?filename=blob.bin').set(t.key).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(bytes, 1));
    // Without a Content-Length, the quota is enforced while the bytes stream in.
    const streamed = async (bytes: number) => {
      const res = await fetch(`${kiln.baseUrl}/v1/uploads?filename=blob.bin`, {
        method: 'POST',
        headers: { ...t.key, 'Content-Type': 'application/octet-stream' },
        body: new ReadableStream({
          start(controller) {
            controller.enqueue(new Uint8Array(bytes));
            controller.close();
          },
        }),
        duplex: 'half',
      } as RequestInit);
      return { status: res.status, body: (await res.json()) as { message: string } };
    };
    assert.equal((await upload(600)).status, 201);
    const over = await upload(600);
    assert.equal(over.status, 413, JSON.stringify(over.body));
    assert.match(over.body.message, /the upload is 600 bytes, but the tenant stores 600 of its 1000 bytes \(KILN_QUOTA_STORAGE_BYTES\): 400 bytes are left/);
    const chunked = await streamed(600);
    assert.equal(chunked.status, 413, JSON.stringify(chunked.body));
    assert.match(chunked.body.message, /the upload is more than 400 bytes, but the tenant stores 600 of its 1000 bytes/);
    assert.equal((await upload(400)).status, 201);
    const job = await kiln.http().post('/v1/jobs').set(t.key).send({ source: source(20), targets: ['x86_64-linux-gnu'] });
    assert.equal(job.status, 413, JSON.stringify(job.body));
    assert.match(job.body.message, /the tenant stores 1000 bytes of uploads and artifacts and its storage quota is 1000 bytes/);
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM uploads WHERE tenant_id = $1`, [t.id]);
    assert.equal(n, 2);
    const quotas = await kiln.http().get('/v1/quotas').set(t.key);
    assert.equal(quotas.status, 200, JSON.stringify(quotas.body));
    assert.deepEqual(quotas.body, { limits: { concurrentBuilds: 3, storageBytes: 1000, uploadBytes: kiln.config.maxUploadBytes, requestsPerMinute: 0 }, usage: { activeBuilds: 0, storageBytes: 1000 } });
  });

  it('a tenant\'s own limits replace the defaults', async () => {
    const t = await tenant('own-limits');
    const admin = await TenantAdmin.open(kiln.config); // what `npm run tenant -- quota` does
    try {
      await admin.setQuota('own-limits', { uploadBytes: 100, storageBytes: 0, concurrentBuilds: 5 });
    } finally {
      await admin.close();
    }
    const big = await kiln.http().post('/v1/uploads?filename=big.bin').set(t.key).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(200, 1));
    assert.equal(big.status, 413, JSON.stringify(big.body));
    assert.match(big.body.message, /the upload is 200 bytes; the limit is 100 bytes/);
    const many = await kiln.http().post('/v1/jobs').set(t.key).send({ source: source(30), targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'riscv64-linux-gnu', 'wasm32-wasi'] });
    assert.equal(many.status, 202, JSON.stringify(many.body));
  });
});

describe('rate limit, shared by API instances through Redis', () => {
  let kiln: Kiln;
  let second: NestExpressApplication;
  let secondUrl: string;

  before(async () => {
    kiln = await startKiln({ storage: 'fs', worker: false, env: { KILN_RATE_LIMIT_PER_MINUTE: '6' } });
    second = await createApi(kiln.config);
    await second.listen(0, '127.0.0.1');
    secondUrl = `http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`;
  });
  after(async () => {
    await second?.close();
    await kiln?.close();
  });

  it('counts a tenant\'s requests on every instance; 429 with Retry-After past the limit; health is exempt', async () => {
    const auth = kiln.api.get(AuthService);
    const t = await auth.ensureTenant('limited');
    const { secret } = await auth.createKey(t.id, 'k', ['read']);
    const { secret: secret2 } = await auth.createKey(t.id, 'k2', ['read']);
    const other = (await auth.createKey((await auth.ensureTenant('unlimited')).id, 'k', ['read'])).secret;
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await kiln.http().get('/v1/jobs').set('Authorization', `Bearer ${secret}`)).status);
    // The tenant's other key, on the other instance: the same count.
    for (let i = 0; i < 3; i++) statuses.push((await request(secondUrl).get('/v1/jobs').set('Authorization', `Bearer ${secret2}`)).status);
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 200]);
    const limited = await request(secondUrl).get('/v1/targets').set('Authorization', `Bearer ${secret}`);
    assert.equal(limited.status, 429, JSON.stringify(limited.body));
    const wait = Number(limited.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 60, String(limited.headers['retry-after']));
    assert.match(limited.body.message, /the tenant made more than 6 requests in 60 s \(KILN_RATE_LIMIT_PER_MINUTE\); try again in \d+ s/);
    assert.equal((await kiln.http().get('/v1/jobs').set('Authorization', `Bearer ${secret}`)).status, 429);
    // Another tenant is not held back, and health checks are never limited.
    assert.equal((await kiln.http().get('/v1/jobs').set('Authorization', `Bearer ${other}`)).status, 200);
    for (let i = 0; i < 10; i++) assert.equal((await kiln.http().get('/healthz')).status, 200);
  });
});

describe('requests without a valid API key: limited per client address, shared by API instances through Redis', () => {
  let kiln: Kiln;
  let second: NestExpressApplication;
  let secondUrl: string;

  before(async () => {
    kiln = await startKiln({ storage: 'fs', worker: false, env: { KILN_AUTH_FAILURES_PER_MINUTE: '5' } });
    second = await createApi(kiln.config);
    await second.listen(0, '127.0.0.1');
    secondUrl = `http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`;
  });
  after(async () => {
    await second?.close();
    await kiln?.close();
  });

  it('429 with Retry-After past the limit, on every instance; then even a right key waits; other addresses and health go on', async () => {
    const guesses = [
      await kiln.http().get('/v1/jobs'),
      await kiln.http().get('/v1/jobs').set('Authorization', 'Basic dXNlcjpwYXNz'),
      await request(secondUrl).get('/v1/jobs').set('Authorization', 'Bearer kiln_guess1'),
      await request(secondUrl).post('/v1/jobs').set('Authorization', 'Bearer kiln_guess2').send({}),
      await kiln.http().delete('/v1/uploads/00000000-0000-4000-8000-000000000000').set('Authorization', 'Bearer kiln_guess3'),
    ];
    assert.deepEqual(guesses.map((r) => r.status), [401, 401, 401, 401, 401]);
    // Requests with a valid key are not failures: they neither count nor are held back yet.
    for (let i = 0; i < 10; i++) assert.equal((await kiln.http().get('/v1/whoami').set(kiln.auth)).status, 200);

    const limited = await kiln.http().get('/v1/jobs').set('Authorization', 'Bearer kiln_guess4');
    assert.equal(limited.status, 429, JSON.stringify(limited.body));
    const wait = Number(limited.headers['retry-after']);
    assert.ok(wait >= 1 && wait <= 60, String(limited.headers['retry-after']));
    assert.match(limited.body.message, /^too many requests without a valid API key from this address \(more than 5 a minute, KILN_AUTH_FAILURES_PER_MINUTE\); try again in \d+ s$/);
    // Blocked now, on both instances, whatever the key: a right guess looks like a wrong one.
    assert.equal((await request(secondUrl).get('/v1/jobs').set('Authorization', 'Bearer kiln_guess5')).status, 429);
    const right = await request(secondUrl).get('/v1/whoami').set(kiln.auth);
    assert.equal(right.status, 429);
    assert.ok(Number(right.headers['retry-after']) >= 1);
    // The queue dashboard, which also takes keys, is held back the same way.
    const dashboard = await kiln.http().get('/admin/queues').set('Authorization', `Bearer ${kiln.apiKey}`);
    assert.equal(dashboard.status, 429);
    assert.ok(Number(dashboard.headers['retry-after']) >= 1);
    // Another client (its address from X-Forwarded-For, as a proxy on loopback sends it) has its own count.
    assert.equal((await kiln.http().get('/v1/whoami').set(kiln.auth).set('X-Forwarded-For', '198.51.100.20')).status, 200);
    assert.equal((await kiln.http().get('/v1/whoami').set('X-Forwarded-For', '198.51.100.20')).status, 401);
    // Health checks need no key and are never limited.
    for (let i = 0; i < 10; i++) assert.equal((await kiln.http().get('/healthz')).status, 200);
  });
});

describe('revoked API keys, which the API remembers for a moment: refused at once, on every instance', () => {
  let kiln: Kiln;
  let second: NestExpressApplication;
  let secondUrl: string;
  let db: DataSource;
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const live = (app: NestExpressApplication) => app.get(PgNotifications).live;

  before(async () => {
    kiln = await startKiln({ storage: 'fs', worker: false });
    second = await createApi(kiln.config);
    await second.listen(0, '127.0.0.1');
    secondUrl = `http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`;
    db = kiln.api.get(DataSource);
    while (!live(kiln.api) || !live(second)) await sleep(20);
  });
  after(async () => {
    await second?.close();
    await kiln?.close();
  });

  /** The statuses of whoami with the key on both instances. */
  const statuses = async (secret: string) => [
    (await kiln.http().get('/v1/whoami').set('Authorization', `Bearer ${secret}`)).status,
    (await request(secondUrl).get('/v1/whoami').set('Authorization', `Bearer ${secret}`)).status,
  ];
  /** Waits (well under ApiKeyCache.TTL_MS) for both instances to refuse the key. */
  const refusedSoon = async (secret: string) => {
    const deadline = Date.now() + ApiKeyCache.TTL_MS / 5;
    let seen = await statuses(secret);
    while (seen.some((s) => s !== 401) && Date.now() < deadline) {
      await sleep(20);
      seen = await statuses(secret);
    }
    assert.deepEqual(seen, [401, 401]);
  };

  it('a key revoked on one instance: refused there at once, and on the other as soon as it hears', async () => {
    const created = await kiln.http().post('/v1/keys').set(kiln.auth).send({ name: 'ci' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const secret: string = created.body.secret;
    assert.deepEqual(await statuses(secret), [200, 200]);
    assert.deepEqual(await statuses(secret), [200, 200], 'remembered now');
    assert.equal((await kiln.http().delete(`/v1/keys/${created.body.id}`).set(kiln.auth)).status, 204);
    assert.equal((await kiln.http().get('/v1/whoami').set('Authorization', `Bearer ${secret}`)).status, 401);
    await refusedSoon(secret);
  });

  it('a key revoked, or its tenant deleted, by SQL (npm run tenant, an operator): refused on both', async () => {
    const auth = kiln.api.get(AuthService);
    const tenant = await auth.ensureTenant('revoked-by-sql');
    const { key, secret } = await auth.createKey(tenant.id, 'a');
    const { secret: other } = await auth.createKey(tenant.id, 'b');
    assert.deepEqual(await statuses(secret), [200, 200]);
    assert.deepEqual(await statuses(other), [200, 200]);
    await db.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [key.id]);
    await refusedSoon(secret);
    assert.deepEqual(await statuses(other), [200, 200]);
    await db.query(`DELETE FROM tenants WHERE id = $1`, [tenant.id]);
    await refusedSoon(other);
  });

  it('nothing is remembered while the listening connection is down, and keys are remembered again once it is back', async () => {
    const auth = kiln.api.get(AuthService);
    const { key, secret } = await auth.createKey((await auth.ensureTenant('default')).id, 'c');
    assert.deepEqual(await statuses(secret), [200, 200]);
    const killed = await db.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN %'`);
    assert.equal(killed.length, 2);
    while (live(kiln.api) || live(second)) await sleep(5);
    // Revoked while nobody listens: no notification reaches the instances, yet the key is refused.
    await db.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [key.id]);
    assert.deepEqual(await statuses(secret), [401, 401]);
    while (!live(kiln.api) || !live(second)) await sleep(20);
    const { key: next, secret: nextSecret } = await auth.createKey((await auth.ensureTenant('default')).id, 'd');
    assert.deepEqual(await statuses(nextSecret), [200, 200]);
    await db.query(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, [next.id]);
    await refusedSoon(nextSecret);
  });
});
