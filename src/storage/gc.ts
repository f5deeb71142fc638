import type { EntityManager } from 'typeorm';
import type { ObjectStore } from './object-store';

export interface GcResult {
  scanned: number;
  kept: number;
  young: number;
  deleted: number;
  deletedBytes: number;
}

/**
 * Deletes stored objects that no upload and no artifact refers to any more (left by a worker
 * that died between storing an object and recording it, or by rows removed since). Objects
 * younger than `minAgeMs` are kept: a build may have stored one a moment ago and not yet
 * recorded it. Each candidate is looked at again right before it is deleted, and kept if it was
 * rewritten meanwhile (content-addressed storage rewrites an object when equal bytes arrive).
 */
export async function collectGarbage(db: Pick<EntityManager, 'query'>, store: ObjectStore, opts: { minAgeMs: number; dryRun?: boolean; log?: (m: string) => void }): Promise<GcResult> {
  const result: GcResult = { scanned: 0, kept: 0, young: 0, deleted: 0, deletedBytes: 0 };
  const cutoff = Date.now() - opts.minAgeMs;
  let batch: { key: string; size: number }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const keys = batch.map((o) => o.key);
    const rows: { storage_key: string }[] = await db.query(
      `SELECT storage_key FROM artifacts WHERE storage_key = ANY($1) UNION SELECT storage_key FROM uploads WHERE storage_key = ANY($1)`,
      [keys],
    );
    const referenced = new Set(rows.map((r) => r.storage_key));
    for (const o of batch) {
      if (referenced.has(o.key)) {
        result.kept++;
        continue;
      }
      const now = await store.stat(o.key);
      if (!now) continue;
      opts.log?.(`${opts.dryRun ? 'would delete' : 'deleting'} ${o.key} (${o.size} bytes)`);
      if (!opts.dryRun) await store.delete(o.key);
      result.deleted++;
      result.deletedBytes += o.size;
    }
    batch = [];
  };
  for (const prefix of ['cas/', 'uploads/']) {
    for await (const o of store.list(prefix)) {
      result.scanned++;
      if (o.modified.getTime() > cutoff) {
        result.young++;
        continue;
      }
      batch.push(o);
      if (batch.length >= 500) await flush();
    }
  }
  await flush();
  return result;
}
