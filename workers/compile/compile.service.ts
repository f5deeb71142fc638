import { returning } from '../../src/database/sql';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, In } from 'typeorm';
import { KILN_CONFIG, KilnConfig } from '../../src/config/config';
import { Artifact, Build, BuildEvent, Job, Upload } from '../../src/database/entities';
import type { BuildStatus } from '../../src/jobs/build-status';
import { ContentStore } from '../../src/storage/content-store';
import { OBJECT_STORE, ObjectStore } from '../../src/storage/object-store';
import { targetSpec } from '../../src/targets/catalog';
import { SandboxExecutor } from '../sandbox/executor';
import { CAPABILITIES, Capabilities } from '../toolchains/capabilities';
import type { CompileResult } from '../toolchains/toolchain';
import { CancelRegistry } from './cancel-registry';

export const SANDBOX = Symbol('SANDBOX');

export type CompileOutcome = 'succeeded' | 'failed' | 'canceled' | 'skipped';

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
  ) {}

  private get workerId(): string {
    return this.config.worker.id;
  }

  /** Moves a build between states and records the event, only if it is still in one of `from`. */
  private async transition(buildId: string, from: BuildStatus[], to: BuildStatus, set: Partial<Record<string, unknown>>, message: string | null): Promise<Build | null> {
    return this.db.transaction(async (tx) => {
      const cols = Object.keys(set);
      const assignments = cols.map((c, i) => `${c} = $${i + 4}`).join(', ');
      const rows = await returning<{ id: string; job_id: string; prev: BuildStatus }>(tx, 
        `UPDATE builds b SET status = $2, updated_at = now()${assignments ? ', ' + assignments : ''}
           FROM (SELECT id, status AS prev FROM builds WHERE id = $1 AND status = ANY($3) FOR UPDATE) old
          WHERE b.id = old.id
          RETURNING b.id, b.job_id, old.prev`,
        [buildId, to, from, ...cols.map((c) => set[c])],
      );
      if (rows.length === 0) return null;
      await tx.getRepository(BuildEvent).insert({ buildId, jobId: rows[0].job_id, fromStatus: rows[0].prev, toStatus: to, worker: this.workerId, message });
      return tx.getRepository(Build).findOneByOrFail({ id: buildId });
    });
  }

  async run(buildId: string, attempt: number): Promise<CompileOutcome> {
    const build = await this.transition(
      buildId,
      ['queued', 'waiting', 'compiling'],
      'compiling',
      { worker: this.workerId, started_at: new Date(), attempts: attempt, status_reason: null },
      attempt > 1 ? `attempt ${attempt}` : null,
    );
    if (!build) return 'skipped'; // canceled, or already finished by an earlier delivery
    const job = await this.db.getRepository(Job).findOneByOrFail({ id: build.jobId });
    const served = this.caps.targets.get(build.target.name);
    if (!served) {
      await this.finish(build, { ok: false, diagnostics: [], log: '', toolchainMs: 0, artifacts: [], failureReason: `this worker cannot build ${build.target.name}` });
      return 'failed';
    }

    const workdir = await mkdtemp(join(this.config.worker.workRoot, 'build-'));
    const controller = new AbortController();
    this.cancels.register(buildId, controller);
    try {
      await this.writeSources(job, workdir);
      const result = await served.toolchain.compile(
        {
          source: job.source,
          target: build.target,
          spec: targetSpec(build.target.name),
          outputs: job.outputs,
          workdir,
          timeoutMs: this.config.worker.compileTimeoutMs,
          signal: controller.signal,
        },
        this.sandbox,
      );
      if (result.canceled) return 'canceled';
      await this.db.getRepository(Build).update({ id: buildId }, { toolchainKey: served.toolchain.key, toolchainVersion: served.version });
      return await this.finish(build, result);
    } finally {
      this.cancels.unregister(buildId);
      await rm(workdir, { recursive: true, force: true });
    }
  }

  /** Sandboxed processes run as another user: the folders they write to must be open to it. */
  private async writeSources(job: Job, workdir: string): Promise<void> {
    await chmod(workdir, 0o777);
    await mkdir(join(workdir, 'src'), { mode: 0o777 });
    await chmod(join(workdir, 'src'), 0o777);
    for (const d of ['out', 'out/obj', 'out/asm', 'out/ir', 'out/bin', 'out/lib']) {
      await mkdir(join(workdir, d), { recursive: true });
      await chmod(join(workdir, d), 0o777);
    }
    const uploadIds = job.source.files.filter((f) => f.uploadId).map((f) => f.uploadId!);
    const uploads = uploadIds.length ? await this.db.getRepository(Upload).findBy({ id: In(uploadIds), tenantId: job.tenantId }) : [];
    for (const f of job.source.files) {
      const path = join(workdir, 'src', f.path);
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      if (f.content !== undefined) {
        await writeFile(path, f.content);
      } else {
        const upload = uploads.find((u) => u.id === f.uploadId);
        if (!upload) throw new Error(`upload ${f.uploadId} of job ${job.id} is gone`);
        await pipeline(await this.store.get(upload.storageKey), createWriteStream(path));
      }
    }
  }

  /** Stores artifacts, then records the result and the artifacts together, or nothing at all. */
  private async finish(build: Build, result: CompileResult): Promise<CompileOutcome> {
    const stored: { key: string; sha256: string; size: number; kind: Artifact['kind']; name: string; contentType: string }[] = [];
    if (result.ok) {
      for (const a of result.artifacts) {
        const put = await this.content.putFile(a.hostPath, a.contentType);
        stored.push({ ...put, kind: a.kind, name: a.name, contentType: a.contentType });
      }
    }
    const now = new Date();
    const recorded = await this.db.transaction(async (tx) => {
      const to: BuildStatus = result.ok ? 'succeeded' : 'failed';
      const rows = await returning<{ job_id: string }>(tx, 
        `UPDATE builds SET status = $2, status_reason = $3, diagnostics = $4, log = $5, toolchain_ms = $6,
                compiled_at = $7, finished_at = $8, updated_at = now()
          WHERE id = $1 AND status = 'compiling' RETURNING job_id`,
        [build.id, to, result.ok ? null : (result.failureReason ?? 'compilation failed'), JSON.stringify(result.diagnostics), result.log || null, Math.round(result.toolchainMs), result.ok ? now : null, now],
      );
      if (rows.length === 0) return false;
      const events: Partial<BuildEvent>[] = result.ok
        ? [
            { buildId: build.id, jobId: build.jobId, fromStatus: 'compiling', toStatus: 'compiled', worker: this.workerId, message: null, at: now },
            { buildId: build.id, jobId: build.jobId, fromStatus: 'compiled', toStatus: 'succeeded', worker: this.workerId, message: null, at: now },
          ]
        : [{ buildId: build.id, jobId: build.jobId, fromStatus: 'compiling', toStatus: 'failed', worker: this.workerId, message: result.failureReason ?? null, at: now }];
      await tx.getRepository(BuildEvent).insert(events);
      if (stored.length) {
        await tx.getRepository(Artifact).insert(
          stored.map((s) => ({ buildId: build.id, tenantId: build.tenantId, kind: s.kind, name: s.name, size: s.size, sha256: s.sha256, storageKey: s.key, contentType: s.contentType })),
        );
      }
      return true;
    });
    if (!recorded) {
      // Canceled while compiling: its objects go unless another artifact shares the bytes.
      await this.dropUnreferenced(stored.map((s) => s.key));
      return 'canceled';
    }
    this.logger.log(`build ${build.id} (${build.target.name}) ${result.ok ? 'succeeded' : `failed: ${result.failureReason}`}`);
    return result.ok ? 'succeeded' : 'failed';
  }

  private async dropUnreferenced(keys: string[]): Promise<void> {
    for (const key of new Set(keys)) {
      const used = await this.db.getRepository(Artifact).existsBy({ storageKey: key });
      if (!used) await this.store.delete(key).catch(() => undefined);
    }
  }

  /** After the last attempt: the build fails with the infrastructure error that stopped it. */
  async failForGood(buildId: string, reason: string): Promise<void> {
    await this.transition(buildId, ['queued', 'waiting', 'compiling'], 'failed', { status_reason: reason, finished_at: new Date() }, reason);
  }

  /** Between attempts: the build goes back to queued and says why. */
  async requeue(buildId: string, reason: string): Promise<void> {
    await this.transition(buildId, ['compiling'], 'queued', { status_reason: reason }, reason);
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
        await tx.getRepository(BuildEvent).insert(rows.map((r) => ({ buildId: r.id, jobId: r.job_id, fromStatus: 'waiting' as const, toStatus: 'queued' as const, worker: this.workerId, message: 'a worker for this pool connected' })));
      }
      return rows.length;
    });
  }
}
