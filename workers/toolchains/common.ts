import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import type { ExecResult, Mount, SandboxExecutor } from '../sandbox/executor';

/** A fresh folder the sandbox user may write into, removed after `fn`. Used by probes. */
export async function withProbeDir<T>(scratch: string, files: Record<string, string>, fn: (dir: string, mounts: Mount[]) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(scratch, 'probe-'));
  await chmod(dir, 0o777);
  try {
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    return await fn(dir, [{ host: dir, sandbox: '/work', writable: true }]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a tool in the probe folder. */
export function probeRun(exec: SandboxExecutor, mounts: Mount[], argv: string[], env?: Record<string, string>, timeoutMs = 120_000): Promise<ExecResult> {
  return exec.run({ argv, cwd: '/work', mounts, env, timeoutMs });
}

/** The first lines of a failed run, for a probe's reason. */
export function firstLines(r: ExecResult, n = 3): string {
  return (r.stderr || r.stdout).trim().split('\n').slice(0, n).join(' ');
}

export function stem(path: string): string {
  const base = posix.basename(path);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}

/** The program's name: main.* when there is one, else the first unit. */
export function programName(units: string[]): string {
  return stem(units.find((u) => stem(u) === 'main') ?? units[0]);
}
