import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUNDLE_FILES, type BundleManifest } from '../../src/verification/bundle';
import { buildKernelBundle } from '../../scripts/gpu-check';
import { CUDA_HOME } from '../toolchains/nvcc';
import { verifyBundle } from './cli';
import { evaluateProgram } from '../../src/verification/evaluate';
import { SandboxExecutor } from '../sandbox/executor';
import { archOfVerifyPool, cudaRunner, localGpus, parseGpuList, runnerFor } from './runners';
import { GNU_TIME, runBundle } from './verify.service';

const manifest: BundleManifest = { version: 1, kind: 'program', target: 'x86_64-linux-gnu', program: 'program', timeoutMs: 10_000, args: [], stdin: '', expect: { stdout: null, exitCode: 0 }, reference: 'test' };

// A shell script stands in for a built program: the runner and GNU time treat it the same.
describe('a whole program\'s run', { skip: !existsSync(GNU_TIME) && `${GNU_TIME} is not installed` }, () => {
  let dir: string;
  const exec = new SandboxExecutor('none');
  const native = { ...runnerFor(process.arch === 'arm64' ? 'aarch64' : 'x86_64')!, name: 'native' };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-run-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports its peak memory in kB', async () => {
    // Holds about 40 MiB in one shell variable.
    await writeFile(join(dir, 'program'), '#!/bin/sh\nx=$(head -c 41943040 /dev/zero | tr "\\\\0" a)\necho ${#x}\n');
    const { run } = await runBundle(dir, manifest, native, exec, { scratch: dir });
    assert.equal(run.stdout, '41943040\n', run.stderr);
    assert.ok(run.peakMemoryKb! > 40 * 1024, `peak ${run.peakMemoryKb} kB`);
    const report = evaluateProgram(manifest, run, { runner: 'native', worker: 'test' });
    assert.equal(report.status, 'passed');
    assert.equal(report.program?.peakMemoryKb, run.peakMemoryKb);
  });

  it('still says which signal killed it', async () => {
    await writeFile(join(dir, 'program'), '#!/bin/sh\nkill -SEGV $$\n');
    const { run } = await runBundle(dir, manifest, native, exec, { scratch: dir });
    assert.equal(run.signal, 'SIGSEGV');
    assert.match(evaluateProgram(manifest, run, { runner: 'native', worker: 'test' }).summary, /the program was killed by SIGSEGV on native/);
  });

  it('repeats a run whose runner itself crashed (a signal the runner says only it can raise), up to twice, and counts it; a program\'s own crash is not repeated', async () => {
    // The program dies of SIGSEGV the first time, then succeeds: the count lives in a file beside it.
    const count = join(dir, 'count');
    await writeFile(count, '');
    await writeFile(join(dir, 'program'), `#!/bin/sh\necho x >> ${count}\n[ $(wc -l < ${count}) -ge 2 ] && exit 0\nkill -SEGV $$\n`);
    const crashing = { ...native, crashSignals: ['SIGSEGV'] };
    const { run } = await runBundle(dir, manifest, crashing, exec, { scratch: dir });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.runnerCrashes, 1);
    // Always crashing: two repeats, then the crash is the verdict.
    await writeFile(join(dir, 'program'), `#!/bin/sh\necho x >> ${count}\nkill -SEGV $$\n`);
    await writeFile(count, '');
    const again = await runBundle(dir, manifest, crashing, exec, { scratch: dir });
    assert.equal(again.run.signal, 'SIGSEGV');
    assert.equal(again.run.runnerCrashes, 2);
    assert.equal((await readFile(count, 'utf8')).split('\n').filter(Boolean).length, 3);
    // A runner that can run crashing programs (natively, qemu) never repeats.
    await writeFile(count, '');
    const native1 = await runBundle(dir, manifest, native, exec, { scratch: dir });
    assert.equal(native1.run.signal, 'SIGSEGV');
    assert.equal(native1.run.runnerCrashes, undefined);
    assert.equal((await readFile(count, 'utf8')).split('\n').filter(Boolean).length, 1);
  });

  it('takes a harness\'s run as finished when the runner crashed after the harness said so (outputs.bin.done), and only then', async () => {
    const kernelManifest: BundleManifest = { version: 1, kind: 'kernel', target: 'x86_64-linux-gnu', program: 'program', timeoutMs: 10_000, reference: 'test', outputs: [{ name: 'y', dtype: 'float32', count: 1 }], tolerance: { rtol: 0, atol: 0, maxUlp: null } };
    await writeFile(join(dir, 'inputs.bin'), '');
    const runner = { ...native, crashSignals: ['SIGSEGV'] };
    await writeFile(join(dir, 'program'), '#!/bin/sh\nprintf "\\0\\0\\200\\77" > "$2"\n: > "$2.done"\nkill -SEGV $$\n');
    const after = await runBundle(dir, kernelManifest, runner, exec, { scratch: dir });
    assert.equal(after.run.exitCode, 0);
    assert.equal(after.run.signal, null);
    assert.equal(after.run.runnerCrashedAtExit, true);
    assert.equal(after.outputs?.readFloatLE(0), 1);
    // Without it, the crash came before the end: repeated, then the verdict.
    await writeFile(join(dir, 'program'), '#!/bin/sh\nprintf "\\0\\0\\200\\77" > "$2"\nkill -SEGV $$\n');
    const before = await runBundle(dir, kernelManifest, runner, exec, { scratch: dir });
    assert.equal(before.run.signal, 'SIGSEGV');
    assert.equal(before.run.runnerCrashes, 2);
    assert.equal(before.run.runnerCrashedAtExit, undefined);
  });

  it('ignores a measurement file the program replaced with a link', async () => {
    await writeFile(join(dir, 'secret'), '12345\n');
    await writeFile(join(dir, 'program'), `#!/bin/sh\ncd ../time 2>/dev/null || cd /in-time\nrm -f peak-memory.txt\nln -s ${join(dir, 'secret')} peak-memory.txt\n`);
    const { run } = await runBundle(dir, manifest, native, exec, { scratch: dir });
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.peakMemoryKb, null);
  });
});

