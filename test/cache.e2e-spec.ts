import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { JobView, Kiln, startKiln, waitForJob } from './support/harness';

type CachedBuild = JobView['builds'][number] & { cache: { status: string; from: string | null } | null; verification: { status: string } | null };

/** A fresh program each time, so earlier runs of the suite never make a hit. */
function program(): string {
  return `#include <stdio.h>\nint main(void) { puts("${randomBytes(8).toString('hex')}"); return 0; }\n`;
}

describe('the build cache', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs' });
  });
  after(async () => {
    await kiln?.close();
  });

  async function post(body: object): Promise<{ id: string; status: string; builds: CachedBuild[] }> {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send(body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body;
  }
  const builds = async (id: string) => (await waitForJob(kiln, id)).builds as CachedBuild[];

  it('reuses a succeeded build for the same input: done at once, same bytes, and says so', async () => {
    const body = { source: { language: 'c', files: [{ path: 'main.c', content: program() }], options: ['-O2'] }, targets: ['x86_64-linux-gnu', 'rpi4'], outputs: ['object', 'executable'] };
    const first = await builds((await post(body)).id);
    assert.deepEqual(first.map((b) => [b.status, b.cache?.status]), [['succeeded', 'miss'], ['succeeded', 'miss']]);

    const again = await post(body);
    // Answered from the cache by the API itself: succeeded in the 202, nothing queued.
    assert.equal(again.status, 'succeeded');
    for (const [i, b] of again.builds.entries()) {
      assert.deepEqual(b.cache, { status: 'hit', from: first[i].id });
      assert.deepEqual(b.toolchain, first[i].toolchain);
      assert.deepEqual(b.artifacts.map((a) => [a.kind, a.name, a.sha256]), first[i].artifacts.map((a) => [a.kind, a.name, a.sha256]));
      assert.notDeepEqual(b.artifacts.map((a) => a.id), first[i].artifacts.map((a) => a.id));
      assert.match((b.events.at(-1) as { message?: string }).message ?? '', /from the build cache/);
      const bytes = await kiln.http().get(`/v1/artifacts/${b.artifacts[0].id}/content`).set(kiln.auth);
      assert.equal(bytes.status, 200);
      assert.deepEqual(b.events.map((e) => [e.from, e.to]), [[null, 'queued'], ['queued', 'succeeded']]);
    }
    // The 202 shows the job as it is recorded.
    const read = await kiln.http().get(`/v1/jobs/${again.id}`).set(kiln.auth);
    assert.deepEqual(read.body, again);
  });

  it('copies the hits of a job that also has builds to make, and queues the rest', async () => {
    const content = `/* größe */\n${program()}`;
    const source = { language: 'c', files: [{ path: 'main.c', content }], options: ['-O2'] };
    const [first] = await builds((await post({ source, targets: ['x86_64-linux-gnu'] })).id);
    const mixed = (await post({ source, targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu'] })) as unknown as { id: string; builds: CachedBuild[]; source: { files: { path: string; size: number }[] } };
    // Answers give each file's size in bytes, not its text.
    assert.deepEqual(mixed.source.files, [{ path: 'main.c', size: Buffer.byteLength(content) }]);
    assert.deepEqual([mixed.builds[0].status, mixed.builds[0].cache?.status], ['succeeded', 'hit']);
    assert.ok(['queued', 'compiling'].includes(mixed.builds[1].status), mixed.builds[1].status);
    assert.equal(mixed.builds[0].cache?.from, first.id);
    const done = await builds(mixed.id);
    assert.deepEqual(done.map((b) => [b.status, b.cache?.status]), [['succeeded', 'hit'], ['succeeded', 'miss']]);
  });

  it('misses on any change that matters, and bypass compiles again', async () => {
    const src = program();
    const body = { source: { language: 'c', files: [{ path: 'main.c', content: src }], options: ['-O2'] }, targets: ['x86_64-linux-gnu'] };
    await builds((await post(body)).id);
    for (const changed of [
      { ...body, source: { ...body.source, options: ['-O3'] } },
      { ...body, targets: ['x86-64-v3'] },
      { ...body, outputs: ['assembly'] },
      { ...body, source: { ...body.source, files: [{ path: 'main.c', content: `${src}\n` }] } },
    ]) {
      const [b] = await builds((await post(changed)).id);
      assert.equal(b.cache?.status, 'miss', JSON.stringify(changed));
    }
    const bypassed = await post({ ...body, cache: 'bypass' });
    assert.ok(['queued', 'compiling'].includes(bypassed.builds[0].status), bypassed.builds[0].status);
    const [b] = await builds(bypassed.id);
    assert.deepEqual(b.cache, { status: 'bypass', from: null });
    assert.equal(b.status, 'succeeded');
  });

  it('compiles identical builds that arrive together once', async () => {
    const body = { source: { language: 'c', files: [{ path: 'main.c', content: program() }] }, targets: ['riscv64-linux-gnu'] };
    const [a, b] = await Promise.all([post(body), post(body)]);
    const [ba] = await builds(a.id);
    const [bb] = await builds(b.id);
    assert.equal(ba.status, 'succeeded');
    assert.equal(bb.status, 'succeeded');
    const statuses = [ba.cache?.status, bb.cache?.status].sort();
    assert.deepEqual(statuses, ['hit', 'miss'], JSON.stringify([ba.cache, bb.cache]));
  });

  it('reuses a verified build with its verification report', async () => {
    const body = { source: { language: 'c', files: [{ path: 'main.c', content: program() }] }, targets: ['aarch64-linux-gnu'], verify: true };
    const [first] = await builds((await post(body)).id);
    assert.equal(first.status, 'succeeded', JSON.stringify(first.statusReason));
    assert.equal(first.verification?.status, 'passed');
    const again = await post(body);
    assert.equal(again.builds[0].cache?.status, 'hit');
    assert.equal(again.builds[0].verification?.status, 'passed');
  });

  it('does not reuse a failed build', async () => {
    const body = { source: { language: 'c', files: [{ path: 'bad.c', content: `int x = ${randomBytes(4).toString('hex')}y;` }] }, targets: ['x86_64-linux-gnu'] };
    const [first] = await builds((await post(body)).id);
    assert.equal(first.status, 'failed');
    const [second] = await builds((await post(body)).id);
    assert.equal(second.status, 'failed');
    assert.equal(second.cache?.status, 'miss');
  });
});
