import { createHash } from 'node:crypto';
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { download, JobView, Kiln, startKiln, waitForJob } from './support/harness';

const FIVE = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'riscv64-linux-gnu', 'armv7-linux-gnueabihf', 'wasm32-wasi'];

const SAXPY_ARGS = [
  { name: 'n', type: 'int32', value: 1000 },
  { name: 'a', type: 'float32', value: 2.5 },
  { name: 'x', type: 'float32*', shape: [1000] },
  { name: 'y', type: 'float32*', shape: [1000], dir: 'inout' },
];

interface Verification {
  status: string;
  runner: string;
  summary: string;
  seed: number | null;
  outputs: { name: string; passed: boolean; mismatches: number; maxAbsError: number; maxUlp: number; worst: { index: number; expected: number | string; actual: number | string } | null }[];
  program?: { exitCode: number | null; stdout: string; timedOut: boolean; signal: string | null };
  ran?: { file: string; sha256: string; artifact: string | null };
}
type VerifiedBuild = JobView['builds'][number] & { verification: Verification | null; statusReason: string | null };

async function submit(kiln: Kiln, body: object): Promise<{ status: string; builds: VerifiedBuild[] }> {
  const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send(body);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return (await waitForJob(kiln, res.body.id, 180_000)) as unknown as { status: string; builds: VerifiedBuild[] };
}

