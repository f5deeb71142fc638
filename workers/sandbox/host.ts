import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Logger } from '@nestjs/common';
import type { WorkerConfig } from '../../src/config/config';
import { removeTree } from './files';
import { type HostLayout, mountFolder, prepareHost, releaseFolder, removeCgroupTree, unprivilegedLayout } from './host-limits';
import { sweepCgroups } from './launcher';
import type { PrivilegedHelper } from './privileged';
import type { TreeLimits } from './executor';

export const HOST = Symbol('HOST');

/** The privileged helper of this process, when main.ts started one before dropping root. */
let helper: PrivilegedHelper | null = null;
let helperUser: { uid: number; gid: number } | null = null;

export function useHelper(h: PrivilegedHelper, user: { uid: number; gid: number }): void {
  helper = h;
  helperUser = user;
}

/** A folder for one build or verification; `release` unmounts and removes it. */
export interface BuildFolder {
  dir: string;
  /** Whether its size is limited (a tmpfs of the build's disk limit). */
  limited: boolean;
  release: () => Promise<void>;
}

/**
 * Where a worker's builds run and how they are held: each build's folder a tmpfs of the disk
 * limit, each sandboxed run in cgroups of the memory, process and CPU limits, when the host
 * allows (root, through the privileged helper or this process itself); plain folders and
 * per-process limits otherwise, said once at start-up (or refused, with KILN_BUILD_LIMITS=required).
 */
export class WorkerHost {
  private readonly logger = new Logger('Host');

  private constructor(
    readonly layout: HostLayout,
    private readonly config: WorkerConfig,
    private readonly mounts: 'helper' | 'self' | null,
  ) {}

  static async prepare(config: WorkerConfig): Promise<WorkerHost> {
    const off = config.limits.mode === 'off';
    let host: WorkerHost;
    if (helper && !off) {
      const r = await helper.request({ op: 'prepare', workRoot: config.workRoot, workerId: config.id, uid: helperUser!.uid, gid: helperUser!.gid });
      host = new WorkerHost(r.layout!, config, 'helper');
    } else if (process.getuid?.() === 0 && !off) {
      host = new WorkerHost(prepareHost(config.workRoot, config.id, 0, 0), config, 'self');
    } else {
      const layout = unprivilegedLayout(config.workRoot, config.id);
      host = new WorkerHost(off ? { ...layout, cgroups: null, cgroupsMissing: 'KILN_BUILD_LIMITS is off' } : layout, config, null);
    }
    host.check();
    if (host.layout.cgroups) sweepCgroups(host.layout.cgroups);
    return host;
  }

  private check(): void {
    const missing = [
      ...(this.layout.cgroups ? [] : [`memory, process and CPU limits per build: ${this.layout.cgroupsMissing}`]),
      ...(this.mounts ? [] : ['a disk limit per build: size-limited folders need the worker to start as root (it drops root with KILN_WORKER_USER)']),
    ];
    if (missing.length === 0 || this.config.limits.mode === 'off') return;
    if (this.config.limits.mode === 'required') throw new Error(`KILN_BUILD_LIMITS=required, but this host gives no ${missing.join('; no ')}`);
    this.logger.warn(`builds are limited per process only; missing ${missing.join('; ')}`);
  }

  /** On shutdown: a worker that made its own cgroup folders (as root) removes them. */
  async onApplicationShutdown(): Promise<void> {
    if (this.mounts !== 'self') return;
    for (const dir of Object.values(this.layout.cgroups ?? {})) {
      try {
        removeCgroupTree(dir);
      } catch (e) {
        this.logger.warn(`could not remove ${dir}: ${(e as Error).message}`);
      }
    }
  }

  /** The cgroup limits each sandboxed run gets, when there are cgroups. */
  get tree(): TreeLimits | null {
    const c = this.layout.cgroups;
    if (!c) return null;
    const l = this.config.limits;
    return { parents: { memory: c.memory, pids: c.pids, cpu: c.cpu }, memoryBytes: l.memoryBytes, processes: l.processes, cpus: l.cpus };
  }

  /** A fresh folder for a build or a verification. */
  async acquire(kind: 'build' | 'verify'): Promise<BuildFolder> {
    const name = `${kind}-${randomBytes(8).toString('hex')}`;
    const bytes = this.config.limits.diskBytes;
    if (this.mounts === 'helper') {
      const r = await helper!.request({ op: 'mount', name, bytes });
      return { dir: r.path!, limited: true, release: async () => void (await helper!.request({ op: 'release', name })) };
    }
    if (this.mounts === 'self') {
      const dir = mountFolder(this.layout.buildsRoot, name, bytes, 0, 0);
      return { dir, limited: true, release: async () => releaseFolder(this.layout.buildsRoot, name) };
    }
    const dir = join(this.layout.buildsRoot, name);
    mkdirSync(dir, { mode: 0o711 });
    chmodSync(dir, 0o711);
    return { dir, limited: false, release: async () => removeTree(dir) };
  }
}
