import { BadRequestException, HttpException, HttpStatus, Inject, Injectable, PayloadTooLargeException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, EntityManager } from 'typeorm';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { prepared, run } from '../database/sql';

/** A 429 that tells the client when to try again (the exception filter sets Retry-After). */
export class TooManyRequestsException extends HttpException {
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super({ statusCode: 429, error: 'Too Many Requests', message }, HttpStatus.TOO_MANY_REQUESTS);
  }
}

export interface TenantLimits {
  /** 0: no limit. */
  concurrentBuilds: number;
  /** 0: no limit. */
  storageBytes: number;
  uploadBytes: number;
}

export interface TenantUsage {
  activeBuilds: number;
  storageBytes: number;
}

const LOCK_TENANT_BUILDS = prepared(`SELECT pg_advisory_xact_lock(hashtext('kiln:builds:' || $1::text))`);
const COUNT_UNFINISHED_BUILDS = prepared(`SELECT count(*)::int AS n FROM builds WHERE tenant_id = $1 AND status NOT IN ('succeeded','failed','canceled')`);
const LIMITS_AND_STORED = prepared(
  `SELECT t.quota_concurrent_builds, t.quota_storage_bytes, t.quota_upload_bytes,
          COALESCE((SELECT bytes FROM tenant_storage WHERE tenant_id = $1), 0) AS stored
     FROM (SELECT 1) one LEFT JOIN tenants t ON t.id = $1`,
);

/** Seconds a client is asked to wait when it has too many builds in flight. */
export const BUILDS_RETRY_AFTER_SECONDS = 30;

/**
 * Per-tenant limits: builds queued or running at once, bytes stored (uploads plus artifacts),
 * and the size of one upload. Defaults come from the configuration; a tenant's own values
 * (tenants.quota_*, set with `npm run tenant`) replace them.
 */
