import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { type HostLayout, mountFolder, prepareHost, releaseFolder, removeCgroupTree } from './host-limits';

/**
 * The privileged helper: a small process that keeps root when a worker started as root drops it
 * (KILN_WORKER_USER), and does only what needs root, on the worker's request over the private
 * channel they share: prepare the host once (host-limits.ts), then mount and unmount the
 * size-limited folders of builds. Names and sizes are checked here, paths are made here, and
 * nothing else is offered. It exits when the worker does.
 */

export type HelperRequest =
  | { id: number; op: 'prepare'; workRoot: string; workerId: string; uid: number; gid: number }
  | { id: number; op: 'mount'; name: string; bytes: number }
  | { id: number; op: 'release'; name: string };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

export interface HelperReply {
  id: number;
  ok: boolean;
  layout?: HostLayout;
  path?: string;
  error?: string;
}

if (require.main === module) {
  if (!process.send) {
    console.error('the privileged helper runs as a child of a Kiln worker, with an IPC channel');
    process.exit(2);
  }
  let prepared: { layout: HostLayout; uid: number; gid: number } | null = null;
  process.on('message', (m: HelperRequest) => {
    const reply = (r: Omit<HelperReply, 'id'>) => process.send!({ id: m.id, ...r });
    try {
      if (m.op === 'prepare') {
        if (prepared) throw new Error('the host is prepared already');
        if (!Number.isSafeInteger(m.uid) || m.uid <= 0 || !Number.isSafeInteger(m.gid) || m.gid <= 0) throw new Error('the worker\'s user must not be root');
        const layout = prepareHost(m.workRoot, m.workerId, m.uid, m.gid);
        prepared = { layout, uid: m.uid, gid: m.gid };
        reply({ ok: true, layout });
      } else if (!prepared) {
        throw new Error('the host is not prepared');
      } else if (m.op === 'mount') {
        reply({ ok: true, path: mountFolder(prepared.layout.buildsRoot, m.name, m.bytes, prepared.uid, prepared.gid) });
      } else if (m.op === 'release') {
        releaseFolder(prepared.layout.buildsRoot, m.name);
        reply({ ok: true });
      } else {
        throw new Error('unknown request');
      }
    } catch (e) {
      reply({ ok: false, error: (e as Error).message });
    }
  });
  process.on('disconnect', () => {
    // The worker is gone: so are its run cgroups' processes; its cgroup folders go too.
    for (const dir of Object.values(prepared?.layout.cgroups ?? {})) {
      try {
        removeCgroupTree(dir);
      } catch {
        /* a later start removes them */
      }
    }
    process.exit(0);
  });
}

/** The worker's end of the helper's channel. */
export class PrivilegedHelper {
  private nextId = 1;
  private readonly pending = new Map<number, (r: HelperReply) => void>();

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (r: HelperReply) => {
      const done = this.pending.get(r.id);
      this.pending.delete(r.id);
      done?.(r);
    });
    child.on('exit', () => {
      for (const [id, done] of this.pending) done({ id, ok: false, error: 'the privileged helper stopped' });
      this.pending.clear();
    });
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
  }

  /** Starts the helper; call while still root, before dropping privileges. */
  static start(): PrivilegedHelper {
    return new PrivilegedHelper(fork(join(__dirname, 'privileged.js'), [], { execArgv: [], env: {}, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  }

  request(req: DistributiveOmit<HelperRequest, 'id'>): Promise<HelperReply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, (r) => (r.ok ? resolve(r) : reject(new Error(r.error ?? 'the privileged helper refused'))));
      this.child.send({ ...req, id }, (e) => {
        if (e) {
          this.pending.delete(id);
          reject(new Error(`the privileged helper did not take the request: ${e.message}`));
        }
      });
    });
  }
}