describe('the NVIDIA GPU runner', () => {
  it('reads the GPUs nvidia-smi lists as sm_XX', () => {
    assert.deepEqual(parseGpuList('9.0, NVIDIA H200\n8.0, NVIDIA A100-SXM4-80GB\n\nN/A, weird\n'), [
      { arch: 'sm_90', name: 'NVIDIA H200' },
      { arch: 'sm_80', name: 'NVIDIA A100-SXM4-80GB' },
    ]);
  });

  it('runs a build only on a GPU of exactly its architecture, with the GPU device nodes in the sandbox', { skip: process.arch !== 'x64' && 'the host programs are x86-64' }, () => {
    const gpus = [{ arch: 'sm_90', name: 'NVIDIA H200' }];
    assert.equal(cudaRunner('sm_80', gpus), null, 'sm_80 code would only run through PTX JIT');
    const r = cudaRunner('sm_90', gpus)!;
    assert.equal(r.name, 'cuda (NVIDIA H200, sm_90)');
    assert.deepEqual(r.argv('./program', ['inputs.bin', 'outputs.bin']), ['./program', 'inputs.bin', 'outputs.bin']);
    assert.ok(r.mounts.every((m) => m.device && /^\/dev\/nvidia/.test(m.host)));
    assert.equal(archOfVerifyPool('verify-cuda-sm_90'), 'cuda-sm_90');
    assert.equal(archOfVerifyPool('verify-cuda-sm_1'), null);
  });

  it('builds bubblewrap device binds for device mounts', () => {
    const cmd = (new SandboxExecutor('bwrap') as unknown as { buildCommand(r: object): { args: string[] } }).buildCommand({ argv: ['/bin/true'], cwd: '/work', mounts: [{ host: '/dev/nvidia0', sandbox: '/dev/nvidia0', writable: true, device: true }], timeoutMs: 1000 });
    const i = cmd.args.indexOf('/dev/nvidia0');
    assert.equal(cmd.args[i - 1], '--dev-bind');
  });
});

describe('the GPU check\'s kernel bundle (scripts/gpu-check.ts), built here', { skip: !existsSync(join(CUDA_HOME, 'bin/nvcc')) && 'no CUDA toolkit' }, () => {
  it('holds an x86-64 program, the C reference\'s outputs, and is refused by the runner on a machine without that GPU', { skip: localGpus().length > 0 && 'this machine has an NVIDIA GPU' }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-gpu-bundle-'));
    try {
      await buildKernelBundle(dir, 'sm_90', join(CUDA_HOME, 'bin/nvcc'));
      const program = await readFile(join(dir, 'program'));
      assert.equal(program.readUInt16LE(18), 62, 'an x86-64 host program');
      const inputs = await readFile(join(dir, BUNDLE_FILES.inputs));
      const expected = await readFile(join(dir, BUNDLE_FILES.expected));
      const n = 1 << 20;
      for (const i of [0, 1, n - 1]) assert.equal(expected.readFloatLE(4 * i), Math.fround(Math.fround(2.5 * inputs.readFloatLE(4 * i)) + inputs.readFloatLE(4 * (n + i))));
      await assert.rejects(verifyBundle(dir, { sandbox: 'none' }), /this machine has no NVIDIA GPU of architecture sm_90 \(nvidia-smi lists none\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
