import { ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { KillRequest, LaunchRequest, LaunchResult, RunCgroup } from './launcher';
import { existsSync } from 'node:fs';
import { constants } from 'node:os';

export interface Mount {
  host: string;
  sandbox: string;
  writable?: boolean;
  /** A device node (a GPU's), bound with device access. */
  device?: boolean;
}

export interface ResourceLimits {
  /** Address-space limit per process, bytes. */
  memoryBytes: number;
  /** Largest file a process may write, bytes. */
  fileBytes: number;
  openFiles: number;
  processes: number;
  cpuSeconds: number;
  /** Size of the sandbox's own /tmp (a tmpfs), bytes. */
  tmpBytes: number;
}

export interface ExecRequest {
  argv: string[];
  /** Working directory, as seen inside the sandbox. */
  cwd: string;
  mounts: Mount[];
  timeoutMs: number;
  /** Per stream; output past it is dropped and the result says so. */
  maxOutputBytes?: number;
  env?: Record<string, string>;
  limits?: Partial<ResourceLimits>;
  stdin?: string | Buffer;
  signal?: AbortSignal;
}

export interface ExecResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  truncated: boolean;
  timedOut: boolean;
  canceled: boolean;
  wallMs: number;
  /** Set when the run's whole process tree reached its memory limit (bytes): a process was killed for it. */
  memoryLimitBytes?: number;
  /** Its peak memory, processes and page cache together, when measured by a cgroup. */
  peakMemoryBytes?: number;
}

/** Limits for the whole process tree of each run (cgroups), besides the per-process ones. */
export interface TreeLimits {
  parents: RunCgroup['parents'];
  memoryBytes: number;
  processes: number;
  cpus: number;
}

export const DEFAULT_LIMITS: ResourceLimits = {
  memoryBytes: 4 * 1024 ** 3,
  fileBytes: 256 * 1024 ** 2,
  openFiles: 256,
  processes: 128,
  cpuSeconds: 300,
  tmpBytes: 512 * 1024 ** 2,
};

/** The user that sandboxed processes run as when the worker itself runs as root. */
const SANDBOX_UID = 65534;

/**
 * The one way Kiln runs a toolchain or an artifact. With bubblewrap: every namespace
 * unshared (no network), all capabilities dropped, a non-root uid, the system read-only,
 * only the given mounts writable, a fresh /tmp, no inherited environment, resource limits
 * via prlimit, and a wall-clock kill of the whole process tree.
 */
export class SandboxExecutor {
  constructor(
    readonly mode: 'bwrap' | 'none',
    /** cgroups for each run's process tree; without them, only the per-process limits hold. */
    readonly tree: TreeLimits | null = null,
  ) {}

  static available(mode: 'bwrap' | 'none'): string | null {
    if (mode === 'none') return null;
    for (const bin of ['/usr/bin/bwrap', '/usr/bin/prlimit']) {
      if (!existsSync(bin)) return `${bin} is missing (install bubblewrap and util-linux, or set KILN_SANDBOX=none for an unsandboxed development worker)`;
    }
    return null;
  }

