#!/usr/bin/env node
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';
import { clearLine, cursorTo, moveCursor } from 'node:readline';
import { Command, CommanderError, Option } from 'commander';
import { CreateJob, Job, KilnClient, KilnError } from '../sdk';
import { collectSource, downloadArtifacts, outcomeOf, parseShapes, parseTolerance, SOURCE_LANGUAGES, uploadModel, UsageError } from '../sdk/project';
import { version as CLI_VERSION } from './package.json';

/** Exit codes, so a script can tell what happened without parsing output. */
export const EXIT = {
  ok: 0,
  buildFailed: 1,
  usage: 2,
  verificationFailed: 3,
  refused: 4,
  unreachable: 5,
  canceled: 6,
  /** --timeout ran out while the job went on (`kiln watch ID` follows it again). */
  stillRunning: 7,
  /** Every build succeeded, but a verification was not run: no runner served its pool within the device wait. */
  notVerified: 8,
} as const;

interface GlobalOptions {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

interface FileConfig {
  url?: string;
  apiKey?: string;
}

/** The config file: KILN_CONFIG, else kiln/config.json under XDG_CONFIG_HOME or ~/.config. */
function configFile(env: NodeJS.ProcessEnv): string {
  return env.KILN_CONFIG ?? join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'kiln', 'config.json');
}

/** Flags first, then KILN_URL / KILN_API_KEY, then the config file, then the local default. */
function resolveConfig(opts: GlobalOptions, env: NodeJS.ProcessEnv): { url: string; apiKey: string } {
  const file = configFile(env);
  let fromFile: FileConfig = {};
  if (existsSync(file)) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as FileConfig;
    } catch (e) {
      throw new UsageError(`${file} is not valid JSON: ${(e as Error).message}`);
    }
  }
  const url = opts.url ?? env.KILN_URL ?? fromFile.url ?? 'http://127.0.0.1:8080';
  const apiKey = opts.apiKey ?? env.KILN_API_KEY ?? fromFile.apiKey;
  if (!apiKey) throw new UsageError(`no API key: run \`kiln login\`, pass --api-key, or set KILN_API_KEY`);
  return { url, apiKey };
}

