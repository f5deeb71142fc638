import { rememberSucceeded } from '../../src/jobs/build-cache';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { KILN_CONFIG, KilnConfig } from '../../src/config/config';
import { ContentStore } from '../../src/storage/content-store';
import { OBJECT_STORE, ObjectStore } from '../../src/storage/object-store';
import { recordReferences } from '../../src/storage/references';
import { BUNDLE_FILES, BundleManifest, ProfileManifest } from '../../src/verification/bundle';
import { ProfileOutputError, readProfile } from '../../compiler/src/profile';
import { evaluateKernel, evaluateProgram, RunOutcome } from '../../src/verification/evaluate';
import type { VerificationReport } from '../../src/verification/report';
import { CancelRegistry } from '../compile/cancel-registry';
import { SANDBOX } from '../compile/compile.service';
import { type ExecResult, Mount, SandboxExecutor } from '../sandbox/executor';
import { HOST, WorkerHost } from '../sandbox/host';
import { CAPABILITIES, Capabilities } from '../toolchains/capabilities';
import { RUNNER_CRASH_RETRIES, RUNNER_CRASH_RETRY_MAX_MS, type Runner } from './runners';
import { readProduced, removeTree } from '../sandbox/files';
import { DTYPE_SIZE } from '../../src/verification/dtype';

export type VerifyOutcome = 'succeeded' | 'failed' | 'canceled' | 'skipped';

/**
 * GNU time, which runs a command and writes its peak resident set size (getrusage's ru_maxrss
 * of the process it waited for, in kB) to a file. Inside the sandbox it measures the runner's
 * process: the program natively, qemu-user with the guest it emulates, or Node with the wasm
 * module it runs.
 */
export const GNU_TIME = '/usr/bin/time';

/**
 * Runs a bundle's program with a runner in the sandbox. Shared by the worker and the CLI.
 *
 * The program under test never reaches its judge: the bundle folder is not mounted. The program,
 * its inputs and the runner's own files are bound read-only at /in, expected.bin is not in the
 * sandbox at all, and the run's only writable folder is a fresh one (/work, made under `scratch`),
 * from which the outputs are taken as data (a regular file, never a link). The comparison and
 * the report happen afterwards, outside.
 */
