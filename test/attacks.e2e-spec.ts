import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { download, JobView, Kiln, startKiln, waitForJob } from './support/harness';

/**
 * Hostile input, as a compile service must expect it. Each case must end in a clear result, the
 * worker must go on serving, and a secret planted on the host (a file, and a variable in the
 * worker's environment) must never appear in anything a client can read.
 */
describe('hostile input is contained', () => {
  let kiln: Kiln;
  const secret = `kiln-secret-${randomBytes(12).toString('hex')}`;
  const secretFile = `/tmp/kiln-planted-${randomBytes(6).toString('hex')}.txt`;
  const seen: JobView[] = [];

  type Build = JobView['builds'][number] & { statusReason: string | null; log: string | null; verification: { summary: string; program?: { stdout: string; stderr: string } } | null };

  async function build(source: { language: string; files: { path: string; content: string }[]; options?: string[] }, extra: object = {}, target = 'x86_64-linux-gnu'): Promise<Build> {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source, targets: [target], ...extra });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id, 120_000);
    seen.push(job);
    return job.builds[0] as Build;
  }
  const c = (content: string, options?: string[]) => ({ language: 'c', files: [{ path: 'evil.c', content }], ...(options ? { options } : {}) });

  before(async () => {
    await writeFile(secretFile, `${secret}\n`, { mode: 0o644 });
    process.env.KILN_PLANTED_SECRET = secret; // the worker runs in this process
    kiln = await startKiln({ storage: 'fs', env: { KILN_COMPILE_TIMEOUT_MS: '15000' } });
  });

  after(async () => {
    try {
      // Nothing any build produced, logged or reported contains the secret.
      for (const job of seen) {
        const full = await kiln.http().get(`/v1/jobs/${job.id}`).set(kiln.auth);
        assert.ok(!JSON.stringify(full.body).includes(secret), `job ${job.id} shows the secret`);
        for (const b of full.body.builds) {
          for (const a of b.artifacts) assert.ok(!(await download(kiln, a.id)).includes(secret), `artifact ${a.name} holds the secret`);
        }
      }
      assert.ok(!existsSync('/usr/kiln-escape'), 'nothing was written outside the work folder');
    } finally {
      delete process.env.KILN_PLANTED_SECRET;
      await rm(secretFile, { force: true });
      await kiln?.close();
    }
  });

  it('#include of host files finds nothing: the sandbox sees no host /tmp, /etc or /root', async () => {
    for (const path of [secretFile, '/etc/passwd', '/etc/shadow', '/root/.bashrc']) {
      const b = await build(c(`#include "${path}"\nint x;\n`));
      assert.equal(b.status, 'failed');
      assert.ok(b.diagnostics.some((d) => d.severity === 'fatal' && /file not found/.test(d.message)), `${path}: ${JSON.stringify(b.diagnostics)}`);
    }
  });

  it('digraph, trigraph and line-continued includes are refused the same way', async () => {
    for (const src of [`%:include "${secretFile}"\n`, `??=include "${secretFile}"\n`, `#inc\\\nlude "${secretFile}"\n`]) {
      const b = await build(c(`${src}int x;\n`, ['-std=c99'])); // strict C99 turns trigraphs on
      assert.equal(b.status, 'failed', src);
      assert.match(JSON.stringify(b.diagnostics), /file not found/);
    }
  });

  it('/proc/self/environ holds only the sandbox environment', async () => {
    const b = await build(c('#include "/proc/self/environ"\n'));
    assert.ok(['failed', 'succeeded'].includes(b.status));
    assert.ok(!(b.log ?? '').includes('KILN_PLANTED_SECRET'));
    assert.ok(!(b.log ?? '').includes('KILN_DATABASE_URL'));
  });

  it('.incbin of a host file fails in the assembler', async () => {
    const b = await build(c(`__asm__(".section .rodata\\n.incbin \\"${secretFile}\\"\\n");\nint x;\n`));
    assert.equal(b.status, 'failed');
    assert.match(JSON.stringify(b.diagnostics) + (b.log ?? ''), /No such file|could not find|file not found/i);
  });

  it('#include __FILE__ recursion stops at the nesting limit', async () => {
    const b = await build(c('#include __FILE__\nint x;\n'));
    assert.equal(b.status, 'failed');
    assert.match(JSON.stringify(b.diagnostics), /nested too deeply/);
  });

  it('a macro explosion hits a limit and says which', async () => {
    const defs = ['#define A0 x'];
    for (let i = 1; i <= 36; i++) defs.push(`#define A${i} A${i - 1} A${i - 1}`);
    const b = await build(c(`${defs.join('\n')}\nint v[] = { A36 };\n`));
    assert.equal(b.status, 'failed');
    assert.match(b.statusReason ?? '', /timed out after 15 s|was killed by SIG|failed with \d+ errors?|failed \(exit code/);
  });

  it('a 16 GiB static array is refused by the file-size and memory limits', async () => {
    const b = await build(c('static char big[1ull << 34] = { 1 };\nchar *p = big;\n'));
    assert.equal(b.status, 'failed');
    assert.ok(b.statusReason, 'the build says why');
  });

  it('a fork bomb in a program under verification is held by the process limit and the clock', async () => {
    const b = await build(c('#include <unistd.h>\nint main(void) { for (;;) fork(); }\n'), { verify: { program: { expect: { exitCode: 0 }, timeoutMs: 2000 } } });
    assert.equal(b.status, 'failed');
    assert.match(b.statusReason ?? '', /^verification did not finish: the program did not finish within its limit of 2000 ms/);
  });

  it('a gigabyte of output is capped, and the run stopped', async () => {
    const b = await build(c('#include <stdio.h>\nint main(void) { for (;;) fputs("spam spam spam spam spam spam spam spam\\n", stdout); }\n'), {
      verify: { program: { expect: { stdout: '' }, timeoutMs: 3000 } },
    });
    assert.equal(b.status, 'failed');
    assert.ok((b.verification?.program?.stdout.length ?? 0) <= 64 * 1024, 'the report keeps a bounded excerpt');
  });

  it('a connection to Redis on 127.0.0.1:6379 from inside a build fails: there is no network', async () => {
    const prog = `#include <arpa/inet.h>
#include <stdio.h>
#include <sys/socket.h>
int main(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(6379) };
  inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
  puts(s >= 0 && connect(s, (struct sockaddr *)&a, sizeof a) == 0 ? "connected" : "no connection");
  return 0;
}
`;
    const b = await build(c(prog), { verify: { program: { expect: { stdout: 'no connection\n', exitCode: 0 } } } });
    assert.equal(b.status, 'succeeded', b.statusReason ?? '');
  });

  it('a program cannot read host files or write outside its folder', async () => {
    const prog = `#include <stdio.h>
int main(void) {
  FILE *f = fopen("${secretFile}", "r");
  FILE *g = fopen("/usr/kiln-escape", "w");
  FILE *h = fopen("/etc/hostname", "r");
  printf("%s %s %s\\n", f ? "read" : "no-read", g ? "wrote" : "no-write", h ? "etc" : "no-etc");
  return 0;
}
`;
    const b = await build(c(prog), { verify: { program: { expect: { stdout: 'no-read no-write no-etc\n' } } } }, 'aarch64-linux-gnu');
    assert.equal(b.status, 'succeeded', b.statusReason ?? JSON.stringify(b.verification));
  });

  it('thousands of files are refused before anything runs', async () => {
    const files = Array.from({ length: 501 }, (_, i) => ({ path: `f${i}.c`, content: 'int x;' }));
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files }, targets: ['x86_64-linux-gnu'] });
    assert.equal(res.status, 400);
    assert.match(JSON.stringify(res.body.message), /must contain no more than 500 elements/);
  });

  it('other languages cannot read host files either: Rust include_str!, CUDA and Fortran includes, Go embed', async () => {
    const cases: [Parameters<typeof build>[0], string][] = [
      [{ language: 'rust', files: [{ path: 'main.rs', content: `fn main() { println!("{}", include_str!("${secretFile}")); }\n` }] }, 'x86_64-linux-gnu'],
      [{ language: 'cuda', files: [{ path: 'k.cu', content: `#include "${secretFile}"\n__global__ void k() {}\n` }] }, 'sm_90'],
      [{ language: 'hip', files: [{ path: 'k.hip', content: `#include "${secretFile}"\n__global__ void k() {}\n` }] }, 'gfx942'],
      [{ language: 'fortran', files: [{ path: 'a.f90', content: `program a\ninclude '${secretFile}'\nend program a\n` }] }, 'x86_64-linux-gnu'],
      [{ language: 'go', files: [{ path: 'main.go', content: `package main\n\nimport _ "embed"\n\n//go:embed ../../../../..${secretFile}\nvar s string\n\nfunc main() { println(s) }\n` }] }, 'x86_64-linux-gnu'],
    ];
    for (const [source, target] of cases) {
      const b = await build(source, {}, target);
      assert.equal(b.status, 'failed', `${source.language}: ${b.statusReason}`);
      assert.ok(b.diagnostics.length > 0 || /failed/.test(b.statusReason ?? ''), `${source.language}: ${JSON.stringify(b)}`);
    }
  });

  it('and after all that, the worker still builds', async () => {
    const b = await build(c('int ok(void) { return 42; }\n'));
    assert.equal(b.status, 'succeeded');
  });
});