describe('verification on native, qemu-user and WASI runners', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs' });
  });
  after(async () => {
    await kiln?.close();
  });

  it('proves a SAXPY kernel on five targets, and catches a bug that only aarch64 has', async () => {
    const source = `void saxpy(int n, float a, const float *x, float *y) {
  for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i];
#ifdef __aarch64__
  y[n - 1] += 1.0f; /* an off-by-one that only this target has */
#endif
}
`;
    const job = await submit(kiln, {
      source: { language: 'c', files: [{ path: 'saxpy.c', content: source }], options: ['-O3'] },
      targets: FIVE,
      verify: { entry: 'saxpy', args: SAXPY_ARGS, seed: 7 },
    });
    const byTarget = new Map(job.builds.map((b) => [b.target.name, b]));
    const runners: Record<string, string> = {
      'x86_64-linux-gnu': 'native',
      'riscv64-linux-gnu': 'qemu-riscv64',
      'armv7-linux-gnueabihf': 'qemu-arm',
      'wasm32-wasi': 'wasm (node WASI)',
    };
    for (const [target, runner] of Object.entries(runners)) {
      const b = byTarget.get(target)!;
      assert.equal(b.status, 'succeeded', `${target}: ${b.statusReason}`);
      assert.equal(b.verification?.status, 'passed');
      assert.equal(b.verification?.runner, runner);
      assert.equal(b.verification?.seed, 7);
      assert.deepEqual(b.events.map((e) => e.to), ['queued', 'compiling', 'compiled', 'verifying', 'succeeded']);
      const report = b.artifacts.find((a) => a.kind === 'report')!;
      assert.equal(JSON.parse((await download(kiln, report.id)).toString()).status, 'passed');
      // What ran is named by its bytes: the bundle's harness program, as delivered with the bundle.
      const program = b.artifacts.find((a) => a.name === b.verification?.ran?.artifact);
      assert.equal(program?.name, target === 'wasm32-wasi' ? 'verify/program.wasm' : 'verify/program', JSON.stringify(b.verification?.ran));
      assert.equal(b.verification?.ran?.sha256, program?.sha256);
    }
    const arm = byTarget.get('aarch64-linux-gnu')!;
    assert.equal(arm.status, 'failed');
    assert.equal(job.status, 'failed');
    assert.equal(arm.verification?.runner, 'qemu-aarch64');
    const [y] = arm.verification!.outputs;
    assert.equal(y.name, 'y');
    assert.equal(y.mismatches, 1);
    assert.equal(y.worst?.index, 999);
    assert.ok(Math.abs(Number(y.worst!.actual) - Number(y.worst!.expected) - 1) < 1e-5);
    assert.match(arm.statusReason ?? '', /verification failed: output y: 1 of 1000 elements differ .* worst y\[999\]: expected -?[\d.]+, got -?[\d.]+/);
  });

  it('fails a tolerance that is too tight, and shows the measured error', async () => {
    const source = 'float dot(int n, const float *a, const float *b, float *out) { float s = 0; for (int i = 0; i < n; i++) s += a[i] * b[i]; out[0] = s; return s; }\n';
    const body = (tolerance: object) => ({
      source: { language: 'c', files: [{ path: 'dot.c', content: source }], options: ['-O3', '-ffast-math'] },
      targets: ['x86_64-linux-gnu'],
      verify: {
        entry: 'dot',
        args: [
          { name: 'n', type: 'int32', value: 4096 },
          { name: 'a', type: 'float32*', shape: [4096] },
          { name: 'b', type: 'float32*', shape: [4096] },
          { name: 'out', type: 'float32*', shape: [1], dir: 'out' },
        ],
        tolerance,
        seed: 3,
      },
    });
    // -ffast-math lets the target reassociate the sum; the reference adds in order.
    const strict = await submit(kiln, body({ rtol: 0, atol: 0 }));
    const b = strict.builds[0];
    assert.equal(b.status, 'failed', JSON.stringify(b.verification));
    assert.ok(b.verification!.outputs[0].maxAbsError > 0);
    assert.match(b.statusReason ?? '', /output out: 1 of 1 elements differ .*max abs error [\d.e-]+.*tolerance rtol 0, atol 0/);
    const loose = await submit(kiln, body({ rtol: 1e-3, atol: 1e-4 }));
    assert.equal(loose.builds[0].status, 'succeeded', loose.builds[0].statusReason ?? '');
  });

  it('reports a hang and a crash on the targets that have them, and keeps serving', async () => {
    const source = `#include <stddef.h>
void scale(int n, const double *x, double *y) {
#ifdef __aarch64__
  for (volatile int spin = 1; spin; ) {}
#endif
#ifdef __riscv
  *(volatile double *)NULL = 1.0;
#endif
  for (int i = 0; i < n; i++) y[i] = 2.0 * x[i];
}
`;
    const job = await submit(kiln, {
      source: { language: 'c', files: [{ path: 'scale.c', content: source }] },
      targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'riscv64-linux-gnu'],
      verify: { entry: 'scale', args: [{ name: 'n', type: 'int32', value: 16 }, { name: 'x', type: 'float64*', shape: [16] }, { name: 'y', type: 'float64*', shape: [16], dir: 'out' }], timeoutMs: 1500 },
    });
    const [x86, arm, rv] = job.builds;
    assert.equal(x86.status, 'succeeded', x86.statusReason ?? '');
    assert.equal(arm.status, 'failed');
    // A run stopped by its clock compared nothing: the verdict is unfinished, not a numeric failure.
    assert.match(arm.statusReason ?? '', /^verification did not finish: the kernel scale did not finish within its limit of 1500 ms on qemu-aarch64, so nothing was compared/);
    assert.equal(arm.verification?.status, 'unfinished');
    assert.equal(rv.verification?.status, 'failed');
    assert.equal(rv.status, 'failed');
    assert.match(rv.statusReason ?? '', /the kernel scale was killed by SIGSEGV on qemu-riscv64/);
  });

  it('judges whole programs by their output and exit code, given or from a reference build', async () => {
    const source = '#include <stdio.h>\nint main(void) { int a, b; if (scanf("%d %d", &a, &b) != 2) return 2; printf("%d\\n", a + b); return 0; }\n';
    const job = await submit(kiln, {
      source: { language: 'c', files: [{ path: 'sum.c', content: source }] },
      targets: ['aarch64-linux-gnu', 'wasm32-wasi'],
      verify: { program: { stdin: '20 22\n', expect: { stdout: '42\n', exitCode: 0 } } },
    });
    for (const b of job.builds) {
      assert.equal(b.status, 'succeeded', `${b.target.name}: ${b.statusReason}`);
      assert.equal(b.verification?.program?.stdout, '42\n');
    }
    const wrong = await submit(kiln, {
      source: { language: 'c', files: [{ path: 'sum.c', content: source }] },
      targets: ['riscv64-linux-gnu'],
      verify: { program: { stdin: '1 2\n', expect: { stdout: '4\n' } } },
    });
    assert.equal(wrong.builds[0].status, 'failed');
    assert.match(wrong.builds[0].statusReason ?? '', /standard output differs at line 1, column 1: expected "4", got "3"/);

    // verify: true runs main with no input and expects what a reference build on the host prints.
    const hello = await submit(kiln, {
      source: { language: 'c++', files: [{ path: 'main.cpp', content: '#include <cstdio>\nint main() { std::printf("%d\\n", 6 * 7); return 3; }\n' }] },
      targets: ['armv7-linux-gnueabihf'],
      verify: true,
    });
    const hb = hello.builds[0];
    assert.equal(hb.status, 'succeeded', hb.statusReason ?? '');
    assert.equal(hb.verification?.program?.exitCode, 3);
    assert.equal(hb.verification?.program?.stdout, '42\n');
  });

  it('links the C math library by default, and names the library an undefined symbol needs', async () => {
    // The argument count keeps the calls from being folded at compile time.
    const source = '#include <math.h>\n#include <stdio.h>\nint main(int argc, char **argv) { (void)argv; printf("%.3f %.3f\\n", sqrt(argc + 1.0), cbrtf(argc * 8.0f)); return 0; }\n';
    const verify = { program: { expect: { stdout: '1.414 2.000\n', exitCode: 0 } } };
    const linux = await submit(kiln, { source: { language: 'c', files: [{ path: 'root.c', content: source }] }, targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu'], outputs: ['executable', 'shared'], verify });
    const wasm = await submit(kiln, { source: { language: 'c', files: [{ path: 'root.c', content: source }] }, targets: ['wasm32-wasi'], outputs: ['executable'], verify });
    for (const b of [...linux.builds, ...wasm.builds]) {
      assert.equal(b.status, 'succeeded', `${b.target.name}: ${b.statusReason} ${JSON.stringify(b.diagnostics)}`);
      assert.equal(b.verification?.program?.stdout, '1.414 2.000\n');
      assert.deepEqual(b.artifacts.map((a) => a.kind).filter((k) => k !== 'bundle' && k !== 'report').sort(), b.target.name === 'wasm32-wasi' ? ['executable'] : ['executable', 'shared']);
      // The program that was verified is the executable delivered, byte for byte.
      const exe = b.artifacts.find((a) => a.kind === 'executable')!;
      assert.deepEqual(b.verification?.ran, { file: b.target.name === 'wasm32-wasi' ? 'program.wasm' : 'program', sha256: exe.sha256, artifact: exe.name });
      assert.equal(createHash('sha256').update(await download(kiln, exe.id)).digest('hex'), exe.sha256);
    }
    const missing = await submit(kiln, {
      source: { language: 'c', files: [{ path: 'main.c', content: 'int frobnicate(int);\nint main(void) { return frobnicate(2); }\n' }] },
      targets: ['x86_64-linux-gnu'],
      outputs: ['executable'],
    });
    const mb = missing.builds[0];
    assert.equal(mb.status, 'failed');
    const at = mb.diagnostics.findIndex((d) => d.message === 'undefined symbol: frobnicate');
    assert.ok(at >= 0, JSON.stringify(mb.diagnostics));
    assert.equal(mb.diagnostics[at + 1].severity, 'note');
    assert.match(mb.diagnostics[at + 1].message, /nothing compiled or linked defines frobnicate: .*-l<name> in options/);
  });

  it('hands out a bundle that kiln-verify checks by hand, with no service', async () => {
    const job = await submit(kiln, {
      source: { language: 'c', files: [{ path: 'saxpy.c', content: 'void saxpy(int n, float a, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }\n' }], options: ['-O2'] },
      targets: ['riscv64-linux-gnu'],
      verify: { entry: 'saxpy', args: SAXPY_ARGS, seed: 11 },
    });
    const b = job.builds[0];
    assert.equal(b.status, 'succeeded', b.statusReason ?? '');
    const dir = await mkdtemp(join(tmpdir(), 'kiln-bundle-'));
    try {
      await chmod(dir, 0o777);
      const bundle = b.artifacts.filter((a) => a.kind === 'bundle');
      assert.deepEqual(bundle.map((a) => a.name).sort(), ['verify/expected.bin', 'verify/inputs.bin', 'verify/manifest.json', 'verify/program']);
      for (const a of bundle) await writeFile(join(dir, a.name.replace('verify/', '')), await download(kiln, a.id));
      const cli = spawnSync(process.execPath, [join(__dirname, '../workers/verify/cli.js'), dir], { encoding: 'utf8' });
      assert.equal(cli.status, 0, cli.stderr + cli.stdout);
      assert.match(cli.stdout, /^PASSED \(qemu-riscv64\): 1 output matches the reference/);
      const report = JSON.parse(await readFile(join(dir, 'report.json'), 'utf8'));
      assert.equal(report.outputs[0].count, 1000);
      // Tampered expectations are caught.
      const expected = await readFile(join(dir, 'expected.bin'));
      expected.writeFloatLE(expected.readFloatLE(40) + 0.5, 40);
      await writeFile(join(dir, 'expected.bin'), expected);
      const tampered = spawnSync(process.execPath, [join(__dirname, '../workers/verify/cli.js'), dir], { encoding: 'utf8' });
      assert.equal(tampered.status, 1);
      assert.match(tampered.stdout, /FAILED .*worst y\[10\]/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('fails at the harness when the entry point does not exist, with the linker saying so', async () => {
    const job = await submit(kiln, {
      source: { language: 'c', files: [{ path: 'k.c', content: 'void other(float *y) { y[0] = 1; }\n' }] },
      targets: ['x86_64-linux-gnu'],
      verify: { entry: 'missing_kernel', args: [{ name: 'y', type: 'float32*', shape: [1], dir: 'out' }] },
    });
    const b = job.builds[0];
    assert.equal(b.status, 'failed');
    assert.match(b.statusReason ?? '', /linking the verification harness .*failed/);
    assert.ok(b.diagnostics.some((d) => /undefined symbol: missing_kernel/.test(d.message)), JSON.stringify(b.diagnostics));
  });
});
