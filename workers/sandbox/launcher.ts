import { spawn } from 'node:child_process';

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
  const child = spawn(req.file, req.args, {
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
    process.send!({ id: req.id, ...result } satisfies LaunchResult);
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
