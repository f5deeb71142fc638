import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BundleManifest } from '../../src/verification/bundle';
import { evaluateProgram } from '../../src/verification/evaluate';
import { SandboxExecutor } from '../sandbox/executor';
import { runnerFor } from './runners';
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
    const { run } = await runBundle(dir, manifest, native, exec);
    assert.equal(run.stdout, '41943040\n', run.stderr);
    assert.ok(run.peakMemoryKb! > 40 * 1024, `peak ${run.peakMemoryKb} kB`);
    const report = evaluateProgram(manifest, run, { runner: 'native', worker: 'test' });
    assert.equal(report.status, 'passed');
    assert.equal(report.program?.peakMemoryKb, run.peakMemoryKb);
  });

  it('still says which signal killed it', async () => {
    await writeFile(join(dir, 'program'), '#!/bin/sh\nkill -SEGV $$\n');
    const { run } = await runBundle(dir, manifest, native, exec);
    assert.equal(run.signal, 'SIGSEGV');
    assert.match(evaluateProgram(manifest, run, { runner: 'native', worker: 'test' }).summary, /the program was killed by SIGSEGV on native/);
  });

  it('ignores a measurement file the program replaced with a link', async () => {
    await writeFile(join(dir, 'secret'), '12345\n');
    await writeFile(join(dir, 'program'), '#!/bin/sh\nrm -f peak-memory.txt\nln -s secret peak-memory.txt\n');
    const { run } = await runBundle(dir, manifest, native, exec);
    assert.equal(run.exitCode, 0, run.stderr);
    assert.equal(run.peakMemoryKb, null);
  });
});
