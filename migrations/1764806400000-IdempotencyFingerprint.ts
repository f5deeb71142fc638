import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The request an Idempotency-Key was first used with, so a reuse for another request is refused. */
export class IdempotencyFingerprint1764806400000 implements MigrationInterface {
  name = 'IdempotencyFingerprint1764806400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN request_sha256 text CHECK (request_sha256 ~ '^[0-9a-f]{64}$')`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs DROP COLUMN request_sha256`);
  }
}
