import { randomUUID } from 'node:crypto';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';
import { KILN_CONFIG, KilnConfig } from '../../src/config/config';
import { deriveJobStatus, type BuildStatus } from '../../src/jobs/build-status';
import { WEBHOOK_JOB, WEBHOOK_QUEUE, webhookJobOptions, WebhookPayload } from '../../src/webhooks/webhook-queue';

const SCAN_MS = 1000;
const BATCH = 50;

interface FinishedJob {
  id: string;
  tenant_id: string;
  callback_url: string;
  created_at: Date;
}

interface BuildRow {
  job_id: string;
  id: string;
  target_name: string;
  status: BuildStatus;
  status_reason: string | null;
  finished_at: Date | null;
}

/** The JSON body of a job.finished event. */
export function jobFinishedBody(eventId: string, job: FinishedJob, builds: BuildRow[], now: Date): string {
  const finishedAt = builds.reduce<Date | null>((m, b) => (b.finished_at && (!m || b.finished_at > m) ? b.finished_at : m), null);
  return JSON.stringify({
    id: eventId,
    type: 'job.finished',
    createdAt: now.toISOString(),
    data: {
      job: {
        id: job.id,
        status: deriveJobStatus(builds.map((b) => b.status)),
        createdAt: new Date(job.created_at).toISOString(),
        finishedAt: finishedAt ? new Date(finishedAt).toISOString() : null,
        url: `/v1/jobs/${job.id}`,
        builds: builds.map((b) => ({ id: b.id, target: b.target_name, status: b.status, statusReason: b.status_reason })),
      },
    },
  });
}

/**
 * Finds jobs with a callback URL whose builds have all finished, however they finished (a
 * worker's result, a failure recorded after retries, a cancel through the API), and puts one
 * delivery per job on the webhooks queue. It reads the database, not events in memory, so a job
 * that finishes while no worker runs is still announced once one starts. Several workers may
 * scan at once: rows are claimed with SKIP LOCKED, and the queue entry's id is the job's, so a
 * job is queued once.
 */
@Injectable()
export class WebhookDispatcher implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WebhookDispatcher.name);
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectQueue(WEBHOOK_QUEUE) private readonly queue: Queue<WebhookPayload>,
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
  ) {}

  onApplicationBootstrap(): void {
    const loop = async () => {
      this.running = this.scan().then(
        () => undefined,
        (e) => this.logger.warn(`webhook scan: ${(e as Error).message}`),
      );
      await this.running;
      if (!this.stopped) this.timer = setTimeout(loop, SCAN_MS);
    };
    void loop();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass; returns how many jobs it queued. */
  async scan(): Promise<number> {
    // Most scans find nothing: a plain look first, and the locking transaction (three round
    // trips) only when there is something to claim.
    const due: unknown[] = await this.db.query(
      `SELECT 1 FROM jobs j
        WHERE j.callback_url IS NOT NULL AND j.webhook_scheduled_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM builds b WHERE b.job_id = j.id AND b.status NOT IN ('succeeded','failed','canceled'))
        LIMIT 1`,
    );
    if (due.length === 0) return 0;
    return this.db.transaction(async (tx) => {
      const jobs: FinishedJob[] = await tx.query(
        `SELECT j.id, j.tenant_id, j.callback_url, j.created_at FROM jobs j
          WHERE j.callback_url IS NOT NULL AND j.webhook_scheduled_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM builds b WHERE b.job_id = j.id AND b.status NOT IN ('succeeded','failed','canceled'))
          ORDER BY j.created_at LIMIT ${BATCH} FOR UPDATE OF j SKIP LOCKED`,
      );
      if (jobs.length === 0) return 0;
      const ids = jobs.map((j) => j.id);
      const builds: BuildRow[] = await tx.query(
        `SELECT job_id, id, target_name, status, status_reason, finished_at FROM builds WHERE job_id = ANY($1) ORDER BY job_id, position`,
        [ids],
      );
      const now = new Date();
      await this.queue.addBulk(
        jobs.map((j) => {
          const eventId = randomUUID();
          const data: WebhookPayload = { eventId, event: 'job.finished', jobId: j.id, tenantId: j.tenant_id, url: j.callback_url, body: jobFinishedBody(eventId, j, builds.filter((b) => b.job_id === j.id), now) };
          return { name: WEBHOOK_JOB, data, opts: { ...webhookJobOptions(this.config.webhooks), jobId: `job-${j.id}` } };
        }),
      );
      await tx.query(`UPDATE jobs SET webhook_scheduled_at = now() WHERE id = ANY($1)`, [ids]);
      return jobs.length;
    });
  }
}
