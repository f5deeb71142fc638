import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { DataSource } from 'typeorm';
import { TenantAdmin } from '../scripts/tenant';
import { AuthService } from '../src/auth/auth.service';
import { collectGarbage, databaseReferences } from '../src/storage/gc';
import { OBJECT_STORE, objectKeys, ObjectStore } from '../src/storage/object-store';
import { CollectorBusyError, GC_LOCK, OBJECT_LOCK_SPACE, recordReferences, removeIfUnreferenced } from '../src/storage/references';
import { Kiln, startKiln } from './support/harness';

const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/**
 * The bookkeeping of stored objects against the real PostgreSQL and storage: the per-tenant
 * storage counter kept by triggers, the quota under concurrent uploads, and the locks that keep
 * the garbage collector from deleting an object a build or upload is recording a reference to.
 */
describe('stored objects: storage counter, quota, garbage collector locks', () => {
  let kiln: Kiln;
  let db: DataSource;
  let store: ObjectStore;
  let tenantA: string;
  let tenantB: string;

  before(async () => {
    kiln = await startKiln({ storage: 'fs', worker: false });
    db = kiln.api.get(DataSource);
    store = kiln.api.get<ObjectStore>(OBJECT_STORE);
    const auth = kiln.api.get(AuthService);
    tenantA = (await auth.ensureTenant('refs-a')).id;
    tenantB = (await auth.ensureTenant('refs-b')).id;
  });
  after(async () => {
    await kiln?.close();
  });

  /** What the counters must say, computed the slow way from every row. */
  async function recomputed(): Promise<{ refs: string; storage: string }> {
    const [refs] = await db.query(`
      SELECT COALESCE(json_agg(x ORDER BY x.storage_key, x.tenant_id)::text, '[]') AS v FROM (
        SELECT storage_key, tenant_id, max(size)::bigint AS size, count(*)::int AS refs
          FROM (SELECT storage_key, tenant_id, size FROM uploads UNION ALL SELECT storage_key, tenant_id, size FROM artifacts) r
         GROUP BY 1, 2) x`);
    const [kept] = await db.query(`SELECT COALESCE(json_agg(x ORDER BY x.storage_key, x.tenant_id)::text, '[]') AS v FROM (SELECT storage_key, tenant_id, size, refs FROM object_refs) x`);
    const [storage] = await db.query(`
      SELECT COALESCE(json_agg(x ORDER BY x.tenant_id)::text, '[]') AS v FROM (
        SELECT t.id AS tenant_id,
               (SELECT COALESCE(sum(size), 0) FROM (SELECT DISTINCT ON (storage_key) size FROM (
                  SELECT storage_key, size FROM uploads WHERE tenant_id = t.id UNION ALL SELECT storage_key, size FROM artifacts WHERE tenant_id = t.id) s) d)::bigint AS bytes
          FROM tenants t) x`);
    const [counted] = await db.query(`
      SELECT COALESCE(json_agg(x ORDER BY x.tenant_id)::text, '[]') AS v FROM (
        SELECT t.id AS tenant_id, COALESCE(s.bytes, 0)::bigint AS bytes FROM tenants t LEFT JOIN tenant_storage s ON s.tenant_id = t.id) x`);
    assert.equal(kept.v, refs.v, 'object_refs matches the rows');
    assert.equal(counted.v, storage.v, 'tenant_storage matches the rows');
    return { refs: refs.v, storage: storage.v };
  }

  it('keeps every tenant\'s stored bytes exact under concurrent writers, each shared object counted once', async () => {
    // Rows that refer to eight objects, some shared by both tenants, added and removed by 60
    // transactions at once, each touching its objects in a random order.
    const keys = Array.from({ length: 8 }, (_, i) => `cas/sha256/${i}0/${sha(`object ${i}`)}`);
    const size = (k: string) => 100 + keys.indexOf(k);
    const pick = () => [...keys].sort(() => Math.random() - 0.5).slice(0, 1 + Math.floor(Math.random() * 5));
    const insert = (tenant: string, ks: string[]) =>
      db.query(
        `INSERT INTO uploads (tenant_id, filename, content_type, size, sha256, storage_key)
         SELECT $1, 'f', 'application/octet-stream', s, repeat('a', 64), k FROM unnest($2::text[], $3::bigint[]) AS u(k, s)`,
        [tenant, ks, ks.map(size)],
      );
    for (let i = 0; i < 20; i++) await insert(i % 2 ? tenantA : tenantB, pick());
    await recomputed();
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 60; i++) {
      const tenant = i % 3 ? tenantA : tenantB;
      if (i % 4 === 3) {
        work.push(db.query(`DELETE FROM uploads WHERE id IN (SELECT id FROM uploads WHERE tenant_id = $1 AND storage_key = ANY($2) ORDER BY random() LIMIT 3)`, [tenant, pick()]));
      } else if (i % 4 === 2) {
        work.push(db.query(`DELETE FROM uploads WHERE id IN (SELECT id FROM uploads WHERE tenant_id = $1 ORDER BY random() LIMIT 2)`, [tenant]));
      } else {
        work.push(insert(tenant, pick()));
      }
    }
    const results = await Promise.allSettled(work);
    assert.deepEqual(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason)), [], 'no statement failed (no deadlock)');
    const { storage } = await recomputed();
    const bytes = (JSON.parse(storage) as { tenant_id: string; bytes: number }[]).find((x) => x.tenant_id === tenantA)!.bytes;
    const quota = await kiln.http().get('/v1/quotas').set({ Authorization: `Bearer ${(await kiln.api.get(AuthService).createKey(tenantA, 'q', ['read'])).secret}` });
    assert.equal(quota.body.usage.storageBytes, Number(bytes));
    // Removing every row brings both tenants back to nothing.
    await db.query(`DELETE FROM uploads WHERE tenant_id = ANY($1)`, [[tenantA, tenantB]]);
    await recomputed();
    assert.deepEqual(await db.query(`SELECT bytes::int FROM tenant_storage WHERE tenant_id = ANY($1)`, [[tenantA, tenantB]]), [{ bytes: 0 }, { bytes: 0 }]);
  });

  it('concurrent uploads cannot together pass the storage quota', async () => {
    const admin = await TenantAdmin.open(kiln.config);
    let key: string;
    try {
      key = (await admin.create('refs-quota', 'k', ['read', 'build'])).key.secret;
      await admin.setQuota('refs-quota', { storageBytes: 1000 });
    } finally {
      await admin.close();
    }
    const auth = { Authorization: `Bearer ${key}` };
    // Each of them, looked at alone, fits (300 of 1000 bytes); only three fit together.
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => kiln.http().post('/v1/uploads?filename=part.bin').set(auth).set('Content-Type', 'application/octet-stream').send(Buffer.alloc(300, i))),
    );
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 201, 201, 413, 413, 413, 413, 413], JSON.stringify(results.map((r) => r.body)));
    for (const r of results.filter((x) => x.status === 413)) assert.match(r.body.message, /the upload is 300 bytes, but the tenant stores \d+ of its 1000 bytes \(KILN_QUOTA_STORAGE_BYTES\)/);
    const quota = await kiln.http().get('/v1/quotas').set(auth);
    assert.equal(quota.body.usage.storageBytes, 900);
    // The refused uploads left no object behind.
    const tenant = (await db.query(`SELECT id FROM tenants WHERE name = 'refs-quota'`))[0].id as string;
    let stored = 0;
    for await (const o of store.list(`uploads/${tenant}/`)) stored += o.size;
    assert.equal(stored, 900);
    await recomputed();
  });

  /**
   * Waits until a session waits for one of these advisory locks: the other side of the race is
   * blocked now. (Without the locks nobody ever waits; after 2 s the race goes on unguarded and
   * the assertions after it fail.)
   */
  async function waitForLockWaiter(classid: number): Promise<void> {
    for (let i = 0; i < 80; i++) {
      const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND classid = $1::oid`, [classid]);
      if (n > 0) return;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** An object nothing refers to, written long ago: what the collector deletes. */
  async function orphan(text: string): Promise<{ key: string; local: string; bytes: Buffer }> {
    const bytes = Buffer.from(text);
    const key = objectKeys.content(sha(bytes));
    const local = join(kiln.env.KILN_WORK_DIR, '..', `orphan-${randomBytes(4).toString('hex')}`);
    await writeFile(local, bytes);
    await store.putFile(key, local, 'application/octet-stream');
    const old = new Date(Date.now() - 48 * 3600_000);
    await utimes(join(kiln.env.KILN_STORAGE_DIR, key), old, old);
    return { key, local, bytes };
  }

  const recordUpload = (tx: { query: DataSource['query'] }, key: string, size: number) =>
    tx.query(`INSERT INTO uploads (tenant_id, filename, content_type, size, sha256, storage_key) VALUES ($1, 'late.bin', 'application/octet-stream', $2, repeat('c', 64), $3)`, [tenantA, size, key]);

  it('the collector keeps an object whose reference is being recorded while it runs', async () => {
    const o = await orphan(`recorded while the collector runs ${randomBytes(4).toString('hex')}`);
    let gc: Promise<unknown> | null = null;
    await recordReferences(db, store, [{ key: o.key, localPath: o.local, contentType: 'application/octet-stream', size: o.bytes.length }], async (tx) => {
      // The collector lists the object while this reference is not committed yet...
      gc = collectGarbage(databaseReferences(db), store, { minAgeMs: 3600_000 });
      // ...and waits for the object's lock, which this recording holds until it commits.
      await waitForLockWaiter(OBJECT_LOCK_SPACE);
      await recordUpload(tx, o.key, o.bytes.length);
    });
    await gc;
    assert.deepEqual(await readFile(join(kiln.env.KILN_STORAGE_DIR, o.key)), o.bytes);
    // Once nothing refers to it, it goes.
    await db.query(`DELETE FROM uploads WHERE storage_key = $1`, [o.key]);
    const r = await collectGarbage(databaseReferences(db), store, { minAgeMs: 3600_000 });
    assert.ok(r.deleted >= 1);
    assert.equal(await store.stat(o.key), null);
  });

  it('a recording that loses the race to a deletion stores the object again', async () => {
    const o = await orphan(`deleted while a build records it ${randomBytes(4).toString('hex')}`);
    let recording: Promise<unknown> | null = null;
    const removed = await removeIfUnreferenced(db, o.key, async () => {
      // A build that stored these bytes a moment ago (found them stored) records its row now:
      // it waits for the lock this deletion holds.
      recording = recordReferences(db, store, [{ key: o.key, localPath: o.local, contentType: 'application/octet-stream', size: o.bytes.length }], (tx) => recordUpload(tx, o.key, o.bytes.length));
      await waitForLockWaiter(OBJECT_LOCK_SPACE);
      await store.delete(o.key);
    });
    assert.equal(removed, true);
    await recording;
    assert.deepEqual(await readFile(join(kiln.env.KILN_STORAGE_DIR, o.key)), o.bytes, 'the row refers to an object that is there');
    await db.query(`DELETE FROM uploads WHERE storage_key = $1`, [o.key]);
  });

  it('only one collection runs at a time; npm run gc says so and exits 1', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let listing!: () => void;
    const listed = new Promise<void>((r) => (listing = r));
    // A collection that is busy listing the store.
    const slow: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
      list: async function* (prefix: string) {
        listing();
        await gate;
        yield* store.list(prefix);
      },
    });
    const first = collectGarbage(databaseReferences(db), slow, { minAgeMs: 3600_000, dryRun: true });
    await listed;
    await assert.rejects(collectGarbage(databaseReferences(db), store, { minAgeMs: 3600_000, dryRun: true }), CollectorBusyError);
    const script = await promisify(execFile)(process.execPath, [join(__dirname, '../scripts/gc.js'), '--dry-run'], { env: { ...process.env, ...kiln.env } }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    assert.equal(script.code, 1);
    assert.match(script.stderr, /gc: another garbage collection is running/);
    release();
    await first;
    // The lock went with the first collection: the next one runs.
    const [{ held }] = await db.query(`SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::oid`, [GC_LOCK[0]]);
    assert.equal(held, 0);
    const { stdout } = await promisify(execFile)(process.execPath, [join(__dirname, '../scripts/gc.js'), '--dry-run'], { env: { ...process.env, ...kiln.env } });
    assert.match(stdout, /objects: \d+ referenced/);
  });
});
