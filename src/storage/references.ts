import type { DataSource, EntityManager } from 'typeorm';
import type { ObjectStore } from './object-store';
import { prepared, run } from '../database/sql';

/**
 * Stored objects are content-addressed and shared: artifacts of many builds (of one tenant or
 * several), the build cache's copies and uploads may refer to one object, and only the database
 * knows when none does (object_refs, kept by triggers on uploads and artifacts). Deleting an
 * object must not race a build or upload that is recording a new reference to it, so both
 * sides take a PostgreSQL advisory lock on the object's key:
 *
 * - a recorder (an upload, a build storing its artifacts, a verification storing its report)
 *   takes the key's lock shared, checks that the object is still stored (storing it again from
 *   its local file if a deleter removed it meanwhile), and inserts its rows in the same
 *   transaction, so the lock is held until the rows are committed;
 * - a deleter (DELETE of an upload or a job, the garbage collector) takes the key's lock
 *   exclusively, checks that no row refers to the object, deletes it, and only then lets go.
 *
 * Either the recorder commits first and the deleter sees its row, or the deleter finishes first
 * and the recorder finds the object gone and stores it again. Recorders take their locks in one
 * order (by lock id), and a deleter holds one key at a time, so they cannot deadlock.
 *
 * (A build-cache hit copies the artifact rows of a build that already refers to the objects; it
 * locks that build's row FOR SHARE instead, which a job deletion waits for: see build-cache.ts.)
 */

/** The first key of the two-int4 advisory locks on stored objects (the bigint lock space is separate). */
export const OBJECT_LOCK_SPACE = 0x4b4c4e01;
/** The garbage collector's own lock: one collection at a time. */
export const GC_LOCK: [number, number] = [0x4b4c4e02, 0];

type Queryable = Pick<EntityManager, 'query'>;

export interface LocalObject {
  key: string;
  /** The file the object was stored from, to store it again if it was deleted meanwhile. */
  localPath: string;
  contentType: string;
  size: number;
}

const LOCK_OBJECTS_SHARED = prepared(
  `SELECT pg_advisory_xact_lock_shared($1, h) FROM (SELECT DISTINCT hashtext(k) AS h FROM unnest($2::text[]) AS k ORDER BY 1) ids`,
);

/** Takes the shared locks of these keys until the transaction ends, in lock-id order. */
export async function lockObjectsShared(tx: Queryable, keys: string[]): Promise<void> {
  if (keys.length === 0) return;
  await run(tx, LOCK_OBJECTS_SHARED, [OBJECT_LOCK_SPACE, [...new Set(keys)]]);
}

/**
 * Records rows that refer to stored objects: in one transaction, takes the objects' shared
 * locks, makes sure each object is still stored (storing it again if a deleter removed it after
 * it was written), then runs `record`, which inserts the rows.
 */
export async function recordReferences<T>(db: DataSource, store: ObjectStore, objects: LocalObject[], record: (tx: EntityManager) => Promise<T>): Promise<T> {
  const unique = [...new Map(objects.map((o) => [o.key, o])).values()];
  return db.transaction(async (tx) => {
    await lockObjectsShared(tx, unique.map((o) => o.key));
    for (const o of unique) {
      const now = await store.stat(o.key);
      if (!now || now.size !== o.size) await store.putFile(o.key, o.localPath, o.contentType);
    }
    return record(tx);
  });
}

/** Which of these keys some upload or artifact row refers to now. */
export async function referencedKeys(db: Queryable, keys: string[]): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows: { storage_key: string }[] = await db.query(`SELECT DISTINCT storage_key FROM object_refs WHERE storage_key = ANY($1)`, [keys]);
  return new Set(rows.map((r) => r.storage_key));
}

/**
 * Runs `remove` (which deletes the object) unless a row refers to `key`, holding the key's
 * exclusive lock while it checks and removes. Returns whether it removed the object.
 */
export async function removeIfUnreferenced(db: DataSource, key: string, remove: () => Promise<void>): Promise<boolean> {
  return db.transaction(async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [OBJECT_LOCK_SPACE, key]);
    const [ref] = await tx.query(`SELECT 1 FROM object_refs WHERE storage_key = $1 LIMIT 1`, [key]);
    if (ref) return false;
    await remove();
    return true;
  });
}

/** Deletes each of these stored objects that nothing refers to any more; returns how many it deleted. */
export async function deleteUnreferenced(db: DataSource, store: ObjectStore, keys: string[]): Promise<number> {
  let deleted = 0;
  for (const key of [...new Set(keys)].sort()) {
    if (await removeIfUnreferenced(db, key, () => store.delete(key))) deleted++;
  }
  return deleted;
}

export class CollectorBusyError extends Error {
  constructor() {
    super('another garbage collection is running (it holds the PostgreSQL advisory lock); try again when it has finished');
    this.name = 'CollectorBusyError';
  }
}

/**
 * Runs `fn` while this process holds the garbage collector's lock, on a connection of its own
 * (a session lock: it goes when the connection does, so a collector that dies leaves no lock
 * behind). Throws CollectorBusyError at once when another collector holds it.
 */
export async function withCollectorLock<T>(db: DataSource, fn: () => Promise<T>): Promise<T> {
  const runner = db.createQueryRunner();
  await runner.connect();
  try {
    const [{ ok }]: { ok: boolean }[] = await runner.query(`SELECT pg_try_advisory_lock($1, $2) AS ok`, GC_LOCK);
    if (!ok) throw new CollectorBusyError();
    try {
      return await fn();
    } finally {
      await runner.query(`SELECT pg_advisory_unlock($1, $2)`, GC_LOCK).catch(() => undefined);
    }
  } finally {
    await runner.release();
  }
}
