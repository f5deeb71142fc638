#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TARGETS } from '../../src/targets/catalog';
import { BUNDLE_FILES, BundleManifest } from '../../src/verification/bundle';
import { evaluateKernel, evaluateProgram } from '../../src/verification/evaluate';
import type { VerificationReport } from '../../src/verification/report';
import { SandboxExecutor } from '../sandbox/executor';
import { localGpus, Runner, runnerFor } from './runners';
import { runBundle } from './verify.service';

const USAGE = `usage: kiln-verify <bundle folder> [--no-sandbox] [--json]

Runs a verification bundle downloaded from Kiln (the verify/* artifacts of a build: manifest.json,
the program, inputs.bin and expected.bin) on this machine, with the runner for its target
(native, qemu-user, Node's WASI, or an NVIDIA GPU of the build's architecture), compares the outputs with the reference, and writes
report.json beside them. Needs no Kiln service, database or queue.

Exit status: 0 passed, 1 failed, 2 usage or bundle error.`;

export async function verifyBundle(dir: string, opts: { sandbox: 'bwrap' | 'none' }): Promise<VerificationReport> {
  const manifest = JSON.parse(await readFile(join(dir, BUNDLE_FILES.manifest), 'utf8')) as BundleManifest;
  if (manifest.version !== 1) throw new Error(`unsupported bundle version ${manifest.version}`);
  const spec = TARGETS.find((t) => t.name === manifest.target);
  if (!spec) throw new Error(`the bundle is for an unknown target "${manifest.target}"`);
  if (spec.family === 'nvptx') {
    if (!manifest.device) throw new Error('the bundle is for an NVIDIA GPU but names no architecture (device)');
    const runner = runnerFor(`cuda-${manifest.device}`);
    if (!runner) {
      const gpus = localGpus();
      throw new Error(`this machine has no NVIDIA GPU of architecture ${manifest.device} (${gpus.length ? `it has ${gpus.map((g) => `${g.name}, ${g.arch}`).join('; ')}` : 'nvidia-smi lists none'}): run the bundle on such a machine`);
    }
    return finish(dir, manifest, runner, opts);
  }
  const runner = runnerFor(spec.arch);
  if (!runner) throw new Error(`this machine cannot run ${spec.arch} code: install qemu-user, or run the bundle on a ${spec.arch} machine`);
  return finish(dir, manifest, runner, opts);
}

async function finish(dir: string, manifest: BundleManifest, runner: Runner, opts: { sandbox: 'bwrap' | 'none' }): Promise<VerificationReport> {
  const scratch = await mkdtemp(join(tmpdir(), 'kiln-verify-'));
  let result;
  try {
    await chmod(scratch, 0o711);
    result = await runBundle(dir, manifest, runner, new SandboxExecutor(opts.sandbox), { scratch });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  const { run, outputs } = result;
  const base = { runner: runner.name, worker: `kiln-verify@${process.pid}` };
  const report =
    manifest.kind === 'kernel' ? evaluateKernel(manifest, run, await readFile(join(dir, BUNDLE_FILES.expected)), outputs, base) : evaluateProgram(manifest, run, base);
  await writeFile(join(dir, BUNDLE_FILES.report), JSON.stringify(report, null, 2));
  return report;
}

async function main(argv: string[]): Promise<number> {
  const args = argv.filter((a) => !a.startsWith('--'));
  if (args.length !== 1 || argv.includes('--help')) {
    console.error(USAGE);
    return 2;
  }
  const dir = resolve(args[0]);
  if (!existsSync(join(dir, BUNDLE_FILES.manifest))) {
    console.error(`kiln-verify: ${dir} has no ${BUNDLE_FILES.manifest}; download the build's verify/* artifacts into one folder`);
    return 2;
  }
  const sandbox = argv.includes('--no-sandbox') ? 'none' : 'bwrap';
  const missing = SandboxExecutor.available(sandbox);
  if (missing) {
    console.error(`kiln-verify: ${missing}`);
    return 2;
  }
  try {
    const report = await verifyBundle(dir, { sandbox });
    if (argv.includes('--json')) console.log(JSON.stringify(report, null, 2));
    else console.log(`${report.status === 'passed' ? 'PASSED' : 'FAILED'} (${report.runner}): ${report.summary}`);
    return report.status === 'passed' ? 0 : 1;
  } catch (e) {
    console.error(`kiln-verify: ${(e as Error).message}`);
    return 2;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => process.exit(code));
}
