import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The build cache: per build, its input digest and whether it came from the cache. */
export class BuildCache1764633600000 implements MigrationInterface {
  name = 'BuildCache1764633600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE builds ADD COLUMN input_digest text`);
    await q.query(`ALTER TABLE builds ADD COLUMN cache text CHECK (cache IN ('hit', 'miss', 'bypass'))`);
    await q.query(`ALTER TABLE builds ADD COLUMN cached_from uuid`);
    await q.query(`
      CREATE TABLE build_cache (
        key text PRIMARY KEY CHECK (key ~ '^[0-9a-f]{64}$'),
        tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
        build_id uuid NOT NULL REFERENCES builds(id) ON DELETE CASCADE,
        hits integer NOT NULL DEFAULT 0,
        last_hit_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX build_cache_build_idx ON build_cache (build_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE build_cache`);
    await q.query(`ALTER TABLE builds DROP COLUMN cached_from`);
    await q.query(`ALTER TABLE builds DROP COLUMN cache`);
    await q.query(`ALTER TABLE builds DROP COLUMN input_digest`);
  }
}