export async function runBundle(dir: string, manifest: BundleManifest, runner: Runner, exec: SandboxExecutor, opts: { scratch: string; signal?: AbortSignal }): Promise<{ run: RunOutcome; outputs: Buffer | null }> {
  const kernel = manifest.kind === 'kernel';
  if (!/^[A-Za-z0-9._-]+$/.test(manifest.program) || manifest.program.startsWith('.')) throw new Error(`the bundle's program name ${JSON.stringify(manifest.program)} is not a plain file name`);
  const root = await mkdtemp(join(opts.scratch, 'run-'));
  try {
    await chmod(root, 0o711);
    const own = join(root, 'in');
    const work = join(root, 'work');
    await mkdir(own, { mode: 0o755 });
    await chmod(own, 0o755);
    await mkdir(work, { mode: 0o777 });
    await chmod(work, 0o777); // the sandbox user may be another uid (a worker running as root)
    for (const [name, text] of Object.entries(runner.files)) await writeFile(join(own, name), text, { mode: 0o644 });
    await chmod(join(dir, manifest.program), 0o755);
    const mounts: Mount[] = [
      { host: work, sandbox: '/work', writable: true },
      ...Object.keys(runner.files).map((name) => ({ host: join(own, name), sandbox: `/in/${name}` })),
      { host: join(dir, manifest.program), sandbox: `/in/${manifest.program}` },
      ...(kernel ? [{ host: join(dir, BUNDLE_FILES.inputs), sandbox: `/in/${BUNDLE_FILES.inputs}` }] : []),
      ...runner.mounts,
    ];
    // A whole program's peak memory is part of its report; a machine without GNU time reports none.
    const measure = !kernel && existsSync(GNU_TIME);
    const argv = runner.argv(`/in/${manifest.program}`, kernel ? [`/in/${BUNDLE_FILES.inputs}`, BUNDLE_FILES.outputs] : (manifest.args ?? []));
    const once = async () =>
      exec.run({
        argv: measure ? [GNU_TIME, '--quiet', '--format=%M', `--output=/in-time/${BUNDLE_FILES.peakMemory}`, ...argv] : argv,
        cwd: '/work',
        mounts: measure ? [...mounts, { host: await timeFolder(root), sandbox: '/in-time', writable: true }] : mounts,
        timeoutMs: manifest.timeoutMs,
        stdin: kernel ? '' : (manifest.stdin ?? ''),
        // A large model under an emulator computes for minutes: the time limit, not a CPU limit, ends it.
        limits: { ...runner.limits, cpuSeconds: Math.max(runner.limits.cpuSeconds ?? 0, Math.ceil(manifest.timeoutMs / 1000) + 10) },
        maxOutputBytes: 1024 * 1024,
        signal: opts.signal,
      });
    // The signal that ended the run. Unsandboxed, GNU time turns it into an exit code of 128 + N;
    // bubblewrap reports the signal itself, so there an exit code is the program's own.
    const crashedBy = (x: ExecResult) => (x.signal ?? (measure && exec.mode === 'none' && x.exitCode !== null && x.exitCode > 128 && x.exitCode < 128 + 65 ? signalName(x.exitCode - 128) : null));
    let crashedAtExit = false;
    // A runner's crash after a harness said it had finished (outputs.bin.done, written after its
    // outputs were closed) is the runner's: the harness's run stands, exit code 0.
    const settle = async (x: ExecResult): Promise<ExecResult> => {
      if (!kernel || x.timedOut || x.canceled || !runner.crashSignals?.includes(crashedBy(x) ?? '')) return x;
      if ((await readProduced(work, BUNDLE_FILES.done, 16).catch(() => null)) === null) return x;
      crashedAtExit = true;
      return { ...x, exitCode: 0, signal: null };
    };
    let r = await settle(await once());
    let runnerCrashes = 0;
    // Repeated in a fresh folder; not when a run was long (a repeat would double the time a check may take).
    while (!r.timedOut && !r.canceled && r.wallMs <= RUNNER_CRASH_RETRY_MAX_MS && runnerCrashes < RUNNER_CRASH_RETRIES && runner.crashSignals?.includes(crashedBy(r) ?? '')) {
      runnerCrashes++;
      await rm(work, { recursive: true, force: true });
      await mkdir(work, { mode: 0o777 });
      await chmod(work, 0o777);
      r = await settle(await once());
    }
    // The program may have left a link where its outputs should be: only a regular file counts.
    const expectedBytes = kernel ? (manifest.outputs ?? []).reduce((n, o) => n + o.count * DTYPE_SIZE[o.dtype], 0) : 0;
    const outputs = kernel ? await readProduced(work, BUNDLE_FILES.outputs, Math.max(expectedBytes, 1) * 2 + 4096).catch(() => null) : null;
    let peakMemoryKb: number | null = null;
    let exitSignal = r.signal;
    if (measure && !r.timedOut && !r.canceled) {
      peakMemoryKb = await readPeakMemory(join(root, 'time'));
      // GNU time exits with 128 + the signal that killed the program; bubblewrap already says so.
      if (exec.mode === 'none' && r.signal === null && r.exitCode !== null && r.exitCode > 128 && r.exitCode < 128 + 65) exitSignal = signalName(r.exitCode - 128);
    }
    return {
      run: { exitCode: r.exitCode, signal: exitSignal, timedOut: r.timedOut, truncated: r.truncated, stdout: r.stdout, stderr: r.stderr, wallMs: r.wallMs, peakMemoryKb, memoryLimitBytes: r.memoryLimitBytes ?? null, ...(runnerCrashes ? { runnerCrashes } : {}), ...(crashedAtExit ? { runnerCrashedAtExit: true } : {}) },
      outputs,
    };
  } finally {
    removeTree(root);
  }
}

/**
 * Runs a model bundle's profiling program the way its check ran (the same runner and sandbox, no
 * arguments) and reads what it printed as data. The profile is information next to the verdict,
 * never part of it: a run that fails or prints nonsense gives `profileError`, and the check stands.
 */
