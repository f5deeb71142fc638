import { Column, Entity, Index, PrimaryGeneratedColumn } from 'typeorm';

export type WebhookDeliveryStatus = 'delivered' | 'retrying' | 'failed';

/** One attempt to deliver one webhook event. Append-only. */
@Entity('webhook_deliveries')
@Index(['jobId', 'attemptedAt'])
export class WebhookDelivery {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'job_id', type: 'uuid' })
  jobId: string;

  /** The event's id, the same in every attempt (the body's "id"): receivers deduplicate on it. */
  @Column({ name: 'event_id', type: 'uuid' })
  eventId: string;

  @Column({ type: 'text' })
  event: string;

  @Column({ type: 'text' })
  url: string;

  @Column({ type: 'int' })
  attempt: number;

  /** delivered: a 2xx answer; retrying: failed, another attempt is due at nextRetryAt; failed: the last attempt failed. */
  @Column({ type: 'text' })
  status: WebhookDeliveryStatus;

  @Column({ name: 'status_code', type: 'int', nullable: true })
  statusCode: number | null;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ name: 'duration_ms', type: 'int' })
  durationMs: number;

  @Column({ name: 'next_retry_at', type: 'timestamptz', nullable: true })
  nextRetryAt: Date | null;

  @Column({ name: 'attempted_at', type: 'timestamptz', default: () => 'now()' })
  attemptedAt: Date;
}
