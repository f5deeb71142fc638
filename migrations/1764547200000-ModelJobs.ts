import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ModelJobs1764547200000 implements MigrationInterface {
  name = 'ModelJobs1764547200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ALTER COLUMN source DROP NOT NULL`);
    await q.query(`ALTER TABLE jobs ADD COLUMN model jsonb`);
    await q.query(`ALTER TABLE jobs ADD CONSTRAINT jobs_one_input CHECK ((source IS NULL) <> (model IS NULL))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM jobs WHERE model IS NOT NULL`);
    await q.query(`ALTER TABLE jobs DROP CONSTRAINT jobs_one_input`);
    await q.query(`ALTER TABLE jobs DROP COLUMN model`);
    await q.query(`ALTER TABLE jobs ALTER COLUMN source SET NOT NULL`);
  }
}
