import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Client } from 'pg';
import { Kiln, startKiln } from './support/harness';
import { readEvents } from './support/sse';

const SOURCE = { language: 'c', files: [{ path: 'a.c', content: 'int f(void) { return 1; }\n' }] };

/**
 * A job's build events are numbered in the order their transactions commit, so an event stream
 * that reads "after the last id it sent" never skips one that committed late. Proved with the
 * database directly: transactions that record events for the same job at once, committed in the
 * reverse of the order they started, while streams read the job.
 */
describe('build events of a job are numbered in commit order', () => {
  let kiln: Kiln;
  const clients: Client[] = [];
  before(async () => {
    kiln = await startKiln({ worker: false });
  });
  after(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    await kiln?.close();
  });

  async function connect(): Promise<Client> {
    const c = new Client({ connectionString: kiln.config.databaseUrl });
    await c.connect();
    clients.push(c);
    return c;
  }

  async function newJob(targets: string[]): Promise<{ id: string; builds: string[] }> {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: SOURCE, targets });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return { id: res.body.id, builds: res.body.builds.map((b: { id: string }) => b.id) };
  }

  const INSERT = `INSERT INTO build_events (build_id, job_id, from_status, to_status, message) VALUES ($1, $2, 'queued', 'compiling', $3) RETURNING id`;

  it('an event whose transaction started later waits for the earlier one, and gets the higher id', async () => {
    const job = await newJob(['x86_64-linux-gnu', 'aarch64-linux-gnu']);
    const [first, second] = [await connect(), await connect()];
    await first.query('BEGIN');
    const a = Number((await first.query(INSERT, [job.builds[0], job.id, 'first'])).rows[0].id);
    await second.query('BEGIN');
    let done = false;
    const pending = second.query(INSERT, [job.builds[1], job.id, 'second']).then((r) => {
      done = true;
      return Number(r.rows[0].id);
    });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(done, false, 'the second insert waits while the first transaction is open');
    await first.query('COMMIT');
    const b = await pending;
    await second.query('COMMIT');
    assert.ok(b > a, `${b} after ${a}`);
    // Another job's events do not wait for this one's.
    const other = await newJob(['x86_64-linux-gnu']);
    await first.query('BEGIN');
    await first.query(INSERT, [job.builds[0], job.id, 'held']);
    const t0 = Date.now();
    await second.query(INSERT, [other.builds[0], other.id, 'free']);
    assert.ok(Date.now() - t0 < 250, 'no wait across jobs');
    await first.query('ROLLBACK');
  });

  it('under load, every stream of the job sees every committed event, in order, before its end', async () => {
    const TXNS = 24;
    const job = await newJob(['x86_64-linux-gnu', 'aarch64-linux-gnu', 'riscv64-linux-gnu']);
    const conns = await Promise.all(Array.from({ length: 8 }, () => connect()));
    // Streams that read while the events are written: some from the start, some after a while.
    const streams = [readEvents(kiln, `/v1/jobs/${job.id}/events`), readEvents(kiln, `/v1/jobs/${job.id}/events`)];
    const late = new Promise<ReturnType<typeof readEvents>>((r) => setTimeout(() => r(readEvents(kiln, `/v1/jobs/${job.id}/events`)), 400));
    for (let round = 0; round < TXNS / conns.length; round++) {
      // Each connection opens a transaction and records an event, in turn; the commits are sent in the
      // reverse order, a few milliseconds apart (each connection runs its COMMIT after its INSERT).
      await Promise.all(conns.map((c) => c.query('BEGIN')));
      const work: Promise<unknown>[] = [];
      for (const [i, c] of conns.entries()) {
        work.push(c.query(INSERT, [job.builds[i % job.builds.length], job.id, `round ${round}, ${i}`]));
        await new Promise((r) => setTimeout(r, 2));
      }
      for (const c of [...conns].reverse()) {
        work.push(c.query('COMMIT'));
        await new Promise((r) => setTimeout(r, 5));
      }
      await Promise.all(work);
    }
    // Then every build finishes, each in a transaction of its own with its event (as the workers do).
    await Promise.all(
      job.builds.map((id, i) =>
        conns[i].query(
          `WITH upd AS (UPDATE builds SET status = 'canceled', finished_at = now() WHERE id = $1 RETURNING id, job_id)
           INSERT INTO build_events (build_id, job_id, from_status, to_status, message) SELECT id, job_id, 'queued', 'canceled', 'done' FROM upd`,
          [id],
        ),
      ),
    );
    const all = [...(await Promise.all(streams)), await (await late)];
    const committed = (await conns[0].query(`SELECT id FROM build_events WHERE job_id = $1 ORDER BY id`, [job.id])).rows.map((r) => String(r.id));
    assert.equal(committed.length, job.builds.length + TXNS + job.builds.length, 'the creation, the load and the ends');
    for (const events of all) {
      const builds = events.filter((e) => e.event === 'build').map((e) => e.id);
      assert.deepEqual(builds, committed, 'every committed event, once, in id order');
      assert.equal(events[events.length - 1].event, 'end');
    }
  });
});
