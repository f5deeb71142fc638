import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { prepared, run } from '../database/sql';
import type { ModelInput, SourceInput } from '../database/entities/job.entity';
import type { CanonicalTarget } from '../targets/target';
import type { VerifySpec } from '../verification/spec';
import { COMPILER_VERSION } from '../../compiler/src/compile';

/**
 * The build cache. A build's input digest is a hash over everything that decides its result
 * except the toolchain: file paths and contents (uploads by their sha256), options, defines,
 * the canonical target descriptor, the outputs and the verification asked for. The cache key
 * adds the tenant and the toolchain's identity and version, so a new compiler never serves an
 * old result, and one tenant's hit never reveals another tenant's input (the cache is not
 * shared across tenants: a shared cache would let anyone test whether someone else compiled a
 * given file). Only succeeded builds are cached.
 */
export const CACHE_VERSION = 1;

export type CacheStatus = 'hit' | 'miss' | 'bypass';

function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** JSON with object keys sorted, so equal inputs always hash the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value as object)
      .sort()
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

export interface DigestInput {
  source: SourceInput | null;
  model: ModelInput | null;
  /** sha256 of each upload the input names, by upload id. */
  uploadHashes: Map<string, string>;
  target: CanonicalTarget;
  outputs: string[];
  verify: VerifySpec | null;
}

export function inputDigest(i: DigestInput): string {
  const hashOf = (id: string) => {
    const h = i.uploadHashes.get(id);
    if (!h) throw new Error(`no sha256 known for upload ${id}`);
    return h;
  };
  const source = i.source && {
    language: i.source.language,
    options: i.source.options,
    defines: i.source.defines,
    files: [...i.source.files].sort((a, b) => (a.path < b.path ? -1 : 1)).map((f) => ({ path: f.path, sha256: f.uploadId ? hashOf(f.uploadId) : sha256(f.content ?? '') })),
    archive: i.source.archive ? hashOf(i.source.archive.uploadId) : null,
  };
  const model = i.model && { sha256: hashOf(i.model.uploadId), inputShapes: i.model.inputShapes, ...(i.model.threads && i.model.threads > 1 ? { threads: i.model.threads } : {}) };
  return sha256(canonicalJson({ v: CACHE_VERSION, source, model, target: i.target, outputs: [...i.outputs].sort(), verify: verifyByContent(i.verify, hashOf) }));
}

/**
 * The verification spec with each upload it names (input tensors, expected outputs, reference
 * files) replaced by its content's sha256: new bytes never hit an old result, and a spec that
 * names no upload hashes as it always did.
 */
function verifyByContent(spec: VerifySpec | null, hashOf: (id: string) => string): unknown {
  if (!spec) return spec;
  // How long a build may wait for a runner does not change what is built or how it is checked.
  const { deviceWaitSeconds: _wait, ...verify } = spec;
  if (verify.kind === 'model') return verify;
  const ref = (u: { uploadId: string } | undefined) => (u ? { sha256: hashOf(u.uploadId) } : undefined);
  const reference = verify.reference && {
    ...verify.reference,
    files: [...verify.reference.files].sort((a, b) => (a.path < b.path ? -1 : 1)).map((f) => (f.uploadId ? { path: f.path, sha256: hashOf(f.uploadId) } : f)),
  };
  if (verify.kind === 'program') return { ...verify, reference };
  return { ...verify, args: verify.args.map((a) => (a.kind === 'buffer' ? { ...a, input: ref(a.input), expected: ref(a.expected) } : a)), reference };
}

/** The toolchain identity of a model build: Kiln's model compiler and the clang behind it. */
export const MODEL_TOOLCHAIN_KEY = 'kiln-onnx';
export function modelToolchain(clangVersion: string): { key: string; version: string } {
  return { key: MODEL_TOOLCHAIN_KEY, version: `${COMPILER_VERSION}+clang-${clangVersion}` };
}

export function cacheKey(tenantId: string, digest: string, toolchain: { key: string; version: string }): string {
  return sha256(`${tenantId}\n${digest}\n${toolchain.key}@${toolchain.version}`);
}

/**
 * Whether the build a cache entry (alias c) points to still succeeded and belongs to tenant $T:
 * a scalar subquery by the build's primary key, which PostgreSQL runs as it is for each entry
 * found by its key. (As a join, a table not yet analyzed made the planner start from every
 * succeeded build instead, a walk that grew with the table.)
 */
export const CACHED_BUILD_OK = `SELECT b.tenant_id = $T AND b.status = 'succeeded' FROM builds b WHERE b.id = c.build_id`;

const FIND_CACHED = prepared(
  `SELECT c.key, c.build_id FROM build_cache c
    WHERE c.key = ANY($1) AND c.tenant_id = $2 AND (${CACHED_BUILD_OK.replace('$T', '$2')})
    ORDER BY c.created_at DESC LIMIT 1`,
);

/** The stored build a key points to, if it still succeeded and belongs to the tenant. */
export async function findCached(db: Pick<EntityManager, 'query'>, tenantId: string, keys: string[]): Promise<{ key: string; buildId: string } | null> {
  if (keys.length === 0) return null;
  const rows = await run<{ key: string; build_id: string }>(db, FIND_CACHED, [keys, tenantId]);
  return rows[0] ? { key: rows[0].key, buildId: rows[0].build_id } : null;
}

