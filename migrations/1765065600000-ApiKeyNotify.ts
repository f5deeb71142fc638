import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every statement that changes or deletes API keys, or renames or deletes tenants, notifies
 * (channel kiln_api_keys) when its transaction commits, so an API that remembers valid keys
 * (ApiKeyCache) forgets them then, whoever revoked the key: the API, `npm run tenant` or SQL.
 * A tenant's deletion reaches its keys by cascade, which fires the trigger on api_keys too.
 */
export class ApiKeyNotify1765065600000 implements MigrationInterface {
  name = 'ApiKeyNotify1765065600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION kiln_api_keys_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('kiln_api_keys', '');
      RETURN NULL;
    END $$`);
    await q.query(`CREATE TRIGGER api_keys_notify AFTER UPDATE OR DELETE OR TRUNCATE ON api_keys FOR EACH STATEMENT EXECUTE FUNCTION kiln_api_keys_notify()`);
    await q.query(`CREATE TRIGGER tenants_notify AFTER UPDATE OF name OR DELETE OR TRUNCATE ON tenants FOR EACH STATEMENT EXECUTE FUNCTION kiln_api_keys_notify()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER tenants_notify ON tenants`);
    await q.query(`DROP TRIGGER api_keys_notify ON api_keys`);
    await q.query(`DROP FUNCTION kiln_api_keys_notify()`);
  }
}
