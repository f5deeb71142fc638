import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { OBJECT_STORE, ObjectStore } from '../src/storage/object-store';
import { collectGarbage, databaseReferences } from '../src/storage/gc';
import { binaryParser, download, ELF_MACHINE, elfMachine, Kiln, startKiln, waitForJob } from './support/harness';

describe('jobs end to end (S3 storage)', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 's3' });
  });
  after(async () => {
    await kiln?.close();
  });

  it('stores uploads and artifacts in the bucket and hands out short-lived download links', async () => {
    const up = await kiln
      .http()
      .post('/v1/uploads?filename=saxpy.c')
      .set(kiln.auth)
      .set('Content-Type', 'text/x-c')
      .send(Buffer.from('void saxpy(int n, float a, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] += a * x[i]; }\n'));
    assert.equal(up.status, 201, JSON.stringify(up.body));

    const targets = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'riscv64-linux-gnu', 'armv7-linux-gnueabihf', 'wasm32-wasi'];
    const res = await kiln
      .http()
      .post('/v1/jobs')
      .set(kiln.auth)
      .send({ source: { language: 'c', files: [{ path: 'saxpy.c', uploadId: up.body.id }], options: ['-O3'] }, targets, outputs: ['object'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => b.statusReason)));

    const machines = [ELF_MACHINE.x86_64, ELF_MACHINE.aarch64, ELF_MACHINE.riscv, ELF_MACHINE.arm];
    for (const [i, build] of job.builds.entries()) {
      const [obj] = build.artifacts;
      const redirect = await kiln.http().get(`/v1/artifacts/${obj.id}/content`).set(kiln.auth).redirects(0);
      assert.equal(redirect.status, 302);
      const url = new URL(redirect.headers.location);
      assert.equal(url.hostname, '127.0.0.1');
      assert.ok(url.searchParams.get('X-Amz-Expires'), 'the link is signed and expires');
      assert.equal(url.searchParams.get('X-Amz-Expires'), String(kiln.config.downloadUrlTtlSeconds));
      const bytes = await download(kiln, obj.id);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), obj.sha256);
      if (i < 4) assert.equal(elfMachine(bytes), machines[i]);
      else assert.equal(bytes.subarray(0, 4).toString('latin1'), '\0asm');
      // Streaming through the API gives the same bytes.
      const streamed = await kiln.http().get(`/v1/artifacts/${obj.id}/content?redirect=false`).set(kiln.auth).buffer(true);
      assert.equal(streamed.status, 200);
      assert.equal(streamed.headers['x-content-sha256'], obj.sha256);
      // A byte range is read from the bucket as a range.
      const part = await kiln.http().get(`/v1/artifacts/${obj.id}/content?redirect=false`).set(kiln.auth).set('Range', 'bytes=1-8').buffer(true).parse(binaryParser);
      assert.equal(part.status, 206);
      assert.equal(part.headers['content-range'], `bytes 1-8/${obj.size}`);
      assert.deepEqual(part.body, bytes.subarray(1, 9));
    }
    const ready = await kiln.http().get('/readyz');
    assert.equal(ready.body.info.storage.driver, 's3');
  });

  it('lists what the bucket holds, for garbage collection, and nothing referenced is collected', async () => {
    const store = kiln.api.get<ObjectStore>(OBJECT_STORE);
    const listed: string[] = [];
    for await (const o of store.list('cas/')) {
      assert.ok(o.size > 0 && o.modified instanceof Date);
      listed.push(o.key);
    }
    const db = kiln.api.get(DataSource);
    const keys: { storage_key: string }[] = await db.query(`SELECT DISTINCT storage_key FROM artifacts`);
    assert.ok(keys.length > 0);
    for (const k of keys) assert.ok(listed.includes(k.storage_key), k.storage_key);
    const r = await collectGarbage(databaseReferences(db), store, { minAgeMs: 0 });
    assert.equal(r.deleted, 0);
    assert.equal(r.kept, r.scanned);
  });
});
