import 'reflect-metadata';
import { ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataSource } from 'typeorm';
import { download, Kiln, startKiln } from '../test/support/harness';
import { freePort, PrivatePostgres, PrivateRedis } from '../test/support/servers';

/**
 * Chaos: N builds submitted (with Idempotency-Keys, retried on 503 as a client should) while
 * workers are killed at random and Redis and PostgreSQL (private servers) are restarted once
 * each. Every build must end in a terminal state with exactly one result, and every artifact's
 * stored bytes must match the sha256 the database holds.
 *
 *   npm run chaos -- [builds=200] [workers=3]
 */
export interface ChaosReport {
  builds: number;
  statuses: Record<string, number>;
  /** Why builds failed, and how many for each reason. */
  failures: Record<string, number>;
  workerKills: number;
  problems: string[];
  seconds: number;
}

const TARGETS = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'riscv64-linux-gnu', 'armv7-linux-gnueabihf'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runChaos(total: number, workerCount: number, log: (m: string) => void = console.log): Promise<ChaosReport> {
  const t0 = Date.now();
  const dir = await mkdtemp(join(tmpdir(), 'kiln-chaos-'));
  const redis = new PrivateRedis(await freePort(), dir);
  const pg = new PrivatePostgres(await freePort(), dir);
  await redis.start();
  await pg.init();
  await pg.start();
  let kiln: Kiln | null = null;
  const workers: ChildProcess[] = [];
  let kills = 0;
  try {
    kiln = await startKiln({ storage: 'fs', worker: false, adminDatabaseUrl: pg.adminUrl, env: { KILN_REDIS_URL: `redis://127.0.0.1:${redis.port}`, KILN_JOB_LOCK_MS: '3000', KILN_SWEEP_SECONDS: '2' } });
    const k = kiln;
    const spawnWorker = () => {
      const w = spawn(process.execPath, [join(__dirname, '../workers/main.js')], {
        env: { ...process.env, ...k.env, KILN_WORKER_ID: `chaos-${randomBytes(3).toString('hex')}`, KILN_POOLS: 'cpu', KILN_LOG_LEVEL: 'error', KILN_WORKER_CONCURRENCY: '2' },
        stdio: ['ignore', 'ignore', 'ignore'],
      });
      workers.push(w);
    };
    for (let i = 0; i < workerCount; i++) spawnWorker();

    const headers = { Authorization: `Bearer ${k.apiKey}`, 'Content-Type': 'application/json' };
    const jobIds: string[] = [];
    let submitted = 0;
    const submit = async (i: number) => {
      const body = JSON.stringify({ source: { language: 'c', files: [{ path: `c${i}.c`, content: `int f${i}(int x) { return x * ${i} + ${randomBytes(2).readUInt16LE(0)}; }\n` }], options: ['-O2'] }, targets: [TARGETS[i % TARGETS.length]], outputs: ['object', 'assembly'] });
      const key = `chaos-${i}-${randomBytes(4).toString('hex')}`;
      for (let attempt = 0; ; attempt++) {
        try {
          const res = await fetch(`${k.baseUrl}/v1/jobs`, { method: 'POST', headers: { ...headers, 'Idempotency-Key': key }, body, signal: AbortSignal.timeout(20_000) });
          if (res.status === 202 || res.status === 200) {
            jobIds[i] = ((await res.json()) as { id: string }).id;
            submitted++;
            return;
          }
          if (res.status !== 503 && res.status !== 429) throw new Error(`POST /v1/jobs answered ${res.status}: ${await res.text()}`);
        } catch (e) {
          if (attempt > 60) throw e;
        }
        await sleep(500);
      }
    };
    const submitting = (async () => {
      for (let i = 0; i < total; i += 10) await Promise.all(Array.from({ length: Math.min(10, total - i) }, (_, j) => submit(i + j)));
    })();

    // Chaos while builds run: a worker killed every 1.5 s, Redis and PostgreSQL restarted once.
    let restartedRedis = false;
    let restartedPg = false;
    const db = k.api.get(DataSource);
    const terminalCount = async () => {
      try {
        const [{ n }] = await db.query(`SELECT count(*)::int AS n FROM builds WHERE status IN ('succeeded','failed','canceled')`);
        return n as number;
      } catch {
        return -1;
      }
    };
    const deadline = Date.now() + Math.max(300_000, total * 3000);
    for (;;) {
      await sleep(1500);
      const live = workers.filter((w) => w.exitCode === null && w.signalCode === null);
      if (live.length) {
        live[Math.floor(Math.random() * live.length)].kill('SIGKILL');
        kills++;
        spawnWorker();
      }
      const done = await terminalCount();
      if (!restartedRedis && submitted >= total / 3) {
        log('restarting Redis');
        await redis.stop();
        await sleep(1000);
        await redis.start();
        restartedRedis = true;
      } else if (restartedRedis && !restartedPg && submitted >= (2 * total) / 3) {
        log('restarting PostgreSQL');
        await pg.stop();
        await sleep(1000);
        await pg.start();
        restartedPg = true;
      }
      log(`${submitted}/${total} submitted, ${done} finished, ${kills} workers killed`);
      if (submitted === total && done === total) break;
      if (Date.now() > deadline) break;
    }
    await submitting;
    // Let the last workers finish without more chaos.
    for (const until = Date.now() + 120_000; (await terminalCount()) < total && Date.now() < until; ) await sleep(500);

    const problems: string[] = [];
    const rows: { id: string; status: string; terminal_events: number; artifacts: number; names: number }[] = await db.query(
      `SELECT b.id, b.status,
              (SELECT count(*)::int FROM build_events e WHERE e.build_id = b.id AND e.to_status IN ('succeeded','failed','canceled')) AS terminal_events,
              (SELECT count(*)::int FROM artifacts a WHERE a.build_id = b.id) AS artifacts,
              (SELECT count(DISTINCT name)::int FROM artifacts a WHERE a.build_id = b.id) AS names
         FROM builds b`,
    );
    if (rows.length !== total) problems.push(`${rows.length} builds exist for ${total} submissions (an Idempotency-Key was not honoured)`);
    const statuses: Record<string, number> = {};
    for (const r of rows) {
      statuses[r.status] = (statuses[r.status] ?? 0) + 1;
      if (!['succeeded', 'failed', 'canceled'].includes(r.status)) problems.push(`build ${r.id} is still ${r.status}`);
      if (r.terminal_events !== 1) problems.push(`build ${r.id} has ${r.terminal_events} terminal events`);
      if (r.artifacts !== r.names) problems.push(`build ${r.id} has ${r.artifacts} artifacts for ${r.names} names`);
      if (r.status === 'succeeded' && r.artifacts !== 2) problems.push(`build ${r.id} succeeded with ${r.artifacts} artifacts, not 2`);
    }
    const failures: Record<string, number> = {};
    for (const f of (await db.query(`SELECT status_reason FROM builds WHERE status = 'failed'`)) as { status_reason: string | null }[]) {
      const why = (f.status_reason ?? 'no reason').replace(/[0-9a-f]{8}-[0-9a-f-]{27}/g, '<id>');
      failures[why] = (failures[why] ?? 0) + 1;
    }
    const artifacts: { id: string; sha256: string }[] = await db.query(`SELECT id, sha256 FROM artifacts`);
    for (const a of artifacts) {
      const bytes = await download(k, a.id);
      if (createHash('sha256').update(bytes).digest('hex') !== a.sha256) problems.push(`artifact ${a.id}: stored bytes do not match its sha256`);
    }
    return { builds: rows.length, statuses, failures, workerKills: kills, problems, seconds: Math.round((Date.now() - t0) / 1000) };
  } finally {
    for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
    await kiln?.close().catch(() => undefined);
    await pg.stop();
    await redis.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const total = Number(process.argv[2] ?? 200);
  const workerCount = Number(process.argv[3] ?? 3);
  runChaos(total, workerCount)
    .then((r) => {
      console.log(`chaos: ${r.builds} builds in ${r.seconds} s, ${r.workerKills} workers killed, Redis and PostgreSQL restarted once each`);
      console.log(`  statuses: ${JSON.stringify(r.statuses)}`);
      for (const [why, n] of Object.entries(r.failures)) console.log(`  failed (${n}): ${why}`);
      console.log(`  problems: ${r.problems.length ? `\n    ${r.problems.slice(0, 20).join('\n    ')}` : 'none'}`);
      process.exit(r.problems.length ? 1 : 0);
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
