import { strict as assert } from 'node:assert';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import request from 'supertest';
import { TenantAdmin } from '../scripts/tenant';
import { download, Kiln, startKiln, waitForJob } from './support/harness';
import { tarOf } from './support/archives';

const SOURCE = { language: 'c', files: [{ path: 'iso.c', content: 'int isolated(int x) { return x * 3; }\n' }] };

/**
 * Two tenants on one Kiln. Everything tenant A owns (jobs, their events, builds' artifacts,
 * uploads, webhook deliveries, keys, its signing secret, its build cache) is tried by tenant B
 * through every endpoint that takes an id: each answer is exactly what an id that does not
 * exist gets, and no list shows anything of A's.
 */
describe('tenant isolation', () => {
  let kiln: Kiln;
  let receiver: Server;
  let receiverUrl: string;
  let a: { Authorization: string };
  let b: { Authorization: string };
  const owned = { jobId: '', artifactId: '', uploadId: '', archiveId: '', keyId: '', idempotencyKey: `iso-${randomUUID()}` };

  before(async () => {
    receiver = createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hook`;
    kiln = await startKiln({ storage: 'fs' });
    a = kiln.auth;
    // A second tenant, made the way an operator makes one (npm run tenant -- create <name>).
    const admin = await TenantAdmin.open(kiln.config);
    try {
      const made = await admin.create('tenant-b', 'admin', ['read', 'build', 'admin']);
      assert.equal(made.tenant.name, 'tenant-b');
      b = { Authorization: `Bearer ${made.key.secret}` };
    } finally {
      await admin.close();
    }

    // Tenant A: an upload, an archive, a finished job with artifacts and a delivered webhook, a key.
    const up = await kiln.http().post('/v1/uploads?filename=iso.h').set(a).set('Content-Type', 'application/octet-stream').send('#define K 3\n');
    owned.uploadId = up.body.id;
    const ar = await kiln.http().post('/v1/uploads?filename=p.tar').set(a).set('Content-Type', 'application/octet-stream').send(tarOf([{ name: 'p.c', body: 'int p(void) { return 1; }\n' }]));
    owned.archiveId = ar.body.id;
    const job = await kiln.http().post('/v1/jobs').set(a).set('Idempotency-Key', owned.idempotencyKey).send({ source: SOURCE, targets: ['x86_64-linux-gnu'], callbackUrl: receiverUrl });
    assert.equal(job.status, 202, JSON.stringify(job.body));
    owned.jobId = job.body.id;
    const done = await waitForJob(kiln, owned.jobId);
    assert.equal(done.status, 'succeeded');
    owned.artifactId = done.builds[0].artifacts[0].id;
    for (let i = 0; ; i++) {
      const d = await kiln.http().get(`/v1/jobs/${owned.jobId}/webhooks`).set(a);
      if (d.body.items.some((x: { status: string }) => x.status === 'delivered')) break;
      if (i > 600) throw new Error('the webhook was not delivered');
      await new Promise((r) => setTimeout(r, 100));
    }
    owned.keyId = (await kiln.http().post('/v1/keys').set(a).send({ name: 'a-ci' })).body.id;
  });
  after(async () => {
    await kiln?.close();
    await new Promise((r) => receiver?.close(r));
  });

  /** B's answer for A's id must be the answer for an id that does not exist, with only the id differing. */
  async function sameAsMissing(send: (id: string) => request.Test, id: string, status: number) {
    const missing = randomUUID();
    const [theirs, none] = [await send(id), await send(missing)];
    assert.equal(theirs.status, status, `${send.toString()}: ${JSON.stringify(theirs.body)}`);
    assert.equal(none.status, status);
    // Each answer has its own request id; all else must match.
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });
    assert.deepEqual(strip(JSON.parse(JSON.stringify(theirs.body).replaceAll(id, missing))), strip(none.body));
  }

  it('every endpoint that takes one of A\'s ids in its path answers B with 404', async () => {
    const http = () => kiln.http();
    await sameAsMissing((id) => http().get(`/v1/jobs/${id}`).set(b), owned.jobId, 404);
    await sameAsMissing((id) => http().get(`/v1/jobs/${id}/events`).set(b), owned.jobId, 404);
    await sameAsMissing((id) => http().get(`/v1/jobs/${id}/webhooks`).set(b), owned.jobId, 404);
    await sameAsMissing((id) => http().delete(`/v1/jobs/${id}`).set(b), owned.jobId, 404);
    await sameAsMissing((id) => http().delete(`/v1/jobs/${id}?purge=true`).set(b), owned.jobId, 404);
    await sameAsMissing((id) => http().get(`/v1/artifacts/${id}`).set(b), owned.artifactId, 404);
    await sameAsMissing((id) => http().get(`/v1/artifacts/${id}/content`).set(b), owned.artifactId, 404);
    await sameAsMissing((id) => http().get(`/v1/artifacts/${id}/content?redirect=false`).set(b), owned.artifactId, 404);
    await sameAsMissing((id) => http().get(`/v1/uploads/${id}`).set(b), owned.uploadId, 404);
    await sameAsMissing((id) => http().delete(`/v1/uploads/${id}`).set(b), owned.uploadId, 404);
    await sameAsMissing((id) => http().post('/v1/models/inspect').set(b).send({ uploadId: id }), owned.uploadId, 404);
    await sameAsMissing((id) => http().delete(`/v1/keys/${id}`).set(b), owned.keyId, 404);
    // B's cancel and deletions did nothing to A's job and upload, and A's key still works.
    const still = await http().get(`/v1/jobs/${owned.jobId}`).set(a);
    assert.equal(still.body.status, 'succeeded');
    assert.equal(still.body.builds[0].artifacts.length > 0, true);
    assert.equal((await http().get(`/v1/uploads/${owned.uploadId}`).set(a)).status, 200);
    assert.equal((await http().get(`/v1/artifacts/${owned.artifactId}/content`).set(a)).status, 200);
    assert.ok((await http().get('/v1/keys').set(a)).body.items.some((k: { id: string }) => k.id === owned.keyId));
  });

  it('A\'s uploads cannot be used in B\'s jobs: the same 400 as an unknown upload', async () => {
    await sameAsMissing((id) => kiln.http().post('/v1/jobs').set(b).send({ source: { language: 'c', files: [{ path: 'x.c', content: 'int x;\n' }, { path: 'iso.h', uploadId: id }] }, targets: ['x86_64-linux-gnu'] }), owned.uploadId, 400);
    await sameAsMissing((id) => kiln.http().post('/v1/jobs').set(b).send({ source: { language: 'c', archive: { uploadId: id } }, targets: ['x86_64-linux-gnu'] }), owned.archiveId, 400);
    await sameAsMissing((id) => kiln.http().post('/v1/jobs').set(b).send({ model: { uploadId: id }, targets: ['x86_64-linux-gnu'] }), owned.uploadId, 400);
    // A verification's tensors and reference files: A's upload holds 12 bytes, just what float32 [3] needs.
    const kernel = (x: object, y: object, reference?: object) => ({
      source: { language: 'c', files: [{ path: 'k.c', content: 'void k(const float *x, float *y) { for (int i = 0; i < 3; i++) y[i] = x[i]; }\n' }] },
      targets: ['x86_64-linux-gnu'],
      verify: { entry: 'k', args: [{ name: 'x', type: 'float32*', shape: [3], ...x }, { name: 'y', type: 'float32*', shape: [3], dir: 'out', ...y }], ...(reference ? { reference } : {}) },
    });
    await sameAsMissing((id) => kiln.http().post('/v1/jobs').set(b).send(kernel({ input: { uploadId: id } }, {})), owned.uploadId, 400);
    await sameAsMissing((id) => kiln.http().post('/v1/jobs').set(b).send(kernel({}, { expected: { uploadId: id } })), owned.uploadId, 400);
    await sameAsMissing((id) => kiln.http().post('/v1/jobs').set(b).send(kernel({}, {}, { files: [{ path: 'ref.c', uploadId: id }] })), owned.uploadId, 400);
  });

  it('nothing of A\'s shows in B\'s lists, B\'s idempotency keys or B\'s build cache', async () => {
    const jobs = await kiln.http().get('/v1/jobs?limit=100').set(b);
    assert.equal(jobs.status, 200);
    assert.deepEqual(jobs.body.items, []);
    assert.deepEqual((await kiln.http().get(`/v1/jobs?idPrefix=${owned.jobId.slice(0, 8)}`).set(b)).body.items, [], 'a short id finds only the caller\'s jobs');
    assert.deepEqual((await kiln.http().get('/v1/uploads?limit=100').set(b)).body.items, []);
    assert.ok((await kiln.http().get('/v1/uploads?limit=100').set(a)).body.items.length > 0);
    const keys = await kiln.http().get('/v1/keys').set(b);
    assert.deepEqual(keys.body.items.map((k: { name: string }) => k.name), ['admin']);
    const who = await kiln.http().get('/v1/whoami').set(b);
    assert.equal(who.body.tenant.name, 'tenant-b');
    // A's uploads and artifacts are not counted against B.
    assert.deepEqual((await kiln.http().get('/v1/quotas').set(b)).body.usage, { activeBuilds: 0, storageBytes: 0 });
    assert.ok((await kiln.http().get('/v1/quotas').set(a)).body.usage.storageBytes > 0);

    // The same Idempotency-Key makes B a job of its own, and the same source is no cache hit.
    const mine = await kiln.http().post('/v1/jobs').set(b).set('Idempotency-Key', owned.idempotencyKey).send({ source: SOURCE, targets: ['x86_64-linux-gnu'] });
    assert.equal(mine.status, 202, JSON.stringify(mine.body));
    assert.notEqual(mine.body.id, owned.jobId);
    const done = await waitForJob({ ...kiln, auth: b }, mine.body.id);
    assert.notEqual((done.builds[0] as unknown as { cache: { status: string } | null }).cache?.status, 'hit');
    assert.ok(done.builds[0].artifacts.every((x) => x.id !== owned.artifactId));
    assert.deepEqual((await kiln.http().get(`/v1/jobs/${mine.body.id}/webhooks`).set(b)).body.items, []);

    // And the other way round: A's list has A's job, not B's.
    const aJobs = (await kiln.http().get('/v1/jobs?limit=100').set(a)).body.items.map((j: { id: string }) => j.id);
    assert.ok(aJobs.includes(owned.jobId));
    assert.ok(!aJobs.includes(mine.body.id));
    await sameAsMissing((id) => kiln.http().get(`/v1/jobs/${id}`).set(a), mine.body.id, 404);
  });

  it('a tenant deleting its job leaves another tenant\'s equal artifacts, their stored objects and its usage alone', async () => {
    const source = { language: 'c', files: [{ path: 'shared.c', content: `int shared_${randomUUID().slice(0, 8)}(int x) { return x + 1; }\n` }] };
    const built = async (auth: { Authorization: string }) => {
      const res = await kiln.http().post('/v1/jobs').set(auth).send({ source, targets: ['x86_64-linux-gnu'] });
      assert.equal(res.status, 202, JSON.stringify(res.body));
      const job = await waitForJob({ ...kiln, auth }, res.body.id);
      assert.equal(job.status, 'succeeded');
      return job;
    };
    const usage = async (auth: { Authorization: string }) => (await kiln.http().get('/v1/quotas').set(auth)).body.usage.storageBytes as number;
    const usageA = await usage(a);
    const mine = await built(a);
    const theirs = await built(b);
    // Equal bytes, stored once, referred to by both tenants' rows (no cache is shared: two compiles).
    const [ours, other] = [mine.builds[0].artifacts[0], theirs.builds[0].artifacts[0]];
    assert.equal(ours.sha256, other.sha256);
    const usageB = await usage(b);
    assert.equal(await usage(a), usageA + ours.size);

    assert.equal((await kiln.http().delete(`/v1/jobs/${mine.id}?purge=true`).set(a)).status, 204);
    assert.equal(await usage(a), usageA, 'A no longer pays for it');
    assert.equal(await usage(b), usageB, 'B still does');
    const bytes = await download({ ...kiln, auth: b }, other.id);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), other.sha256);
    // B's own deletion is refused for A's (deleted) job as for any unknown id, and B's job stays.
    assert.equal((await kiln.http().delete(`/v1/jobs/${mine.id}?purge=true`).set(b)).status, 404);
    assert.equal((await kiln.http().get(`/v1/jobs/${theirs.id}`).set(b)).status, 200);
  });

  it('each tenant has its own webhook signing secret', async () => {
    const sa = await kiln.http().get('/v1/webhooks/secret').set(a);
    const sb = await kiln.http().get('/v1/webhooks/secret').set(b);
    assert.equal(sa.status, 200);
    assert.equal(sb.status, 200);
    assert.notEqual(sa.body.secret, sb.body.secret);
    await kiln.http().post('/v1/webhooks/secret').set(b);
    assert.equal((await kiln.http().get('/v1/webhooks/secret').set(a)).body.secret, sa.body.secret, 'B rotating its secret leaves A\'s alone');
  });
});