@Injectable()
export class QuotasService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
  ) {}

  get requestsPerMinute(): number {
    return this.config.rateLimitPerMinute;
  }

  async limits(tenantId: string, em: Pick<EntityManager, 'query'> = this.db): Promise<TenantLimits> {
    const [row]: { quota_concurrent_builds: number | null; quota_storage_bytes: string | null; quota_upload_bytes: string | null }[] = await em.query(
      `SELECT quota_concurrent_builds, quota_storage_bytes, quota_upload_bytes FROM tenants WHERE id = $1`,
      [tenantId],
    );
    return this.limitsOf(row);
  }

  private limitsOf(row: { quota_concurrent_builds: number | null; quota_storage_bytes: string | null; quota_upload_bytes: string | null } | undefined): TenantLimits {
    return {
      concurrentBuilds: row?.quota_concurrent_builds ?? this.config.quotas.concurrentBuilds,
      storageBytes: row?.quota_storage_bytes != null ? Number(row.quota_storage_bytes) : this.config.quotas.storageBytes,
      // A tenant's upload limit can lower the server's, not raise it past what the API accepts.
      uploadBytes: Math.min(this.config.maxUploadBytes, row?.quota_upload_bytes != null ? Number(row.quota_upload_bytes) : Infinity),
    };
  }

  async usage(tenantId: string, em: Pick<EntityManager, 'query'> = this.db): Promise<TenantUsage> {
    // tenant_storage is kept by triggers on uploads and artifacts (see the ObjectReferences
    // migration): the bytes of the distinct objects the tenant refers to, so an object referred
    // to many times (a build-cache hit, the same file uploaded twice) counts once.
    const [row]: { active: number; stored: string }[] = await em.query(
      `SELECT (SELECT count(*)::int FROM builds WHERE tenant_id = $1 AND status NOT IN ('succeeded','failed','canceled')) AS active,
              COALESCE((SELECT bytes FROM tenant_storage WHERE tenant_id = $1), 0) AS stored`,
      [tenantId],
    );
    return { activeBuilds: row.active, storageBytes: Number(row.stored) };
  }

  /**
   * Inside the transaction that records an upload: refuses it (413) when it no longer fits in
   * the tenant's storage quota. The check before the bytes arrive cannot see uploads that
   * finish meanwhile; this one holds the tenant's storage row until the upload is recorded, so
   * concurrent uploads cannot together pass the quota.
   */
  async reserveStorage(tx: Pick<EntityManager, 'query'>, tenantId: string, size: number): Promise<void> {
    const { storageBytes: limit } = await this.limits(tenantId, tx);
    if (limit === 0) return;
    await tx.query(`INSERT INTO tenant_storage (tenant_id, bytes) VALUES ($1, 0) ON CONFLICT (tenant_id) DO NOTHING`, [tenantId]);
    const [{ bytes }]: { bytes: string }[] = await tx.query(`SELECT bytes FROM tenant_storage WHERE tenant_id = $1 FOR UPDATE`, [tenantId]);
    const used = Number(bytes);
    if (used + size > limit) {
      throw new PayloadTooLargeException(`the upload is ${size} bytes, but the tenant stores ${used} of its ${limit} bytes (KILN_QUOTA_STORAGE_BYTES): ${Math.max(0, limit - used)} bytes are left`);
    }
  }

  /**
   * Inside the transaction that creates a job's builds: refuses them when the tenant would have
   * more builds queued or running than its limit. A per-tenant lock makes the count and the
   * insert one step, so concurrent requests cannot both slip under the limit.
   */
  async reserveBuilds(tx: Pick<EntityManager, 'query'>, tenantId: string, adding: number, known?: TenantLimits): Promise<void> {
    const { concurrentBuilds: limit } = known ?? (await this.limits(tenantId, tx));
    if (limit === 0) return;
    if (adding > limit) throw new BadRequestException(`this job has ${adding} targets, but the tenant may have at most ${limit} builds queued or running at once (KILN_QUOTA_CONCURRENT_BUILDS); split the job`);
    await run(tx, LOCK_TENANT_BUILDS, [tenantId]);
    const [{ n }] = await run<{ n: number }>(tx, COUNT_UNFINISHED_BUILDS, [tenantId]);
    if (n + adding > limit) {
      throw new TooManyRequestsException(
        `the tenant has ${n} builds queued or running and this job adds ${adding}; the limit is ${limit} at once (KILN_QUOTA_CONCURRENT_BUILDS). Try again when some have finished`,
        BUILDS_RETRY_AFTER_SECONDS,
      );
    }
  }

  /**
   * Refuses a new job when the tenant's stored bytes have reached its storage quota (413).
   * Returns the tenant's limits, read in the same query, for reserveBuilds.
   */
  async checkStorageForJob(tenantId: string): Promise<TenantLimits> {
    const [row] = await run<{ quota_concurrent_builds: number | null; quota_storage_bytes: string | null; quota_upload_bytes: string | null; stored: string }>(this.db, LIMITS_AND_STORED, [tenantId]);
    const limits = this.limitsOf(row);
    const limit = limits.storageBytes;
    const used = Number(row.stored);
    if (limit !== 0 && used >= limit) {
      throw new PayloadTooLargeException(`the tenant stores ${used} bytes of uploads and artifacts and its storage quota is ${limit} bytes (KILN_QUOTA_STORAGE_BYTES); no new job is accepted until an operator raises the quota`);
    }
    return limits;
  }

  /**
   * How many bytes one upload may have, and the 413 message for one that has more: the upload
   * limit, or the storage left, whichever is smaller.
   */
  async uploadAllowance(tenantId: string): Promise<{ maxBytes: number; tooLarge: (size: number | null) => string }> {
    const limits = await this.limits(tenantId);
    const used = limits.storageBytes === 0 ? 0 : (await this.usage(tenantId)).storageBytes;
    const left = limits.storageBytes === 0 ? Infinity : Math.max(0, limits.storageBytes - used);
    if (left < limits.uploadBytes) {
      return {
        maxBytes: left,
        tooLarge: (size) =>
          `the upload is ${size === null ? `more than ${left}` : size} bytes, but the tenant stores ${used} of its ${limits.storageBytes} bytes (KILN_QUOTA_STORAGE_BYTES): ${left} bytes are left`,
      };
    }
    return {
      maxBytes: limits.uploadBytes,
      tooLarge: (size) => (size === null ? `the upload is larger than the limit of ${limits.uploadBytes} bytes` : `the upload is ${size} bytes; the limit is ${limits.uploadBytes} bytes`),
    };
  }
}
