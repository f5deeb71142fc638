import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { launcherPid, SandboxExecutor } from './executor';

describe('SandboxExecutor (bubblewrap)', { skip: !existsSync('/usr/bin/bwrap') && 'bubblewrap is not installed' }, () => {
  const exec = new SandboxExecutor('bwrap');
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-sandbox-'));
    await chmod(dir, 0o777);
  });
  after(async () => rm(dir, { recursive: true, force: true }));
  const mounts = () => [{ host: dir, sandbox: '/work', writable: true }];

  it('runs a command with a clean environment, as a non-root user', async () => {
    const r = await exec.run({ argv: ['/bin/sh', '-c', 'id -u; env | sort; echo out > /work/file'], cwd: '/work', mounts: mounts(), timeoutMs: 10_000, env: { KILN_X: '1' } });
    assert.equal(r.exitCode, 0, r.stderr);
    const [uid, ...env] = r.stdout.trim().split('\n');
    assert.notEqual(uid, '0');
    assert.ok(!env.some((l) => l.startsWith('KILN_DATABASE_URL') || l.startsWith('AWS_')), 'no inherited variables');
    assert.ok(env.includes('KILN_X=1'));
    assert.equal(await readFile(join(dir, 'file'), 'utf8'), 'out\n');
  });

  it('cannot write outside its mounts, or reach the network', async () => {
    const r = await exec.run({ argv: ['/bin/sh', '-c', 'touch /usr/kiln-escape 2>/dev/null && echo wrote; ls /sys/class/net 2>/dev/null | tr "\\n" " "'], cwd: '/work', mounts: mounts(), timeoutMs: 10_000 });
    assert.doesNotMatch(r.stdout, /wrote/);
    assert.doesNotMatch(r.stdout, /eth|ens|enp|wl/, 'only a loopback interface, if any');
    assert.equal(existsSync('/usr/kiln-escape'), false);
  });

  it('kills the whole process tree at the wall-clock limit', async () => {
    const r = await exec.run({ argv: ['/bin/sh', '-c', 'sleep 30 & sleep 30; echo never'], cwd: '/work', mounts: mounts(), timeoutMs: 300 });
    assert.equal(r.timedOut, true);
    assert.doesNotMatch(r.stdout, /never/);
    assert.ok(r.wallMs < 10_000);
  });

  it('caps output and says it was truncated', async () => {
    const r = await exec.run({ argv: ['/bin/sh', '-c', 'yes kiln | head -c 100000'], cwd: '/work', mounts: mounts(), timeoutMs: 10_000, maxOutputBytes: 1000 });
    assert.equal(r.truncated, true);
    assert.ok(r.stdout.length < 1100);
    assert.match(r.stdout, /\[output truncated\]/);
  });

  it('enforces the file-size limit', async () => {
    const r = await exec.run({ argv: ['/bin/sh', '-c', 'head -c 2000000 /dev/zero > /work/big'], cwd: '/work', mounts: mounts(), timeoutMs: 10_000, limits: { fileBytes: 1_000_000 } });
    assert.notEqual(r.exitCode, 0);
  });

  it('caps the size of its own /tmp', async () => {
    // Many small files, each under the file-size limit, still stop at the tmpfs size.
    const r = await exec.run({ argv: ['/bin/sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do head -c 600000 /dev/zero > /tmp/f$i || exit 7; done'], cwd: '/work', mounts: mounts(), timeoutMs: 10_000, limits: { tmpBytes: 2_000_000 } });
    assert.equal(r.exitCode, 7, r.stderr);
    assert.match(r.stderr, /No space left on device/);
  });

  it('stops a run when it is aborted', async () => {
    const c = new AbortController();
    setTimeout(() => c.abort(), 200);
    const r = await exec.run({ argv: ['/bin/sleep', '30'], cwd: '/work', mounts: mounts(), timeoutMs: 20_000, signal: c.signal });
    assert.equal(r.canceled, true);
  });

  it('passes standard input', async () => {
    await writeFile(join(dir, 'x'), '');
    const r = await exec.run({ argv: ['/bin/cat'], cwd: '/work', mounts: mounts(), timeoutMs: 10_000, stdin: 'abc' });
    assert.equal(r.stdout, 'abc');
  });

  it('starts commands from its launcher, and a launcher that stops is started again', async () => {
    const running = exec.run({ argv: ['/bin/sleep', '30'], cwd: '/work', mounts: mounts(), timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 200));
    const pid = launcherPid();
    assert.ok(pid && pid !== process.pid);
    process.kill(pid, 'SIGKILL');
    await assert.rejects(running, /the sandbox launcher stopped/);
    const r = await exec.run({ argv: ['/bin/echo', 'again'], cwd: '/work', mounts: mounts(), timeoutMs: 10_000 });
    assert.equal(r.stdout, 'again\n');
    assert.notEqual(launcherPid(), pid);
  });
});
