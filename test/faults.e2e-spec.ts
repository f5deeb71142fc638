import { strict as assert } from 'node:assert';
import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { queueName, redisConnectionOptions } from '../src/queue/queue.types';
import { download, JobView, Kiln, startKiln, waitForJob } from './support/harness';

/** A C++ file whose constant evaluation keeps the compiler busy for a few seconds. */
function slowSource(): { path: string; content: string } {
  return {
    path: 'slow.cpp',
    content: `// ${randomBytes(8).toString('hex')}
constexpr long spin() { long s = 0; for (long i = 0; i < 800000; i++) s += i % 7; return s; }
constexpr long value = spin();
long get() { return value; }
`,
  };
}

/** Files under the storage folder's content-addressed tree. */
async function storedObjects(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else out.push(join(d, e.name));
    }
  };
  await walk(dir);
  return out;
}

describe('faults survived', () => {
  let kiln: Kiln;
  const children: ChildProcess[] = [];
  before(async () => {
    kiln = await startKiln({ storage: 'fs', worker: false, env: { KILN_JOB_LOCK_MS: '3000' } });
  });
  after(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await kiln?.close();
  });

  /** A worker as its own process, as deployed, so it can be killed. */
  function spawnWorker(id: string, extra: Record<string, string> = {}): ChildProcess {
    const child = spawn(process.execPath, [join(__dirname, '../workers/main.js')], {
      env: { ...process.env, ...kiln.env, KILN_WORKER_ID: id, KILN_POOLS: 'cpu', KILN_LOG_LEVEL: 'warn', ...extra },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    children.push(child);
    return child;
  }

  async function submitSlow(): Promise<string> {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c++', files: [slowSource()], options: ['-std=c++17', '-fconstexpr-steps=2000000000'] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id;
  }

  async function waitUntilCompilingOn(jobId: string, worker: string): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (;;) {
      const job = (await kiln.http().get(`/v1/jobs/${jobId}`).set(kiln.auth)).body as JobView;
      const b = job.builds[0] as JobView['builds'][number] & { worker: string | null };
      if (b.status === 'compiling' && b.worker === worker) return;
      if (Date.now() > deadline) throw new Error(`build never started compiling on ${worker}: ${b.status} ${b.worker}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('a worker killed with SIGKILL mid-compile: the build is taken again and recorded once', async () => {
    const victimName = `victim-${randomBytes(3).toString('hex')}`;
    const victim = spawnWorker(victimName);
    const jobId = await submitSlow();
    await waitUntilCompilingOn(jobId, victimName);
    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    // Another worker takes the build once the dead worker's claim expires.
    const rescuer = `rescuer-${randomBytes(3).toString('hex')}`;
    const rescuing = spawnWorker(rescuer);
    const job = await waitForJob(kiln, jobId, 180_000);
    const b = job.builds[0] as JobView['builds'][number] & { worker: string | null; events: { from: string | null; to: string; worker: string | null }[] };
    assert.equal(b.status, 'succeeded', b.statusReason ?? '');
    assert.equal(b.worker, rescuer);
    assert.deepEqual(b.events.filter((e) => e.to === 'compiling').map((e) => e.worker?.split('-')[0]), ['victim', 'rescuer']);
    assert.equal(b.events.filter((e) => e.to === 'succeeded').length, 1);
    // Recorded exactly once, and every stored byte matches what the database says.
    assert.deepEqual(b.artifacts.map((a) => a.name), ['slow.o']);
    for (const a of b.artifacts) assert.equal(createHash('sha256').update(await download(kiln, a.id)).digest('hex'), a.sha256);
    const db = kiln.api.get(DataSource);
    const keys: { storage_key: string }[] = await db.query(`SELECT DISTINCT storage_key FROM artifacts`);
    assert.equal((await storedObjects(kiln.config.storage.driver === 'fs' ? kiln.config.storage.dir : '')).length, keys.length, 'no orphaned object in storage');
    rescuing.kill('SIGTERM');
    await new Promise((r) => rescuing.once('exit', r));
  });

  it('a worker sent SIGTERM mid-compile finishes its build, then exits', async () => {
    const id = `graceful-${randomBytes(3).toString('hex')}`;
    const worker = spawnWorker(id);
    const jobId = await submitSlow();
    await waitUntilCompilingOn(jobId, id);
    worker.kill('SIGTERM');
    // Nest's shutdown hooks close the queue consumers (waiting for the job at hand), then
    // re-raise the signal: the process ends by SIGTERM, after its build is recorded.
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => worker.once('exit', (c, s) => r([c, s])));
    assert.ok(code === 0 || signal === 'SIGTERM', `exit ${code} ${signal}`);
    const job = (await kiln.http().get(`/v1/jobs/${jobId}`).set(kiln.auth)).body as JobView;
    assert.equal(job.builds[0].status, 'succeeded', job.builds[0].statusReason ?? '');
    assert.equal((job.builds[0] as { worker?: string }).worker, id);
  });

  it('a build whose queue entry was lost is found and queued again', async () => {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'lost.c', content: `int lost(void) { return ${Date.now() % 1000}; }\n` }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(res.status, 202);
    const buildId = res.body.builds[0].id as string;
    // As if the API had stopped between its commit and the enqueue: no queue entry, an old row.
    const queue = new Queue(queueName('cpu'), { connection: redisConnectionOptions(kiln.config.redisUrl), prefix: kiln.config.queuePrefix });
    try {
      if (res.body.builds[0].status === 'queued') assert.equal(await queue.remove(buildId), 1);
    } finally {
      await queue.close();
    }
    const db = kiln.api.get(DataSource);
    await db.query(`UPDATE builds SET status = 'queued', status_reason = NULL, updated_at = now() - interval '10 minutes' WHERE id = $1`, [buildId]);
    const worker = spawnWorker(`sweeper-${randomBytes(3).toString('hex')}`, { KILN_SWEEP_SECONDS: '1' });
    const job = await waitForJob(kiln, res.body.id, 120_000);
    assert.equal(job.builds[0].status, 'succeeded', job.builds[0].statusReason ?? '');
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
  });
});
