import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WASI } from 'node:wasi';
import { gzipSync } from 'node:zlib';
import { Queue } from 'bullmq';
import { JobName, queueName, redisConnectionOptions, verifyJobId } from '../src/queue/queue.types';
import { tarOf, zipOf } from './support/archives';
import { download, ELF_MACHINE, elfMachine, JobView, Kiln, startKiln, waitForJob } from './support/harness';

const run = promisify(execFile);
const EM_CUDA = 190;
const EM_AMDGPU = 224;

/** Runs a downloaded program: natively, or under qemu-user for another ISA. */
async function runProgram(bytes: Buffer, emulator?: string, sysroot?: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-lang-'));
  try {
    const path = join(dir, 'program');
    await writeFile(path, bytes);
    await chmod(path, 0o755);
    return (await run(emulator ?? path, emulator ? [...(sysroot ? ['-L', sysroot] : []), path] : [], { timeout: 20_000 })).stdout;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs a WASI module in Node's WASI runtime and returns what it printed. */
async function runWasi(bytes: Buffer): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-wasi-'));
  try {
    const out = join(dir, 'stdout');
    const { openSync, closeSync } = await import('node:fs');
    const fd = openSync(out, 'w');
    const wasi = new WASI({ version: 'preview1', args: ['program'], stdout: fd, returnOnExit: true });
    // Node's WebAssembly global (the project compiles without DOM typings).
    const wasm = (globalThis as unknown as { WebAssembly: { instantiate(b: Buffer, i: object): Promise<{ instance: object }> } }).WebAssembly;
    const { instance } = await wasm.instantiate(bytes, { wasi_snapshot_preview1: wasi.wasiImport });
    wasi.start(instance);
    closeSync(fd);
    return await readFile(out, 'utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function artifact(build: JobView['builds'][number], kind: string) {
  const a = build.artifacts.find((x) => x.kind === kind);
  assert.ok(a, `no ${kind} among ${build.artifacts.map((x) => `${x.kind}:${x.name}`).join(', ')}`);
  return a;
}

const SAXPY_CU = `__global__ void saxpy(int n, float a, const float *x, float *y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}
`;
const SAXPY_HIP = `#include <hip/hip_runtime.h>
__global__ void scale(int n, float *y) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = sqrtf(y[i]) * 2.0f;
}
`;

describe('languages and GPU targets end to end', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs' });
  });
  after(async () => {
    await kiln?.close();
  });

  async function submit(body: object): Promise<JobView> {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send(body);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return waitForJob(kiln, res.body.id, 240_000);
  }

  it('lists GPU targets, their languages and outputs, and which languages live workers build', async () => {
    const res = await kiln.http().get('/v1/targets').set(kiln.auth);
    assert.equal(res.status, 200);
    const cuda = res.body.targets.find((t: { name: string }) => t.name === 'nvptx64-nvidia-cuda');
    assert.equal(cuda.kind, 'gpu');
    assert.equal(cuda.vendor, 'nvidia');
    assert.deepEqual(cuda.languages, ['cuda']);
    assert.ok(cuda.available, cuda.reason);
    assert.deepEqual(cuda.liveLanguages, ['cuda']);
    assert.ok(cuda.cpus.includes('sm_90'));
    const x86 = res.body.targets.find((t: { name: string }) => t.name === 'x86_64-linux-gnu');
    for (const l of ['c', 'c++', 'llvm-ir', 'fortran', 'go', 'rust']) assert.ok(x86.liveLanguages.includes(l), `x86_64 lacks ${l}: ${x86.liveLanguages}`);
    assert.ok(x86.features.includes('avx2'));
    assert.deepEqual(x86.outputs.go, ['executable']);
    const h100 = res.body.presets.find((p: { name: string }) => p.name === 'sm_90');
    assert.deepEqual(h100.aliases, ['h100', 'h200']);
  });

  it('builds CUDA for an H100 by its product name: PTX, cubin, fat binary and a host object', async () => {
    const job = await submit({ source: { language: 'cuda', files: [{ path: 'kernels/saxpy.cu', content: SAXPY_CU }], options: ['-O3'] }, targets: ['h100', 'sm_80'], outputs: ['ptx', 'cubin', 'fatbin', 'object'] });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => b.statusReason)));
    for (const [build, arch] of [[job.builds[0], 'sm_90'], [job.builds[1], 'sm_80']] as const) {
      assert.equal(build.target.cpu, arch);
      assert.equal(build.toolchain?.key, 'nvcc');
      const ptx = (await download(kiln, artifact(build, 'ptx').id)).toString('utf8');
      assert.match(ptx, new RegExp(`\\.target ${arch}\\b`));
      assert.match(ptx, /\.entry _Z5saxpyifPKfPf/);
      assert.equal(elfMachine(await download(kiln, artifact(build, 'cubin').id)), EM_CUDA);
      assert.equal(elfMachine(await download(kiln, artifact(build, 'object').id)), ELF_MACHINE.x86_64);
      assert.ok(artifact(build, 'fatbin').size > 0);
    }
  });

  it('verifies a CUDA kernel against a C reference on a GPU runner: the bundle is built, and the build waits for a device', async () => {
    const n = 1000;
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({
      source: { language: 'cuda', files: [{ path: 'saxpy.cu', content: SAXPY_CU }] },
      targets: ['h100'],
      verify: {
        entry: 'saxpy',
        args: [{ name: 'n', type: 'int32', value: n }, { name: 'a', type: 'float32', value: 2.5 }, { name: 'x', type: 'float32*', shape: [n], dir: 'in' }, { name: 'y', type: 'float32*', shape: [n], dir: 'inout' }],
        launch: { grid: [4], block: [256] },
        reference: { language: 'c', files: [{ path: 'ref.c', content: 'void saxpy(int n, float a, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }\n' }] },
      },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.builds[0].verifyPool, 'verify-cuda-sm_90');
    let build: JobView['builds'][number];
    for (const deadline = Date.now() + 240_000; ; ) {
      build = (await kiln.http().get(`/v1/jobs/${res.body.id}`).set(kiln.auth)).body.builds[0];
      if (build.status !== 'queued' && build.status !== 'compiling') break;
      assert.ok(Date.now() < deadline, `still ${build.status}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(build.status, 'compiled', build.statusReason ?? '');
    assert.match(build.statusReason ?? '', /waiting for a device: no runner with an NVIDIA sm_90 GPU/);
    const file = async (name: string) => download(kiln, build.artifacts.find((a) => a.name === name)!.id);
    const manifest = JSON.parse((await file('verify/manifest.json')).toString());
    assert.equal(manifest.device, 'sm_90');
    assert.equal(manifest.entry, 'saxpy');
    assert.match(manifest.reference, /the reference source \(ref\.c\) built for x86_64-linux-gnu/);
    assert.equal(elfMachine(await file('verify/program')), ELF_MACHINE.x86_64);
    // The expected outputs are the C reference's y = a * x + y on the bundle's own inputs.
    const inputs = await file('verify/inputs.bin');
    const expected = await file('verify/expected.bin');
    assert.equal(inputs.length, 2 * 4 * n);
    assert.equal(expected.length, 4 * n);
    for (let i = 0; i < n; i++) assert.equal(expected.readFloatLE(4 * i), Math.fround(Math.fround(2.5 * inputs.readFloatLE(4 * i)) + inputs.readFloatLE(4 * (n + i))));
    // Canceled, it leaves the verify queue too (else it would wait there, and show in /metrics, for good).
    const queue = new Queue(queueName('verify-cuda-sm_90'), { connection: redisConnectionOptions(kiln.config.redisUrl), prefix: kiln.config.queuePrefix });
    try {
      assert.equal(await (await queue.getJob(verifyJobId(build.id)))?.getState(), 'waiting');
      const canceled = await kiln.http().delete(`/v1/jobs/${res.body.id}`).set(kiln.auth);
      assert.equal(canceled.status, 200);
      assert.equal(canceled.body.builds[0].status, 'canceled');
      assert.equal(await queue.getJob(verifyJobId(build.id)), undefined, 'the verify queue entry is gone');
      // An entry that a cancel of old left behind goes when the job is deleted.
      await queue.add(JobName.VerifyBuild, { buildId: build.id, jobId: res.body.id, tenantId: 'x' }, { jobId: verifyJobId(build.id) });
      assert.equal((await kiln.http().delete(`/v1/jobs/${res.body.id}?purge=true`).set(kiln.auth)).status, 204);
      assert.equal(await queue.getJob(verifyJobId(build.id)), undefined, 'purge removes the verify queue entry');
    } finally {
      await queue.close();
    }

    // What a CUDA check must say, since nothing runs it on this host.
    const post = (verify: object) => kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'cuda', files: [{ path: 'saxpy.cu', content: SAXPY_CU }] }, targets: ['sm_90'], verify });
    const kernel = { entry: 'saxpy', args: [{ name: 'n', type: 'int32', value: 4 }, { name: 'a', type: 'float32', value: 1 }, { name: 'x', type: 'float32*', shape: [4], dir: 'in' }, { name: 'y', type: 'float32*', shape: [4], dir: 'inout' }] };
    let r = await post({ ...kernel, reference: { files: [{ path: 'r.cpp', content: 'x' }] } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /a CUDA kernel needs "launch", its grid and block dimensions/);
    r = await post({ ...kernel, launch: { grid: [1], block: [64] } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /no host build of it to compare with: give "reference" \(C or C\+\+/);
    r = await post({ ...kernel, launch: { grid: [1], block: [64, 32] }, reference: { files: [{ path: 'r.cpp', content: 'x' }] } });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /launch.block has 2048 threads; a block holds at most 1024/);
    r = await post({ program: {} });
    assert.equal(r.status, 400);
    assert.match(r.body.message, /a CUDA program runs only on a GPU.*give program.expect/);
  });

  it('ends a device wait at verify.deviceWaitSeconds: the build succeeds with its artifacts, and verification says not-run', async () => {
    const n = 64;
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({
      source: { language: 'cuda', files: [{ path: 'saxpy.cu', content: SAXPY_CU }] },
      targets: ['sm_89'],
      verify: {
        entry: 'saxpy',
        deviceWaitSeconds: 1,
        args: [{ name: 'n', type: 'int32', value: n }, { name: 'a', type: 'float32', value: 2 }, { name: 'x', type: 'float32*', shape: [n], dir: 'in' }, { name: 'y', type: 'float32*', shape: [n], dir: 'inout' }],
        launch: { grid: [1], block: [64] },
        reference: { language: 'c', files: [{ path: 'ref.c', content: 'void saxpy(int n, float a, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }\n' }] },
      },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    // A worker that sweeps every second (one that serves no GPU pool, like every worker here).
    await kiln.startWorker({ KILN_POOLS: 'wasm', KILN_SWEEP_SECONDS: '1' });
    const job = await waitForJob(kiln, res.body.id, 240_000);
    const build = job.builds[0];
    assert.equal(job.status, 'succeeded', build.statusReason ?? '');
    assert.equal(build.status, 'succeeded');
    assert.equal(build.verification?.status, 'not-run');
    assert.match(build.statusReason ?? '', /^not run: no device: no runner served pool "verify-cuda-sm_89" within 1 s/);
    assert.match(build.verification?.summary ?? '', /artifacts are delivered unverified/);
    assert.ok(build.artifacts.some((a) => a.kind === 'cubin'), 'the artifacts are delivered');
    assert.deepEqual(build.events.slice(-1).map((e) => [e.from, e.to]), [['compiled', 'succeeded']]);
    const queue = new Queue(queueName('verify-cuda-sm_89'), { connection: redisConnectionOptions(kiln.config.redisUrl), prefix: kiln.config.queuePrefix });
    try {
      assert.equal(await queue.getJob(verifyJobId(build.id)), undefined, 'the verify queue entry is gone');
    } finally {
      await queue.close();
    }
    // A pool a worker serves is not cut short, even with no wait at all: the build waits its turn and is verified.
    const served = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'm.c', content: '#include <stdio.h>\nint main(void) { puts("ok"); return 0; }\n' }] }, targets: ['x86_64-linux-gnu'], outputs: ['executable'], verify: { program: { expect: { stdout: 'ok\n' } }, deviceWaitSeconds: 0 } });
    assert.equal(served.status, 202, JSON.stringify(served.body));
    const verified = await waitForJob(kiln, served.body.id, 240_000);
    assert.equal(verified.builds[0].verification?.status, 'passed', verified.builds[0].statusReason ?? '');
    // Out of range, it is refused with what to send.
    const bad = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'm.c', content: 'int main(void){return 0;}' }] }, targets: ['x86_64-linux-gnu'], outputs: ['executable'], verify: { program: {}, deviceWaitSeconds: -1 } });
    assert.equal(bad.status, 400);
    assert.match(bad.body.message, /deviceWaitSeconds must be a whole number of seconds from 0 to 604800/);
  });

  it('reports CUDA compile errors with file and line', async () => {
    const job = await submit({ source: { language: 'cu', files: [{ path: 'bad.cu', content: '__global__ void k(float *y) { y[0] = z; }\n' }] }, targets: ['sm_90'] });
    assert.equal(job.status, 'failed');
    const d = job.builds[0].diagnostics.find((x) => x.severity === 'error');
    assert.ok(d, JSON.stringify(job.builds[0]));
    assert.equal(d.file, 'bad.cu');
    assert.equal(d.line, 1);
    assert.match(d.message, /identifier "z" is undefined/);
  });

  it('builds HIP for MI300 and MI250: AMD GPU code objects and assembly', async () => {
    const job = await submit({ source: { language: 'hip', files: [{ path: 'scale.hip', content: SAXPY_HIP }] }, targets: ['mi300', 'gfx90a'], outputs: ['code-object', 'assembly'] });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => b.statusReason)));
    for (const [build, arch] of [[job.builds[0], 'gfx942'], [job.builds[1], 'gfx90a']] as const) {
      assert.equal(elfMachine(await download(kiln, artifact(build, 'code-object').id)), EM_AMDGPU);
      assert.match((await download(kiln, artifact(build, 'assembly').id)).toString('utf8'), new RegExp(`amdgcn-amd-amdhsa--${arch}`));
    }
  });

  it('builds Fortran with modules in any order: an x86-64 program that runs, and an aarch64 object', async () => {
    const files = [
      { path: 'main.f90', content: 'program main\n  use stats\n  print \'(a,f6.2)\', "mean ", mean([1.0, 2.0, 3.0, 6.0])\nend program main\n' },
      { path: 'stats.f90', content: 'module stats\ncontains\n  real function mean(x)\n    real, intent(in) :: x(:)\n    mean = sum(x) / size(x)\n  end function mean\nend module stats\n' },
    ];
    const job = await submit({ source: { language: 'fortran', files, options: ['-O2'] }, targets: ['x86_64-linux-gnu'], outputs: ['executable', 'object', 'shared'] });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds[0]));
    assert.deepEqual(job.builds[0].diagnostics, [], 'a clean program links without warnings of Kiln\'s own flags');
    assert.equal(job.builds[0].toolchain?.key, 'flang');
    assert.equal((await runProgram(await download(kiln, artifact(job.builds[0], 'executable').id))).trim(), 'mean   3.00');
    const arm = await submit({ source: { language: 'fortran', files }, targets: ['aarch64-linux-gnu'], outputs: ['object', 'assembly'] });
    assert.equal(arm.status, 'succeeded', JSON.stringify(arm.builds[0].statusReason));
    assert.equal(elfMachine(await download(kiln, artifact(arm.builds[0], 'object').id)), ELF_MACHINE.aarch64);
  });

  it('builds Go for aarch64 and riscv64: static programs that run under qemu', async () => {
    const job = await submit({ source: { language: 'go', files: [{ path: 'main.go', content: 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("go says", 6*7) }\n' }] }, targets: ['graviton3', 'riscv64-linux-gnu'] });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => b.statusReason)));
    assert.equal((await runProgram(await download(kiln, artifact(job.builds[0], 'executable').id), 'qemu-aarch64')).trim(), 'go says 42');
    assert.equal((await runProgram(await download(kiln, artifact(job.builds[1], 'executable').id), 'qemu-riscv64')).trim(), 'go says 42');
    const bad = await submit({ source: { language: 'go', files: [{ path: 'main.go', content: 'package main\n\nfunc main() { x := 1 }\n' }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(bad.status, 'failed');
    assert.ok(bad.builds[0].diagnostics.some((d) => d.file === 'main.go' && d.line === 3), JSON.stringify(bad.builds[0].diagnostics));
  });

  it('builds Rust for x86-64 and wasm32-wasi: programs that run, and a static library', async () => {
    const job = await submit({ source: { language: 'rust', files: [{ path: 'main.rs', content: 'mod util;\nfn main() { println!("rust says {}", util::triple(14)); }\n' }, { path: 'util.rs', content: 'pub fn triple(x: u32) -> u32 { x * 3 }\n' }], options: ['-O'] }, targets: ['x86_64-linux-gnu', 'wasm32-wasi'], outputs: ['executable', 'llvm-ir'] });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => [b.statusReason, b.diagnostics])));
    assert.equal((await runProgram(await download(kiln, artifact(job.builds[0], 'executable').id))).trim(), 'rust says 42');
    assert.equal((await runWasi(await download(kiln, artifact(job.builds[1], 'executable').id))).trim(), 'rust says 42');
    assert.match((await download(kiln, artifact(job.builds[1], 'llvm-ir').id)).toString('utf8'), /target triple = "wasm32/);
  });

  it('builds C with GCC instead of clang when asked: a program that runs under qemu', async () => {
    const job = await submit({ source: { language: 'c', toolchain: 'gcc', files: [{ path: 'main.c', content: '#include <stdio.h>\nint main(void) { printf("gcc %d\\n", __GNUC__); return 0; }\n' }], options: ['-O2'] }, targets: ['rpi4', 'riscv64-linux-gnu'], outputs: ['executable', 'assembly'] });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => [b.statusReason, b.diagnostics])));
    assert.equal(job.builds[0].toolchain?.key, 'gcc');
    assert.equal((job as unknown as { source: { toolchain: string | null } }).source.toolchain, 'gcc', 'the job says which toolchain was asked for');
    assert.match(job.builds[0].toolchain?.version ?? '', /^12\./);
    assert.equal((await runProgram(await download(kiln, artifact(job.builds[0], 'executable').id), 'qemu-aarch64', '/usr/aarch64-linux-gnu')).trim(), 'gcc 12');
    assert.equal((await runProgram(await download(kiln, artifact(job.builds[1], 'executable').id), 'qemu-riscv64', '/usr/riscv64-linux-gnu')).trim(), 'gcc 12');
    assert.match((await download(kiln, artifact(job.builds[0], 'assembly').id)).toString('utf8'), /\.cpu cortex-a72|\.arch armv8-a/);
    const targets = await kiln.http().get('/v1/targets').set(kiln.auth);
    const arm = targets.body.targets.find((t: { name: string }) => t.name === 'aarch64-linux-gnu');
    assert.ok(arm.liveLanguages.includes('c@gcc'), arm.liveLanguages);
  });

  it('builds LLVM IR for riscv64', async () => {
    const ir = 'define i32 @add(i32 %a, i32 %b) {\n  %s = add i32 %a, %b\n  ret i32 %s\n}\n';
    const job = await submit({ source: { language: 'llvm-ir', files: [{ path: 'add.ll', content: ir }] }, targets: ['riscv64-linux-gnu'], outputs: ['object', 'assembly'] });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds[0]));
    assert.equal(elfMachine(await download(kiln, artifact(job.builds[0], 'object').id)), ELF_MACHINE.riscv);
  });

  async function upload(name: string, bytes: Buffer): Promise<string> {
    const res = await kiln.http().post(`/v1/uploads?filename=${name}`).set(kiln.auth).set('Content-Type', 'application/octet-stream').send(bytes);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }

  it('builds a multi-file C project from a tar.gz archive, plus an inline file', async () => {
    const archive = gzipSync(
      tarOf([
        { name: 'calc/', type: '5' },
        { name: 'calc/include/ops.h', body: 'int add(int a, int b);\nint mul(int a, int b);\n' },
        { name: 'calc/src/ops.c', body: '#include "ops.h"\nint add(int a, int b) { return a + b; }\nint mul(int a, int b) { return a * b; }\n' },
        { name: 'calc/README.md', body: '# calc\n' },
      ]),
    );
    const id = await upload('calc.tar.gz', archive);
    const main = '#include <stdio.h>\n#include "ops.h"\nint main(void) { printf("%d\\n", add(mul(6, 6), 6)); return 0; }\n';
    const job = await submit({ source: { language: 'c', archive: { uploadId: id }, files: [{ path: 'calc/src/main.c', content: main }], options: ['-O2', '-Icalc/include'] }, targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu'], outputs: ['executable'] });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => [b.statusReason, b.diagnostics])));
    const view = await kiln.http().get(`/v1/jobs/${job.id}`).set(kiln.auth);
    assert.deepEqual(view.body.source.archive.files, ['calc/include/ops.h', 'calc/src/ops.c', 'calc/README.md']);
    assert.equal((await runProgram(await download(kiln, artifact(job.builds[0], 'executable').id))).trim(), '42');
    assert.equal((await runProgram(await download(kiln, artifact(job.builds[1], 'executable').id), 'qemu-aarch64', '/usr/aarch64-linux-gnu')).trim(), '42');
  });

  it('builds a CMake project from an archive: its programs and libraries, for aarch64 and wasm32', async () => {
    const cmake = [
      'cmake_minimum_required(VERSION 3.16)',
      'project(calc C)',
      'add_library(ops STATIC src/ops.c)',
      'target_include_directories(ops PUBLIC include)',
      'add_executable(calc src/main.c)',
      'target_link_libraries(calc ops)',
      'target_compile_definitions(calc PRIVATE ANSWER_BASE=40)',
    ].join('\n');
    const archive = gzipSync(
      tarOf([
        { name: 'calc/CMakeLists.txt', body: `${cmake}\n` },
        { name: 'calc/include/ops.h', body: 'int add(int a, int b);\n' },
        { name: 'calc/src/ops.c', body: '#include "ops.h"\nint add(int a, int b) { return a + b; }\n' },
        { name: 'calc/src/main.c', body: '#include <stdio.h>\n#include "ops.h"\nint main(void) { printf("cmake %d\\n", add(ANSWER_BASE, 2)); return 0; }\n' },
      ]),
    );
    const id = await upload('calc-cmake.tar.gz', archive);
    const job = await submit({ source: { language: 'c', archive: { uploadId: id }, options: ['-O2'] }, targets: ['aarch64-linux-gnu', 'wasm32-wasi'], outputs: ['executable', 'static'] });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => [b.statusReason, b.diagnostics])));
    const [arm, wasm] = job.builds;
    assert.deepEqual(arm.artifacts.map((a) => [a.kind, a.name]).sort(), [['executable', 'calc'], ['static', 'libops.a']]);
    assert.equal((await runProgram(await download(kiln, artifact(arm, 'executable').id), 'qemu-aarch64', '/usr/aarch64-linux-gnu')).trim(), 'cmake 42');
    assert.equal((await runWasi(await download(kiln, artifact(wasm, 'executable').id))).trim(), 'cmake 42');
    // What CMake cannot give is refused before anything runs.
    const asm = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', archive: { uploadId: id } }, targets: ['x86_64-linux-gnu'], outputs: ['assembly'] });
    assert.equal(asm.status, 400);
    assert.match(asm.body.message, /a CMake project gives what its targets build \(executable, static, shared, object\), not assembly/);
  });

  it('builds a Go module with a package in a folder from a zip archive', async () => {
    const archive = await zipOf([
      { name: 'go.mod', body: 'module example.com/hello\n\ngo 1.19\n' },
      { name: 'main.go', body: 'package main\n\nimport (\n\t"fmt"\n\t"example.com/hello/greet"\n)\n\nfunc main() { fmt.Println(greet.Hello("zip")) }\n' },
      { name: 'greet/greet.go', body: 'package greet\n\nfunc Hello(n string) string { return "hello, " + n }\n' },
    ]);
    const job = await submit({ source: { language: 'go', archive: { uploadId: await upload('hello.zip', archive) } }, targets: ['armv7-linux-gnueabihf'] });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => [b.statusReason, b.diagnostics])));
    assert.equal((await runProgram(await download(kiln, artifact(job.builds[0], 'executable').id), 'qemu-arm')).trim(), 'hello, zip');
  });

  it('builds a Go module whose main package is in a folder under it (cmd/hello), and says so when there are several', async () => {
    const files = [
      { path: 'go.mod', content: 'module example.com/hello\n\ngo 1.19\n' },
      { path: 'cmd/hello/main.go', content: 'package main\n\nimport (\n\t"fmt"\n\t"example.com/hello/internal/greet"\n)\n\nfunc main() { fmt.Println(greet.Hello("cmd")) }\n' },
      { path: 'internal/greet/greet.go', content: 'package greet\n\nfunc Hello(n string) string { return "hello, " + n }\n' },
    ];
    const job = await submit({ source: { language: 'go', files }, targets: ['x86_64-linux-gnu'] });
    assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => [b.statusReason, b.diagnostics])));
    const exe = artifact(job.builds[0], 'executable');
    assert.equal(exe.name, 'hello');
    assert.equal((await runProgram(await download(kiln, exe.id))).trim(), 'hello, cmd');
    const two = await submit({ source: { language: 'go', files: [...files, { path: 'cmd/other/main.go', content: 'package main\n\nfunc main() {}\n' }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(two.status, 'failed');
    assert.match(two.builds[0].statusReason ?? '', /several main packages \(cmd\/hello, cmd\/other\)/);
  });

  it('builds archives made on macOS, skipping the __MACOSX folder and AppleDouble ._ files', async () => {
    const fork = '\0\u0005\u0016\u0007\0\u0002\0\0Mac OS X        \0\0\0\u0002';
    const finder = await zipOf([
      { name: 'proj/' },
      { name: 'proj/a.c', body: 'int a(void) { return 1; }\n' },
      { name: '__MACOSX/' },
      { name: '__MACOSX/proj/' },
      { name: '__MACOSX/proj/._a.c', body: fork },
    ]);
    const tar = tarOf([{ name: '._b.c', body: fork }, { name: 'b.c', body: 'int b(void) { return 2; }\n' }]);
    for (const [name, bytes, files] of [['finder.zip', finder, ['proj/a.c']], ['mac.tar', tar, ['b.c']]] as const) {
      const job = await submit({ source: { language: 'c', archive: { uploadId: await upload(name, bytes) } }, targets: ['x86_64-linux-gnu'] });
      assert.equal(job.status, 'succeeded', JSON.stringify(job.builds.map((b) => [b.statusReason, b.diagnostics])));
      const view = await kiln.http().get(`/v1/jobs/${job.id}`).set(kiln.auth);
      assert.deepEqual(view.body.source.archive.files, files);
    }
  });

  it('refuses hostile or useless archives with the reason', async () => {
    const cases: [Buffer, RegExp][] = [
      [tarOf([{ name: 'main.c', body: 'int main(void){return 0;}' }, { name: 'passwd.h', type: '2', link: '/etc/passwd' }]), /source.archive \("bad.tar"\): entry "passwd.h" is a symbolic link; only plain files and folders are allowed/],
      [tarOf([{ name: '../../etc/cron.d/x.c', body: 'x' }]), /contains "\.\.": files must stay inside the project folder/],
      [Buffer.from('just text, not an archive'), /not a tar, tar.gz or zip archive/],
      [tarOf([{ name: 'notes.txt', body: 'x' }]), /source has no c file to compile \(\.c\); the archive holds notes.txt/],
    ];
    for (const [bytes, message] of cases) {
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', archive: { uploadId: await upload('bad.tar', bytes) } }, targets: ['x86_64-linux-gnu'] });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(String(res.body.message), message);
    }
    const none = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c' }, targets: ['x86_64-linux-gnu'] });
    assert.equal(none.status, 400);
    assert.match(String(none.body.message), /source needs "files" \(at least one\), an "archive", or both/);
  });

  it('refuses impossible combinations with what is supported', async () => {
    const cases: [object, RegExp][] = [
      [{ source: { language: 'cuda', files: [{ path: 'k.cu', content: SAXPY_CU }] }, targets: ['riscv64-linux-gnu'] }, /cuda cannot be built for riscv64-linux-gnu; cuda targets: nvptx64-nvidia-cuda; languages for riscv64-linux-gnu: c, c\+\+/],
      [{ source: { language: 'c', files: [{ path: 'k.c', content: 'int x;' }] }, targets: ['h100'] }, /c cannot be built for nvptx64-nvidia-cuda.*languages for nvptx64-nvidia-cuda: cuda/],
      [{ source: { language: 'fortran', files: [{ path: 'a.f90', content: 'end' }] }, targets: ['aarch64-linux-gnu'], outputs: ['executable'] }, /fortran for aarch64-linux-gnu can produce object, assembly, llvm-ir, not executable/],
      [{ source: { language: 'cuda', files: [{ path: 'k.cu', content: SAXPY_CU }] }, targets: ['nvptx64-nvidia-cuda'] }, /needs a GPU architecture: use a preset \(sm_80, sm_86, sm_89, sm_90\)/],
      [{ source: { language: 'cuda', files: [{ path: 'k.cu', content: SAXPY_CU }] }, targets: ['sm_90'], verify: true }, /a CUDA program runs only on a GPU, so there is no reference build to compare with: give program.expect/],
      [{ source: { language: 'cuda', files: [{ path: 'k.cu', content: SAXPY_CU }], options: ['-ccbin=/tmp/evil'] }, targets: ['sm_90'] }, /"-ccbin=\/tmp\/evil" is not an allowed cuda option; allowed: -O0..-O3/],
      [{ source: { language: 'rust', files: [{ path: 'main.rs', content: 'fn main() {}' }], options: ['-Clinker=/bin/sh'] }, targets: ['x86_64-linux-gnu'] }, /not an allowed rust option/],
      [{ source: { language: 'go', files: [{ path: 'main.go', content: 'package main' }], options: ['-toolexec=/bin/sh'] }, targets: ['x86_64-linux-gnu'] }, /not an allowed go option/],
      [{ source: { language: 'c', files: [{ path: 'k.c', content: 'int x;' }] }, targets: [{ triple: 'aarch64-linux-gnu', features: ['+avx512f'] }] }, /aarch64-linux-gnu has no feature "avx512f"/],
      [{ source: { language: 'c', toolchain: 'gcc', files: [{ path: 'k.c', content: 'int x;' }] }, targets: ['wasm32-wasi'] }, /c with gcc cannot be built for wasm32-wasi; c with gcc targets: x86_64-linux-gnu, aarch64-linux-gnu, riscv64-linux-gnu, armv7-linux-gnueabihf/],
      [{ source: { language: 'c', toolchain: 'icc', files: [{ path: 'k.c', content: 'int x;' }] }, targets: ['x86_64-linux-gnu'] }, /c is built by clang or gcc, not "icc"/],
      [{ source: { language: 'c', toolchain: 'gcc', files: [{ path: 'k.c', content: 'int main(void){return 0;}' }] }, targets: ['x86_64-linux-gnu'], verify: true }, /verification is offered with clang, not with gcc/],
      [{ source: { language: 'cobol', files: [{ path: 'k.cob', content: 'x' }] }, targets: ['x86_64-linux-gnu'] }, /language must be one of: c, c\+\+, llvm-ir, fortran, go, rust, cuda, hip/],
    ];
    for (const [body, message] of cases) {
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send(body);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.match(String(res.body.message), message);
    }
  });
});
