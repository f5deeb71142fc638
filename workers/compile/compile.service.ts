import { ArchiveError, extractArchive } from '../../src/jobs/archive';
import { languageToolchain, servedLanguageKey } from '../../src/jobs/languages';
import { prepared, PreparedStatement, returning, run } from '../../src/database/sql';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { chmodSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { KILN_CONFIG, KilnConfig } from '../../src/config/config';
import { BuildEvent, Upload } from '../../src/database/entities';
import { copyProduced, ProducedFileError } from '../sandbox/files';
import type { ArtifactKind, ModelInput, SourceInput } from '../../src/database/entities/job.entity';
import { compileModelBuild, MODEL_FILE } from '../toolchains/onnx';
import { cacheKey, copyFromCache, findCached, modelToolchain, rememberSql } from '../../src/jobs/build-cache';
import type { CanonicalTarget } from '../../src/targets/target';
import type { BuildStatus } from '../../src/jobs/build-status';
import { ContentStore } from '../../src/storage/content-store';
import { OBJECT_STORE, ObjectStore } from '../../src/storage/object-store';
import { type LocalObject, recordReferences } from '../../src/storage/references';
import { targetSpec, verifyWaitReason } from '../../src/targets/catalog';
import { SandboxExecutor } from '../sandbox/executor';
import { HOST, WorkerHost } from '../sandbox/host';
import { CAPABILITIES, Capabilities, ServedTarget } from '../toolchains/capabilities';
import type { Toolchain } from '../toolchains/toolchain';
import type { Redis } from 'ioredis';
import { REDIS } from '../../src/queue/redis.module';
import type { CompileResult } from '../toolchains/toolchain';
import { CancelRegistry } from './cancel-registry';
import { EnqueueService } from '../../src/queue/enqueue.service';
import { JobName, verifyJobId } from '../../src/queue/queue.types';
import { WorkerRegistry } from '../../src/targets/worker-registry';
import { verifyUploadIds, type VerifySpec } from '../../src/verification/spec';
import { verifyDataFile } from '../../src/verification/inputs';
import { REFERENCE_SRC_DIR } from '../toolchains/clang';

export const SANDBOX = Symbol('SANDBOX');

/** The largest single artifact a build may store. */
export const MAX_ARTIFACT_BYTES = 256 * 1024 * 1024;

/** How long a build's claim on its cache key lasts unless the compiling worker renews it. */
const CACHE_LOCK_MS = 15_000;


/**
 * A compiled build's result, its events, its artifacts and (when it succeeded) its build-cache
 * entry, in one statement.
 */
const FINISH_BUILD = prepared(
  `WITH upd AS (
          UPDATE builds SET status = $2, status_reason = $3, diagnostics = $4, log = $5, toolchain_ms = $6,
                 toolchain_key = $7, toolchain_version = $8, cache = COALESCE(cache, $12),
                 compiled_at = CASE WHEN $2 <> 'failed' THEN now() END,
                 finished_at = CASE WHEN $2 <> 'compiled' THEN now() END, updated_at = now()
           WHERE id = $1 AND status = 'compiling'
          RETURNING id, job_id, tenant_id, status, input_digest, toolchain_key, toolchain_version, cache),
        ev AS (
          INSERT INTO build_events (build_id, job_id, from_status, to_status, worker, message)
          SELECT upd.id, upd.job_id, e.doc->>'from_status', e.doc->>'to_status', $9, e.doc->>'message'
            FROM upd, jsonb_array_elements($10::jsonb) WITH ORDINALITY AS e(doc, n)
           ORDER BY e.n),
        art AS (
          INSERT INTO artifacts (build_id, tenant_id, kind, name, size, sha256, storage_key, content_type)
          SELECT upd.id, upd.tenant_id, a.kind, a.name, a.size, a.sha256, a.storage_key, a.content_type
            FROM upd, jsonb_to_recordset($11::jsonb) AS a(kind text, name text, size bigint, sha256 text, storage_key text, content_type text)),
        cached AS (${rememberSql('upd')})
   SELECT count(*)::int AS n FROM upd`,
);

const TRANSITIONS = new Map<string, PreparedStatement>();

/** A build as a worker holds it while running it: its target and its job's input. */
export interface ClaimedBuild {
  id: string;
  jobId: string;
  tenantId: string;
  target: CanonicalTarget;
  source: SourceInput | null;
  model: ModelInput | null;
  outputs: ArtifactKind[];
  verify: VerifySpec | null;
  verifyPool: string | null;
  inputDigest: string | null;
  cache: 'hit' | 'miss' | 'bypass' | null;
}

export type CompileOutcome = 'succeeded' | 'compiled' | 'failed' | 'canceled' | 'skipped';

/**
 * Runs one build: claims it, writes its sources into a fresh work folder, compiles them in the
 * sandbox, stores the artifacts by content, and records the result in one transaction.
 */
@Injectable()
export class CompileService {
  private readonly logger = new Logger(CompileService.name);

  constructor(
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly content: ContentStore,
    @Inject(CAPABILITIES) private readonly caps: Capabilities,
    @Inject(SANDBOX) private readonly sandbox: SandboxExecutor,
    private readonly cancels: CancelRegistry,
    private readonly enqueuer: EnqueueService,
    private readonly registry: WorkerRegistry,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(HOST) private readonly host: WorkerHost,
  ) {}

  private get workerId(): string {
    return this.config.worker.id;
  }

  /**
   * Moves a build between states and records the event, in one statement, only if it is still
   * in one of `from`. Returns the build with its job's input, or null when it was not in `from`.
   */
  private async transition(buildId: string, from: BuildStatus[], to: BuildStatus, set: Record<string, unknown>, message: string | null): Promise<ClaimedBuild | null> {
    const cols = Object.keys(set);
    const assignments = cols.map((c, i) => `, ${c} = $${i + 6}`).join('');
    const text =
      `WITH old AS (SELECT id, status AS prev FROM builds WHERE id = $1 AND status = ANY($3) FOR UPDATE),
            upd AS (UPDATE builds b SET status = $2, updated_at = now()${to === 'compiling' ? ', started_at = now()' : ''}${assignments}
                      FROM old WHERE b.id = old.id
                      RETURNING b.id, b.job_id, b.tenant_id, b.target, b.verify_pool, b.input_digest, b.cache, old.prev),
            ev AS (INSERT INTO build_events (build_id, job_id, from_status, to_status, worker, message)
                     SELECT id, job_id, prev, $2, $4, $5 FROM upd)
       SELECT upd.id, upd.job_id, upd.tenant_id, upd.target, upd.verify_pool, upd.input_digest, upd.cache, j.source, j.model, j.outputs, j.verify
         FROM upd JOIN jobs j ON j.id = upd.job_id`;
    // A handful of texts (by target status and columns set), each prepared once per connection.
    let statement = TRANSITIONS.get(text);
    if (!statement) TRANSITIONS.set(text, (statement = prepared(text)));
    const rows = await run(this.db, statement, [buildId, to, from, this.workerId, message, ...cols.map((c) => set[c])]);
    const r = (rows as { id: string; job_id: string; tenant_id: string; target: CanonicalTarget; source: SourceInput | null; model: ModelInput | null; outputs: ArtifactKind[]; verify: VerifySpec | null; verify_pool: string | null; input_digest: string | null; cache: ClaimedBuild['cache'] }[])[0];
    return r ? { id: r.id, jobId: r.job_id, tenantId: r.tenant_id, target: r.target, source: r.source, model: r.model, outputs: r.outputs, verify: r.verify, verifyPool: r.verify_pool, inputDigest: r.input_digest, cache: r.cache } : null;
  }

  async run(buildId: string, attempt: number): Promise<CompileOutcome> {
    const build = await this.transition(
      buildId,
      ['queued', 'waiting', 'compiling'],
      'compiling',
      { worker: this.workerId, attempts: attempt, status_reason: null },
      attempt > 1 ? `attempt ${attempt}` : null,
    );
    if (!build) {
      // Compiled by an earlier delivery whose hand-over to verification did not happen: redo that.
      const compiled = await this.db.query(`SELECT job_id, tenant_id, verify_pool FROM builds WHERE id = $1 AND status = 'compiled'`, [buildId]);
      if (compiled.length && compiled[0].verify_pool) {
        await this.enqueueVerification(buildId, compiled[0].job_id, compiled[0].tenant_id, compiled[0].verify_pool);
        return 'compiled';
      }
      return 'skipped'; // canceled, or already finished
    }
    const served = this.caps.targets.get(build.target.name);
    const language = build.source?.language ?? 'c';
    const chosen = build.source ? languageToolchain(build.source.language, build.source.toolchain) : null;
    const builder = served?.languages.get(chosen ? servedLanguageKey(language, chosen.toolchain, chosen.isDefault) : language);
    if (!served || (!build.model && !builder)) {
      return this.finish(build, null, { ok: false, diagnostics: [], log: '', toolchainMs: 0, artifacts: [], failureReason: served ? `this worker has no ${chosen?.toolchain ?? ''} toolchain for ${language} on ${build.target.name}` : `this worker cannot build ${build.target.name}` });
    }

    // The build cache: a succeeded build with the same input and this worker's toolchain is
    // reused; an identical build compiling elsewhere right now is waited for, not repeated.
    const identity = build.model ? modelToolchain(served.version) : { key: builder!.toolchain.key, version: builder!.version };
    const key = build.inputDigest ? cacheKey(build.tenantId, build.inputDigest, identity) : null;
    let lock: string | null = null;
    if (key && build.cache !== 'bypass') {
      const reused = await this.reuseOrLock(build, key);
      if (reused === 'reused') return 'succeeded';
      lock = reused;
      build.cache = 'miss'; // recorded with the result (finish)
    }
    // The lock lives only while it is renewed, so a worker that dies mid-build holds up the
    // identical builds waiting on it for seconds, not for a whole compile timeout.
    const renewal = lock ? setInterval(() => void this.redis.eval(`if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0`, 1, lock!, build.id, CACHE_LOCK_MS).catch(() => undefined), CACHE_LOCK_MS / 3) : undefined;
    try {
      return await this.compileAndRecord(build, served, builder);
    } finally {
      clearInterval(renewal);
      if (lock) await this.redis.eval(`if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`, 1, lock, build.id).catch(() => undefined);
    }
  }

  /**
   * Reuses a cached result, or takes the key's lock so that identical builds arriving together
   * compile once: a build that finds the lock taken waits for the other's result (up to the
   * compile timeout, then compiles itself). Returns 'reused', or the lock's Redis key.
   */
  private async reuseOrLock(build: ClaimedBuild, key: string): Promise<'reused' | string | null> {
    const lock = `${this.config.queuePrefix}:cache-lock:${key}`;
    const deadline = Date.now() + this.config.worker.compileTimeoutMs;
    for (let round = 0; ; round++) {
      const hit = await findCached(this.db, build.tenantId, [key]);
      if (hit && (await copyFromCache(this.db, build.id, hit.buildId, ['compiling'], this.workerId))) {
        this.logger.log(`build ${build.id} (${build.target.name}) succeeded from the cache (build ${hit.buildId})`);
        return 'reused';
      }
      // Taken, or still held by this very build's earlier attempt (whose worker was lost: this
      // worker has claimed the build since).
      const taken = await this.redis.eval(
        `local v = redis.call('get', KEYS[1]) if v == false or v == ARGV[1] then redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end return 0`,
        1,
        lock,
        build.id,
        CACHE_LOCK_MS,
      );
      if (taken === 1) return lock;
      if (Date.now() > deadline) return null;
      if (round % 10 === 9) {
        const still: { status: string }[] = await this.db.query(`SELECT status FROM builds WHERE id = $1`, [build.id]);
        if (still[0]?.status !== 'compiling') return null; // canceled meanwhile: compileAndRecord will see it
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  private async compileAndRecord(build: ClaimedBuild, served: ServedTarget, builder: { toolchain: Toolchain; version: string } | undefined): Promise<CompileOutcome> {
    const buildId = build.id;
    // The build folder holds work/ (the sandbox's /work, where the toolchain runs) and stage/
    // (the worker's own: artifacts copied out of work/ as data, the verification bundle, and the
    // folders of reference runs). Nothing under work/ is trusted once a sandboxed step has run.
    const folder = await this.host.acquire('build');
    const buildDir = folder.dir;
    const workdir = join(buildDir, 'work');
    const stage = join(buildDir, 'stage');
    mkdirSync(stage, { mode: 0o711 });
    const controller = new AbortController();
    this.cancels.register(buildId, controller);
    try {
      try {
        await this.writeSources(build, workdir);
      } catch (e) {
        // A hostile archive is the build's doing, not the worker's: it fails, with why.
        if (!(e instanceof ArchiveError)) throw e;
        return this.finish(build, null, { ok: false, diagnostics: [], log: '', toolchainMs: 0, artifacts: [], failureReason: `the archive was refused: ${e.message}` });
      }
      const source = build.source ?? { language: 'c' as const, files: [], options: [], defines: {} };
      const request = {
          // The toolchains see an archive's files as part of the project.
          source: source.archive ? { ...source, files: [...source.files, ...source.archive.files.map((path) => ({ path }))] } : source,
          model: build.model,
          modelMaxNodes: this.config.models.maxNodes,
          target: build.target,
          spec: targetSpec(build.target.name),
          outputs: build.outputs,
          workdir,
          stage,
          timeoutMs: this.config.worker.compileTimeoutMs,
          signal: controller.signal,
          verify: build.verify,
      };
      const result = build.model ? await compileModelBuild(request, this.sandbox) : await builder!.toolchain.compile(request, this.sandbox);
      if (result.canceled) return 'canceled';
      const toolchain = build.model ? modelToolchain(served.version) : { key: builder!.toolchain.key, version: builder!.version };
      try {
        return await this.finish(build, toolchain, result, workdir, stage);
      } catch (e) {
        // An output that is a link, missing or oversized is the build's doing: it fails, with why.
        if (!(e instanceof ProducedFileError)) throw e;
        return this.finish(build, toolchain, { ...result, ok: false, artifacts: [], bundle: undefined, failureReason: `an output was refused: ${e.message}` });
      }
    } finally {
      this.cancels.unregister(buildId);
      await folder.release();
    }
  }

  /**
   * Sandboxed processes run as another user: the folders they write to must be open to it.
   * (The work folder's own small files and folders are made, and removed, synchronously: each
   * asynchronous call is a round trip through the thread pool, and those cost several times
   * the work itself, about 3 ms of CPU per build for these alone.)
   */
  private async writeSources(job: Pick<ClaimedBuild, 'source' | 'model' | 'tenantId' | 'jobId' | 'verify'>, workdir: string): Promise<void> {
    for (const d of ['', 'src', 'out', 'out/obj', 'out/asm', 'out/ir', 'out/bin', 'out/lib', 'out/gpu']) {
      mkdirSync(join(workdir, d), { recursive: true });
      chmodSync(join(workdir, d), 0o777);
    }
    if (job.model) {
      const upload = await this.db.getRepository(Upload).findOneBy({ id: job.model.uploadId, tenantId: job.tenantId });
      if (!upload) throw new Error(`the model upload ${job.model.uploadId} of job ${job.jobId} is gone`);
      await mkdir(join(workdir, 'model'));
      await pipeline(await this.store.get(upload.storageKey), createWriteStream(join(workdir, MODEL_FILE)));
      return;
    }
    const source = job.source!;
    const uploadIds = source.files.filter((f) => f.uploadId).map((f) => f.uploadId!);
    const uploads = uploadIds.length ? await this.db.getRepository(Upload).findBy({ id: In(uploadIds), tenantId: job.tenantId }) : [];
    for (const f of source.files) {
      const path = join(workdir, 'src', f.path);
      mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
      if (f.content !== undefined) {
        writeFileSync(path, f.content);
      } else {
        const upload = uploads.find((u) => u.id === f.uploadId);
        if (!upload) throw new Error(`upload ${f.uploadId} of job ${job.jobId} is gone`);
        await pipeline(await this.store.get(upload.storageKey), createWriteStream(path));
      }
    }
    await this.writeVerificationFiles(job, workdir);
    if (source.archive) {
      const upload = await this.db.getRepository(Upload).findOneBy({ id: source.archive.uploadId, tenantId: job.tenantId });
      if (!upload) throw new Error(`the archive upload ${source.archive.uploadId} of job ${job.jobId} is gone`);
      const chunks: Buffer[] = [];
      for await (const c of await this.store.get(upload.storageKey)) chunks.push(c as Buffer);
      // Checked again here, entry by entry, as it is written: the worker trusts no input.
      await extractArchive(Buffer.concat(chunks), join(workdir, 'src'), this.config.archiveLimits);
    }
  }

  /**
   * What a check brings besides the job's sources: its uploaded tensors under verify-data/
   * (input-<arg>.bin, expected-<arg>.bin) and its reference source under ref-src/.
   */
  private async writeVerificationFiles(job: Pick<ClaimedBuild, 'tenantId' | 'jobId' | 'verify'>, workdir: string): Promise<void> {
    const verify = job.verify;
    const ids = verifyUploadIds(verify);
    if (!verify || verify.kind === 'model' || (ids.length === 0 && !verify.reference)) return;
    const uploads = ids.length ? await this.db.getRepository(Upload).findBy({ id: In(ids), tenantId: job.tenantId }) : [];
    const fetch = async (id: string, path: string) => {
      const upload = uploads.find((u) => u.id === id);
      if (!upload) throw new Error(`upload ${id} of job ${job.jobId}'s verification is gone`);
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      await pipeline(await this.store.get(upload.storageKey), createWriteStream(path));
    };
    if (verify.kind === 'kernel') {
      for (const a of verify.args) {
        if (a.kind !== 'buffer') continue;
        if (a.input) await fetch(a.input.uploadId, join(workdir, verifyDataFile('input', a.name)));
        if (a.expected) await fetch(a.expected.uploadId, join(workdir, verifyDataFile('expected', a.name)));
      }
    }
    if (verify.reference) {
      await mkdir(join(workdir, REFERENCE_SRC_DIR), { mode: 0o777 });
      await chmod(join(workdir, REFERENCE_SRC_DIR), 0o777);
      for (const f of verify.reference.files) {
        const path = join(workdir, REFERENCE_SRC_DIR, f.path);
        if (f.content !== undefined) {
          await mkdir(dirname(path), { recursive: true, mode: 0o755 });
          await writeFile(path, f.content);
        } else await fetch(f.uploadId!, path);
      }
    }
  }

  /**
   * Stores artifacts, then records the result, its events, its artifacts and (when it
   * succeeded) its build-cache entry in one statement.
   */
  private async finish(build: ClaimedBuild, toolchain: { key: string; version: string } | null, result: CompileResult, workdir?: string, stage?: string): Promise<CompileOutcome> {
    const stored: { storage_key: string; sha256: string; size: number; kind: string; name: string; content_type: string }[] = [];
    const objects: LocalObject[] = [];
    if (result.ok) {
      if (result.artifacts.length) mkdirSync(join(stage!, 'artifacts'), { mode: 0o700 });
      for (const [i, a] of result.artifacts.entries()) {
        // Copied out of the work folder as data (a regular file reached through real folders),
        // and stored from the copy: the worker never opens a path the build could redirect.
        const rel = relative(workdir!, a.hostPath);
        if (rel.startsWith('..') || isAbsolute(rel)) throw new Error(`artifact ${a.name} is outside the work folder`);
        const copy = join(stage!, 'artifacts', String(i));
        await copyProduced(workdir!, rel, copy, MAX_ARTIFACT_BYTES);
        const put = await this.content.putFile(copy, a.contentType);
        stored.push({ storage_key: put.key, sha256: put.sha256, size: put.size, kind: a.kind, name: a.name, content_type: a.contentType });
        objects.push({ key: put.key, localPath: copy, contentType: a.contentType, size: put.size });
      }
      // The bundle was put together in the stage, which no sandboxed step can write.
      for (const f of result.bundle?.files ?? []) {
        const type = f.name.endsWith('.json') ? 'application/json' : 'application/octet-stream';
        const put = await this.content.putFile(f.hostPath, type);
        stored.push({ storage_key: put.key, sha256: put.sha256, size: put.size, kind: 'bundle', name: `verify/${f.name}`, content_type: type });
        objects.push({ key: put.key, localPath: f.hostPath, contentType: type, size: put.size });
      }
    }
    // With a verification bundle the build is compiled, and a runner takes it from here.
    const verifying = result.ok && result.bundle !== undefined && build.verifyPool !== null;
    const to: BuildStatus = !result.ok ? 'failed' : verifying ? 'compiled' : 'succeeded';
    const reason = !result.ok ? (result.failureReason ?? 'compilation failed') : verifying ? await this.verifyWaitReason(build.verifyPool!) : null;
    const events = !result.ok
      ? [{ from_status: 'compiling', to_status: 'failed', message: reason }]
      : verifying
        ? [{ from_status: 'compiling', to_status: 'compiled', message: reason }]
        : [
            { from_status: 'compiling', to_status: 'compiled', message: null },
            { from_status: 'compiled', to_status: 'succeeded', message: null },
          ];
    // Under the objects' shared locks: a deletion of an object that equal bytes of another build
    // stored earlier cannot slip between storing it here and recording these rows.
    const rows = await recordReferences(this.db, this.store, objects, (tx) => run<{ n: number }>(
      tx,
      FINISH_BUILD,
      [
        build.id,
        to,
        reason,
        JSON.stringify(result.diagnostics),
        result.log || null,
        Math.round(result.toolchainMs),
        toolchain?.key ?? null,
        toolchain?.version ?? null,
        this.workerId,
        JSON.stringify(events),
        JSON.stringify(stored),
        // The cache was looked up and had nothing: a miss, known now that there is a result.
        build.cache === 'miss' ? 'miss' : null,
      ],
    ));
    if (rows[0].n === 0) {
      // Canceled while compiling. Its objects are content-addressed and may be shared with a
      // build that is storing the same bytes right now, so they are not deleted here.
      return 'canceled';
    }
    this.logger.log(`build ${build.id} (${build.target.name}) ${to}${result.ok ? '' : `: ${result.failureReason}`}`);
    if (verifying) await this.enqueueVerification(build.id, build.jobId, build.tenantId, build.verifyPool!);
    return to;
  }

  private async enqueueVerification(buildId: string, jobId: string, tenantId: string, pool: string): Promise<void> {
    await this.enqueuer.enqueue([{ pool, name: JobName.VerifyBuild, jobId: verifyJobId(buildId), data: { buildId, jobId, tenantId } }]);
  }

  /** Says what a compiled build waits for when no live worker can run its code yet. */
  private async verifyWaitReason(pool: string): Promise<string | null> {
    const workers = await this.registry.list().catch(() => []);
    return workers.some((w) => w.pools.includes(pool)) ? null : verifyWaitReason(pool);
  }

  /** After the last attempt: the build fails with the infrastructure error that stopped it. */
  async failForGood(buildId: string, reason: string): Promise<void> {
    await this.transition(buildId, ['queued', 'waiting', 'compiling', 'compiled', 'verifying'], 'failed', { status_reason: reason, finished_at: new Date() }, reason);
  }

  /** Between attempts: the build goes back to where the failed step started, and says why. */
  async requeue(buildId: string, reason: string): Promise<void> {
    await this.transition(buildId, ['compiling'], 'queued', { status_reason: reason }, reason);
    await this.transition(buildId, ['verifying'], 'compiled', { status_reason: reason }, reason);
  }

  /** Builds that were waiting for a worker of these pools are queued now that one is here. */
  async releaseWaiting(pools: string[]): Promise<number> {
    return this.db.transaction(async (tx) => {
      const rows = await returning<{ id: string; job_id: string }>(tx, 
        `UPDATE builds SET status = 'queued', status_reason = NULL, updated_at = now()
          WHERE pool = ANY($1) AND status = 'waiting' RETURNING id, job_id`,
        [pools],
      );
      if (rows.length) {
        // By job: each event's insert locks its job (see the BuildEventOrder migration), always in the same order.
        rows.sort((a, b) => (a.job_id < b.job_id ? -1 : a.job_id > b.job_id ? 1 : 0));
        await tx.getRepository(BuildEvent).insert(rows.map((r) => ({ buildId: r.id, jobId: r.job_id, fromStatus: 'waiting' as const, toStatus: 'queued' as const, worker: this.workerId, message: 'a worker for this pool connected' })));
      }
      return rows.length;
    });
  }
}
