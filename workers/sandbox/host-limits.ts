import { execFileSync } from 'node:child_process';
import { accessSync, chmodSync, chownSync, constants, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What needs root on a worker's host, and nothing else: a size-limited tmpfs for each build's or
 * verification's folder (the disk limit of the whole build, whatever number of files it writes),
 * and a cgroup folder per controller that the worker's user may make run cgroups in (memory,
 * processes and CPU of a run's whole process tree). Run by the privileged helper (privileged.ts)
 * on behalf of a worker that dropped root, or in the worker itself when it runs as root.
 *
 * Every path here is made by root below folders root owns, so the worker's user (which handles
 * tenants' files) cannot point a mount at another place with a link.
 */

/** The cgroup v1 controllers a run is limited by, and where the host mounts them. */
export const CGROUP_V1_ROOT = '/sys/fs/cgroup';
export const CGROUP_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;
export type CgroupController = (typeof CGROUP_CONTROLLERS)[number];

export interface HostLayout {
  /** Folders of builds and verifications: each one a tmpfs mount, made and removed by root. */
  buildsRoot: string;
  /** The worker's own scratch (toolchain probes, caches): owned by the worker's user. */
  scratchRoot: string;
  /** Per controller, the cgroup the worker's user makes its run cgroups in; null without cgroups. */
  cgroups: Record<CgroupController, string> | null;
  /** Why there are no cgroups, when there are none. */
  cgroupsMissing: string | null;
}

/** Folder names the helper mounts: made by the worker, checked by root. */
export const FOLDER_NAME = /^(build|verify)-[0-9a-f]{16}$/;

function realFolder(path: string, owner: number): void {
  const st = lstatSync(path, { throwIfNoEntry: false });
  if (!st) {
    mkdirSync(path, { mode: 0o711 });
  } else if (!st.isDirectory()) {
    throw new Error(`${path} is not a folder (a link or a file is there)`);
  }
  chownSync(path, owner, owner === 0 ? 0 : owner);
}

/**
 * Prepares the host for a worker whose sandboxed runs will be started by `uid`: the work root
 * (root's) with builds/ (root's, where the tmpfs folders go) and scratch/ (the worker's), and the
 * delegated cgroup folders. Needs root. Idempotent.
 */
export function prepareHost(workRoot: string, workerId: string, uid: number, gid: number): HostLayout {
  if (process.getuid?.() !== 0) throw new Error('preparing the host needs root');
  mkdirSync(workRoot, { recursive: true, mode: 0o711 });
  const st = lstatSync(workRoot);
  if (!st.isDirectory()) throw new Error(`the work folder ${workRoot} is not a folder`);
  // root's, so that nobody else can rename what lies beneath it.
  chownSync(workRoot, 0, 0);
  chmodSync(workRoot, 0o711);
  const buildsRoot = join(workRoot, 'builds');
  realFolder(buildsRoot, 0);
  chmodSync(buildsRoot, 0o711);
  // Mounts left by a worker that died: removed (nothing runs in them any more).
  for (const name of readdirSync(buildsRoot)) if (FOLDER_NAME.test(name)) releaseFolder(buildsRoot, name);
  const scratchRoot = join(workRoot, 'scratch');
  realFolder(scratchRoot, uid);
  chownSync(scratchRoot, uid, gid);
  chmodSync(scratchRoot, 0o711);
  const { cgroups, missing } = delegateCgroups(workerId, uid, gid);
  return { buildsRoot, scratchRoot, cgroups, cgroupsMissing: missing };
}

/** The layout of a worker that cannot use root: plain folders, and cgroups only where an operator delegated them. */
export function unprivilegedLayout(workRoot: string, workerId: string): HostLayout {
  mkdirSync(join(workRoot, 'builds'), { recursive: true, mode: 0o711 });
  mkdirSync(join(workRoot, 'scratch'), { recursive: true, mode: 0o711 });
  const cgroups = Object.fromEntries(CGROUP_CONTROLLERS.map((c) => [c, join(CGROUP_V1_ROOT, c, 'kiln', cgroupName(workerId))])) as Record<CgroupController, string>;
  const writable = Object.values(cgroups).every((p) => {
    try {
      accessSync(p, constants.W_OK);
      return true;
    } catch {
      return false;
    }
  });
  return {
    buildsRoot: join(workRoot, 'builds'),
    scratchRoot: join(workRoot, 'scratch'),
    cgroups: writable ? cgroups : null,
    cgroupsMissing: writable ? null : `no cgroup folders were delegated to this worker (${Object.values(cgroups).join(', ')}); start the worker as root with KILN_WORKER_USER, which makes them`,
  };
}

export function cgroupName(workerId: string): string {
  return workerId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 100) || 'worker';
}

