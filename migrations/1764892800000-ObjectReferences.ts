import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Who refers to each stored object, kept by triggers on uploads and artifacts:
 *
 * - object_refs: per stored object and tenant, how many upload and artifact rows refer to it.
 *   Its key starts with storage_key, so "does anything still refer to this object?" (deleting
 *   uploads and jobs, the garbage collector) is one index probe instead of a scan of artifacts.
 * - tenant_storage: per tenant, the bytes of the distinct objects it refers to (an object a
 *   tenant refers to many times, by cache hits or equal files, counts once), so the storage
 *   quota reads one row instead of summing every upload and artifact on each request.
 *
 * The triggers run in the transaction that adds or removes the rows, under row locks on the
 * counters, so the numbers are exact under any concurrency; they take the object rows in key
 * order, then the tenant row, so concurrent statements cannot deadlock on them.
 */
export class ObjectReferences1764892800000 implements MigrationInterface {
  name = 'ObjectReferences1764892800000';

  async up(q: QueryRunner): Promise<void> {
    // No upload or artifact may be written while the counts are built from them.
    await q.query(`LOCK TABLE uploads, artifacts IN SHARE ROW EXCLUSIVE MODE`);
    await q.query(`CREATE TABLE object_refs (
      storage_key text NOT NULL,
      tenant_id uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
      size bigint NOT NULL CHECK (size >= 0),
      refs int NOT NULL CHECK (refs >= 0),
      PRIMARY KEY (storage_key, tenant_id)
    )`);
    await q.query(`CREATE INDEX object_refs_tenant_idx ON object_refs (tenant_id)`);
    await q.query(`CREATE TABLE tenant_storage (
      tenant_id uuid PRIMARY KEY REFERENCES tenants(id) ON DELETE CASCADE,
      bytes bigint NOT NULL
    )`);

    await q.query(`CREATE FUNCTION kiln_refs_add(keys text[], tenants uuid[], sizes bigint[]) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      WITH added AS (
             SELECT storage_key, tenant_id, max(size) AS size, count(*)::int AS n
               FROM unnest(keys, tenants, sizes) AS r(storage_key, tenant_id, size)
              GROUP BY storage_key, tenant_id),
           up AS (
             INSERT INTO object_refs AS o (storage_key, tenant_id, size, refs)
             SELECT storage_key, tenant_id, size, n FROM added ORDER BY storage_key, tenant_id
             ON CONFLICT (storage_key, tenant_id) DO UPDATE SET refs = o.refs + EXCLUDED.refs
             RETURNING o.storage_key, o.tenant_id, o.size, o.refs)
      -- refs equal to what this statement added: the row is new, the object is new to the tenant.
      INSERT INTO tenant_storage AS s (tenant_id, bytes)
      SELECT up.tenant_id, sum(up.size) FROM up JOIN added a USING (storage_key, tenant_id)
       WHERE up.refs = a.n
       GROUP BY up.tenant_id ORDER BY up.tenant_id
      ON CONFLICT (tenant_id) DO UPDATE SET bytes = s.bytes + EXCLUDED.bytes;
    END $$`);

    await q.query(`CREATE FUNCTION kiln_refs_remove(keys text[], tenants uuid[]) RETURNS void LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM 1 FROM object_refs o
        JOIN (SELECT DISTINCT storage_key, tenant_id FROM unnest(keys, tenants) AS r(storage_key, tenant_id)) r USING (storage_key, tenant_id)
       ORDER BY o.storage_key, o.tenant_id FOR UPDATE OF o;
      UPDATE object_refs o SET refs = o.refs - r.n
        FROM (SELECT storage_key, tenant_id, count(*)::int AS n FROM unnest(keys, tenants) AS r(storage_key, tenant_id) GROUP BY 1, 2) r
       WHERE o.storage_key = r.storage_key AND o.tenant_id = r.tenant_id;
      WITH gone AS (
             DELETE FROM object_refs o
              USING (SELECT DISTINCT storage_key, tenant_id FROM unnest(keys, tenants) AS r(storage_key, tenant_id)) r
              WHERE o.storage_key = r.storage_key AND o.tenant_id = r.tenant_id AND o.refs <= 0
              RETURNING o.tenant_id, o.size)
      UPDATE tenant_storage s SET bytes = s.bytes - g.bytes
        FROM (SELECT tenant_id, sum(size) AS bytes FROM gone GROUP BY tenant_id) g
       WHERE s.tenant_id = g.tenant_id;
    END $$`);

    await q.query(`CREATE FUNCTION kiln_refs_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      k text[]; t uuid[]; s bigint[];
    BEGIN
      IF TG_OP = 'INSERT' THEN
        SELECT array_agg(storage_key), array_agg(tenant_id), array_agg(size) INTO k, t, s FROM new_rows;
        PERFORM kiln_refs_add(k, t, s);
      ELSIF TG_OP = 'DELETE' THEN
        SELECT array_agg(storage_key), array_agg(tenant_id) INTO k, t FROM old_rows;
        PERFORM kiln_refs_remove(k, t);
      ELSE
        -- Only rows whose object, tenant or size changed move a reference.
        SELECT array_agg(o.storage_key), array_agg(o.tenant_id) INTO k, t
          FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE (o.storage_key, o.tenant_id, o.size) IS DISTINCT FROM (n.storage_key, n.tenant_id, n.size);
        PERFORM kiln_refs_remove(k, t);
        SELECT array_agg(n.storage_key), array_agg(n.tenant_id), array_agg(n.size) INTO k, t, s
          FROM old_rows o JOIN new_rows n ON n.id = o.id
         WHERE (o.storage_key, o.tenant_id, o.size) IS DISTINCT FROM (n.storage_key, n.tenant_id, n.size);
        PERFORM kiln_refs_add(k, t, s);
      END IF;
      RETURN NULL;
    END $$`);

    for (const table of ['uploads', 'artifacts']) {
      await q.query(`CREATE TRIGGER ${table}_refs_insert AFTER INSERT ON ${table} REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kiln_refs_trigger()`);
      await q.query(`CREATE TRIGGER ${table}_refs_delete AFTER DELETE ON ${table} REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION kiln_refs_trigger()`);
      await q.query(`CREATE TRIGGER ${table}_refs_update AFTER UPDATE ON ${table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION kiln_refs_trigger()`);
    }

    // What is there already.
    await q.query(`INSERT INTO object_refs (storage_key, tenant_id, size, refs)
      SELECT storage_key, tenant_id, max(size), count(*)
        FROM (SELECT storage_key, tenant_id, size FROM uploads UNION ALL SELECT storage_key, tenant_id, size FROM artifacts) r
       GROUP BY storage_key, tenant_id`);
    await q.query(`INSERT INTO tenant_storage (tenant_id, bytes) SELECT tenant_id, sum(size) FROM object_refs GROUP BY tenant_id`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const table of ['uploads', 'artifacts']) {
      for (const op of ['insert', 'delete', 'update']) await q.query(`DROP TRIGGER ${table}_refs_${op} ON ${table}`);
    }
    await q.query(`DROP FUNCTION kiln_refs_trigger()`);
    await q.query(`DROP FUNCTION kiln_refs_remove(text[], uuid[])`);
    await q.query(`DROP FUNCTION kiln_refs_add(text[], uuid[], bigint[])`);
    await q.query(`DROP TABLE tenant_storage`);
    await q.query(`DROP TABLE object_refs`);
  }
}
