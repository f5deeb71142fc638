import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { KILN_CONFIG, KilnConfig } from '../src/config/config';
import { EnqueueService } from '../src/queue/enqueue.service';
import { JobName, verifyJobId } from '../src/queue/queue.types';
import { REDIS } from '../src/queue/redis.module';
import { POOLS } from '../src/targets/catalog';

/**
 * Finds builds that wait for a queue entry that does not exist (the API stopped between
 * committing a job and queueing it, or Redis lost data) and queues them again. One worker
 * sweeps at a time (a Redis lock); queueing is idempotent because queue job ids are build ids.
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
    return requeued;
  }
}