export async function profileBundle(dir: string, profile: ProfileManifest, runner: Runner, exec: SandboxExecutor, opts: { scratch: string; signal?: AbortSignal }): Promise<Pick<VerificationReport, 'profile' | 'profileError'>> {
  const manifest: BundleManifest = { version: 1, kind: 'program', target: '', program: profile.program, timeoutMs: profile.timeoutMs, args: [], stdin: '', reference: '' };
  const { run } = await runBundle(dir, manifest, runner, exec, opts);
  const failure = run.timedOut ? `did not finish within ${profile.timeoutMs} ms` : run.signal ? `was killed by ${run.signal}` : run.exitCode !== 0 ? `exited with code ${run.exitCode}: ${run.stderr.trim().split('\n').pop() ?? ''}` : null;
  if (failure) return { profileError: `the profiling run ${failure} on ${runner.name}` };
  try {
    const p = readProfile(run.stdout, profile, profile.clock);
    // The profiling program's own figure where it has one (natively and under an emulator); GNU time's for WebAssembly, which cannot say.
    return { profile: { ...p, peakMemoryBytes: p.peakMemoryBytes ?? (run.peakMemoryKb ? run.peakMemoryKb * 1024 : null) } };
  } catch (e) {
    if (e instanceof ProfileOutputError) return { profileError: `${e.message} on ${runner.name}` };
    throw e;
  }
}

/** A folder for GNU time's figure (written by time itself, after the program has exited). */
async function timeFolder(root: string): Promise<string> {
  const dir = join(root, 'time');
  // Made anew for each run: a repeated run gets none of what the last one left there.
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { mode: 0o777 });
  await chmod(dir, 0o777);
  return dir;
}

/** The kB GNU time wrote, from a regular file only (the program could have put a link there). */
async function readPeakMemory(dir: string): Promise<number | null> {
  const bytes = await readProduced(dir, BUNDLE_FILES.peakMemory, 4096).catch(() => null);
  if (!bytes) return null;
  const lines = bytes.toString('utf8').trim().split('\n');
  const kb = Number(lines[lines.length - 1]);
  return Number.isSafeInteger(kb) && kb > 0 ? kb : null;
}

function signalName(n: number): NodeJS.Signals | null {
  return (Object.entries(constants.signals).find(([, v]) => v === n)?.[0] as NodeJS.Signals | undefined) ?? null;
}

/**
 * Verifies one compiled build: fetches its bundle, runs it on this worker's runner for the
 * target's architecture, compares with the reference, and records the report and the verdict.
 */
@Injectable()
export class VerifyService {
  private readonly logger = new Logger(VerifyService.name);

  constructor(
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
    @InjectDataSource() private readonly db: DataSource,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly content: ContentStore,
    @Inject(CAPABILITIES) private readonly caps: Capabilities,
    @Inject(SANDBOX) private readonly sandbox: SandboxExecutor,
    private readonly cancels: CancelRegistry,
    @Inject(HOST) private readonly host: WorkerHost,
  ) {}

  async run(buildId: string, attempt: number): Promise<VerifyOutcome> {
    const worker = this.config.worker.id;
    const claimed: { id: string; job_id: string; verify_pool: string; target: { name: string } }[] = await this.db.query(
      `WITH old AS (SELECT id, status AS prev FROM builds WHERE id = $1 AND status IN ('compiled', 'verifying') FOR UPDATE),
            upd AS (UPDATE builds b SET status = 'verifying', worker = $2, status_reason = NULL, updated_at = now()
                      FROM old WHERE b.id = old.id RETURNING b.id, b.job_id, b.verify_pool, b.target, old.prev),
            ev AS (INSERT INTO build_events (build_id, job_id, from_status, to_status, worker, message)
                     SELECT id, job_id, prev, 'verifying', $2, $3 FROM upd)
       SELECT id, job_id, verify_pool, target FROM upd`,
      [buildId, worker, attempt > 1 ? `attempt ${attempt}` : null],
    );
    if (claimed.length === 0) return 'skipped';
    const build = claimed[0];
    const runner = this.caps.runners.get(build.verify_pool);
    if (!runner) throw new Error(`this worker has no runner for pool ${build.verify_pool}`);

    // verify-X/bundle: the bundle as stored, never mounted writable; runBundle makes the run's
    // folders beside it. The report is written to verify-X itself.
    const folder = await this.host.acquire('verify');
    const root = folder.dir;
    const dir = join(root, 'bundle');
    const controller = new AbortController();
    this.cancels.register(buildId, controller);
    try {
      await mkdir(dir, { mode: 0o711 });
      await chmod(dir, 0o711);
      const files: { name: string; storage_key: string }[] = await this.db.query(`SELECT name, storage_key FROM artifacts WHERE build_id = $1 AND kind = 'bundle'`, [buildId]);
      for (const f of files) {
        const name = f.name.replace(/^verify\//, '');
        if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) throw new Error(`bundle file ${JSON.stringify(f.name)} is not a plain file name`);
        const local = join(dir, name);
        await pipeline(await this.store.get(f.storage_key), createWriteStream(local));
      }
      const manifest = JSON.parse(await readFile(join(dir, BUNDLE_FILES.manifest), 'utf8')) as BundleManifest;
      const ran = await this.whatRuns(build.id, dir, manifest.program);
      const { run, outputs } = await runBundle(dir, manifest, runner, this.sandbox, { scratch: root, signal: controller.signal });
      if (controller.signal.aborted) return 'canceled';
      const base = { runner: runner.name, worker };
      const report =
        manifest.kind === 'kernel'
          ? evaluateKernel(manifest, run, await readFile(join(dir, BUNDLE_FILES.expected)), outputs, base)
          : evaluateProgram(manifest, run, base);
      report.ran = ran;
      if (run.runnerCrashes) report.summary += ` (${runner.name} itself crashed ${run.runnerCrashes === 1 ? 'once' : `${run.runnerCrashes} times`}, a fault of the runtime that no module can cause, and the run was repeated)`;
      if (run.runnerCrashedAtExit) report.summary += ` (${runner.name} crashed while exiting, after the program had returned)`;
      if (manifest.profile && run.exitCode === 0 && !run.timedOut) {
        Object.assign(report, await profileBundle(dir, manifest.profile, runner, this.sandbox, { scratch: root, signal: controller.signal }));
        if (controller.signal.aborted) return 'canceled';
      }
      return await this.record(build.id, report, root);
    } finally {
      this.cancels.unregister(buildId);
      await folder.release();
    }
  }

