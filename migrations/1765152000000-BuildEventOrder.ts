import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A job's build events get their ids in the order their transactions commit. An event stream
 * reads a job's events after the last id it sent; with ids from the sequence alone, two builds
 * finishing at once could commit out of order (id 101 visible, 100 still to commit), and the
 * stream, past 101 already, never sent 100. Each insert now first takes a lock on its job for the
 * rest of its transaction and only then draws its id, so a later id of the same job can only be
 * drawn once every earlier one is committed (or rolled back).
 */
export class BuildEventOrder1765152000000 implements MigrationInterface {
  name = 'BuildEventOrder1765152000000';

  async up(q: QueryRunner): Promise<void> {
    // 0x4b4c4e02: the lock space of build events (references.ts has 0x4b4c4e01 for stored objects).
    await q.query(`CREATE FUNCTION kiln_build_events_order() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_advisory_xact_lock(1263291906, hashtext(NEW.job_id::text));
      NEW.id := nextval(pg_get_serial_sequence('build_events', 'id'));
      RETURN NEW;
    END $$`);
    await q.query(`CREATE TRIGGER build_events_order BEFORE INSERT ON build_events FOR EACH ROW EXECUTE FUNCTION kiln_build_events_order()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER build_events_order ON build_events`);
    await q.query(`DROP FUNCTION kiln_build_events_order()`);
  }
}
