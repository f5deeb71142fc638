import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { download, JobView, Kiln, startKiln, waitForJob } from './support/harness';

interface Verification {
  status: string;
  runner: string;
  summary: string;
  reference: string;
  outputs: { name: string; passed: boolean; mismatches: number; worst: { index: number; expected: number | string; actual: number | string } | null }[];
  program?: { exitCode: number | null; stdout: string; wallMs: number; peakMemoryKb: number | null };
}
type VerifiedBuild = JobView['builds'][number] & { verification: Verification | null; cache: { status: string } | null };

const N = 256;

/** y = 2 x + y, written so the target build differs from a plain loop (unrolled by hand). */
const KERNEL = `void axpy2(int n, const float *x, float *y) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    y[i] += 2.0f * x[i]; y[i + 1] += 2.0f * x[i + 1]; y[i + 2] += 2.0f * x[i + 2]; y[i + 3] += 2.0f * x[i + 3];
  }
  for (; i < n; i++) y[i] += 2.0f * x[i];
}
`;
const REFERENCE = 'void axpy2(int n, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] = y[i] + 2.0f * x[i]; }\n';

function floats(values: number[]): Buffer {
  const b = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => b.writeFloatLE(v, i * 4));
  return b;
}

// Values that float32 holds exactly, so the expected outputs are exact too.
const X = Array.from({ length: N }, (_, i) => (i % 17) * 0.25 - 2);
const Y = Array.from({ length: N }, (_, i) => (i % 5) * 0.5);
const EXPECTED = X.map((x, i) => Y[i] + 2 * x);

const args = (x: object, y: object) => [
  { name: 'n', type: 'int32', value: N },
  { name: 'x', type: 'float32*', shape: [N], ...x },
  { name: 'y', type: 'float32*', shape: [N], dir: 'inout', ...y },
];