/** Writes the config file readable by its owner only (it holds a key): a new file, then renamed over the old one. */
async function saveConfig(file: string, config: FileConfig): Promise<void> {
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(config, null, 2) + '\n', { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A job's id from what was typed: the whole id, or its first characters (as the console shows them) when they name one job. */
async function resolveJobId(kiln: KilnClient, given: string): Promise<string> {
  if (UUID_RE.test(given)) return given;
  if (!/^[0-9a-f][0-9a-f-]{3,35}$/i.test(given)) throw new UsageError(`${JSON.stringify(given)} is not a job id: give the id, or its first 4 or more characters`);
  const list = await kiln.listJobs({ idPrefix: given, limit: 5 });
  if (list.items.length === 0) throw new KilnError(`no job has an id starting with ${given}`, 'refused', 404);
  if (list.items.length > 1) throw new UsageError(`${given} is the start of ${list.nextCursor ? 'more than ' : ''}${list.items.length} job ids (${list.items.map((j) => j.id).join(', ')}): give more characters`);
  return list.items[0].id;
}

/** The API speaks of the request's fields; on the command line the same thing is a flag. */
function inFlags(e: unknown): unknown {
  if (!(e instanceof KilnError)) return e;
  const message = e.message
    .replace(/bind them with inputShapes \(for example \{"([^"]+)": \[1, \.\.\.\]\}\)/, 'bind them with --shape (for example --shape $1=1,...)')
    .replace(/\binputShapes\.([A-Za-z0-9_.:/-]+) = \[([^\]]*)\]/g, (_m, name: string, dims: string) => `--shape ${name}=${dims.replace(/\s+/g, '')}`)
    .replace(/\binputShapes\b/g, '--shape');
  return message === e.message ? e : new KilnError(message, e.kind, e.status, e.body);
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const DONE: Record<string, string> = { succeeded: '✔', failed: '✖', canceled: '⊘' };

/** Shows each target's state: a redrawn block with spinners on a terminal, plain lines otherwise. */
class Progress {
  private lines = 0;
  private frame = 0;
  private timer: NodeJS.Timeout | null = null;
  private job: Job | null = null;
  private readonly seen = new Map<string, string>();

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly enabled: boolean,
  ) {}

  update(job: Job): void {
    this.job = job;
    if (!this.enabled) return;
    if (this.out.isTTY) {
      if (!this.timer) this.timer = setInterval(() => this.draw(), 100);
      this.draw();
      return;
    }
    for (const b of job.builds) {
      const line = `${b.status}${b.statusReason ? ` (${b.statusReason})` : ''}`;
      if (this.seen.get(b.id) !== line) {
        this.seen.set(b.id, line);
        this.out.write(`${b.target.requested}: ${line}\n`);
      }
    }
  }

  private draw(): void {
    if (!this.job) return;
    if (this.lines) moveCursor(this.out, 0, -this.lines);
    this.frame = (this.frame + 1) % SPINNER.length;
    const width = Math.max(...this.job.builds.map((b) => b.target.requested.length));
    for (const b of this.job.builds) {
      clearLine(this.out, 0);
      cursorTo(this.out, 0);
      const mark = DONE[b.status] ?? SPINNER[this.frame];
      const detail = b.statusReason ? `  ${b.statusReason.slice(0, (this.out.columns ?? 100) - width - 20)}` : '';
      this.out.write(`  ${mark} ${b.target.requested.padEnd(width)}  ${b.status}${detail}\n`);
    }
    this.lines = this.job.builds.length;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    if (this.enabled && this.out.isTTY) this.draw();
  }
}

function printJob(job: Job, out: NodeJS.WriteStream, consoleUrl?: string): void {
  out.write(`job ${job.id}: ${job.status}${consoleUrl ? `  ${consoleUrl}` : ''}\n`);
  for (const b of job.builds) {
    out.write(`  ${b.target.requested} (${b.target.triple}${b.target.cpu ? `, ${b.target.cpu}` : ''}): ${b.status}${b.statusReason ? ` - ${b.statusReason}` : ''}\n`);
    for (const d of b.diagnostics) {
      const where = d.file ? `${d.file}${d.line ? `:${d.line}${d.column ? `:${d.column}` : ''}` : ''}: ` : '';
      out.write(`    ${where}${d.severity}: ${d.message}\n`);
    }
    for (const a of b.artifacts) out.write(`    ${a.kind.padEnd(10)} ${a.name} (${a.size} bytes) ${a.id}\n`);
    if (b.verification) out.write(`    verification ${b.verification.status} on ${b.verification.runner}: ${b.verification.summary}\n`);
    const ran = b.verification?.ran;
    if (ran) out.write(`    it ran ${ran.artifact ?? `${ran.file} (not among the artifacts)`}, sha256 ${ran.sha256}\n`);
    if (b.verification?.profile) printProfile(b.verification.profile, out);
    if (b.verification?.profileError) out.write(`    no profile: ${b.verification.profileError}\n`);
  }
}

type Profile = NonNullable<NonNullable<Job['builds'][number]['verification']>['profile']>;

/** A build's profile: the model's figures, then its slowest kernels. */
function printProfile(p: Profile, out: NodeJS.WriteStream, top = 10): void {
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  const clock = p.clock === 'native' ? '' : ` (times ${p.clock === 'emulated' ? "an emulator's" : "WebAssembly's"}: the shares tell where the work is)`;
  out.write(`    profile: latency ${p.latencyMs.toFixed(3)} ms, median of ${p.runs} runs${clock}; ${(p.flops / 1e9).toFixed(3)} GFLOP at ${p.gflops.toFixed(1)} GFLOP/s\n`);
  out.write(`      ${p.peakMemoryBytes == null ? '' : `peak memory ${mib(p.peakMemoryBytes)}, `}weights ${mib(p.weightsBytes)}, buffers ${mib(p.activationBytes)}, code ${(p.codeBytes / 1024).toFixed(0)} KiB; ${p.kernels.length} kernels, ${p.kernelsMs.toFixed(3)} ms of the latency\n`);
  out.write(`       share        ms  GFLOP/s  kernel\n`);
  for (const k of p.kernels.slice(0, top)) out.write(`      ${(k.share * 100).toFixed(1).padStart(5)}% ${k.ms.toFixed(3).padStart(9)} ${k.gflops.toFixed(1).padStart(8)}  ${k.label.slice(0, 90)}\n`);
  if (p.kernels.length > top) out.write(`      (${p.kernels.length - top} more: kiln --json job ID lists every kernel)\n`);
}

/** Where the web console shows a job. */
function consoleUrlOf(apiUrl: string, id: string): string {
  return `${apiUrl.replace(/\/+$/, '')}/jobs/${id}`;
}

function exitFor(job: Job): number {
  const outcome = outcomeOf(job);
  return outcome === 'succeeded' ? EXIT.ok : outcome === 'build-failed' ? EXIT.buildFailed : outcome === 'verification-failed' ? EXIT.verificationFailed : outcome === 'not-verified' ? EXIT.notVerified : EXIT.canceled;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((s) => s.trim()).filter(Boolean)];
}

export async function run(argv: string[], io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream; env: NodeJS.ProcessEnv }): Promise<number> {
  let code: number = EXIT.ok;
  const program = new Command('kiln')
    .description('Kiln: compile C and C++ for many targets, and prove the results on each')
    .option('--url <url>', 'the Kiln API (env KILN_URL; default http://127.0.0.1:8080)')
    .option('--api-key <key>', 'an API key (env KILN_API_KEY)')
    .option('--json', 'print JSON for scripts instead of text')
    .version(CLI_VERSION, '-V, --version', 'print the version of this command line')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError();

  const client = () => {
    const { url, apiKey } = resolveConfig(program.opts<GlobalOptions>(), io.env);
    return new KilnClient({
      url,
      apiKey,
      userAgent: 'kiln-cli',
      onRetry: ({ attempt, delayMs, reason }) => io.stderr.write(`kiln: ${reason}; retrying in ${Math.round(delayMs)} ms (attempt ${attempt})\n`),
    });
  };
  const json = () => program.opts<GlobalOptions>().json === true;
  const consoleUrl = (id: string) => consoleUrlOf(resolveConfig(program.opts<GlobalOptions>(), io.env).url, id);
  /** Follows a job until it ends (or `timeout` seconds pass: exit 7, the job goes on), then prints it. */
  const follow = async (kiln: KilnClient, start: Job, timeout: number | undefined, out?: string) => {
    let job = start;
    if (!json()) io.stdout.write(`job ${job.id}  ${consoleUrl(job.id)}\n`);
    const progress = new Progress(io.stdout, !json());
    progress.update(job);
    try {
      // No limit unless asked: a build waiting for a device ends at its job's device wait.
      job = await kiln.waitForJob(job.id, { onUpdate: (j) => progress.update(j), timeoutMs: timeout !== undefined ? timeout * 1000 : Infinity });
    } catch (e) {
      if (e instanceof KilnError && e.kind === 'timeout') {
        progress.stop();
        io.stderr.write(`kiln: ${e.message}; it goes on: \`kiln watch ${job.id}\` follows it, ${consoleUrl(job.id)} shows it\n`);
        return EXIT.stillRunning;
      }
      throw e;
    } finally {
      progress.stop();
    }
    let files: { target: string; path: string; size: number }[] = [];
    if (out) files = await downloadArtifacts(kiln, job, out);
    print({ ...job, ...(out ? { downloaded: files } : {}) }, () => {
      printJob(job, io.stdout, consoleUrl(job.id));
      if (files.length) io.stdout.write(`downloaded ${files.length} file(s) to ${out}\n`);
    });
    return exitFor(job);
  };
  const seconds = (flag: string) => (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} ${v}: a number of seconds above 0`);
    return n;
  };
  const print = (value: unknown, text: () => void) => (json() ? io.stdout.write(JSON.stringify(value, null, 2) + '\n') : text());

  program
    .command('compile')
    .description('compile files or folders for one or more targets')
    .argument('<paths...>', 'source files or folders (C, C++, Fortran, Go, Rust, LLVM IR, CUDA, HIP), or one ONNX model (.onnx)')
    .option('--shape <input=d0,d1,...>', 'a model input\'s shape, binding symbolic dimensions (repeat)', (v: string, p: string[] = []) => [...p, v])
    .requiredOption('-t, --target <target>', 'a target or preset (repeat, or separate with commas); see `kiln targets`', collect)
    .option('-l, --language <language>', `${Object.keys(SOURCE_LANGUAGES).join(', ')} (default: from the file extensions)`)
    .option('-o, --output <kind>', 'object, executable, shared, static, assembly, llvm-ir (repeat or comma-separate; default object)', collect)
    .option('--option <option>', 'a compiler option such as -O3 (repeat)', (v: string, p: string[] = []) => [...p, v])
    .option('-D, --define <NAME=value>', 'a preprocessor macro (repeat)', (v: string, p: string[] = []) => [...p, v])
    .option('--verify', 'run each build on its target and compare with a reference (the program\'s main, no input)')
    .option('--verify-spec <file>', 'a JSON file with the verify object (a kernel entry and its arguments, or a program check)')
    .option('--tolerance <tolerance>', 'rtol=1e-5,atol=1e-6,maxUlp=4 (with --verify-spec, or --verify for a model)')
    .option('--profile [runs]', 'a model: verify and profile each build on its runner (optionally how many timed runs), and print its slowest kernels (implies --verify and --wait)')
    .option('-w, --wait', 'wait until every build has finished')
    .option('--timeout <seconds>', 'with --wait: stop waiting after this long (exit 7; the job goes on, `kiln watch` follows it again)', seconds('--timeout'))
    .option('--out <dir>', 'download the artifacts here (implies --wait)')
    .option('--idempotency-key <key>', 'reuse to make a retried submission return the same job')
    .action(async (paths: string[], o: Record<string, unknown>) => {
      const kiln = client();
      const isModel = paths.length === 1 && paths[0].toLowerCase().endsWith('.onnx');
      let input: Pick<CreateJob, 'source' | 'model' | 'inputShapes'>;
      if (isModel) {
        if (o.option || o.define || o.language) throw new UsageError('--option, --define and --language apply to source code, not to a model');
        input = { model: await uploadModel(kiln, paths[0]), ...(o.shape ? { inputShapes: parseShapes(o.shape as string[]) } : {}) };
      } else {
        if (o.shape) throw new UsageError('--shape applies to an ONNX model');
        const { base: _base, ...source } = await collectSource(kiln, paths, { language: o.language as string | undefined });
        if (o.option) source.options = o.option as string[];
        if (o.define) {
          source.defines = {};
          for (const d of o.define as string[]) {
            const i = d.indexOf('=');
            source.defines[i < 0 ? d : d.slice(0, i)] = i < 0 ? '1' : d.slice(i + 1);
          }
        }
        input = { source };
      }
      let verify: CreateJob['verify'];
      if (o.verifySpec) {
        try {
          verify = JSON.parse(await readFile(o.verifySpec as string, 'utf8'));
        } catch (e) {
          throw new UsageError(`--verify-spec ${o.verifySpec}: ${(e as Error).message}`);
        }
        if (o.tolerance) (verify as Record<string, unknown>).tolerance = parseTolerance(o.tolerance as string);
      } else if (o.verify) verify = o.tolerance && isModel ? { tolerance: parseTolerance(o.tolerance as string) } : true;
      if (o.tolerance && !o.verifySpec && !((o.verify || o.profile) && isModel)) throw new UsageError('--tolerance goes with --verify-spec (or with --verify for a model)');
      if (o.profile) {
        if (!isModel) throw new UsageError('--profile applies to an ONNX model');
        if (o.verifySpec) throw new UsageError('--profile goes with --verify, not --verify-spec (put "profile" in the spec instead)');
        const runs = o.profile === true ? undefined : Number(o.profile);
        if (runs !== undefined && !(Number.isInteger(runs) && runs >= 1 && runs <= 100)) throw new UsageError(`--profile ${o.profile}: the number of timed runs is a whole number from 1 to 100`);
        verify = { ...(typeof verify === 'object' ? verify : {}), profile: runs === undefined ? true : { runs } };
      }
      const body: CreateJob = { ...input, targets: o.target as string[], ...(o.output ? { outputs: o.output as CreateJob['outputs'] } : {}), ...(verify !== undefined ? { verify } : {}) };
      const wait = Boolean(o.wait || o.out || o.profile);
      if (o.timeout !== undefined && !wait) throw new UsageError('--timeout goes with --wait (or --out, --profile)');
      let job: Job;
      try {
        job = await kiln.createJob(body, o.idempotencyKey as string | undefined);
      } catch (e) {
        throw inFlags(e);
      }
      if (!wait) {
        print(job, () => io.stdout.write(`job ${job.id} queued: ${job.builds.map((b) => b.target.requested).join(', ')}\n${consoleUrl(job.id)}\n`));
        return;
      }
      code = await follow(kiln, job, o.timeout as number | undefined, o.out as string | undefined);
    });

  program
    .command('watch')
    .description('follow a job until every build has finished, then print it (as compile --wait does)')
    .argument('<id>', 'the job id, or its first characters')
    .option('--timeout <seconds>', 'stop waiting after this long (exit 7; the job goes on)', seconds('--timeout'))
    .option('--out <dir>', 'then download the artifacts here')
    .action(async (id: string, o: { timeout?: number; out?: string }) => {
      const kiln = client();
      code = await follow(kiln, await kiln.getJob(await resolveJobId(kiln, id)), o.timeout, o.out);
    });

  program
    .command('jobs')
    .description('list jobs, newest first')
    .addOption(new Option('--status <status>').choices(['queued', 'running', 'succeeded', 'failed', 'canceled']))
    .option('--limit <n>', 'how many (1 to 100)', (v) => Number(v), 20)
    .option('--cursor <cursor>', 'the next page: the cursor the previous page printed')
    .action(async (o: { status?: 'queued'; limit: number; cursor?: string }) => {
      const list = await client().listJobs({ status: o.status, limit: o.limit, ...(o.cursor ? { cursor: o.cursor } : {}) });
      print(list, () => {
        for (const j of list.items) io.stdout.write(`${j.id}  ${j.status.padEnd(9)}  ${j.createdAt}  ${j.language}  ${j.builds.map((b) => `${b.target}:${b.status}`).join(' ')}\n`);
        if (list.nextCursor) io.stdout.write(`(more: kiln jobs --cursor ${list.nextCursor}${o.status ? ` --status ${o.status}` : ''}${o.limit !== 20 ? ` --limit ${o.limit}` : ''})\n`);
      });
    });

  program
    .command('job')
    .description('show a job: its builds, diagnostics, artifacts and verification (exit status as for compile --wait once it has ended)')
    .argument('<id>', 'the job id, or its first characters')
    .action(async (id: string) => {
      const kiln = client();
      const job = await kiln.getJob(await resolveJobId(kiln, id));
      print(job, () => printJob(job, io.stdout, consoleUrl(job.id)));
      code = TERMINAL.includes(job.status) ? exitFor(job) : EXIT.ok;
    });

  program
    .command('cancel')
    .description('cancel the builds of a job that have not finished')
    .argument('<id>', 'the job id, or its first characters')
    .action(async (id: string) => {
      const kiln = client();
      const job = await kiln.cancelJob(await resolveJobId(kiln, id));
      const canceled = job.builds.filter((b) => b.status === 'canceled').map((b) => b.target.requested);
      const ended = job.builds.filter((b) => b.status !== 'canceled').map((b) => `${b.target.requested} ${b.status}`);
      print(job, () => io.stdout.write(`job ${job.id}: ${job.status}; ${canceled.length ? `canceled ${canceled.join(', ')}` : 'nothing left to cancel'}${ended.length ? ` (already ${ended.join(', ')})` : ''}\n`));
    });

  program
    .command('delete')
    .description('delete a finished job with its builds, artifacts and reports (cancel it first if it runs)')
    .argument('<id>', 'the job id, or its first characters')
    .action(async (given: string) => {
      const kiln = client();
      const id = await resolveJobId(kiln, given);
      try {
        await kiln.deleteJob(id);
      } catch (e) {
        // The API's answer names its own endpoint; here the way is a command.
        if (e instanceof KilnError && e.status === 409) throw new KilnError(`${e.message.replace(/; cancel the job first .*$/, '')}; run \`kiln cancel ${id}\` first, then delete it`, e.kind, e.status, e.body);
        throw e;
      }
      print({ deleted: id }, () => io.stdout.write(`deleted job ${id}\n`));
    });

  program
    .command('uploads')
    .description('list uploads (source files, archives, models), newest first')
    .option('--limit <n>', 'how many (1 to 100)', (v) => Number(v), 20)
    .option('--cursor <cursor>', 'the next page: the cursor the previous page printed')
    .action(async (o: { limit: number; cursor?: string }) => {
      const list = await client().listUploads({ limit: o.limit, ...(o.cursor ? { cursor: o.cursor } : {}) });
      print(list, () => {
        for (const u of list.items) io.stdout.write(`${u.id}  ${u.createdAt}  ${String(u.size).padStart(10)}  ${u.filename}\n`);
        if (list.nextCursor) io.stdout.write(`(more: kiln uploads --cursor ${list.nextCursor}${o.limit !== 20 ? ` --limit ${o.limit}` : ''})\n`);
      });
    });

  program
    .command('delete-upload')
    .description('delete an upload (a source file, archive or model) that no unfinished job needs')
    .argument('<id>')
    .action(async (id: string) => {
      await client().deleteUpload(id);
      print({ deleted: id }, () => io.stdout.write(`deleted upload ${id}\n`));
    });

  program
    .command('targets')
    .description('the targets and presets, and whether a live worker can build and verify each')
    .action(async () => {
      const catalog = await client().targets();
      print(catalog, () => {
        for (const t of catalog.targets) {
          io.stdout.write(`${t.name.padEnd(24)} ${t.triple.padEnd(32)} ${t.available ? 'build' : '-----'} ${t.verifiable ? `verify (${t.runners.join(', ')})` : ''}${t.reason ? `  ${t.reason}` : ''}\n`);
        }
        for (const p of catalog.presets) io.stdout.write(`${p.name.padEnd(24)} = ${p.target}${p.cpu ? ` cpu ${p.cpu}` : ''}${p.features.length ? ` ${p.features.join(' ')}` : ''}  ${p.description}\n`);
      });
    });

  program
    .command('artifacts')
    .description('list a job\'s artifacts, or download them')
    .argument('<job>', 'the job id, or its first characters')
    .option('--download', 'download them')
    .option('--out <dir>', 'where to download (default: kiln-<job id>)')
    .action(async (id: string, o: { download?: boolean; out?: string }) => {
      const kiln = client();
      const job = await kiln.getJob(await resolveJobId(kiln, id));
      if (o.download || o.out) {
        const dir = o.out ?? `kiln-${job.id}`;
        const files = await downloadArtifacts(kiln, job, dir);
        print(files, () => files.forEach((f) => io.stdout.write(`${f.path} (${f.size} bytes)\n`)));
        return;
      }
      const rows = job.builds.flatMap((b) => b.artifacts.map((a) => ({ target: b.target.requested, ...a })));
      print(rows, () => rows.forEach((a) => io.stdout.write(`${a.target.padEnd(24)} ${a.kind.padEnd(10)} ${a.name} ${a.size} ${a.sha256.slice(0, 16)} ${a.id}\n`)));
    });

  program
    .command('whoami')
    .description('the tenant and API key this command line uses, and where it sends requests')
    .action(async () => {
      const { url } = resolveConfig(program.opts<GlobalOptions>(), io.env);
      const me = await client().whoami();
      print({ url, ...me }, () => io.stdout.write(`${url}\ntenant ${me.tenant.name} (${me.tenant.id})\nkey ${me.key.name} (${me.key.prefix}…, ${me.key.scopes.join(', ')})\n`));
    });

  program
    .command('login')
    .description(`check a Kiln URL and API key, and keep them in the config file (readable by you only) for later commands`)
    .option('--url <url>', 'the Kiln API (default: asked, or http://127.0.0.1:8080)')
    .option('--api-key <key>', 'the API key (default: read from standard input, or asked)')
    .action(async (o: { url?: string; apiKey?: string }) => {
      const g = program.opts<GlobalOptions>();
      let url = o.url ?? g.url;
      let apiKey = o.apiKey ?? g.apiKey;
      if (!url || !apiKey) {
        // The key is not echoed: what readline would draw is dropped while it is typed.
        let muted = false;
        const out = new Writable({ write: (chunk, _enc, done) => { if (!muted) io.stderr.write(chunk); done(); } });
        const rl = createInterface({ input: process.stdin, output: out, terminal: process.stdin.isTTY === true });
        try {
          if (!url) url = (await rl.question('Kiln URL [http://127.0.0.1:8080]: ')).trim() || 'http://127.0.0.1:8080';
          if (!apiKey) {
            io.stderr.write('API key: ');
            muted = true;
            apiKey = (await rl.question('')).trim();
            muted = false;
            io.stderr.write('\n');
          }
        } finally {
          rl.close();
        }
      }
      if (!apiKey) throw new UsageError('no API key given');
      if (!/^https?:\/\/[^\s/]+/.test(url)) throw new UsageError(`${url} is not an http(s) URL`);
      const me = await new KilnClient({ url, apiKey, userAgent: 'kiln-cli', retries: 1 }).whoami();
      const file = configFile(io.env);
      await saveConfig(file, { url, apiKey });
      print({ url, config: file, ...me }, () => io.stdout.write(`logged in to ${url} as key ${me.key.name} of tenant ${me.tenant.name}; saved in ${file} (mode 600)\n`));
    });

  const keys = program.command('keys').description('manage API keys of your tenant');
  keys.command('list').action(async () => {
    const list = await client().listKeys();
    print(list, () => list.items.forEach((k) => io.stdout.write(`${k.id}  ${k.prefix}…  ${k.name}  ${k.scopes.join(',')}  ${k.createdAt}\n`)));
  });
  keys
    .command('create')
    .argument('<name>')
    .option('--scopes <list>', 'comma-separated: read, build, admin (default: read,build)')
    .action(async (name: string, o: { scopes?: string }) => {
      const k = await client().createKey(name, o.scopes?.split(',').map((x) => x.trim()).filter(Boolean) as ('read' | 'build' | 'admin')[] | undefined);
      print(k, () => io.stdout.write(`${k.secret}\n(key ${k.id}; shown once: store it now)\n`));
    });
  keys
    .command('revoke')
    .argument('<id>')
    .action(async (id: string) => {
      await client().revokeKey(id);
      print({ revoked: id }, () => io.stdout.write(`revoked ${id}\n`));
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (e instanceof KilnError && e.kind === 'timeout') {
      io.stderr.write(`kiln: ${e.message}\n`);
      return EXIT.stillRunning;
    }
    if (e instanceof UsageError) {
      io.stderr.write(`kiln: ${e.message}\n`);
      return EXIT.usage;
    }
    if (e instanceof KilnError) {
      io.stderr.write(`kiln: ${e.message}\n`);
      return e.kind === 'refused' ? EXIT.refused : EXIT.unreachable;
    }
    io.stderr.write(`kiln: ${(e as Error).stack ?? e}\n`);
    return EXIT.unreachable;
  }
}

const TERMINAL = ['succeeded', 'failed', 'canceled'];

if (require.main === module) {
  run(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env }).then((code) => {
    process.exitCode = code;
  });
}
