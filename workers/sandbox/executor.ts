import { spawn } from 'node:child_process';
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
  constructor(readonly mode: 'bwrap' | 'none') {}

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
      `--nproc=${limits.processes}`,
      `--cpu=${limits.cpuSeconds}`,
      `--core=0`,
      '--',
    ];
    const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    if (this.mode === 'none') {
      return { file: prlimit[0], args: [...prlimit.slice(1), '/usr/bin/env', '-i', ...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...req.argv] };
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
      const child = spawn(cmd.file, cmd.args, {
        cwd: this.mode === 'none' ? hostPathOf(req.cwd, req.mounts) : '/',
        env: {},
        uid: cmd.uid,
        gid: cmd.gid,
        detached: true, // its own process group, so a kill reaches every descendant
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let outLen = 0;
      let errLen = 0;
      let truncated = false;
      let timedOut = false;
      let canceled = false;
      const collect = (chunks: Buffer[], len: number, chunk: Buffer): number => {
        const room = max - len;
        if (room <= 0) {
          truncated = true;
          return len;
        }
        if (chunk.length > room) {
          truncated = true;
          chunks.push(chunk.subarray(0, room));
          return max;
        }
        chunks.push(chunk);
        return len + chunk.length;
      };
      child.stdout.on('data', (c: Buffer) => (outLen = collect(out, outLen, c)));
      child.stderr.on('data', (c: Buffer) => (errLen = collect(err, errLen, c)));
      child.stdin.on('error', () => undefined);
      child.stdin.end(req.stdin ?? '');

      const killTree = () => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* already gone */
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        killTree();
      }, req.timeoutMs);
      const onAbort = () => {
        canceled = true;
        killTree();
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      if (req.signal?.aborted) onAbort();

      child.on('error', (e) => {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        reject(e);
      });
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        req.signal?.removeEventListener('abort', onAbort);
        // bubblewrap reports a child killed by a signal as exit status 128 + the signal's number.
        const viaBwrap = this.mode === 'bwrap' && signal === null && code !== null && code > 128 && code < 128 + 65;
        resolve({
          exitCode: code,
          signal: viaBwrap ? signalName(code! - 128) : signal,
          stdout: Buffer.concat(out).toString('utf8') + (truncated && outLen >= max ? '\n[output truncated]\n' : ''),
          stderr: Buffer.concat(err).toString('utf8') + (truncated && errLen >= max ? '\n[output truncated]\n' : ''),
          truncated,
          timedOut,
          canceled,
          wallMs: performance.now() - started,
        });
      });
    });
  }
}

function signalName(n: number): NodeJS.Signals | null {
  const entry = Object.entries(constants.signals).find(([, v]) => v === n);
  return entry ? (entry[0] as NodeJS.Signals) : null;
}

function hostPathOf(sandboxPath: string, mounts: Mount[]): string {
  const sorted = [...mounts].sort((a, b) => b.sandbox.length - a.sandbox.length);
  for (const m of sorted) {
    if (sandboxPath === m.sandbox || sandboxPath.startsWith(m.sandbox + '/')) return m.host + sandboxPath.slice(m.sandbox.length);
  }
  return '/';
}