describe('verification with uploaded tensors, a reference source, and peak memory', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs' });
  });
  after(async () => {
    await kiln?.close();
  });

  async function upload(name: string, bytes: Buffer): Promise<string> {
    const res = await kiln.http().post(`/v1/uploads?filename=${name}`).set(kiln.auth).set('Content-Type', 'application/octet-stream').send(bytes);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id as string;
  }

  async function submit(body: object): Promise<{ status: string; builds: VerifiedBuild[] }> {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send(body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return (await waitForJob(kiln, res.body.id, 180_000)) as unknown as { status: string; builds: VerifiedBuild[] };
  }

  const job = (verify: object, targets = ['aarch64-linux-gnu']) => ({
    source: { language: 'c', files: [{ path: 'axpy2.c', content: KERNEL }], options: ['-O2'] },
    targets,
    verify,
  });

  it('checks a kernel on aarch64 against uploaded inputs and uploaded expected outputs', async () => {
    const x = await upload('x.bin', floats(X));
    const y = await upload('y.bin', floats(Y));
    const good = await upload('y-expected.bin', floats(EXPECTED));
    const passed = await submit(job({ entry: 'axpy2', args: args({ input: { uploadId: x } }, { input: { uploadId: y }, expected: { uploadId: good } }), tolerance: { rtol: 0, atol: 0 } }));
    const b = passed.builds[0];
    assert.equal(b.status, 'succeeded', b.statusReason ?? '');
    assert.equal(b.verification?.runner, 'qemu-aarch64');
    assert.equal(b.verification?.reference, 'the expected outputs uploaded by the client');
    // The bundle carries the uploaded bytes: the inputs in argument order, the expected outputs as sent.
    const inputs = await download(kiln, b.artifacts.find((a) => a.name === 'verify/inputs.bin')!.id);
    assert.deepEqual(inputs, Buffer.concat([floats(X), floats(Y)]));
    assert.deepEqual(await download(kiln, b.artifacts.find((a) => a.name === 'verify/expected.bin')!.id), floats(EXPECTED));

    // One wrong expected value: the build fails, naming the output and the element.
    const wrong = [...EXPECTED];
    wrong[77] += 1;
    const bad = await upload('y-wrong.bin', floats(wrong));
    const failed = await submit(job({ entry: 'axpy2', args: args({ input: { uploadId: x } }, { input: { uploadId: y }, expected: { uploadId: bad } }), tolerance: { rtol: 0, atol: 0 } }));
    const f = failed.builds[0];
    assert.equal(f.status, 'failed');
    assert.notEqual(f.cache?.status, 'hit');
    assert.equal(f.verification?.outputs[0].name, 'y');
    assert.equal(f.verification?.outputs[0].mismatches, 1);
    assert.equal(f.verification?.outputs[0].worst?.index, 77);
    assert.equal(Number(f.verification?.outputs[0].worst?.expected), wrong[77]);
    assert.equal(Number(f.verification?.outputs[0].worst?.actual), EXPECTED[77]);
    assert.match(f.statusReason ?? '', new RegExp(`verification failed: output y: 1 of ${N} elements differ from the reference on qemu-aarch64; worst y\\[77\\]: expected ${wrong[77]}, got ${EXPECTED[77]}`));
  });

  it('builds a separate reference source instead of the job\'s, and catches a reference that disagrees', async () => {
    const seeded = args({}, {});
    const passed = await submit(job({ entry: 'axpy2', args: seeded, seed: 3, reference: { files: [{ path: 'ref/axpy2_ref.c', content: REFERENCE }], options: [] } }, ['aarch64-linux-gnu', 'x86_64-linux-gnu']));
    for (const b of passed.builds) {
      assert.equal(b.status, 'succeeded', `${b.target.name}: ${b.statusReason}`);
      assert.match(b.verification?.reference ?? '', /^the reference source \(ref\/axpy2_ref\.c\) built for x86_64-linux-gnu .*-ffp-contract=off/);
    }
    // The reference as an upload, off by one in one element: the check fails there.
    const off = await upload('axpy2_ref.c', Buffer.from(REFERENCE.replace('}\n', 'y[5] += 1.0f; }\n')));
    const failed = await submit(job({ entry: 'axpy2', args: seeded, seed: 3, reference: { files: [{ path: 'axpy2_ref.c', uploadId: off }] } }));
    const f = failed.builds[0];
    assert.equal(f.status, 'failed');
    assert.equal(f.verification?.outputs[0].worst?.index, 5);
    assert.match(f.statusReason ?? '', /output y: 1 of 256 elements differ from the reference on qemu-aarch64; worst y\[5\]/);
    assert.match(f.verification?.reference ?? '', /the reference source \(axpy2_ref\.c\).* -O2 /);
  });

  it('judges a program by what a separate reference program prints', async () => {
    const program = (text: string) => `#include <stdio.h>\nint main(void) { int a, b; if (scanf("%d %d", &a, &b) != 2) return 2; printf(${text}); return 0; }\n`;
    const body = (reference: string) => ({
      source: { language: 'c', files: [{ path: 'sum.c', content: program('"%d\\n", a + b') }] },
      targets: ['riscv64-linux-gnu'],
      verify: { program: { stdin: '20 22\n' }, reference: { files: [{ path: 'ref.c', content: reference }] } },
    });
    const same = await submit(body(program('"%d\\n", b + a')));
    assert.equal(same.builds[0].status, 'succeeded', same.builds[0].statusReason ?? '');
    assert.match(same.builds[0].verification?.reference ?? '', /^the reference source \(ref\.c\) built for x86_64-linux-gnu/);
    const other = await submit(body(program('"%d\\n", a - b')));
    assert.equal(other.builds[0].status, 'failed');
    assert.match(other.builds[0].statusReason ?? '', /standard output differs at line 1, column 1: expected "-2", got "42"/);
  });

  it('refuses uploads of the wrong size, half-uploaded expectations and bad reference files with a 400', async () => {
    const short = await upload('short.bin', Buffer.alloc(N * 4 - 4));
    const full = await upload('full.bin', Buffer.alloc(N * 4));
    const cases: [object, RegExp][] = [
      [args({ input: { uploadId: short } }, {}), new RegExp(`verify: argument "x": the uploaded input \\(upload ${short}\\) holds ${N * 4 - 4} bytes, but float32 \\[${N}\\] needs exactly ${N * 4} bytes`)],
      [args({}, { expected: { uploadId: short } }), new RegExp(`verify: argument "y": the uploaded expected output \\(upload ${short}\\) holds ${N * 4 - 4} bytes, but float32 \\[${N}\\] needs exactly ${N * 4} bytes`)],
      [args({ input: { uploadId: '00000000-0000-4000-8000-000000000000' } }, {}), /verify: argument "x" input: no upload with id 00000000-0000-4000-8000-000000000000/],
      [
        [...args({}, { expected: { uploadId: full } }), { name: 'z', type: 'float32*', shape: [4], dir: 'out' }],
        /give "expected" for every out\/inout argument or for none: "z" has none/,
      ],
    ];
    for (const [a, message] of cases) {
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send(job({ entry: 'axpy2', args: a }));
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.message, message);
    }
    const refs: [object, RegExp][] = [
      [{ files: [{ path: '../escape.c', content: REFERENCE }] }, /^verify\.reference\.files\[0\]: /],
      [{ files: [{ path: 'r.c', content: REFERENCE }], options: ['-fplugin=/tmp/x.so'] }, /^verify\.reference\.options: /],
      [{ files: [{ path: 'r.h', content: REFERENCE }] }, /^verify\.reference has no c file to compile/],
      [{ files: [{ path: 'r.c', uploadId: '00000000-0000-4000-8000-000000000000' }] }, /verify\.reference\.files \("r\.c"\): no upload with id/],
    ];
    for (const [reference, message] of refs) {
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send(job({ entry: 'axpy2', args: args({}, {}), reference }));
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(res.body.message, message);
    }
  });

  it('reports the peak memory of a whole program natively, under qemu-user and in WASI', async () => {
    // Touches 48 MiB, so every runner's peak resident set is above that.
    const source = `#include <stdio.h>
#include <stdlib.h>
#include <string.h>
int main(void) {
  size_t n = 48u << 20;
  char *p = malloc(n);
  if (!p) return 1;
  memset(p, 7, n);
  long s = 0;
  for (size_t i = 0; i < n; i += 4096) s += p[i];
  printf("%ld\\n", s);
  return 0;
}
`;
    const res = await submit({
      source: { language: 'c', files: [{ path: 'touch.c', content: source }] },
      targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'wasm32-wasi'],
      verify: { program: { expect: { stdout: `${7 * ((48 << 20) / 4096)}\n`, exitCode: 0 } } },
    });
    for (const b of res.builds) {
      assert.equal(b.status, 'succeeded', `${b.target.name}: ${b.statusReason}`);
      const kb = b.verification?.program?.peakMemoryKb;
      assert.equal(typeof kb, 'number', `${b.target.name}: ${JSON.stringify(b.verification?.program)}`);
      assert.ok(kb! >= 48 * 1024, `${b.target.name}: peak ${kb} kB`);
      const report = JSON.parse((await download(kiln, b.artifacts.find((a) => a.kind === 'report')!.id)).toString());
      assert.equal(report.program.peakMemoryKb, kb);
    }
  });
});