/**
 * cgroup v1: <controller>/kiln/<worker> for each controller, owned by the worker's user, so that
 * it can make a cgroup per run below it. A host with only the unified (v2) hierarchy gets none,
 * and says so.
 */
function delegateCgroups(workerId: string, uid: number, gid: number): { cgroups: Record<CgroupController, string> | null; missing: string | null } {
  const absent = CGROUP_CONTROLLERS.filter((c) => !existsSync(join(CGROUP_V1_ROOT, c, 'cgroup.procs')));
  if (absent.length) {
    const v2 = existsSync(join(CGROUP_V1_ROOT, 'cgroup.controllers'));
    return { cgroups: null, missing: `the cgroup v1 controller${absent.length > 1 ? 's' : ''} ${absent.join(', ')} ${absent.length > 1 ? 'are' : 'is'} not mounted at ${CGROUP_V1_ROOT}${v2 ? ' (this host has the unified v2 hierarchy, which Kiln does not use yet)' : ''}` };
  }
  const cgroups = {} as Record<CgroupController, string>;
  for (const c of CGROUP_CONTROLLERS) {
    const kiln = join(CGROUP_V1_ROOT, c, 'kiln');
    mkdirSync(kiln, { recursive: true });
    const mine = join(kiln, cgroupName(workerId));
    if (existsSync(mine)) removeCgroupTree(mine);
    mkdirSync(mine);
    // Delegated: the folder and its files belong to the worker's user.
    chownSync(mine, uid, gid);
    for (const f of readdirSync(mine)) chownSync(join(mine, f), uid, gid);
    cgroups[c] = mine;
  }
  if (existsSync(join(cgroups.memory, 'memory.use_hierarchy'))) {
    // Children are charged to their parents (the run's limit is also bounded by the worker's).
    try {
      execFileSync('/bin/sh', ['-c', `echo 1 > '${join(cgroups.memory, 'memory.use_hierarchy')}'`], { stdio: 'ignore' });
    } catch {
      /* set by the parent already */
    }
  }
  return { cgroups, missing: null };
}

/** Removes a cgroup and the ones below it, killing whatever still runs there. */
export function removeCgroupTree(path: string): void {
  for (const e of readdirSync(path, { withFileTypes: true })) if (e.isDirectory()) removeCgroupTree(join(path, e.name));
  for (let i = 0; i < 50; i++) {
    const pids = readFileSync(join(path, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    try {
      rmdirSync(path);
      return;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EBUSY') throw e;
      execFileSync('/bin/sleep', ['0.02']);
    }
  }
  throw new Error(`cgroup ${path} would not empty`);
}

/**
 * Mounts a new tmpfs of at most `bytes` at buildsRoot/name, owned by uid (the worker's user,
 * which also runs the sandbox, or root whose sandbox runs as another user: then the folder is
 * open to it, as the worker's folders are).
 */
export function mountFolder(buildsRoot: string, name: string, bytes: number, uid: number, gid: number): string {
  if (!FOLDER_NAME.test(name)) throw new Error(`refused to mount a folder named ${JSON.stringify(name)}`);
  if (!Number.isSafeInteger(bytes) || bytes < 1024 * 1024) throw new Error(`refused a folder of ${bytes} bytes`);
  const path = join(buildsRoot, name);
  mkdirSync(path, { mode: 0o700 }); // fails if anything is there already
  try {
    execFileSync('/bin/mount', ['--no-canonicalize', '-t', 'tmpfs', '-o', `size=${bytes},mode=0711,uid=${uid},gid=${gid},nosuid,nodev`, 'kiln-build', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    rmdirSync(path);
    throw new Error(`could not mount a tmpfs at ${path}: ${((e as { stderr?: Buffer }).stderr ?? '').toString().trim() || (e as Error).message}`);
  }
  return path;
}

/** Unmounts and removes a folder made by mountFolder (or a plain folder of that name). */
export function releaseFolder(buildsRoot: string, name: string): void {
  if (!FOLDER_NAME.test(name)) throw new Error(`refused to release a folder named ${JSON.stringify(name)}`);
  const path = join(buildsRoot, name);
  if (!existsSync(path)) return;
  if (isMountPoint(path)) {
    try {
      execFileSync('/bin/umount', ['--no-canonicalize', path], { stdio: 'ignore' });
    } catch {
      execFileSync('/bin/umount', ['--no-canonicalize', '--lazy', path], { stdio: 'ignore' });
    }
  }
  execFileSync('/bin/rm', ['-rf', '--one-file-system', '--', path]);
}

function isMountPoint(path: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === path);
}
