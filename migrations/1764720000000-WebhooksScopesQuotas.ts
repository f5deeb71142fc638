import type { MigrationInterface, QueryRunner } from 'typeorm';

export class WebhooksScopesQuotas1764720000000 implements MigrationInterface {
  name = 'WebhooksScopesQuotas1764720000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE api_keys ADD COLUMN scopes text[] NOT NULL DEFAULT '{read,build}'
      CHECK (cardinality(scopes) > 0 AND scopes <@ ARRAY['read','build','admin']::text[])`);
    // Keys made before scopes existed could do everything; they keep that.
    await q.query(`UPDATE api_keys SET scopes = '{read,build,admin}'`);

    await q.query(`ALTER TABLE tenants
      ADD COLUMN webhook_secret text,
      ADD COLUMN webhook_secret_created_at timestamptz,
      ADD COLUMN quota_concurrent_builds int CHECK (quota_concurrent_builds >= 0),
      ADD COLUMN quota_storage_bytes bigint CHECK (quota_storage_bytes >= 0),
      ADD COLUMN quota_upload_bytes bigint CHECK (quota_upload_bytes > 0)`);

    await q.query(`ALTER TABLE jobs ADD COLUMN callback_url text, ADD COLUMN webhook_scheduled_at timestamptz`);
    // The jobs whose webhook is still to be sent: few at any time, scanned often.
    await q.query(`CREATE INDEX jobs_webhook_pending_idx ON jobs (created_at) WHERE callback_url IS NOT NULL AND webhook_scheduled_at IS NULL`);
    // Counting a tenant's unfinished builds (the concurrent-builds quota).
    await q.query(`CREATE INDEX builds_tenant_active_idx ON builds (tenant_id) WHERE status NOT IN ('succeeded','failed','canceled')`);

    await q.query(`CREATE TABLE webhook_deliveries (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      job_id uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
      event_id uuid NOT NULL,
      event text NOT NULL,
      url text NOT NULL,
      attempt int NOT NULL CHECK (attempt >= 1),
      status text NOT NULL CHECK (status IN ('delivered','retrying','failed')),
      status_code int,
      error text,
      duration_ms int NOT NULL,
      next_retry_at timestamptz,
      attempted_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX webhook_deliveries_job_idx ON webhook_deliveries (job_id, attempted_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP INDEX builds_tenant_active_idx`);
    await q.query(`DROP INDEX jobs_webhook_pending_idx`);
    await q.query(`ALTER TABLE jobs DROP COLUMN callback_url, DROP COLUMN webhook_scheduled_at`);
    await q.query(`ALTER TABLE tenants DROP COLUMN webhook_secret, DROP COLUMN webhook_secret_created_at,
      DROP COLUMN quota_concurrent_builds, DROP COLUMN quota_storage_bytes, DROP COLUMN quota_upload_bytes`);
    await q.query(`ALTER TABLE api_keys DROP COLUMN scopes`);
  }
}