  buildCommand(req: ExecRequest): { file: string; args: string[]; uid?: number; gid?: number } {
    const limits = { ...DEFAULT_LIMITS, ...req.limits };
    const env = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp', LANG: 'C.UTF-8', ...req.env };
    const prlimit = [
      '/usr/bin/prlimit',
      `--as=${limits.memoryBytes}`,
      `--fsize=${limits.fileBytes}`,
      `--nofile=${limits.openFiles}`,
      // RLIMIT_NPROC counts every process of the user, across runs: with a cgroup per run, its
      // pids limit (this run's tree only) takes its place.
      ...(this.tree ? [] : [`--nproc=${limits.processes}`]),
      `--cpu=${limits.cpuSeconds}`,
      `--core=0`,
      '--',
    ];
    const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if (this.mode === 'none') {
      // Unsandboxed (development only): the mounts do not exist, so arguments that name a path
      // inside one (or an option's value that does: --output=/in/x) name the host path instead.
      const argv = req.argv.map((a) => {
        const m = /^(--?[A-Za-z0-9-]+=)?(\/.*)$/.exec(a);
        return m ? (m[1] ?? '') + hostPathOf(m[2], req.mounts, m[2]) : a;
      });
      return { file: prlimit[0], args: [...prlimit.slice(1), '/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv] };
    }
    const args = [
      '--unshare-all',
      '--die-with-parent',
      '--new-session',
      '--clearenv',
      '--cap-drop', 'ALL',
      '--ro-bind', '/usr', '/usr',
      '--symlink', 'usr/bin', '/bin',
      '--symlink', 'usr/sbin', '/sbin',
      '--symlink', 'usr/lib', '/lib',
      '--symlink', 'usr/lib64', '/lib64',
      '--ro-bind-try', '/etc/alternatives', '/etc/alternatives',
      '--ro-bind-try', '/etc/ld.so.cache', '/etc/ld.so.cache',
      '--proc', '/proc',
      '--dev', '/dev',
      '--size', String(limits.tmpBytes),
      '--tmpfs', '/tmp',
    ];
    for (const m of req.mounts) args.push(m.device ? '--dev-bind' : m.writable ? '--bind' : '--ro-bind', m.host, m.sandbox);
    for (const [k, v] of Object.entries(env)) args.push('--setenv', k, v);
    args.push('--chdir', req.cwd, '--', ...prlimit, ...req.argv);
    return { file: '/usr/bin/bwrap', args, ...(asRoot ? { uid: SANDBOX_UID, gid: SANDBOX_UID } : {}) };
  }

  run(req: ExecRequest): Promise<ExecResult> {
    const cmd = this.buildCommand(req);
    const max = req.maxOutputBytes ?? 1024 * 1024;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      let canceled = false;
      const launched = launcher.run(
        {
          file: cmd.file,
          args: cmd.args,
          cwd: this.mode === 'none' ? hostPathOf(req.cwd, req.mounts) : '/',
          uid: cmd.uid,
          gid: cmd.gid,
          stdin: req.stdin ?? '',
          timeoutMs: req.timeoutMs,
          maxOutputBytes: max,
          ...(this.tree ? { cgroup: { parents: this.tree.parents, memoryBytes: this.tree.memoryBytes, processes: Math.min(this.tree.processes, req.limits?.processes ?? this.tree.processes), cpus: this.tree.cpus } } : {}),
        },
      );
      const onAbort = () => {
        canceled = true;
        launched.kill();
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      if (req.signal?.aborted) onAbort();
      launched.result.then(
        (r) => {
          req.signal?.removeEventListener('abort', onAbort);
          if (r.error !== undefined) return reject(new Error(r.error));
          const code = r.exitCode;
          // bubblewrap reports a child killed by a signal as exit status 128 + the signal's number.
          const viaBwrap = this.mode === 'bwrap' && r.signal === null && code !== null && code > 128 && code < 128 + 65;
          resolve({
            exitCode: code,
            signal: viaBwrap ? signalName(code! - 128) : r.signal,
            stdout: Buffer.from(r.stdout).toString('utf8') + (r.stdoutTruncated ? '\n[output truncated]\n' : ''),
            stderr: Buffer.from(r.stderr).toString('utf8') + (r.stderrTruncated ? '\n[output truncated]\n' : ''),
            truncated: r.stdoutTruncated || r.stderrTruncated,
            timedOut: r.timedOut,
            canceled,
            wallMs: performance.now() - started,
            ...(r.memoryLimitHit ? { memoryLimitBytes: this.tree!.memoryBytes } : {}),
            ...(r.peakMemoryBytes !== undefined ? { peakMemoryBytes: r.peakMemoryBytes } : {}),
          });
        },
        (e) => {
          req.signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }
}

/**
 * The worker's end of the sandbox launcher (launcher.ts): one small process, started on first
 * use and again if it ever stops, that starts every sandboxed command of this worker.
 */
class LauncherClient {
  private child: ChildProcess | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (r: LaunchResult) => void; reject: (e: Error) => void }>();

  run(req: Omit<LaunchRequest, 'type' | 'id'>): { result: Promise<LaunchResult>; kill: () => void } {
    const id = this.nextId++;
    const result = new Promise<LaunchResult>((resolve, reject) => {
      const child = this.started();
      this.pending.set(id, { resolve, reject });
      this.hold();
      child.send({ type: 'run', id, ...req } satisfies LaunchRequest, (e) => {
        if (e) this.settle(id, (p) => p.reject(new Error(`the sandbox launcher did not take the command: ${e.message}`)));
      });
    });
    const kill = () => {
      if (this.pending.has(id)) this.child?.send({ type: 'kill', id } satisfies KillRequest, () => undefined);
    };
    return { result, kill };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private started(): ChildProcess {
    if (this.child) return this.child;
    // No flags or environment of the worker's: the launcher needs none.
    const child = fork(join(__dirname, 'launcher.js'), [], { execArgv: [], env: {}, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.on('message', (m: LaunchResult) => this.settle(m.id, (p) => p.resolve(m)));
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = null;
      for (const id of [...this.pending.keys()]) this.settle(id, (p) => p.reject(new Error(`the sandbox launcher stopped (${signal ?? `exit status ${code}`}) while running a command`)));
    });
    child.on('error', () => undefined); // followed by 'exit', or by the send callback's error
    this.child = child;
    this.release();
    return child;
  }

  private settle(id: number, how: (p: { resolve: (r: LaunchResult) => void; reject: (e: Error) => void }) => void): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    how(p);
    if (this.pending.size === 0) this.release();
  }

  /** The launcher keeps this process alive only while a command runs. */
  private hold(): void {
    this.child?.ref();
    (this.child?.channel as { ref?: () => void } | undefined)?.ref?.();
  }

  private release(): void {
    this.child?.unref();
    (this.child?.channel as { unref?: () => void } | undefined)?.unref?.();
  }
}

const launcher = new LauncherClient();

/** The launcher's process id while it runs (for operators and tests). */
export function launcherPid(): number | undefined {
  return launcher.pid;
}

function signalName(n: number): NodeJS.Signals | null {
  const entry = Object.entries(constants.signals).find(([, v]) => v === n);
  return entry ? (entry[0] as NodeJS.Signals) : null;
}

function hostPathOf(sandboxPath: string, mounts: Mount[], otherwise = '/'): string {
  const sorted = [...mounts].sort((a, b) => b.sandbox.length - a.sandbox.length);
  for (const m of sorted) {
    if (sandboxPath === m.sandbox || sandboxPath.startsWith(m.sandbox + '/')) return m.host + sandboxPath.slice(m.sandbox.length);
  }
  return otherwise;
}
