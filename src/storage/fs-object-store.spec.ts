import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { FsObjectStore } from './fs-object-store';
import { objectKeys } from './object-store';

describe('FsObjectStore', () => {
  let dir: string;
  let store: FsObjectStore;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-fs-store-'));
    store = new FsObjectStore(join(dir, 'objects'));
    await store.init();
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('stores, reads, stats and deletes objects', async () => {
    const src = join(dir, 'a.txt');
    await writeFile(src, 'hello');
    const key = objectKeys.content('ab'.repeat(32));
    await store.putFile(key, src);
    assert.deepEqual(await store.stat(key), { size: 5 });
    assert.equal(await text(await store.get(key)), 'hello');
    assert.equal(await readFile(join(dir, 'objects', key), 'utf8'), 'hello');
    await store.delete(key);
    assert.equal(await store.stat(key), null);
    assert.equal(await store.downloadUrl(), null);
  });

  it('refuses keys that could leave its directory', async () => {
    for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a//b', 'UPPER']) {
      await assert.rejects(store.stat(key), /invalid object key/, key);
    }
  });
});
