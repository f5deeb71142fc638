import { strict as assert } from 'node:assert';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Queue } from 'bullmq';
import { queueName, redisConnectionOptions } from '../src/queue/queue.types';
import { readEvents } from './support/sse';
import { download, ELF_MACHINE, elfMachine, Kiln, startKiln, waitForJob } from './support/harness';

const run = promisify(execFile);

const HELLO_C = `#include <stdio.h>
static int square(int x) { return x * x; }
int main(void) {
  printf("hello from kiln: %d\\n", square(7));
  return 0;
}
`;

const FIVE = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'riscv64-linux-gnu', 'armv7-linux-gnueabihf', 'wasm32-wasi'];
const MACHINE: Record<string, number> = {
  'x86_64-linux-gnu': ELF_MACHINE.x86_64,
  'aarch64-linux-gnu': ELF_MACHINE.aarch64,
  'riscv64-linux-gnu': ELF_MACHINE.riscv,
  'armv7-linux-gnueabihf': ELF_MACHINE.arm,
};

async function runExecutable(bytes: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-exe-'));
  try {
    const path = join(dir, 'program');
    await writeFile(path, bytes);
    await chmod(path, 0o755);
    return (await run(path, [], { timeout: 10_000 })).stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('jobs end to end (local-directory storage)', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs' });
  });
  after(async () => {
    await kiln?.close();
  });

  it('builds one C file for five ISAs, down to the downloaded bytes', async () => {
    const res = await kiln
      .http()
      .post('/v1/jobs')
      .set(kiln.auth)
      .send({ source: { language: 'c', files: [{ path: 'hello.c', content: HELLO_C }], options: ['-O2'] }, targets: FIVE, outputs: ['object', 'executable', 'assembly', 'llvm-ir'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.headers.location, `/v1/jobs/${res.body.id}`);
    assert.deepEqual(res.body.builds.map((b: { target: { name: string } }) => b.target.name), FIVE);

    const job = await waitForJob(kiln, res.body.id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => [b.target.name, b.status, b.statusReason])));
    for (const build of job.builds) {
      assert.equal(build.toolchain?.key, 'clang');
      assert.match(build.toolchain!.version, /^19\.\d+\.\d+$/);
      assert.deepEqual(build.events.map((e) => e.to), ['queued', 'compiling', 'compiled', 'succeeded']);
      assert.ok(build.events.slice(1).every((e) => e.worker), 'every transition after queued names its worker');
      assert.ok((build.timings.totalMs ?? -1) >= 0 && (build.timings.toolchainMs ?? -1) > 0);
      const kinds = build.artifacts.map((a) => a.kind).sort();
      assert.deepEqual(kinds, ['assembly', 'executable', 'llvm-ir', 'object']);

      for (const a of build.artifacts) {
        const bytes = await download(kiln, a.id);
        assert.equal(bytes.length, a.size, `${build.target.name} ${a.name} size`);
        assert.equal(createHash('sha256').update(bytes).digest('hex'), a.sha256, `${build.target.name} ${a.name} sha256`);
        if (a.kind === 'assembly') assert.match(bytes.toString('utf8'), /main/);
        if (a.kind === 'llvm-ir') assert.match(bytes.toString('utf8'), /define .*@main/);
        if (a.kind === 'object' || a.kind === 'executable') {
          if (build.target.name === 'wasm32-wasi') {
            assert.equal(bytes.subarray(0, 4).toString('latin1'), '\0asm', `${a.name} is a wasm module`);
          } else {
            assert.equal(elfMachine(bytes), MACHINE[build.target.name], `${build.target.name} ${a.name} ELF machine`);
          }
        }
        if (a.kind === 'executable' && build.target.name === 'x86_64-linux-gnu') {
          assert.equal(await runExecutable(bytes), 'hello from kiln: 49\n');
        }
      }
    }
  });

  it('fails the build, not the request, on a compile error, with structured diagnostics', async () => {
    const src = 'int add(int a, int b) {\n  if (a = b) return 0;\n  return a + c;\n}\n';
    const res = await kiln
      .http()
      .post('/v1/jobs')
      .set(kiln.auth)
      .send({ source: { language: 'c', files: [{ path: 'src/add.c', content: src }], options: ['-Wall'] }, targets: ['aarch64-linux-gnu'] });
    assert.equal(res.status, 202);
    const job = await waitForJob(kiln, res.body.id);
    assert.equal(job.status, 'failed');
    const [build] = job.builds;
    assert.equal(build.status, 'failed');
    assert.match(build.statusReason ?? '', /compiling src\/add\.c failed with 1 error/);
    assert.deepEqual(build.artifacts, []);
    const error = build.diagnostics.find((d) => d.severity === 'error');
    assert.deepEqual(error && { file: error.file, line: error.line, column: error.column }, { file: 'src/add.c', line: 3, column: 14 });
    assert.match(error!.message, /undeclared identifier 'c'/);
    const warning = build.diagnostics.find((d) => d.severity === 'warning');
    assert.equal(warning?.line, 2);
    assert.equal((warning as { option?: string }).option, '-Wparentheses');
    assert.deepEqual(build.events.map((e) => e.to), ['queued', 'compiling', 'failed']);
  });

  it('builds a multi-file C++ project with headers in folders', async () => {
    const files = [
      { path: 'include/geometry/vec.hpp', content: '#pragma once\n#include <vector>\nnamespace geo { double dot(const std::vector<double>& a, const std::vector<double>& b); }\n' },
      { path: 'src/vec.cpp', content: '#include "geometry/vec.hpp"\n#include <numeric>\nnamespace geo { double dot(const std::vector<double>& a, const std::vector<double>& b) { return std::inner_product(a.begin(), a.end(), b.begin(), 0.0); } }\n' },
      { path: 'src/main.cpp', content: '#include <cstdio>\n#include "geometry/vec.hpp"\nint main() { std::printf("dot=%g\\n", geo::dot({1, 2, 3}, {4, 5, 6})); return 0; }\n' },
    ];
    const res = await kiln
      .http()
      .post('/v1/jobs')
      .set(kiln.auth)
      .send({ source: { language: 'c++', files, options: ['-std=c++17', '-O2', '-Iinclude'] }, targets: ['x86_64-linux-gnu', 'graviton3'], outputs: ['object', 'executable'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => b.diagnostics)));
    const [x86, arm] = job.builds;
    assert.deepEqual(x86.artifacts.map((a) => a.name).sort(), ['main', 'src/main.o', 'src/vec.o']);
    const exe = x86.artifacts.find((a) => a.kind === 'executable')!;
    assert.equal(await runExecutable(await download(kiln, exe.id)), 'dot=32\n');
    assert.equal(arm.target.requested, 'graviton3');
    assert.equal(arm.target.cpu, 'neoverse-v1');
    const armExe = arm.artifacts.find((a) => a.kind === 'executable')!;
    assert.equal(elfMachine(await download(kiln, armExe.id)), ELF_MACHINE.aarch64);
  });

  it('builds a shared library, a static library and LLVM IR', async () => {
    const res = await kiln
      .http()
      .post('/v1/jobs')
      .set(kiln.auth)
      .send({ source: { language: 'c', files: [{ path: 'vec.c', content: 'float dot(const float *a, const float *b, int n) { float s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; return s; }\n' }], options: ['-O2'] }, targets: ['aarch64-linux-gnu'], outputs: ['shared', 'static', 'llvm-ir'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id);
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds[0].diagnostics));
    const lib = job.builds[0].artifacts.find((a) => a.kind === 'shared')!;
    assert.equal(lib.name, 'libvec.so');
    const bytes = await download(kiln, lib.id);
    assert.equal(elfMachine(bytes), ELF_MACHINE.aarch64);
    assert.equal(bytes.readUInt16LE(16), 3, 'ET_DYN: a shared object');
    assert.ok(bytes.includes(Buffer.from('dot\0')), 'exports dot');
    const archive = job.builds[0].artifacts.find((a) => a.kind === 'static')!;
    assert.equal(archive.name, 'libvec.a');
    assert.equal((await download(kiln, archive.id)).subarray(0, 8).toString('latin1'), '!<arch>\n');
    const ir = job.builds[0].artifacts.find((a) => a.kind === 'llvm-ir')!;
    assert.match((await download(kiln, ir.id)).toString(), /target triple = "aarch64-unknown-linux-gnu"/);
  });

  it('compiles a file sent as an upload', async () => {
    const up = await kiln
      .http()
      .post('/v1/uploads?filename=kernel.c')
      .set(kiln.auth)
      .set('Content-Type', 'application/octet-stream')
      .send(Buffer.from('float scale(float x) { return 2.0f * x; }\n'));
    assert.equal(up.status, 201, JSON.stringify(up.body));
    assert.equal(up.body.sha256, createHash('sha256').update('float scale(float x) { return 2.0f * x; }\n').digest('hex'));
    const res = await kiln
      .http()
      .post('/v1/jobs')
      .set(kiln.auth)
      .send({ source: { language: 'c', files: [{ path: 'kernel.c', uploadId: up.body.id }] }, targets: ['riscv64-linux-gnu'], outputs: ['assembly'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id);
    assert.equal(job.status, 'succeeded');
    const asm = await download(kiln, job.builds[0].artifacts[0].id);
    assert.match(asm.toString(), /scale:/);
  });

  it('cancels a running build: the compiler is killed and nothing is stored', async () => {
    const slow = 'constexpr long spin() { long s = 0; for (long i = 0; i < 300000000000L; i++) s += i % 7; return s; }\nstatic_assert(spin() > 0, "");\n';
    const res = await kiln
      .http()
      .post('/v1/jobs')
      .set(kiln.auth)
      .send({ source: { language: 'c++', files: [{ path: 'spin_forever.cpp', content: slow }], options: ['-fconstexpr-steps=2147483647'] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const deadline = Date.now() + 30_000;
    for (;;) {
      const j = await kiln.http().get(`/v1/jobs/${res.body.id}`).set(kiln.auth);
      if (j.body.builds[0].status === 'compiling') break;
      assert.ok(Date.now() < deadline, 'the build started');
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 300));
    const del = await kiln.http().delete(`/v1/jobs/${res.body.id}`).set(kiln.auth);
    assert.equal(del.status, 200);
    assert.equal(del.body.status, 'canceled');
    // The sandboxed compiler goes away at once, not when it would have finished.
    const gone = Date.now() + 5_000;
    while (spawnSync('pgrep', ['-f', 'spin_forever.cpp']).status === 0) {
      assert.ok(Date.now() < gone, 'the compiler process was killed');
      await new Promise((r) => setTimeout(r, 50));
    }
    const job = await waitForJob(kiln, res.body.id);
    assert.deepEqual(job.builds[0].events.map((e) => e.to), ['queued', 'compiling', 'canceled']);
    assert.deepEqual(job.builds[0].artifacts, []);
  });

  it('lists jobs newest first with a cursor and a status filter', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { status: number; body: { items: { id: string }[]; nextCursor: string | null } } = await kiln.http().get('/v1/jobs').query(cursor ? { limit: 2, cursor } : { limit: 2 }).set(kiln.auth);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.ok(page.body.items.length <= 2);
      seen.push(...page.body.items.map((j) => j.id));
      cursor = page.body.nextCursor;
    } while (cursor);
    assert.equal(seen.length, 6);
    assert.equal(new Set(seen).size, 6);
    const failed = await kiln.http().get('/v1/jobs?status=failed').set(kiln.auth);
    assert.equal(failed.body.items.length, 1);
    assert.equal(failed.body.items[0].status, 'failed');
    assert.equal((await kiln.http().get('/v1/jobs?status=bogus').set(kiln.auth)).status, 400);
  });

  it('shows which targets live workers can build', async () => {
    const res = await kiln.http().get('/v1/targets').set(kiln.auth);
    assert.equal(res.status, 200);
    const names = res.body.targets.filter((t: { available: boolean }) => t.available).map((t: { name: string }) => t.name);
    // The five CPU and wasm targets, and the GPU targets where their toolchains are installed.
    assert.deepEqual(names.filter((n: string) => FIVE.includes(n)).sort(), [...FIVE].sort());
    const aarch64 = res.body.targets.find((t: { name: string }) => t.name === 'aarch64-linux-gnu');
    assert.ok(aarch64.cpus.includes('cortex-a72'));
    assert.ok(res.body.presets.some((p: { name: string }) => p.name === 'graviton3'));
  });

  it('serves health, readiness and the API docs', async () => {
    assert.equal((await kiln.http().get('/healthz')).status, 200);
    const ready = await kiln.http().get('/readyz');
    assert.equal(ready.status, 200, JSON.stringify(ready.body));
    assert.equal(ready.body.info.storage.driver, 'fs');
    const spec = await kiln.http().get('/openapi.json');
    assert.equal(spec.status, 200);
    assert.ok(spec.body.paths['/v1/jobs']);
    assert.equal((await kiln.http().get('/docs/')).status, 200);
    const headers = (await kiln.http().get('/healthz')).headers;
    assert.equal(headers['x-content-type-options'], 'nosniff');
    assert.ok(headers['content-security-policy'], 'security headers are set');
    assert.equal(headers['x-powered-by'], undefined);
  });
});

describe('builds without a capable worker', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs', worker: false });
  });
  after(async () => {
    await kiln?.close();
  });

  it('say what they wait for, and start when a worker connects', async () => {
    const res = await kiln
      .http()
      .post('/v1/jobs')
      .set(kiln.auth)
      .send({ source: { language: 'c', files: [{ path: 'a.c', content: 'int f(void) { return 1; }\n' }] }, targets: ['wasm32-wasi'] });
    assert.equal(res.status, 202);
    assert.equal(res.body.builds[0].status, 'waiting');
    assert.match(res.body.builds[0].statusReason, /waiting for a worker that serves pool "wasm"/);
    const catalog = await kiln.http().get('/v1/targets').set(kiln.auth);
    assert.equal(catalog.body.targets.find((t: { name: string }) => t.name === 'wasm32-wasi').available, false);

    await kiln.startWorker({ KILN_POOLS: 'wasm' });
    const job = await waitForJob(kiln, res.body.id);
    assert.equal(job.status, 'succeeded');
    const states = job.builds[0].events.map((e) => e.to);
    assert.equal(states[0], 'waiting');
    assert.deepEqual(states.slice(-3), ['compiling', 'compiled', 'succeeded']);
  });

  it('can be canceled, and leave nothing on the queue', async () => {
    const res = await kiln
      .http()
      .post('/v1/jobs')
      .set(kiln.auth)
      .send({ source: { language: 'c', files: [{ path: 'a.c', content: 'int f(void) { return 1; }\n' }] }, targets: ['aarch64-linux-gnu', 'x86_64-linux-gnu'] });
    assert.equal(res.status, 202);
    const del = await kiln.http().delete(`/v1/jobs/${res.body.id}`).set(kiln.auth);
    assert.equal(del.status, 200);
    assert.equal(del.body.status, 'canceled');
    assert.ok(del.body.builds.every((b: { status: string }) => b.status === 'canceled'));
    const q = new Queue(queueName('cpu'), { connection: redisConnectionOptions(kiln.config.redisUrl), prefix: kiln.config.queuePrefix });
    try {
      for (const b of res.body.builds) assert.equal(await q.getJob(b.id), undefined, 'the queue entry is gone');
    } finally {
      await q.close();
    }
    // Canceling again changes nothing.
    const again = await kiln.http().delete(`/v1/jobs/${res.body.id}`).set(kiln.auth);
    assert.equal(again.status, 200);
    assert.equal(again.body.builds[0].events.length, 2);
  });

  it('fail with a clear reason when the compiler runs past the time limit', async () => {
    await kiln.startWorker({ KILN_POOLS: 'cpu', KILN_COMPILE_TIMEOUT_MS: '2000' });
    const slow = 'constexpr long spin() { long s = 0; for (long i = 0; i < 300000000000L; i++) s += i % 7; return s; }\nstatic_assert(spin() > 0, "");\n';
    const res = await kiln
      .http()
      .post('/v1/jobs')
      .set(kiln.auth)
      .send({ source: { language: 'c++', files: [{ path: 'spin.cpp', content: slow }], options: ['-fconstexpr-steps=2147483647'] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(res.status, 202);
    const job = await waitForJob(kiln, res.body.id, 60_000);
    assert.equal(job.status, 'failed');
    assert.equal(job.builds[0].statusReason, 'compiling spin.cpp timed out after 2 s');
    // The worker goes on serving.
    const ok = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'a.c', content: 'int f(void) { return 2; }\n' }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal((await waitForJob(kiln, ok.body.id)).status, 'succeeded');
  });
});

