import { strict as assert } from 'node:assert';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kiln, startKiln, waitForJob } from './support/harness';

/**
 * The worker as it is started in production (scripts/start.sh, the Dockerfile): as root with
 * KILN_WORKER_USER, it keeps root only in its privileged helper and runs itself, its sandbox
 * launcher and every sandboxed command as that user, and still builds and verifies end to end.
 * The user here is nobody (every machine has it); start.sh uses kiln.
 */
const PROJECT = join(__dirname, '..', '..');

function ids(pid: number): { uids: number[]; ppid: number; cmd: string } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return {
    uids: /^Uid:\s+(.*)$/m.exec(status)![1].trim().split(/\s+/).map(Number),
    ppid: Number(/^PPid:\s+(\d+)/m.exec(status)![1]),
    cmd: readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '),
  };
}

function children(pid: number): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((p) => {
      try {
        return ids(p).ppid === pid;
      } catch {
        return false;
      }
    });
}

describe('a worker started as root runs as KILN_WORKER_USER', { skip: process.getuid?.() !== 0 && 'needs root to start the worker as root' }, () => {
  let kiln: Kiln;
  let worker: ChildProcess | null = null;
  let code = PROJECT;
  let bound: string | null = null;
  let work: string;
  let logs = '';

  before(async () => {
    kiln = await startKiln({ storage: 's3', worker: false });
    // The worker's user must read the code: a checkout below a folder it cannot enter (such as
    // /root) is bound at a path it can reach, for this test only.
    if (spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', '/usr/bin/test', '-r', join(PROJECT, 'dist/workers/main.js')]).status !== 0) {
      bound = await mkdtemp(join(tmpdir(), 'kiln-code-'));
      await chmod(bound, 0o755);
      assert.equal(spawnSync('/bin/mount', ['--bind', PROJECT, bound]).status, 0, 'bind-mounting the project for the worker\'s user');
      code = bound;
    }
    work = await mkdtemp(join(tmpdir(), 'kiln-user-work-'));
    await chmod(work, 0o711);
    await mkdir(join(work, 'w'));
    worker = spawn(process.execPath, [join(code, 'dist/workers/main.js')], {
      cwd: code,
      env: { ...kiln.env, PATH: process.env.PATH ?? '/usr/bin:/bin', KILN_WORKER_USER: 'nobody', KILN_WORKER_ID: `as-nobody-${process.pid}`, KILN_WORK_DIR: join(work, 'w'), KILN_POOLS: 'cpu,verify-x86_64', KILN_LOG_LEVEL: 'log' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    worker.stdout!.on('data', (c: Buffer) => (logs += c.toString()));
    worker.stderr!.on('data', (c: Buffer) => (logs += c.toString()));
  });

  after(async () => {
    if (worker && worker.exitCode === null && worker.signalCode === null) {
      worker.kill('SIGTERM');
      await new Promise((r) => worker!.once('exit', r));
    }
    await kiln?.close();
    if (bound) spawnSync('/bin/umount', [bound]);
    if (bound) await rm(bound, { recursive: true, force: true });
    await rm(work, { recursive: true, force: true });
  });

  it('builds and verifies, with the worker and its launcher as nobody and only the helper as root', async () => {
    const src = '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n';
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ targets: ['x86_64-linux-gnu'], source: { language: 'c', files: [{ path: 'main.c', content: src }] }, verify: { program: {} } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id, 180_000).catch((e: Error) => {
      throw new Error(`${e.message}\nworker log:\n${logs}`);
    });
    const b = job.builds[0] as (typeof job.builds)[number] & { verification: { status: string } | null };
    assert.equal(b.status, 'succeeded', `${b.statusReason}\nworker log:\n${logs}`);
    assert.equal(b.verification?.status, 'passed');

    const me = ids(worker!.pid!);
    assert.deepEqual(me.uids, [65534, 65534, 65534, 65534], 'the worker runs as nobody (real, effective, saved, file-system uid)');
    const kids = children(worker!.pid!).map((p) => ({ pid: p, ...ids(p) }));
    const helper = kids.filter((k) => k.cmd.includes('privileged.js'));
    const launcher = kids.filter((k) => k.cmd.includes('launcher.js'));
    assert.equal(helper.length, 1, JSON.stringify(kids));
    assert.equal(helper[0].uids[1], 0, 'the privileged helper keeps root');
    assert.equal(launcher.length, 1, JSON.stringify(kids));
    assert.deepEqual(launcher[0].uids, [65534, 65534, 65534, 65534], 'the sandbox launcher runs as nobody');
    assert.deepEqual(kids.filter((k) => k.uids.includes(0)).map((k) => k.cmd), helper.map((k) => k.cmd), 'nothing else of the worker runs as root');
    assert.match(logs, /started as uid 65534/);
  });

  it('its build folders were size-limited mounts, all gone afterwards', () => {
    const builds = join(work, 'w', 'builds');
    assert.ok(existsSync(builds));
    assert.deepEqual(readdirSync(builds), [], 'no build folder is left behind');
    assert.ok(!readFileSync('/proc/self/mountinfo', 'utf8').includes(builds), 'no mount is left behind');
  });

  it('stops with its helper', async () => {
    const helper = children(worker!.pid!).find((p) => ids(p).cmd.includes('privileged.js'))!;
    worker!.kill('SIGTERM');
    await new Promise((r) => worker!.once('exit', r));
    for (let i = 0; i < 50 && existsSync(`/proc/${helper}`); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(existsSync(`/proc/${helper}`), false, 'the helper exits with the worker');
    assert.equal(existsSync(`/sys/fs/cgroup/memory/kiln/as-nobody-${process.pid}`), false, 'the worker\'s cgroup folder is removed');
  });
});
