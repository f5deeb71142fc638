import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import type { Caller } from '../auth/auth.service';
import { Job, WebhookDelivery } from '../database/entities';
import { UUID_RE } from '../jobs/jobs.service';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { CallbackUrlError, checkCallbackUrl } from './callback-url';
import { newWebhookSecret } from './signature';

export interface WebhookSecret {
  secret: string;
  createdAt: Date;
}

/** A tenant's webhook signing secret, and the record of deliveries. */
@Injectable()
export class WebhooksService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectRepository(Job) private readonly jobs: Repository<Job>,
    @InjectRepository(WebhookDelivery) private readonly deliveries: Repository<WebhookDelivery>,
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
  ) {}

  /** A job's callbackUrl as it will be stored, or null; a 400 saying why for one Kiln will not call. */
  async callbackUrlFor(raw: string | undefined | null): Promise<string | null> {
    if (raw === undefined || raw === null) return null;
    try {
      return await checkCallbackUrl(raw, this.config.webhooks.allowPrivate);
    } catch (e) {
      if (e instanceof CallbackUrlError) throw new BadRequestException(e.message);
      throw e;
    }
  }

  /** The tenant's secret, made on first use (so two processes asking at once get the same one). */
  async secret(tenantId: string): Promise<WebhookSecret> {
    await this.db.query(`UPDATE tenants SET webhook_secret = $2, webhook_secret_created_at = now() WHERE id = $1 AND webhook_secret IS NULL`, [tenantId, newWebhookSecret()]);
    const [row]: { webhook_secret: string; webhook_secret_created_at: Date }[] = await this.db.query(`SELECT webhook_secret, webhook_secret_created_at FROM tenants WHERE id = $1`, [tenantId]);
    if (!row) throw new Error(`no tenant ${tenantId}`);
    return { secret: row.webhook_secret, createdAt: new Date(row.webhook_secret_created_at) };
  }

  /** Replaces the secret at once: every delivery attempt from now on is signed with the new one. */
  async rotate(tenantId: string): Promise<WebhookSecret> {
    const secret = newWebhookSecret();
    await this.db.query(`UPDATE tenants SET webhook_secret = $2, webhook_secret_created_at = now() WHERE id = $1`, [tenantId, secret]);
    return this.secret(tenantId);
  }

  /** Every delivery attempt of a job's webhooks, oldest first; 404 for another tenant's job. */
  async listForJob(caller: Caller, jobId: string): Promise<WebhookDelivery[]> {
    const job = UUID_RE.test(jobId) ? await this.jobs.findOne({ where: { id: jobId, tenantId: caller.tenantId }, select: { id: true } }) : null;
    if (!job) throw new NotFoundException(`no job with id ${jobId}`);
    return this.deliveries.find({ where: { jobId, tenantId: caller.tenantId }, order: { attemptedAt: 'ASC', attempt: 'ASC' } });
  }
}
