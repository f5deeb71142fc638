import { strict as assert } from 'node:assert';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createServer } from 'node:http';
import { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { bullRootOptions } from '../src/queue/bull';
import { WEBHOOK_QUEUE } from '../src/webhooks/webhook-queue';
import { collectGarbage, databaseReferences } from '../src/storage/gc';
import { OBJECT_STORE, ObjectStore } from '../src/storage/object-store';
import { download, JobView, Kiln, startKiln, waitForJob } from './support/harness';
import { tarOf } from './support/archives';

type Build = JobView['builds'][number] & { cache: { status: string; from: string | null } | null; verification: { status: string } | null };

/**
 * A tenant deletes its uploads and finished jobs, against the real PostgreSQL, storage and
 * worker: rows, stored objects (only those nothing else refers to), build-cache entries and the
 * storage usage all follow.
 */
describe('deleting uploads and jobs', () => {
  let kiln: Kiln;
  let db: DataSource;
  let store: ObjectStore;

  before(async () => {
    // No worker at first: jobs stay unfinished until one is started.
    // Webhook retries far enough apart that a job can be deleted between two attempts.
    kiln = await startKiln({ storage: 'fs', worker: false, env: { KILN_WEBHOOK_BACKOFF_MS: '1500', KILN_WEBHOOK_MAX_ATTEMPTS: '3' } });
    db = kiln.api.get(DataSource);
    store = kiln.api.get<ObjectStore>(OBJECT_STORE);
  });
  after(async () => {
    await kiln?.close();
  });

  const http = () => kiln.http();
  const upload = (name: string, body: string | Buffer) => http().post(`/v1/uploads?filename=${name}`).set(kiln.auth).set('Content-Type', 'application/octet-stream').send(body);
  const usage = async () => (await http().get('/v1/quotas').set(kiln.auth)).body.usage.storageBytes as number;
  const keyOf = async (uploadId: string) => ((await db.query(`SELECT storage_key FROM uploads WHERE id = $1`, [uploadId]))[0] as { storage_key: string }).storage_key;

  it('an upload: 409 while an unfinished job needs it; then its row and stored object go, and the usage with them', async () => {
    const header = await upload('data.h', '#define SCALE 3\n');
    const archive = await upload('p.tar', tarOf([{ name: 'p.c', body: 'int p(void) { return 1; }\n' }]));
    const tensor = await upload('x.bin', Buffer.alloc(12, 1));
    const spare = await upload('spare.txt', 'nobody uses this\n');
    for (const u of [header, archive, tensor, spare]) assert.equal(u.status, 201, JSON.stringify(u.body));
    const headerKey = await keyOf(header.body.id);
    const before = await usage();

    const withHeader = await http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'm.c', content: '#include "data.h"\nint m(int x) { return x * SCALE; }\n' }, { path: 'data.h', uploadId: header.body.id }] }, targets: ['x86_64-linux-gnu'] });
    const withArchive = await http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', archive: { uploadId: archive.body.id } }, targets: ['x86_64-linux-gnu'] });
    const withTensor = await http().post('/v1/jobs').set(kiln.auth).send({
      source: { language: 'c', files: [{ path: 'k.c', content: 'void k(const float *x, float *y) { for (int i = 0; i < 3; i++) y[i] = x[i]; }\n' }] },
      targets: ['x86_64-linux-gnu'],
      verify: { entry: 'k', args: [{ name: 'x', type: 'float32*', shape: [3], input: { uploadId: tensor.body.id } }, { name: 'y', type: 'float32*', shape: [3], dir: 'out' }] },
    });
    for (const j of [withHeader, withArchive, withTensor]) {
      assert.equal(j.status, 202, JSON.stringify(j.body));
      assert.equal(j.body.builds[0].status, 'waiting');
    }
    for (const [u, job] of [[header, withHeader], [archive, withArchive], [tensor, withTensor]] as const) {
      const refused = await http().delete(`/v1/uploads/${u.body.id}`).set(kiln.auth);
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(
        refused.body.message,
        `upload ${u.body.id} is still needed by job ${job.body.id}, whose builds have not finished; delete the upload once they have finished, or cancel it first (DELETE /v1/jobs/{id})`,
      );
      assert.equal((await http().get(`/v1/uploads/${u.body.id}`).set(kiln.auth)).status, 200);
    }
    assert.notEqual(await store.stat(headerKey), null);
    assert.equal(await usage(), before);

    // An upload no unfinished job names goes at once.
    assert.equal((await http().delete(`/v1/uploads/${spare.body.id}`).set(kiln.auth)).status, 204);
    assert.equal(await usage(), before - spare.body.size);

    // Once the job has finished (here: canceled), its upload can go.
    assert.equal((await http().delete(`/v1/jobs/${withHeader.body.id}`).set(kiln.auth)).body.status, 'canceled');
    const deleted = await http().delete(`/v1/uploads/${header.body.id}`).set(kiln.auth);
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    assert.equal((await http().get(`/v1/uploads/${header.body.id}`).set(kiln.auth)).status, 404);
    const again = await http().delete(`/v1/uploads/${header.body.id}`).set(kiln.auth);
    assert.equal(again.status, 404);
    assert.equal(again.body.message, `no upload with id ${header.body.id}`);
    assert.equal((await http().delete('/v1/uploads/not-an-id').set(kiln.auth)).status, 404);
    assert.equal(await store.stat(headerKey), null, 'the stored object is gone');
    assert.equal(await usage(), before - spare.body.size - header.body.size);
    // The finished job that named it still reads; its file's size is no longer known.
    const job = await http().get(`/v1/jobs/${withHeader.body.id}`).set(kiln.auth);
    assert.equal(job.status, 200);
    for (const j of [withArchive, withTensor]) await http().delete(`/v1/jobs/${j.body.id}`).set(kiln.auth);
  });

  it('an upload deleted while a job naming it is created: one of the two wins, never both', async () => {
    const pairs = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => {
        const u = await upload(`race${i}.h`, `#define R${i} ${i}\n`);
        const [job, del] = await Promise.all([
          http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'r.c', content: `#include "race${i}.h"\nint r(void) { return R${i}; }\n` }, { path: `race${i}.h`, uploadId: u.body.id }] }, targets: ['x86_64-linux-gnu'] }),
          http().delete(`/v1/uploads/${u.body.id}`).set(kiln.auth),
        ]);
        return { job, del };
      }),
    );
    for (const { job, del } of pairs) {
      if (job.status === 202) assert.equal(del.status, 409, 'a job that needs the upload was created: the deletion is refused');
      else {
        assert.equal(job.status, 400, JSON.stringify(job.body));
        assert.equal(del.status, 204);
      }
    }
    for (const { job } of pairs) if (job.status === 202) await http().delete(`/v1/jobs/${job.body.id}`).set(kiln.auth);
  });

  it('a finished job with ?purge=true: builds, artifacts, verification, cache entries and unshared objects go; shared ones stay', async () => {
    const request = {
      source: { language: 'c', files: [{ path: 'hello.c', content: `#include <stdio.h>\nint main(void) { puts("purge ${randomBytes(4).toString('hex')}"); return 0; }\n` }] },
      targets: ['x86_64-linux-gnu', 'wasm32-wasi'],
      outputs: ['object', 'executable'],
      verify: true,
    };
    // Not finished: refused, nothing deleted.
    const waiting = await http().post('/v1/jobs').set(kiln.auth).send(request);
    assert.equal(waiting.status, 202);
    const refused = await http().delete(`/v1/jobs/${waiting.body.id}?purge=true`).set(kiln.auth);
    assert.equal(refused.status, 409, JSON.stringify(refused.body));
    assert.equal(
      refused.body.message,
      `job ${waiting.body.id} has 2 builds that have not finished (x86_64-linux-gnu: waiting, wasm32-wasi: waiting); cancel the job first (DELETE /v1/jobs/${waiting.body.id}), then delete it with ?purge=true`,
    );
    assert.equal((await http().get(`/v1/jobs/${waiting.body.id}`).set(kiln.auth)).status, 200);
    const bad = await http().delete(`/v1/jobs/${waiting.body.id}?purge=yes`).set(kiln.auth);
    assert.equal(bad.status, 400);
    assert.match(JSON.stringify(bad.body.message), /purge must be true or false/);
    // Canceled builds have finished: the job can go now.
    await http().delete(`/v1/jobs/${waiting.body.id}`).set(kiln.auth);
    assert.equal((await http().delete(`/v1/jobs/${waiting.body.id}?purge=true`).set(kiln.auth)).status, 204);

    await kiln.startWorker();
    const usageBefore = await usage();
    const first = await waitForJob(kiln, (await http().post('/v1/jobs').set(kiln.auth).send(request)).body.id);
    assert.equal(first.status, 'succeeded', JSON.stringify(first.builds.map((b) => b.statusReason)));
    const firstBuilds = first.builds as Build[];
    assert.ok(firstBuilds.every((b) => b.verification?.status === 'passed'));
    assert.ok(firstBuilds.every((b) => b.artifacts.some((a) => a.kind === 'bundle') && b.artifacts.some((a) => a.kind === 'report')), 'verification data is stored');
    const keys: string[] = (await db.query(`SELECT DISTINCT storage_key FROM artifacts WHERE build_id = ANY($1)`, [firstBuilds.map((b) => b.id)])).map((r: { storage_key: string }) => r.storage_key);
    const stored = await usage();
    assert.ok(stored > usageBefore);
    // The same request again is a cache hit: its rows refer to the same objects.
    const copy = (await http().post('/v1/jobs').set(kiln.auth).send(request)).body as JobView;
    assert.deepEqual((copy.builds as Build[]).map((b) => b.cache?.status), ['hit', 'hit']);
    assert.equal(await usage(), stored, 'a cache hit stores nothing new');

    const purged = await http().delete(`/v1/jobs/${first.id}?purge=true`).set(kiln.auth);
    assert.equal(purged.status, 204, JSON.stringify(purged.body));
    assert.equal(purged.text, '');
    for (const path of [`/v1/jobs/${first.id}`, `/v1/jobs/${first.id}/events`, `/v1/jobs/${first.id}/webhooks`, `/v1/artifacts/${firstBuilds[0].artifacts[0].id}`, `/v1/artifacts/${firstBuilds[0].artifacts[0].id}/content`]) {
      assert.equal((await http().get(path).set(kiln.auth)).status, 404, path);
    }
    assert.equal((await http().delete(`/v1/jobs/${first.id}?purge=true`).set(kiln.auth)).status, 404);
    const ids = firstBuilds.map((b) => b.id);
    const [left] = await db.query(
      `SELECT (SELECT count(*) FROM jobs WHERE id = $1)::int AS jobs, (SELECT count(*) FROM builds WHERE id = ANY($2))::int AS builds,
              (SELECT count(*) FROM artifacts WHERE build_id = ANY($2))::int AS artifacts, (SELECT count(*) FROM build_events WHERE job_id = $1)::int AS events,
              (SELECT count(*) FROM build_cache WHERE build_id = ANY($2))::int AS cache`,
      [first.id, ids],
    );
    assert.deepEqual(left, { jobs: 0, builds: 0, artifacts: 0, events: 0, cache: 0 });
    // The copy's rows still refer to every object: they stay, its downloads work, the usage holds.
    for (const k of keys) assert.notEqual(await store.stat(k), null, k);
    for (const b of copy.builds) for (const a of b.artifacts) assert.equal(createHash('sha256').update(await download(kiln, a.id)).digest('hex'), a.sha256);
    assert.equal(await usage(), stored);

    // The cache no longer points at the deleted builds (a hit is not cached again): the same
    // input compiles afresh.
    const fresh = await waitForJob(kiln, (await http().post('/v1/jobs').set(kiln.auth).send(request)).body.id);
    assert.equal(fresh.status, 'succeeded');
    assert.deepEqual((fresh.builds as Build[]).map((b) => b.cache?.status), ['miss', 'miss']);

    // With every job that referred to them deleted, the objects go and the usage is back.
    for (const id of [copy.id, fresh.id]) assert.equal((await http().delete(`/v1/jobs/${id}?purge=true`).set(kiln.auth)).status, 204);
    for (const k of keys) assert.equal(await store.stat(k), null, k);
    assert.equal(await usage(), usageBefore);
    const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM object_refs WHERE storage_key = ANY($1)`, [keys]);
    assert.equal(n, 0);
    // Nothing was left for the collector.
    const gc = await collectGarbage(databaseReferences(db), store, { minAgeMs: 0, dryRun: true });
    assert.equal(gc.deleted, 0, JSON.stringify(gc));
  });

  it('a job deleted while its webhook waits for a retry: the retry sends nothing', async () => {
    const hits: string[] = [];
    const receiver = createServer((req, res) => req.resume().on('end', () => (hits.push(req.url ?? ''), res.writeHead(500).end())));
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const queue = new Queue(WEBHOOK_QUEUE, bullRootOptions(kiln.config));
    try {
      const url = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
      const res = await http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'w.c', content: `int w(void) { return ${Date.now() % 1000}; }\n` }] }, targets: ['x86_64-linux-gnu'], callbackUrl: url });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      assert.equal((await waitForJob(kiln, res.body.id)).status, 'succeeded');
      for (let i = 0; ; i++) {
        const d = await http().get(`/v1/jobs/${res.body.id}/webhooks`).set(kiln.auth);
        if (d.body.items?.length === 1) break;
        if (i > 300) throw new Error('no first attempt');
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal((await http().delete(`/v1/jobs/${res.body.id}?purge=true`).set(kiln.auth)).status, 204);
      // The retry runs, finds the job gone, and ends without a request or a recorded attempt.
      for (let i = 0; ; i++) {
        const state = await (await queue.getJob(`job-${res.body.id}`))?.getState();
        if (state === 'completed') break;
        if (i > 200) throw new Error(`the webhook job is still ${state}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.deepEqual(hits, ['/hook']);
      const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM webhook_deliveries WHERE job_id = $1`, [res.body.id]);
      assert.equal(n, 0);
    } finally {
      await queue.close();
      await new Promise((r) => receiver.close(r));
    }
  });
});
