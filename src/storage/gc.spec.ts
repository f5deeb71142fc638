import { strict as assert } from 'node:assert';
import { mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FsObjectStore } from './fs-object-store';
import { collectGarbage, type ObjectReferences } from './gc';

describe('collectGarbage', () => {
  let dir: string;
  let store: FsObjectStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-gc-'));
    store = new FsObjectStore(join(dir, 'objects'));
    await store.init();
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('deletes old objects nothing refers to, and keeps referenced and young ones', async () => {
    const put = async (key: string, text: string, ageHours: number) => {
      const f = join(dir, 'f');
      await writeFile(f, text);
      await store.putFile(key, f);
      const t = new Date(Date.now() - ageHours * 3600_000);
      await utimes(join(dir, 'objects', key), t, t);
    };
    await put(`cas/sha256/aa/${'a'.repeat(64)}`, 'referenced by an artifact', 48);
    await put(`cas/sha256/bb/${'b'.repeat(64)}`, 'orphan', 48);
    await put(`cas/sha256/cc/${'c'.repeat(64)}`, 'orphan but young', 0);
    await put('uploads/t1/u1', 'referenced by an upload', 48);
    await put('uploads/t1/u2', 'orphan upload', 48);
    // The database's answers, as PostgreSQL would give them (test/storage.e2e-spec.ts runs the real ones).
    const referenced = new Set([`cas/sha256/aa/${'a'.repeat(64)}`, 'uploads/t1/u1']);
    const refs = {
      referenced: async (keys: string[]) => new Set(keys.filter((k) => referenced.has(k))),
      removeIfUnreferenced: async (key: string, remove: () => Promise<void>) => (referenced.has(key) ? false : (await remove(), true)),
      exclusively: <T>(fn: () => Promise<T>) => fn(),
    };
    const dry = await collectGarbage(refs, store, { minAgeMs: 3600_000, dryRun: true });
    assert.deepEqual(dry, { scanned: 5, kept: 2, young: 1, deleted: 2, deletedBytes: 'orphan'.length + 'orphan upload'.length });
    assert.notEqual(await store.stat(`cas/sha256/bb/${'b'.repeat(64)}`), null, 'a dry run deletes nothing');
    const r = await collectGarbage(refs, store, { minAgeMs: 3600_000 });
    assert.equal(r.deleted, 2);
    assert.equal(await store.stat(`cas/sha256/bb/${'b'.repeat(64)}`), null);
    assert.equal(await store.stat('uploads/t1/u2'), null);
    assert.notEqual(await store.stat(`cas/sha256/aa/${'a'.repeat(64)}`), null);
    assert.notEqual(await store.stat(`cas/sha256/cc/${'c'.repeat(64)}`), null);
    assert.notEqual(await store.stat('uploads/t1/u1'), null);
  });

  it('keeps an object a reference was recorded to between the listing and the delete', async () => {
    const key = `cas/sha256/dd/${'d'.repeat(64)}`;
    const f = join(dir, 'late');
    await writeFile(f, 'referenced late');
    await store.putFile(key, f);
    const t = new Date(Date.now() - 48 * 3600_000);
    await utimes(join(dir, 'objects', key), t, t);
    const refs: ObjectReferences = {
      referenced: async () => new Set(), // at listing time, nothing refers to it...
      removeIfUnreferenced: async () => false, // ...but under its lock, a build's row does
      exclusively: (fn) => fn(),
    };
    const r = await collectGarbage(refs, store, { minAgeMs: 3600_000 });
    assert.equal(r.deleted, 0);
    assert.ok(r.kept >= 1);
    assert.notEqual(await store.stat(key), null);
  });

  it('runs nothing when another collection holds the lock', async () => {
    const busy: ObjectReferences = {
      referenced: async () => assert.fail('listed while another collection runs'),
      removeIfUnreferenced: async () => assert.fail('deleted while another collection runs'),
      exclusively: async () => {
        throw new Error('another garbage collection is running');
      },
    };
    await assert.rejects(collectGarbage(busy, store, { minAgeMs: 0 }), /another garbage collection is running/);
  });
});
