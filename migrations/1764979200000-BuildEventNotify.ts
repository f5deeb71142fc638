import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Every statement that records build events also notifies (channel kiln_build_events, payload:
 * the job id) when its transaction commits, so the API's event streams wake up when something
 * happens instead of polling the table. All writers (workers, the API's cancel, cache copies,
 * releases of waiting builds) insert events, so none of them has to remember to publish.
 */
export class BuildEventNotify1764979200000 implements MigrationInterface {
  name = 'BuildEventNotify1764979200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION kiln_build_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('kiln_build_events', job_id::text) FROM (SELECT DISTINCT job_id FROM new_rows) j;
      RETURN NULL;
    END $$`);
    await q.query(`CREATE TRIGGER build_events_notify AFTER INSERT ON build_events
      REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kiln_build_events_notify()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER build_events_notify ON build_events`);
    await q.query(`DROP FUNCTION kiln_build_events_notify()`);
  }
}
