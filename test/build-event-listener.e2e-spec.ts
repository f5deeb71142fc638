import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { BuildEventListener } from '../src/jobs/build-event-listener';
import { Kiln, startKiln } from './support/harness';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('build event notifications', () => {
  let kiln: Kiln;
  let listener: BuildEventListener;
  before(async () => {
    kiln = await startKiln({ storage: 'fs', worker: false });
    listener = kiln.api.get(BuildEventListener);
    while (!listener.live) await sleep(20);
  });
  after(async () => {
    await kiln?.close();
  });

  const createJob = async (): Promise<string> => {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'a.c', content: 'int f(void) { return 1; }\n' }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id;
  };

  it('wakes the subscribers of a job when its build events are committed', async () => {
    const id = await createJob();
    const woken = new Promise<void>((resolve) => {
      const unsubscribe = listener.subscribe(id, () => {
        unsubscribe();
        resolve();
      });
    });
    // No worker: the build waits; canceling it records an event.
    assert.equal((await kiln.http().delete(`/v1/jobs/${id}`).set(kiln.auth)).status, 200);
    await woken;
  });

  it('listens again after losing its connection, and wakes every stream then', async () => {
    const id = await createJob();
    let wakes = 0;
    const unsubscribe = listener.subscribe(id, () => wakes++);
    const admin = new Client({ connectionString: kiln.config.databaseUrl });
    await admin.connect();
    try {
      const killed = await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN %'`);
      assert.equal(killed.rowCount, 1);
      while (wakes === 0) await sleep(20);
      while (!listener.live) await sleep(20);
    } finally {
      await admin.end();
    }
    // Listening again: a new event is heard.
    const before = wakes;
    assert.equal((await kiln.http().delete(`/v1/jobs/${id}`).set(kiln.auth)).status, 200);
    while (wakes === before) await sleep(20);
    unsubscribe();
  });
});
