import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Verification1764460800000 implements MigrationInterface {
  name = 'Verification1764460800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN verify jsonb`);
    await q.query(`ALTER TABLE builds ADD COLUMN verification jsonb`);
    await q.query(`ALTER TABLE builds ADD COLUMN verify_pool text`);
    await q.query(`ALTER TABLE builds ADD COLUMN verified_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE builds DROP COLUMN verified_at`);
    await q.query(`ALTER TABLE builds DROP COLUMN verify_pool`);
    await q.query(`ALTER TABLE builds DROP COLUMN verification`);
    await q.query(`ALTER TABLE jobs DROP COLUMN verify`);
  }
}
