import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { KILN_CONFIG, KilnConfig } from '../src/config/config';
import { EnqueueService } from '../src/queue/enqueue.service';
import { JobName, verifyJobId } from '../src/queue/queue.types';
import { REDIS } from '../src/queue/redis.module';
import { POOLS } from '../src/targets/catalog';
import { WorkerRegistry } from '../src/targets/worker-registry';
import type { VerificationReport } from '../src/verification/report';
import { MAX_DEVICE_WAIT_SECONDS, type VerifySpec } from '../src/verification/spec';

/**
 * Finds builds that wait for a queue entry that does not exist (the API stopped between
 * committing a job and queueing it, or Redis lost data) and queues them again, and ends the
 * device waits that ran out (see endDeviceWaits). One worker sweeps at a time (a Redis lock);
 * queueing is idempotent because queue job ids are build ids.
 */
@Injectable()
export class SweeperService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Sweeper');
  private timer: NodeJS.Timeout | null = null;

  constructor(
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(REDIS) private readonly redis: Redis,
    private readonly enqueuer: EnqueueService,
    private readonly registry: WorkerRegistry,
  ) {}

  onApplicationBootstrap(): void {
    const every = this.config.worker.sweepSeconds * 1000;
    this.timer = setInterval(() => this.sweep().catch((e) => this.logger.warn(`sweep failed: ${(e as Error).message}`)), every);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Returns how many builds were queued again. */
  async sweep(): Promise<number> {
    const lock = `${this.config.queuePrefix}:sweeper`;
    if ((await this.redis.set(lock, this.config.worker.id, 'PX', this.config.worker.sweepSeconds * 1000, 'NX')) !== 'OK') return 0;
    // Old enough that the API's own enqueue (right after its commit) is long done.
    const rows: { id: string; job_id: string; tenant_id: string; pool: string; verify_pool: string | null; status: string }[] = await this.db.query(
      `SELECT id, job_id, tenant_id, pool, verify_pool, status FROM builds
        WHERE (status = 'queued' OR (status = 'compiled' AND verify_pool IS NOT NULL))
          AND updated_at < now() - make_interval(secs => $1)
        ORDER BY updated_at LIMIT 500`,
      [this.config.worker.sweepSeconds * 2],
    );
    let requeued = 0;
    for (const b of rows) {
      const verify = b.status === 'compiled';
      const pool = verify ? b.verify_pool! : b.pool;
      if (!POOLS.includes(pool)) continue;
      const jobId = verify ? verifyJobId(b.id) : b.id;
      const queue = this.enqueuer.queue(pool);
      const existing = await queue.getJob(jobId);
      const state = existing ? await existing.getState() : 'missing';
      if (state !== 'missing' && state !== 'completed' && state !== 'failed' && state !== 'unknown') continue;
      if (existing) await existing.remove().catch(() => undefined);
      await this.enqueuer.enqueue([{ pool, name: verify ? JobName.VerifyBuild : JobName.CompileBuild, jobId, data: { buildId: b.id, jobId: b.job_id, tenantId: b.tenant_id } }]);
      this.logger.warn(`build ${b.id} was ${b.status} without a queue entry (${state}); queued it again on ${pool}`);
      requeued++;
    }
    await this.endDeviceWaits();
    return requeued;
  }

  /**
   * Compiled builds that have waited longer than their job's device wait (verify.deviceWaitSeconds,
   * else KILN_VERIFY_DEVICE_WAIT_SECONDS) while no live worker served their verify pool end now:
   * succeeded with their artifacts, and verification not-run, which says so. The wait counts from
   * when the build was compiled or its pool was last seen served, whichever is later, so a pool
   * whose one worker restarts does not lose its queue. A build a runner has taken is verifying,
   * not compiled, and is left alone; so is one whose pool a worker serves now (it waits its turn
   * in the queue). Returns how many ended.
   */
  async endDeviceWaits(): Promise<number> {
    const served = [...new Set((await this.registry.list()).flatMap((w) => w.pools))];
    const seenKey = (pool: string) => `${this.config.queuePrefix}:verify-pool-seen:${pool}`;
    if (served.length) {
      // Kept as long as the longest wait a job may ask for.
      const tx = this.redis.multi();
      for (const p of served) tx.set(seenKey(p), String(Date.now()), 'EX', MAX_DEVICE_WAIT_SECONDS + 3600);
      await tx.exec();
    }
    const rows: { id: string; job_id: string; verify_pool: string; verify: VerifySpec; wait_s: number; compiled_ms: string }[] = await this.db.query(
      `SELECT b.id, b.job_id, b.verify_pool, j.verify, COALESCE((j.verify->>'deviceWaitSeconds')::int, $1) AS wait_s,
              (extract(epoch FROM b.compiled_at) * 1000)::bigint AS compiled_ms
         FROM builds b JOIN jobs j ON j.id = b.job_id
        WHERE b.status = 'compiled' AND b.verify_pool IS NOT NULL AND b.compiled_at IS NOT NULL
          AND NOT (b.verify_pool = ANY($2::text[]))
          AND b.compiled_at < now() - make_interval(secs => COALESCE((j.verify->>'deviceWaitSeconds')::int, $1))
        ORDER BY b.compiled_at LIMIT 500`,
      [this.config.worker.deviceWaitSeconds, served],
    );
    if (rows.length === 0) return 0;
    const pools = [...new Set(rows.map((b) => b.verify_pool))];
    const seen = new Map(pools.map((p, i) => [p, i] as const));
    const lastSeen = await this.redis.mget(pools.map(seenKey));
    let ended = 0;
    for (const b of rows) {
      const waitedSince = Math.max(Number(b.compiled_ms), Number(lastSeen[seen.get(b.verify_pool)!] ?? 0));
      if (Date.now() - waitedSince < b.wait_s * 1000) continue;
      const summary = `not run: no device: no runner served pool "${b.verify_pool}" within ${b.wait_s} s (verify.deviceWaitSeconds), so the artifacts are delivered unverified`;
      const report: VerificationReport = { status: 'not-run', runner: b.verify_pool, worker: this.config.worker.id, kind: b.verify?.kind ?? 'kernel', summary, reference: '', seed: null, runMs: 0, outputs: [] };
      const done: { id: string }[] = await this.db.query(
        `WITH upd AS (
                UPDATE builds SET status = 'succeeded', status_reason = $2, verification = $3, finished_at = now(), updated_at = now()
                 WHERE id = $1 AND status = 'compiled' RETURNING id, job_id),
              ev AS (INSERT INTO build_events (build_id, job_id, from_status, to_status, worker, message)
                       SELECT id, job_id, 'compiled', 'succeeded', $4, $2 FROM upd)
         SELECT id FROM upd`,
        [b.id, summary, JSON.stringify(report), this.config.worker.id],
      );
      if (done.length === 0) continue;
      // The queue entry would wait for a runner for good; a runner that comes later would skip it anyway.
      const entry = await this.enqueuer.queue(b.verify_pool).getJob(verifyJobId(b.id));
      await entry?.remove().catch(() => undefined);
      this.logger.warn(`build ${b.id}: ${summary}`);
      ended++;
    }
    return ended;
  }
}
