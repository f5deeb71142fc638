import type { DataSource } from 'typeorm';
import type { ObjectStore } from './object-store';
import { referencedKeys, removeIfUnreferenced, withCollectorLock } from './references';

export interface GcResult {
  scanned: number;
  kept: number;
  young: number;
  deleted: number;
  deletedBytes: number;
}

/** What the collector needs from the database (see references.ts for the locking it stands for). */
export interface ObjectReferences {
  /** Which of these keys some row refers to now. */
  referenced(keys: string[]): Promise<Set<string>>;
  /** Runs `remove` unless a row refers to the key, holding the key's exclusive lock; whether it ran. */
  removeIfUnreferenced(key: string, remove: () => Promise<void>): Promise<boolean>;
  /** Runs `fn` as the only collector; throws CollectorBusyError when another one runs. */
  exclusively<T>(fn: () => Promise<T>): Promise<T>;
}

export function databaseReferences(db: DataSource): ObjectReferences {
  return {
    referenced: (keys) => referencedKeys(db, keys),
    removeIfUnreferenced: (key, remove) => removeIfUnreferenced(db, key, remove),
    exclusively: (fn) => withCollectorLock(db, fn),
  };
}

/**
 * Deletes stored objects that no upload and no artifact refers to any more (left by a worker
 * that died between storing an object and recording it, by a build canceled while it stored
 * its artifacts, or by a deletion that could not reach the store). Only one collection runs at
 * a time. Each candidate is deleted under its key's exclusive lock after a last look at its
 * references, so a build or upload recording a new reference to it meanwhile either is seen
 * (and the object kept) or finds the object gone and stores it again. Objects younger than
 * `minAgeMs` are left alone: a build may have stored one a moment ago and be about to record it.
 */
export async function collectGarbage(refs: ObjectReferences, store: ObjectStore, opts: { minAgeMs: number; dryRun?: boolean; log?: (m: string) => void }): Promise<GcResult> {
  return refs.exclusively(async () => {
    const result: GcResult = { scanned: 0, kept: 0, young: 0, deleted: 0, deletedBytes: 0 };
    const cutoff = Date.now() - opts.minAgeMs;
    let batch: { key: string; size: number }[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const referenced = await refs.referenced(batch.map((o) => o.key));
      for (const o of batch) {
        if (referenced.has(o.key)) {
          result.kept++;
          continue;
        }
        opts.log?.(`${opts.dryRun ? 'would delete' : 'deleting'} ${o.key} (${o.size} bytes)`);
        if (!opts.dryRun && !(await refs.removeIfUnreferenced(o.key, () => store.delete(o.key)))) {
          opts.log?.(`kept ${o.key}: a reference to it was recorded meanwhile`);
          result.kept++;
          continue;
        }
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
  });
}
