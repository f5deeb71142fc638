import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { JobView, Kiln, startKiln, waitForJob } from './support/harness';

/**
 * Limits hold for a build's whole process tree and all its files, not per process or per file:
 * several processes that each stay under the per-process limits, or many files that each stay
 * under the file-size limit, are stopped together. (These need root, as CI and `npm start` have:
 * the worker makes its cgroups and mounts through it.)
 */
type Build = JobView['builds'][number] & { verification: { status: string; summary: string; program?: { stdout: string; exitCode: number | null } } | null };

const cgroupsHere = ['memory', 'pids', 'cpu'].every((c) => existsSync(`/sys/fs/cgroup/${c}/cgroup.procs`));
const root = process.getuid?.() === 0;

describe('limits per build', { skip: (!root && 'needs root to make cgroups and size-limited folders') || (!cgroupsHere && 'this host mounts no cgroup v1 memory, pids and cpu controllers') }, () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs', env: { KILN_BUILD_MEMORY_BYTES: String(384 * 1024 ** 2), KILN_BUILD_DISK_BYTES: String(256 * 1024 ** 2), KILN_BUILD_LIMITS: 'required' } });
  });
  after(async () => {
    await kiln?.close();
  });

  async function build(src: string, expect: object): Promise<Build> {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ targets: ['x86_64-linux-gnu'], source: { language: 'c', files: [{ path: 'main.c', content: src }] }, verify: { program: { expect, timeoutMs: 60_000 } } });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return (await waitForJob(kiln, res.body.id, 180_000)).builds[0] as Build;
  }

  it('three processes of 200 MB each (600 MB) do not fit a run limited to 384 MiB, though each is far below the per-process limit', async () => {
    const src = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
int main(void) {
  for (int i = 0; i < 3; i++) {
    if (fork() == 0) {
      size_t n = 200u << 20;
      char *p = malloc(n);
      if (!p) return 3;
      memset(p, 1, n);
      sleep(2);
      return p[n - 1] == 1 ? 0 : 4;
    }
  }
  int ok = 0, status;
  while (wait(&status) > 0) ok += WIFEXITED(status) && WEXITSTATUS(status) == 0;
  printf("%d of 3\\n", ok);
  return 0;
}
`;
    const b = await build(src, { stdout: '3 of 3\n', exitCode: 0 });
    assert.equal(b.status, 'failed', 'the processes together used more than the limit');
    assert.match(b.verification?.summary ?? '', /ran out of memory .*reached the run's limit of 384 MiB/);
  });

  it('a program stays within the limit, and passes', async () => {
    const b = await build('#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\nint main(void) { char *p = malloc(64u << 20); memset(p, 1, 64u << 20); printf("%d\\n", p[12345]); return 0; }\n', { stdout: '1\n', exitCode: 0 });
    assert.equal(b.status, 'succeeded', b.statusReason ?? '');
  });

  it('twelve files of 64 MB (768 MB) do not fit a build limited to 256 MiB of disk, though each is under the file-size limit', async () => {
    const src = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
  static char block[1 << 20];
  memset(block, 7, sizeof block);
  int whole = 0;
  for (int f = 0; f < 12; f++) {
    char name[32];
    snprintf(name, sizeof name, "fill-%d.bin", f);
    FILE *out = fopen(name, "wb");
    if (!out) break;
    int mb = 0;
    for (; mb < 64; mb++) if (fwrite(block, 1, sizeof block, out) != sizeof block) break;
    if (fclose(out) != 0 || mb < 64) break;
    whole++;
  }
  printf("%d files\\n", whole);
  return 0;
}
`;
    const b = await build(src, { stdout: '12 files\n', exitCode: 0 });
    assert.equal(b.status, 'failed', 'the run wrote more than its disk limit');
    const wrote = Number(/^(\d+) files/.exec(b.verification?.program?.stdout ?? '')?.[1]);
    assert.ok(wrote < 4, `it wrote ${wrote} whole files of 64 MB into 256 MiB`);
  });

  it('and after all that, the worker still builds', async () => {
    const b = await build('#include <stdio.h>\nint main(void) { puts("ok"); return 0; }\n', { stdout: 'ok\n', exitCode: 0 });
    assert.equal(b.status, 'succeeded', b.statusReason ?? '');
  });
});
