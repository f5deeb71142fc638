import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactKind } from '../../src/database/entities/job.entity';
import { isTranslationUnit } from '../../src/jobs/source-rules';
import { targetSpec } from '../../src/targets/catalog';
import type { SandboxExecutor } from '../sandbox/executor';
import { writeBeneath } from '../sandbox/files';
import { BUNDLE_FILES, BundleManifest } from '../../src/verification/bundle';
import { DEFAULT_VERIFY_TIMEOUT_MS } from '../../src/verification/spec';
import { elementCount, generateInputs, outputArgs } from '../../src/verification/inputs';
import { generateCudaHarness } from '../verify/cuda-harness';
import { generateHarness } from '../verify/harness';
import { baseFlags, buildReference, BundleStage, CLANG, ClangRun, CLANGXX, CONTENT_TYPES, hostTarget, mkdirOpen, outputBytes, readUploadedTensors, referenceOptions, referenceParts } from './clang';
import { firstLines, probeRun, withProbeDir } from './common';
import type { CompiledBundle, CompileRequest, CompileResult, ProducedArtifact, Toolchain, ToolchainProbe } from './toolchain';

export const CUDA_HOME = process.env.KILN_CUDA_HOME ?? '/usr/local/cuda';
const NVCC = join(CUDA_HOME, 'bin/nvcc');
const TARGET = 'nvptx64-nvidia-cuda';

/** nvcc's flags for one output of one architecture (sm_90: compute_90 for PTX, sm_90 for SASS). */
export function nvccOutputFlags(kind: ArtifactKind, arch: string): string[] {
  const virtual = arch.replace(/^sm_/, 'compute_');
  switch (kind) {
    case 'ptx':
      return [`-arch=${virtual}`, '-ptx'];
    case 'cubin':
      return [`-arch=${arch}`, '-cubin'];
    case 'fatbin':
      return ['-gencode', `arch=${virtual},code=[${arch},${virtual}]`, '-fatbin'];
    case 'object':
      return ['-gencode', `arch=${virtual},code=[${arch},${virtual}]`, '-c'];
    default:
      throw new Error(`nvcc does not produce ${kind}`);
  }
}

const EXT: Partial<Record<ArtifactKind, string>> = { ptx: 'ptx', cubin: 'cubin', fatbin: 'fatbin', object: 'o' };

/** CUDA with NVIDIA's nvcc: PTX, cubin and fat binaries per sm_XX, and x86-64 host objects. */
export class NvccToolchain implements Toolchain {
  static readonly key = 'nvcc';
  readonly key = NvccToolchain.key;
  readonly languages = ['cuda'] as const;

  async probe(exec: SandboxExecutor, scratch: string): Promise<ToolchainProbe | null> {
    if (!existsSync(NVCC)) return null;
    const kernel = '__global__ void probe(float *y) { y[threadIdx.x] *= 2.0f; }\n';
    return withProbeDir(scratch, { 'probe.cu': kernel }, async (_dir, mounts) => {
      const v = await probeRun(exec, mounts, [NVCC, '--version']);
      const m = /release [\d.]+, V(\d+\.\d+\.\d+)/.exec(v.stdout);
      if (v.exitCode !== 0 || !m) throw new Error(`nvcc --version failed in the sandbox: ${firstLines(v)}`);
      const list = await probeRun(exec, mounts, [NVCC, '--list-gpu-arch']);
      const known = new Set([...list.stdout.matchAll(/compute_(\d+)/g)].map((x) => `sm_${x[1]}`));
      const arches = targetSpec(TARGET).gpu!.arches.filter((a) => known.has(a));
      // A cubin proves ptxas works; a host object proves the host compiler does.
      const cubin = await probeRun(exec, mounts, [NVCC, ...nvccOutputFlags('cubin', arches[0] ?? 'sm_80'), 'probe.cu', '-o', 'probe.cubin']);
      const host = cubin.exitCode === 0 ? await probeRun(exec, mounts, [NVCC, ...nvccOutputFlags('object', arches[0] ?? 'sm_80'), 'probe.cu', '-o', 'probe.o']) : cubin;
      const ok = host.exitCode === 0 && arches.length > 0;
      return {
        key: this.key,
        version: m[1],
        targets: [ok ? { target: TARGET, available: true, cpus: arches } : { target: TARGET, available: false, reason: `nvcc cannot build: ${firstLines(host) || 'it knows none of the catalog\'s architectures'}`, cpus: arches }],
      };
    });
  }

