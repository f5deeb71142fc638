import { spawn } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The sandbox's launcher: a small process of its own that starts the sandboxed commands a worker
 * asks for over its IPC channel, and answers with what they wrote and how they ended. A worker
 * starting them itself forks its whole address space for every command (Node forks, then execs):
 * about 10 ms per build from a worker of 110 MB, most of it waiting for the child, and every page
 * the worker writes afterwards faults once. This process holds a few megabytes of its own, so
 * its forks are cheap. It runs nothing but what its parent sends (the executor builds the
 * command: bubblewrap, prlimit, the toolchain), and takes nothing from anyone else.
 *
 * It imports nothing of Kiln's, to stay small. When its parent goes (the channel closes), it
 * kills every process group it started and exits.
 */

export interface LaunchRequest {
  type: 'run';
  id: number;
  file: string;
  args: string[];
  cwd: string;
  uid?: number;
  gid?: number;
  stdin: Buffer | string;
  timeoutMs: number;
  maxOutputBytes: number;
  /** Limits for the run's whole process tree, in a cgroup of its own below each of `parents`. */
  cgroup?: RunCgroup;
}

export interface RunCgroup {
  /** cgroup v1 folders (memory, pids, cpu) the launcher may make cgroups in. */
  parents: { memory: string; pids: string; cpu: string };
  memoryBytes: number;
  processes: number;
  cpus: number;
}

export interface KillRequest {
  type: 'kill';
  id: number;
}

export interface LaunchResult {
  id: number;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: Buffer;
  /** Per stream: whether output past the limit was dropped. */
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  timedOut: boolean;
  /** Set when the command could not be started at all. */
  error?: string;
  /** With a cgroup: the run's peak memory (its whole tree), and whether it hit the limit. */
  peakMemoryBytes?: number;
  memoryLimitHit?: boolean;
}

/**
 * Joins the cgroups named before `--` (the shell's own pid, so everything it execs and forks
 * stays inside), then execs the command after it.
 */
const JOIN = 'for f; do shift; [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; done; exec "$@"';

/** Makes a run's cgroups with its limits; the run's user (when another) may join them. */
function makeCgroups(name: string, c: RunCgroup, uid: number | undefined): string[] {
  const dirs = [join(c.parents.memory, name), join(c.parents.pids, name), join(c.parents.cpu, name)];
  for (const d of dirs) mkdirSync(d);
  const [memory, pids, cpu] = dirs;
  writeFileSync(join(memory, 'memory.limit_in_bytes'), String(c.memoryBytes));
  // Swap may not extend it (where the kernel accounts swap).
  if (existsSync(join(memory, 'memory.memsw.limit_in_bytes'))) writeFileSync(join(memory, 'memory.memsw.limit_in_bytes'), String(c.memoryBytes));
  writeFileSync(join(pids, 'pids.max'), String(c.processes));
  writeFileSync(join(cpu, 'cpu.cfs_period_us'), '100000');
  writeFileSync(join(cpu, 'cpu.cfs_quota_us'), String(Math.max(1000, Math.round(c.cpus * 100000))));
  if (uid !== undefined && uid !== process.getuid?.()) for (const d of dirs) chownSync(join(d, 'cgroup.procs'), uid, -1);
  return dirs;
}

/** What the run's memory cgroup saw, then every cgroup of the run emptied and removed. */
function closeCgroups(dirs: string[]): { peakMemoryBytes?: number; memoryLimitHit?: boolean } {
  const seen: { peakMemoryBytes?: number; memoryLimitHit?: boolean } = {};
  try {
    seen.peakMemoryBytes = Number(readFileSync(join(dirs[0], 'memory.max_usage_in_bytes'), 'utf8'));
    const oom = /oom_kill (\d+)/.exec(readFileSync(join(dirs[0], 'memory.oom_control'), 'utf8'));
    const failcnt = Number(readFileSync(join(dirs[0], 'memory.failcnt'), 'utf8'));
    seen.memoryLimitHit = oom ? Number(oom[1]) > 0 : failcnt > 0;
  } catch {
    /* a kernel without these files */
  }
  for (const d of dirs) {
    for (let i = 0; i < 100; i++) {
      try {
        for (const pid of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            /* gone */
          }
        }
        rmdirSync(d);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') break;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
      }
    }
  }
  return seen;
}

