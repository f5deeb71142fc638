import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { download, JobView, Kiln, startKiln, waitForJob } from './support/harness';

/**
 * The hand-off from the sandbox to the worker: code under test leaves links and rewritten files
 * where the worker reads and writes, and tries to reach its own verdict. None of it may work.
 * The canary is a host file only the worker's user can read; the victim a host path that must not
 * come to exist.
 */
type Build = JobView['builds'][number] & { verification: { status: string; summary: string; outputs: { name: string; mismatches: number; worst: { expected: number | string; actual: number | string } | null }[] } | null };

describe('what a sandboxed run leaves behind is data, and the code under test cannot reach its judge', () => {
  let kiln: Kiln;
  let dir: string;
  let canary: string;
  /** Float32 1234.5 eight times: bytes no honest run produces here. */
  const CANARY = Buffer.alloc(32);
  for (let i = 0; i < 8; i++) CANARY.writeFloatLE(1234.5, i * 4);

  before(async () => {
    kiln = await startKiln({ storage: 'fs' });
    dir = await mkdtemp(join(tmpdir(), 'kiln-handoff-'));
    canary = join(dir, 'canary');
    await writeFile(canary, CANARY);
    await chmod(canary, 0o600);
  });
  after(async () => {
    await kiln?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const victim = () => join(dir, `victim-${randomBytes(4).toString('hex')}`);

  async function build(body: object): Promise<Build> {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ targets: ['x86_64-linux-gnu'], ...body });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id, 180_000);
    return job.builds[0] as Build;
  }

  async function artifactsHold(b: Build, bytes: Buffer): Promise<string[]> {
    const found: string[] = [];
    for (const a of b.artifacts) if ((await download(kiln, a.id)).includes(bytes)) found.push(a.name);
    return found;
  }

  /** C that replaces each of `paths` with a link to `target` when the program exits. */
  const linker = (paths: string[], target: string) => `#include <unistd.h>
__attribute__((destructor)) static void plant(void) {
  static const char *paths[] = { ${paths.map((p) => JSON.stringify(p)).join(', ')} };
  for (unsigned i = 0; i < sizeof paths / sizeof *paths; i++) { unlink(paths[i]); symlink(${JSON.stringify(target)}, paths[i]); }
}
`;

  const SCALE_ARGS = [
    { name: 'n', type: 'int32', value: 8 },
    { name: 'y', type: 'float32*', shape: [8], dir: 'inout' },
  ];

  it('1. the reference run cannot make the worker copy a host file into the bundle', async () => {
    const src = `${linker(['ref/expected.bin', 'expected.bin', '/work/verify/ref/expected.bin', '/work/expected.bin'], canary)}
void scale(int n, float *y) { for (int i = 0; i < n; i++) y[i] *= 2.0f; }
`;
    const b = await build({ source: { language: 'c', files: [{ path: 'scale.c', content: src }] }, verify: { entry: 'scale', args: SCALE_ARGS } });
    assert.deepEqual(await artifactsHold(b, CANARY), [], 'no artifact holds the canary');
    assert.equal(b.status, 'failed');
    assert.match(b.statusReason ?? '', /reference run .*expected\.bin is a link/);
  });

  it('2. a program check without expect cannot make the worker write a host file at compile time', async () => {
    const target = victim();
    const src = `#include <stdio.h>
#include <unistd.h>
int main(void) {
  const char *paths[] = { "/work/verify/manifest.json", "verify/manifest.json", "manifest.json", "/work/manifest.json", "../manifest.json" };
  for (unsigned i = 0; i < 5; i++) symlink(${JSON.stringify(target)}, paths[i]);
  puts("hello");
  return 0;
}
`;
    const b = await build({ source: { language: 'c', files: [{ path: 'main.c', content: src }] }, verify: { program: {} } });
    assert.equal(existsSync(target), false, 'the worker wrote through a link left by the reference run');
    assert.equal(b.status, 'succeeded', b.statusReason ?? '');
    const manifest = b.artifacts.find((a) => a.name === 'verify/manifest.json')!;
    assert.equal(JSON.parse((await download(kiln, manifest.id)).toString()).expect.stdout, 'hello\n');
  });

  it('3. a program check with expect cannot make the worker write a host file at verify time', async () => {
    const target = victim();
    const src = `#include <stdio.h>
#include <unistd.h>
int main(void) {
  const char *paths[] = { "/work/report.json", "report.json", "../report.json", "/work/peak-memory.txt", "peak-memory.txt", "/in-time/report.json" };
  for (unsigned i = 0; i < 6; i++) { unlink(paths[i]); symlink(${JSON.stringify(target)}, paths[i]); }
  puts("hello");
  return 0;
}
`;
    const b = await build({ source: { language: 'c', files: [{ path: 'main.c', content: src }] }, verify: { program: { expect: { stdout: 'hello\n', exitCode: 0 } } } });
    assert.equal(existsSync(target), false, 'the worker wrote the report through a link left by the program');
    assert.equal(b.status, 'succeeded', b.statusReason ?? '');
    assert.equal(b.verification?.status, 'passed');
  });

  it('4. the program under test cannot make the worker read a host file as the expected values', async () => {
    // A wrong kernel (adds 1 to the doubled value), so the report quotes expected values.
    const src = `${linker(['/work/expected.bin', 'expected.bin', '../expected.bin', '/in/expected.bin', '/work/bundle/expected.bin'], canary)}
void scale(int n, float *y) { for (int i = 0; i < n; i++) y[i] = y[i] * 2.0f + 1.0f; }
`;
    const ref = 'void scale(int n, float *y) { for (int i = 0; i < n; i++) y[i] *= 2.0f; }\n';
    const b = await build({ source: { language: 'c', files: [{ path: 'scale.c', content: src }] }, verify: { entry: 'scale', args: SCALE_ARGS, reference: { files: [{ path: 'ref.c', content: ref }] } } });
    assert.equal(b.status, 'failed');
    assert.equal(b.verification?.status, 'failed', b.statusReason ?? '');
    const y = b.verification!.outputs[0];
    assert.equal(y.mismatches, 8);
    assert.notEqual(Number(y.worst!.expected), 1234.5, 'the report quotes the host file as expected values');
    assert.ok(Math.abs(Number(y.worst!.actual) - (Number(y.worst!.expected) + 1)) < 1e-5, JSON.stringify(y.worst));
    assert.deepEqual(await artifactsHold(b, CANARY), []);
  });

  it('5. a kernel cannot forge its verdict by writing over the expected outputs', async () => {
    const src = `#include <stdio.h>
#include <unistd.h>
static void copy(const char *from, const char *to) {
  FILE *f = fopen(from, "rb"); if (!f) return;
  char buf[4096]; size_t n = fread(buf, 1, sizeof buf, f); fclose(f);
  unlink(to); /* the file may belong to another user; the folder need not */
  FILE *g = fopen(to, "wb"); if (!g) return;
  fwrite(buf, 1, n, g); fclose(g);
}
__attribute__((destructor)) static void forge(void) {
  const char *targets[] = { "expected.bin", "/work/expected.bin", "../expected.bin", "/in/expected.bin", "/in/inputs.bin" };
  for (unsigned i = 0; i < 5; i++) copy("outputs.bin", targets[i]);
}
void scale(int n, float *y) { for (int i = 0; i < n; i++) y[i] = 12345.0f; }
`;
    const ref = 'void scale(int n, float *y) { for (int i = 0; i < n; i++) y[i] *= 2.0f; }\n';
    const b = await build({ source: { language: 'c', files: [{ path: 'scale.c', content: src }] }, verify: { entry: 'scale', args: SCALE_ARGS, reference: { files: [{ path: 'ref.c', content: ref }] } } });
    assert.equal(b.status, 'failed', 'a forged comparison must fail the build');
    assert.equal(b.verification?.status, 'failed');
    assert.equal(b.verification!.outputs[0].mismatches, 8);
    assert.equal(Number(b.verification!.outputs[0].worst!.actual), 12345);
    assert.match(b.statusReason ?? '', /verification failed: .*8 of 8/);
    // The bundle as stored still holds the reference's values, not the forged ones.
    const expected = await download(kiln, b.artifacts.find((a) => a.name === 'verify/expected.bin')!.id);
    assert.notEqual(expected.readFloatLE(0), 12345);
  });

  it('the canary is still the worker\'s alone, unchanged', async () => {
    assert.deepEqual(await readFile(canary), CANARY);
  });
});