  async compile(req: CompileRequest, exec: SandboxExecutor): Promise<CompileResult> {
    const { source, target, outputs } = req;
    const arch = target.cpu!;
    const run = new ClangRun(req, exec, NVCC);
    const units = source.files.map((f) => f.path).filter((p) => isTranslationUnit('cuda', p));
    const common = [...(source.options.some((o) => o.startsWith('-std=')) ? [] : ['-std=c++17']), ...Object.entries(source.defines).map(([k, v]) => `-D${k}=${v}`), ...source.options];
    await mkdirOpen(req.workdir, 'out/gpu');
    const artifacts: ProducedArtifact[] = [];
    for (const unit of units) {
      const name = unit.replace(/\.cu$/, '').replace(/\//g, '__');
      for (const kind of outputs) {
        const ext = EXT[kind];
        if (!ext) continue;
        const file = `${name}.${ext}`;
        const r = await run.step([...common, ...nvccOutputFlags(kind, arch), unit, '-o', `../out/gpu/${file}`]);
        if (r.exitCode !== 0) return run.fail(r, `compiling ${unit} to ${kind}`);
        artifacts.push({ kind, name: file, hostPath: join(req.workdir, 'out/gpu', file), contentType: CONTENT_TYPES[kind] });
      }
    }
    if (!req.verify) return run.ok(artifacts);
    const bundle = await cudaBundle(run, req, exec, units, common, arch);
    if ('failed' in bundle) return bundle.failed;
    return run.ok(artifacts, bundle);
  }
}

/**
 * A CUDA build's verification bundle, run only by a worker with a GPU of the build's architecture.
 * A kernel: the job's sources linked with a generated launch harness (-rdc=true), seeded or
 * uploaded inputs, and the expected outputs, uploaded or from a reference source in C or C++
 * (a host function with the kernel's signature) built and run here without fast-math. A program:
 * the job's sources linked as they are, checked against program.expect.
 */
async function cudaBundle(run: ClangRun, req: CompileRequest, exec: SandboxExecutor, units: string[], common: string[], arch: string): Promise<CompiledBundle | { failed: CompileResult }> {
  const verify = req.verify!;
  const virtual = arch.replace(/^sm_/, 'compute_');
  const gencode = ['-gencode', `arch=${virtual},code=[${arch},${virtual}]`];
  await mkdirOpen(req.workdir, 'verify/ref');
  await mkdirOpen(req.workdir, 'harness');
  const stage = new BundleStage(req);
  const manifest = { version: 1 as const, target: req.spec.name, device: arch, program: 'program', timeoutMs: verify.timeoutMs ?? DEFAULT_VERIFY_TIMEOUT_MS };
  if (verify.kind === 'program') {
    const r = await run.step([...common, ...gencode, ...units, '-o', '../verify/program']);
    if (r.exitCode !== 0) return { failed: run.fail(r, 'linking the program to verify') };
    const full: BundleManifest = { ...manifest, kind: 'program', args: verify.args, stdin: verify.stdin, expect: verify.expect!, reference: 'the expected output given in the request' };
    stage.write(BUNDLE_FILES.manifest, JSON.stringify(full, null, 2));
  } else if (verify.kind === 'kernel') {
    writeBeneath(req.workdir, 'harness/kiln_harness.cu', generateCudaHarness(verify));
    const uploaded = await readUploadedTensors(req.workdir, verify);
    if (typeof uploaded === 'string') return { failed: run.failed(uploaded) };
    const inputs = generateInputs(verify, uploaded.inputs);
    stage.write(BUNDLE_FILES.inputs, inputs);
    const r = await run.step([...common, '-rdc=true', ...gencode, ...units, '../harness/kiln_harness.cu', '-o', '../verify/program']);
    if (r.exitCode !== 0) return { failed: run.fail(r, `linking the verification harness (is ${verify.entry} a __global__ function with the declared signature${verify.linkage === 'c' ? ' and extern "C"' : ''}?)`) };
    let reference: string;
    if (uploaded.expected) {
      stage.write(BUNDLE_FILES.expected, uploaded.expected);
      reference = 'the expected outputs uploaded by the client';
    } else {
      // The reference: the check's C or C++ host function, built for this host and run here.
      const ref = verify.reference!;
      const language = ref.language ?? 'c++';
      const cxx = language === 'c++';
      const host = hostTarget();
      const refRun = new ClangRun(req, exec, cxx ? CLANGXX : CLANG);
      const harness = cxx ? 'kiln_ref_harness.cpp' : 'kiln_ref_harness.c';
      writeBeneath(req.workdir, `harness/${harness}`, generateHarness(verify, language, language));
      const hostCommon = [`--target=${host.clangTriple}`, ...baseFlags(cxx, host), ...referenceOptions(ref.options)];
      const what = `the reference source (${ref.files.map((f) => f.path).join(', ')})`;
      const failed = await buildReference(refRun, referenceParts(language, ref), hostCommon, [`../harness/${harness}`], what);
      if (failed) return { failed };
      const out = await refRun.runReference({ program: 'verify/ref/program', inputs, args: [`/in/${BUNDLE_FILES.inputs}`, BUNDLE_FILES.expected], stdin: '', timeoutMs: verify.timeoutMs, output: { name: BUNDLE_FILES.expected, bytes: outputBytes(verify) } });
      if (typeof out.output === 'string') return { failed: refRun.failed(`the reference run on ${host.name}: ${out.output}`) };
      if (out.result.exitCode !== 0) return { failed: refRun.failRun(out.result, `the reference run on ${host.name}`, verify.timeoutMs) };
      stage.write(BUNDLE_FILES.expected, out.output!);
      reference = `${what} built for ${host.name} (clang 19, ${referenceOptions(ref.options).join(' ')})`;
    }
    const full: BundleManifest = {
      ...manifest,
      kind: 'kernel',
      entry: verify.entry,
      outputs: outputArgs(verify).map((a) => ({ name: a.name, dtype: a.dtype, count: elementCount(a) })),
      tolerance: verify.tolerance,
      seed: verify.seed,
      reference,
    };
    stage.write(BUNDLE_FILES.manifest, JSON.stringify(full, null, 2));
  } else {
    throw new Error('a model is verified by the model toolchain');
  }
  const taken = await stage.takeProgram('verify/program', 'program');
  if (taken) return { failed: run.failed(taken) };
  return stage.bundle();
}
