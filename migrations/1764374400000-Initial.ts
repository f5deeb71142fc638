import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Initial1764374400000 implements MigrationInterface {
  name = 'Initial1764374400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE tenants (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE api_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      name text NOT NULL,
      prefix text NOT NULL,
      key_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_used_at timestamptz,
      revoked_at timestamptz
    )`);
    await q.query(`CREATE INDEX api_keys_tenant_idx ON api_keys (tenant_id)`);
    await q.query(`CREATE TABLE uploads (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      filename text NOT NULL,
      content_type text NOT NULL,
      size bigint NOT NULL CHECK (size >= 0),
      sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      storage_key text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX uploads_tenant_idx ON uploads (tenant_id, created_at)`);
    await q.query(`CREATE TABLE jobs (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      source jsonb NOT NULL,
      outputs text[] NOT NULL,
      idempotency_key text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX jobs_tenant_created_idx ON jobs (tenant_id, created_at DESC, id DESC)`);
    await q.query(`CREATE UNIQUE INDEX jobs_idempotency_idx ON jobs (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL`);
    await q.query(`CREATE TABLE builds (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      job_id uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      position int NOT NULL,
      target_name text NOT NULL,
      target jsonb NOT NULL,
      pool text NOT NULL,
      status text NOT NULL CHECK (status IN ('queued','waiting','compiling','compiled','verifying','succeeded','failed','canceled')),
      status_reason text,
      toolchain_key text,
      toolchain_version text,
      diagnostics jsonb NOT NULL DEFAULT '[]',
      log text,
      worker text,
      attempts int NOT NULL DEFAULT 0,
      started_at timestamptz,
      compiled_at timestamptz,
      finished_at timestamptz,
      toolchain_ms int,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE UNIQUE INDEX builds_job_position_idx ON builds (job_id, position)`);
    await q.query(`CREATE INDEX builds_pool_status_idx ON builds (pool, status)`);
    await q.query(`CREATE TABLE build_events (
      id bigserial PRIMARY KEY,
      build_id uuid NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
      job_id uuid NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
      from_status text,
      to_status text NOT NULL,
      worker text,
      message text,
      at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX build_events_build_idx ON build_events (build_id, id)`);
    await q.query(`CREATE INDEX build_events_job_idx ON build_events (job_id, id)`);
    await q.query(`CREATE TABLE artifacts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      build_id uuid NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      kind text NOT NULL,
      name text NOT NULL,
      size bigint NOT NULL CHECK (size >= 0),
      sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
      storage_key text NOT NULL,
      content_type text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      UNIQUE (build_id, name)
    )`);
    await q.query(`CREATE INDEX artifacts_tenant_idx ON artifacts (tenant_id)`);
    await q.query(`CREATE INDEX artifacts_sha_idx ON artifacts (sha256)`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const t of ['artifacts', 'build_events', 'builds', 'jobs', 'uploads', 'api_keys', 'tenants']) {
      await q.query(`DROP TABLE IF EXISTS ${t}`);
    }
  }
}
