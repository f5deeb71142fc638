import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap, Type } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Job as QueueJob, UnrecoverableError } from 'bullmq';
import { Repository } from 'typeorm';
import { KILN_CONFIG, KilnConfig } from '../../src/config/config';
import { WebhookDelivery } from '../../src/database/entities';
import { deliverWebhook } from '../../src/webhooks/deliver';
import { nextRetryDelayMs, WEBHOOK_JOB, WEBHOOK_QUEUE, WebhookPayload } from '../../src/webhooks/webhook-queue';
import { WebhooksService } from '../../src/webhooks/webhooks.service';

/**
 * Makes the consumer of the webhooks queue: one signed POST per attempt, each attempt recorded;
 * a failed attempt is retried by BullMQ with exponential backoff until KILN_WEBHOOK_MAX_ATTEMPTS.
 */
export function makeWebhookProcessor(concurrency: number): Type<WorkerHost> {
  @Processor(WEBHOOK_QUEUE, { concurrency, autorun: false })
  class WebhookProcessor extends WorkerHost implements OnApplicationBootstrap {
    readonly logger = new Logger('Webhooks');

    constructor(
      readonly webhooks: WebhooksService,
      @InjectRepository(WebhookDelivery) readonly deliveries: Repository<WebhookDelivery>,
      @Inject(KILN_CONFIG) readonly config: KilnConfig,
    ) {
      super();
    }

    onApplicationBootstrap(): void {
      this.worker.run().catch((e) => this.logger.error(`the webhooks consumer stopped: ${(e as Error).message}`));
    }

    async process(job: QueueJob<WebhookPayload>): Promise<void> {
      if (job.name !== WEBHOOK_JOB) throw new UnrecoverableError(`job type "${job.name}" does not belong on the webhooks queue`);
      const p = job.data;
      // The tenant deleted the job (DELETE /v1/jobs/{id}?purge=true) after it finished: its
      // result is gone, and so is what an attempt would be recorded against. Nothing is sent.
      const [exists] = await this.deliveries.manager.query(`SELECT 1 FROM jobs WHERE id = $1`, [p.jobId]);
      if (!exists) {
        this.logger.log(`webhook ${p.eventId}: job ${p.jobId} was deleted; not sent`);
        return;
      }
      const attempt = job.attemptsMade + 1;
      const max = job.opts.attempts ?? 1;
      const { secret } = await this.webhooks.secret(p.tenantId);
      const result = await deliverWebhook({ url: p.url, eventId: p.eventId, event: p.event, body: p.body, secret, timeoutMs: this.config.webhooks.timeoutMs, allowPrivate: this.config.webhooks.allowPrivate });
      const last = attempt >= max;
      await this.deliveries.insert({
        tenantId: p.tenantId,
        jobId: p.jobId,
        eventId: p.eventId,
        event: p.event,
        url: p.url,
        attempt,
        status: result.ok ? 'delivered' : last ? 'failed' : 'retrying',
        statusCode: result.statusCode,
        error: result.error?.slice(0, 1000) ?? null,
        durationMs: result.durationMs,
        nextRetryAt: result.ok || last ? null : new Date(Date.now() + nextRetryDelayMs(this.config.webhooks, attempt)),
      });
      if (!result.ok) {
        if (last) this.logger.warn(`webhook ${p.eventId} of job ${p.jobId} to ${p.url} failed ${attempt} times; giving up: ${result.error}`);
        throw new Error(result.error ?? 'delivery failed');
      }
    }
  }
  return WebhookProcessor;
}