  /**
   * The program about to run (read before it runs, from the bundle as stored): its sha256 and the
   * build's artifact with the same bytes, a delivered one first.
   */
  private async whatRuns(buildId: string, dir: string, file: string): Promise<NonNullable<VerificationReport['ran']>> {
    if (!/^[A-Za-z0-9._-]+$/.test(file) || file.startsWith('.')) throw new Error(`the bundle's program ${JSON.stringify(file)} is not a plain file name`);
    // Streamed: a model's program carries its weights.
    const hash = createHash('sha256');
    for await (const chunk of createReadStream(join(dir, file))) hash.update(chunk as Buffer);
    const sha256 = hash.digest('hex');
    const same: { name: string }[] = await this.db.query(`SELECT name FROM artifacts WHERE build_id = $1 AND sha256 = $2 AND kind <> 'report' ORDER BY kind = 'bundle', name LIMIT 1`, [buildId, sha256]);
    return { file, sha256, artifact: same[0]?.name ?? null };
  }

  private async record(buildId: string, report: VerificationReport, dir: string): Promise<VerifyOutcome> {
    const reportPath = join(dir, BUNDLE_FILES.report);
    await writeFile(reportPath, JSON.stringify(report, null, 2));
    const put = await this.content.putFile(reportPath, 'application/json');
    const to = report.status === 'passed' ? 'succeeded' : 'failed';
    const reason = report.status === 'passed' ? null : report.status === 'unfinished' ? `verification did not finish: ${report.summary}` : `verification failed: ${report.summary}`;
    const rows: { n: number }[] = await recordReferences(this.db, this.store, [{ key: put.key, localPath: reportPath, contentType: 'application/json', size: put.size }], (tx) => tx.query(
      `WITH upd AS (
              UPDATE builds SET status = $2, status_reason = $3, verification = $4, verified_at = now(), finished_at = now(), updated_at = now()
               WHERE id = $1 AND status = 'verifying' RETURNING id, job_id, tenant_id),
            ev AS (INSERT INTO build_events (build_id, job_id, from_status, to_status, worker, message)
                     SELECT id, job_id, 'verifying', $2, $5, $6 FROM upd),
            art AS (INSERT INTO artifacts (build_id, tenant_id, kind, name, size, sha256, storage_key, content_type)
                     SELECT id, tenant_id, 'report', 'verify/report.json', $7, $8, $9, 'application/json' FROM upd
                     ON CONFLICT (build_id, name) DO UPDATE SET size = EXCLUDED.size, sha256 = EXCLUDED.sha256, storage_key = EXCLUDED.storage_key)
       SELECT count(*)::int AS n FROM upd`,
      [buildId, to, reason, JSON.stringify(report), this.config.worker.id, report.summary, put.size, put.sha256, put.key],
    ));
    if (rows[0].n === 0) return 'canceled';
    if (to === 'succeeded') await rememberSucceeded(this.db, buildId);
    this.logger.log(`build ${buildId} verification ${report.status}: ${report.summary}`);
    return to;
  }
}
