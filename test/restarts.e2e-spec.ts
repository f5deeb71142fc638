import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { JobView, Kiln, startKiln, waitForJob } from './support/harness';
import { freePort, PrivatePostgres, PrivateRedis } from './support/servers';

describe('Redis restarted while builds are queued and running', () => {
  let kiln: Kiln;
  let redis: PrivateRedis;
  let dir: string;
  let worker: ChildProcess;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-redis-'));
    redis = new PrivateRedis(await freePort(), dir);
    await redis.start();
    kiln = await startKiln({ storage: 'fs', worker: false, env: { KILN_REDIS_URL: `redis://127.0.0.1:${redis.port}` } });
    worker = spawn(process.execPath, [join(__dirname, '../workers/main.js')], {
      env: { ...process.env, ...kiln.env, KILN_WORKER_ID: `restart-${randomBytes(3).toString('hex')}`, KILN_POOLS: 'cpu', KILN_LOG_LEVEL: 'error', KILN_WORKER_CONCURRENCY: '1' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
  });
  after(async () => {
    worker?.kill('SIGKILL');
    await kiln?.close();
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 with Retry-After while Redis is away, loses nothing it accepted, and recovers by itself', async () => {
    // Queued before the restart: more than the worker can finish before Redis goes.
    const accepted: string[] = [];
    for (let i = 0; i < 6; i++) {
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'r.c', content: `int r${i}(void) { return ${i}; } // ${randomBytes(6).toString('hex')}\n` }], options: ['-O2'] }, targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu'] });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      accepted.push(res.body.id);
    }
    await redis.stop();

    const down = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'd.c', content: 'int d;' }] }, targets: ['x86_64-linux-gnu'] }).timeout(15_000);
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.ok(Number(down.headers['retry-after']) > 0);
    // What needs only PostgreSQL still works.
    assert.equal((await kiln.http().get(`/v1/jobs/${accepted[0]}`).set(kiln.auth)).status, 200);
    const ready = await kiln.http().get('/readyz');
    assert.equal(ready.status, 503);

    await new Promise((r) => setTimeout(r, 1500));
    await redis.start();
    // Every accepted job ends, each build once; the API takes new jobs again.
    for (const id of accepted) {
      const job = await waitForJob(kiln, id, 180_000);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => b.statusReason)));
      for (const b of job.builds) assert.equal((b.events as { to: string }[]).filter((e) => e.to === 'succeeded').length, 1);
    }
    const again = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'a.c', content: `int a${Date.now()};` }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal((await waitForJob(kiln, again.body.id, 60_000)).status, 'succeeded');
  });
});

describe('PostgreSQL restarted while builds are queued and running', () => {
  let kiln: Kiln;
  let pg: PrivatePostgres;
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-pg-'));
    pg = new PrivatePostgres(await freePort(), dir);
    await pg.init();
    await pg.start();
    kiln = await startKiln({ storage: 'fs', adminDatabaseUrl: pg.adminUrl });
  });
  after(async () => {
    await kiln?.close().catch(() => undefined);
    await pg?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers 503 while PostgreSQL is away, never 500, and recovers without a restart', async () => {
    const accepted: string[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'p.c', content: `int p${i}(void) { return ${i}; } // ${randomBytes(6).toString('hex')}\n` }] }, targets: ['x86_64-linux-gnu', 'riscv64-linux-gnu'] });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      accepted.push(res.body.id);
    }
    await pg.stop();
    for (const req of [kiln.http().get(`/v1/jobs/${accepted[0]}`).set(kiln.auth), kiln.http().get('/v1/jobs').set(kiln.auth), kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'd.c', content: 'int d;' }] }, targets: ['x86_64-linux-gnu'] })]) {
      const res = await req.timeout(20_000);
      assert.equal(res.status, 503, `${res.status} ${JSON.stringify(res.body)}`);
      assert.ok(Number(res.headers['retry-after']) > 0);
    }
    assert.equal((await kiln.http().get('/readyz')).status, 503);
    await pg.start();
    for (const id of accepted) {
      const job = await waitForJob(kiln, id, 180_000);
      assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => b.statusReason)));
    }
    const again = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'a.c', content: `int a${Date.now()};` }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(again.status, 202, JSON.stringify(again.body));
    assert.equal((await waitForJob(kiln, again.body.id, 60_000)).status, 'succeeded');
  });
});

describe('object storage unreachable', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 's3' });
  });
  after(async () => {
    await kiln?.close();
  });

  it('retries with backoff, then fails the build saying why, with no artifact rows; recovers when storage is back', async () => {
    await kiln.s3!.stop();
    const up = await kiln.http().post('/v1/uploads?filename=a.c').set(kiln.auth).set('Content-Type', 'application/octet-stream').send(Buffer.from('int a;'));
    assert.equal(up.status, 503, JSON.stringify(up.body));
    assert.ok(Number(up.headers['retry-after']) > 0);
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 's.c', content: `int s(void) { return 3; } // ${randomBytes(6).toString('hex')}\n` }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id, 180_000);
    const b = job.builds[0] as JobView['builds'][number] & { attempts: number };
    assert.equal(b.status, 'failed');
    assert.match(b.statusReason ?? '', /was unreachable in all 3 attempts/);
    assert.equal(b.attempts, 3);
    assert.deepEqual(b.artifacts, []);
    const db = kiln.api.get(DataSource);
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM artifacts WHERE build_id = $1`, [b.id]);
    assert.equal(n, 0);

    await kiln.s3!.start();
    const again = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 's.c', content: `int t(void) { return 4; } // ${randomBytes(6).toString('hex')}\n` }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(again.status, 202);
    assert.equal((await waitForJob(kiln, again.body.id, 60_000)).status, 'succeeded');
  });
});
