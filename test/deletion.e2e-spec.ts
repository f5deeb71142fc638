import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { DataSource } from 'typeorm';
import { OBJECT_STORE, ObjectStore } from '../src/storage/object-store';
import { Kiln, startKiln } from './support/harness';
import { tarOf } from './support/archives';

/**
 * A tenant deletes its uploads, against the real PostgreSQL and storage: rows, stored objects
 * and the storage usage all follow.
 */
describe('deleting uploads', () => {
  let kiln: Kiln;
  let db: DataSource;
  let store: ObjectStore;

  before(async () => {
    // No worker: jobs stay unfinished.
    kiln = await startKiln({ storage: 'fs', worker: false });
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
});