describe('job events as server-sent events', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs', env: { KILN_CORS_ORIGINS: 'https://console.example.com' } });
  });

  it('answers CORS preflights for the configured origins only', async () => {
    const ok = await kiln.http().options('/v1/jobs').set('Origin', 'https://console.example.com').set('Access-Control-Request-Method', 'POST').set('Access-Control-Request-Headers', 'authorization,content-type');
    assert.equal(ok.headers['access-control-allow-origin'], 'https://console.example.com');
    assert.match(ok.headers['access-control-allow-headers'] ?? '', /Authorization/);
    const other = await kiln.http().options('/v1/jobs').set('Origin', 'https://evil.example.com').set('Access-Control-Request-Method', 'POST');
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });
  after(async () => {
    await kiln?.close();
  });

  it('streams every state change, ends when the job is done, and resumes after Last-Event-ID', async () => {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'a.c', content: 'int f(void) { return 3; }\n' }] }, targets: ['x86_64-linux-gnu', 'riscv64-linux-gnu'] });
    assert.equal(res.status, 202);
    const events = await readEvents(kiln, `/v1/jobs/${res.body.id}/events`);
    const builds = events.filter((e) => e.event === 'build');
    assert.equal(builds.filter((e) => e.data.to === 'succeeded').length, 2);
    assert.deepEqual(builds.filter((e) => e.data.target === 'riscv64-linux-gnu').map((e) => e.data.to), ['queued', 'compiling', 'compiled', 'succeeded']);
    const end = events[events.length - 1];
    assert.deepEqual(end, { id: builds[builds.length - 1].id, event: 'end', data: { jobId: res.body.id, status: 'succeeded' } });
    const resumed = await readEvents(kiln, `/v1/jobs/${res.body.id}/events`, { 'Last-Event-ID': builds[3].id! });
    assert.deepEqual(resumed.filter((e) => e.event === 'build').map((e) => e.id), builds.slice(4).map((e) => e.id));
    const other = await fetch(`${kiln.baseUrl}/v1/jobs/00000000-0000-4000-8000-000000000000/events`, { headers: kiln.auth });
    assert.equal(other.status, 404);
  });
});