/** Run cgroups left by a launcher that died (its name is in theirs). */
export function sweepCgroups(parents: RunCgroup['parents']): void {
  for (const parent of Object.values(parents)) {
    for (const e of existsSync(parent) ? readdirSync(parent, { withFileTypes: true }) : []) {
      const m = /^run-(\d+)-\d+$/.exec(e.name);
      if (!e.isDirectory() || !m) continue;
      try {
        process.kill(Number(m[1]), 0);
      } catch {
        closeCgroups([join(parent, e.name)]);
      }
    }
  }
}

const running = new Map<number, { pid: number | undefined }>();

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    /* already gone */
  }
}

function launch(req: LaunchRequest): void {
  let cgroups: string[] = [];
  let file = req.file;
  let args = req.args;
  if (req.cgroup) {
    const name = `run-${process.pid}-${req.id}`;
    try {
      cgroups = makeCgroups(name, req.cgroup, req.uid);
    } catch (e) {
      closeCgroups(Object.values(req.cgroup.parents).map((p) => join(p, name)).filter((d) => existsSync(d)));
      process.send!({ id: req.id, exitCode: null, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), stdoutTruncated: false, stderrTruncated: false, timedOut: false, error: `the run's cgroups could not be made: ${(e as Error).message}` } satisfies LaunchResult);
      return;
    }
    file = '/bin/sh';
    args = ['-c', JOIN, 'kiln-run', ...cgroups.map((d) => join(d, 'cgroup.procs')), '--', req.file, ...req.args];
  }
  const child = spawn(file, args, {
    cwd: req.cwd,
    env: {},
    uid: req.uid,
    gid: req.gid,
    detached: true, // its own process group, so a kill reaches every descendant
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  running.set(req.id, { pid: child.pid });
  const streams = [
    { chunks: [] as Buffer[], length: 0, truncated: false },
    { chunks: [] as Buffer[], length: 0, truncated: false },
  ];
  const collect = (s: (typeof streams)[number], chunk: Buffer) => {
    const room = req.maxOutputBytes - s.length;
    if (room <= 0) {
      s.truncated = true;
      return;
    }
    if (chunk.length > room) {
      s.truncated = true;
      chunk = chunk.subarray(0, room);
    }
    s.chunks.push(chunk);
    s.length += chunk.length;
  };
  child.stdout.on('data', (c: Buffer) => collect(streams[0], c));
  child.stderr.on('data', (c: Buffer) => collect(streams[1], c));
  child.stdin.on('error', () => undefined);
  child.stdin.end(req.stdin);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, req.timeoutMs);
  let answered = false;
  const answer = (result: Omit<LaunchResult, 'id'>) => {
    if (answered) return;
    answered = true;
    clearTimeout(timer);
    running.delete(req.id);
    const seen = cgroups.length ? closeCgroups(cgroups) : {};
    process.send!({ id: req.id, ...result, ...seen } satisfies LaunchResult);
  };
  child.on('error', (e) =>
    answer({ exitCode: null, signal: null, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), stdoutTruncated: false, stderrTruncated: false, timedOut: false, error: e.message }),
  );
  child.on('close', (code, signal) =>
    answer({
      exitCode: code,
      signal,
      stdout: Buffer.concat(streams[0].chunks),
      stderr: Buffer.concat(streams[1].chunks),
      stdoutTruncated: streams[0].truncated,
      stderrTruncated: streams[1].truncated,
      timedOut,
    }),
  );
}

if (require.main === module) {
  if (!process.send) {
    console.error('the sandbox launcher runs as a child of a Kiln worker, with an IPC channel');
    process.exit(2);
  }
  process.on('message', (m: LaunchRequest | KillRequest) => {
    if (m.type === 'run') launch(m);
    else if (m.type === 'kill') killGroup(running.get(m.id)?.pid);
  });
  process.on('disconnect', () => {
    for (const r of running.values()) killGroup(r.pid);
    process.exit(0);
  });
}
