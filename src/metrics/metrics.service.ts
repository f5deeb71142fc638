import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { NextFunction, Request, Response } from 'express';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { DataSource } from 'typeorm';
import { EnqueueService } from '../queue/enqueue.service';
import { POOLS } from '../targets/catalog';

/**
 * Prometheus metrics of the API process. HTTP latency is observed per request; queue depth and
 * age are read from BullMQ, and build figures from PostgreSQL, when Prometheus scrapes, so they
 * hold for every worker without workers serving HTTP themselves.
 */
@Injectable()
export class MetricsService {
  private readonly logger = new Logger(MetricsService.name);
  readonly registry = new Registry();
  readonly http = new Histogram({
    name: 'kiln_http_request_duration_seconds',
    help: 'HTTP request latency, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly queues: EnqueueService,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'kiln_api_' });
    const self = this;
    new Gauge({
      name: 'kiln_queue_jobs',
      help: 'Jobs in each pool\'s queue, by state',
      labelNames: ['pool', 'state'] as const,
      registers: [this.registry],
      async collect() {
        await Promise.all(
          POOLS.map(async (pool) => {
            const counts = await self.queues.queue(pool).getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed');
            for (const [state, n] of Object.entries(counts)) this.set({ pool, state }, n);
          }),
        ).catch((e) => self.logger.warn(`queue metrics unavailable: ${(e as Error).message}`));
      },
    });
    new Gauge({
      name: 'kiln_queue_oldest_waiting_seconds',
      help: 'Age of the oldest job waiting in each pool\'s queue (0 when none waits)',
      labelNames: ['pool'] as const,
      registers: [this.registry],
      async collect() {
        await Promise.all(
          POOLS.map(async (pool) => {
            const [oldest] = await self.queues.queue(pool).getJobs(['waiting', 'prioritized'], 0, 0, true);
            this.set({ pool }, oldest ? Math.max(0, (Date.now() - oldest.timestamp) / 1000) : 0);
          }),
        ).catch(() => undefined);
      },
    });
    new Gauge({
      name: 'kiln_builds',
      help: 'Builds by status, target and toolchain (all time)',
      labelNames: ['status', 'target', 'toolchain'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows: { status: string; target: string; toolchain: string | null; n: number }[] = await self.db.query(
          `SELECT status, target->>'name' AS target, toolchain_key AS toolchain, count(*)::int AS n FROM builds GROUP BY 1, 2, 3`,
        );
        for (const r of rows) this.set({ status: r.status, target: r.target, toolchain: r.toolchain ?? 'none' }, r.n);
      },
    });
    new Gauge({
      name: 'kiln_build_duration_seconds',
      help: 'Build time from queued to finished over the last hour, by toolchain and target: quantiles 0.5, 0.95 and 0.99',
      labelNames: ['toolchain', 'target', 'quantile'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows: { toolchain: string; target: string; p50: number; p95: number; p99: number }[] = await self.db.query(
          `SELECT toolchain_key AS toolchain, target->>'name' AS target,
                  percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)) AS p50,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)) AS p95,
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at)) AS p99
             FROM builds WHERE finished_at > now() - interval '1 hour' AND toolchain_key IS NOT NULL GROUP BY 1, 2`,
        );
        for (const r of rows) {
          for (const [q, v] of [['0.5', r.p50], ['0.95', r.p95], ['0.99', r.p99]] as const) this.set({ toolchain: r.toolchain, target: r.target, quantile: q }, Number(v));
        }
      },
    });
    new Gauge({
      name: 'kiln_build_cache',
      help: 'Builds by build cache result (hit, miss, bypass), all time; the hit ratio is hit / (hit + miss)',
      labelNames: ['result'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows: { cache: string; n: number }[] = await self.db.query(`SELECT cache, count(*)::int AS n FROM builds WHERE cache IS NOT NULL GROUP BY 1`);
        for (const r of rows) this.set({ result: r.cache }, r.n);
      },
    });
    new Gauge({
      name: 'kiln_verifications',
      help: 'Verified builds by result (passed, failed, error), all time',
      labelNames: ['result'] as const,
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows: { result: string; n: number }[] = await self.db.query(`SELECT verification->>'status' AS result, count(*)::int AS n FROM builds WHERE verification IS NOT NULL GROUP BY 1`);
        for (const r of rows) this.set({ result: r.result }, r.n);
      },
    });
  }

  /** Express middleware timing every request, labelled by its route pattern (not its URL). */
  middleware() {
    return (req: Request, res: Response, next: NextFunction) => {
      const end = this.http.startTimer();
      res.on('finish', () => {
        const route = (req.route?.path as string | undefined) ?? (res.statusCode === 404 ? 'unmatched' : req.path.startsWith('/v1') ? 'unmatched' : 'static');
        end({ method: req.method, route: `${req.baseUrl ?? ''}${route}`, status: String(res.statusCode) });
      });
      next();
    };
  }
}
