import type { JobsOptions } from 'bullmq';
import type { WebhookConfig } from '../config/config';

/**
 * Webhooks have a BullMQ queue of their own, consumed by the workers (KILN_WEBHOOK_CONCURRENCY),
 * so a delivery that waits for its next retry survives restarts of every process.
 */
export const WEBHOOK_QUEUE = 'webhooks';
export const WEBHOOK_JOB = 'deliver-webhook';

/** The events Kiln sends. A job's webhook is sent once, when every build has finished. */
export const WEBHOOK_EVENTS = ['job.finished'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface WebhookPayload {
  eventId: string;
  event: WebhookEvent;
  jobId: string;
  tenantId: string;
  url: string;
  /** The exact JSON body, the same in every attempt. */
  body: string;
}

export function webhookJobOptions(config: WebhookConfig): JobsOptions {
  return {
    attempts: config.maxAttempts,
    backoff: { type: 'exponential', delay: config.backoffMs },
    removeOnComplete: { age: 7 * 24 * 3600 },
    removeOnFail: { age: 30 * 24 * 3600 },
  };
}

/** When BullMQ's exponential backoff runs the attempt after `attempt` (1-based). */
export function nextRetryDelayMs(config: WebhookConfig, attempt: number): number {
  return config.backoffMs * 2 ** (attempt - 1);
}