/**
 * Records a build that has just succeeded under its key, computed in SQL from what the build
 * row holds by the same formula as cacheKey(); a newer result replaces an older one. A result
 * that itself came from the cache is not recorded again.
 */
export async function rememberSucceeded(db: Pick<EntityManager, 'query'>, buildId: string): Promise<void> {
  await db.query(rememberSql('builds', 'b.id = $1'), [buildId]);
}

/**
 * The statement of rememberSucceeded for the build rows of `from` (aliased b) that `where`
 * picks: a table, or, in a worker's final statement, the RETURNING of the UPDATE that
 * finished the build, so recording its result and caching it take one round trip.
 */
export function rememberSql(from: string, where?: string): string {
  return `INSERT INTO build_cache (key, tenant_id, build_id)
     SELECT encode(sha256(convert_to(b.tenant_id::text || E'\\n' || b.input_digest || E'\\n' || b.toolchain_key || '@' || b.toolchain_version, 'UTF8')), 'hex'), b.tenant_id, b.id
       FROM ${from} b
      WHERE b.status = 'succeeded' AND b.input_digest IS NOT NULL AND b.toolchain_key IS NOT NULL AND b.toolchain_version IS NOT NULL
        AND b.cache IS DISTINCT FROM 'hit'${where ? ` AND ${where}` : ''}
     ON CONFLICT (key) DO UPDATE SET build_id = EXCLUDED.build_id, created_at = now()`;
}

const COPY_FROM_CACHE = prepared(
  `WITH src AS (SELECT * FROM builds WHERE id = $2 AND status = 'succeeded' FOR SHARE),
        old AS (SELECT b.id, b.status AS prev FROM builds b, src WHERE b.id = $1 AND b.status = ANY($3) AND b.tenant_id = src.tenant_id FOR UPDATE OF b),
        upd AS (
          UPDATE builds b SET status = 'succeeded', status_reason = NULL, diagnostics = src.diagnostics, log = src.log,
                 toolchain_key = src.toolchain_key, toolchain_version = src.toolchain_version, toolchain_ms = 0,
                 verification = src.verification, verified_at = CASE WHEN src.verification IS NULL THEN NULL ELSE now() END,
                 cache = 'hit', cached_from = src.id, worker = COALESCE($4, b.worker),
                 started_at = COALESCE(b.started_at, now()), compiled_at = now(), finished_at = now(), updated_at = now()
            FROM src, old WHERE b.id = old.id
          RETURNING b.id, b.job_id, b.tenant_id, old.prev),
        ev AS (
          INSERT INTO build_events (build_id, job_id, from_status, to_status, worker, message)
          SELECT upd.id, upd.job_id, upd.prev, 'succeeded', $4, 'from the build cache: the same input as build ' || $2 FROM upd),
        art AS (
          INSERT INTO artifacts (build_id, tenant_id, kind, name, size, sha256, storage_key, content_type)
          SELECT upd.id, upd.tenant_id, a.kind, a.name, a.size, a.sha256, a.storage_key, a.content_type
            FROM upd JOIN artifacts a ON a.build_id = $2),
        hit AS (UPDATE build_cache SET hits = hits + 1, last_hit_at = now() WHERE build_id = $2 AND EXISTS (SELECT 1 FROM upd))
   SELECT count(*)::int AS n FROM upd`,
);

/**
 * Makes `buildId` a copy of the cached build `fromId`, in one statement: status succeeded,
 * the same diagnostics, log, toolchain, verification and artifacts (the stored objects are
 * content-addressed and shared), and an event that says where the result came from. Only
 * from one of `fromStatuses`; returns whether it happened. The cached build's row is locked
 * FOR SHARE, which deleting its job waits for (and a copy started after that deletion finds
 * nothing), so the copied rows never refer to objects that a deletion is removing.
 */
export async function copyFromCache(db: Pick<EntityManager, 'query'>, buildId: string, fromId: string, fromStatuses: string[], worker: string | null): Promise<boolean> {
  const rows = await run<{ n: number }>(db, COPY_FROM_CACHE, [buildId, fromId, fromStatuses, worker]);
  return rows[0].n > 0;
}

/**
 * Before copying several cached builds in one transaction (a job whose targets are all cache
 * hits): each copy adds references to its objects, and two such transactions adding them one
 * build at a time in different orders could deadlock on the reference rows. This takes what the
 * copies will take, in the order every other writer takes it: the cached builds' rows (by id,
 * as deleting a job does), then the tenant's reference rows of their objects (by key, as the
 * triggers on artifacts do).
 */
export async function lockCachedBuilds(tx: Pick<EntityManager, 'query'>, tenantId: string, buildIds: string[]): Promise<void> {
  if (buildIds.length < 2) return;
  await tx.query(`SELECT 1 FROM builds WHERE id = ANY($1) ORDER BY id FOR SHARE`, [buildIds]);
  await tx.query(
    `SELECT 1 FROM object_refs WHERE tenant_id = $1 AND storage_key IN (SELECT storage_key FROM artifacts WHERE build_id = ANY($2))
      ORDER BY storage_key, tenant_id FOR UPDATE`,
    [tenantId, buildIds],
  );
}
