import { writeBeneath } from '../sandbox/files';
import { join } from 'node:path';
import { compileModelCuda } from '../../compiler/src/cuda/generate';
import { modelHarness } from '../../compiler/src/harness';
import { CompileError } from '../../compiler/src/ir';
import type { ArtifactKind } from '../../src/database/entities/job.entity';
import type { ModelVerifySpec } from '../../src/verification/spec';
import type { SandboxExecutor } from '../sandbox/executor';
import { ClangRun, CONTENT_TYPES, LLVM_AR, mkdirOpen } from './clang';
import { CUDA_HOME, nvccOutputFlags } from './nvcc';
import { finishModelBundle } from './onnx';
import type { CompileRequest, CompileResult, ProducedArtifact } from './toolchain';

const NVCC = join(CUDA_HOME, 'bin/nvcc');

/**
 * A model build for an NVIDIA GPU: ONNX to CUDA C++ with Kiln's generator, then nvcc for the
 * target's sm_XX. With verification, also a bundle: the model harness linked with the model's
 * host code (an x86-64 program that runs the kernels on the GPU), seeded inputs, and what ONNX
 * Runtime computes on them on the CPU. Only a runner with a GPU of that architecture runs it.
 */
export async function compileCudaModelBuild(req: CompileRequest, bytes: Uint8Array, exec: SandboxExecutor): Promise<CompileResult> {
  const run = new ClangRun(req, exec, NVCC);
  const arch = req.target.cpu;
  if (!arch) return run.failed('an NVIDIA GPU build needs its architecture (cpu: sm_XX)');
  let compiled;
  try {
    compiled = compileModelCuda(bytes, { name: 'model', inputShapes: req.model!.inputShapes });
  } catch (e) {
    if (e instanceof CompileError) return run.failed(`compiling the model for CUDA failed: ${e.message}`);
    throw e;
  }
  for (const [name, content] of Object.entries(compiled.files)) writeBeneath(req.workdir, `src/${name}`, content);
  const virtual = arch.replace(/^sm_/, 'compute_');
  const host = ['-std=c++17', '-O3', '-gencode', `arch=${virtual},code=[${arch},${virtual}]`, '-Xcompiler', '-fPIC'];
  const artifacts: ProducedArtifact[] = [
    { kind: 'header', name: 'model.h', hostPath: join(req.workdir, 'src/model.h'), contentType: CONTENT_TYPES.header },
    { kind: 'c-source', name: 'model.cu', hostPath: join(req.workdir, 'src/model.cu'), contentType: CONTENT_TYPES['c-source'] },
    { kind: 'weights', name: 'model.weights.bin', hostPath: join(req.workdir, 'src/model.weights.bin'), contentType: 'application/octet-stream' },
    { kind: 'metadata', name: 'model.json', hostPath: join(req.workdir, 'src/model.json'), contentType: CONTENT_TYPES.metadata },
  ];
  const { outputs } = req;
  await mkdirOpen(req.workdir, 'out/gpu');
  for (const kind of ['ptx', 'cubin', 'fatbin'] as const satisfies readonly ArtifactKind[]) {
    if (!outputs.includes(kind)) continue;
    const r = await run.step(['-std=c++17', '-O3', ...nvccOutputFlags(kind, arch), 'model.cu', '-o', `../out/gpu/model.${kind}`]);
    if (r.exitCode !== 0) return run.fail(r, `compiling the generated CUDA to ${kind}`);
    artifacts.push({ kind, name: `model.${kind}`, hostPath: join(req.workdir, 'out/gpu', `model.${kind}`), contentType: CONTENT_TYPES[kind] });
  }
  const needsObject = outputs.includes('object') || outputs.includes('static');
  if (needsObject) {
    await mkdirOpen(req.workdir, 'out/obj');
    const r = await run.step([...host, '-c', 'model.cu', '-o', '../out/obj/model.o']);
    if (r.exitCode !== 0) return run.fail(r, 'compiling the generated CUDA host code');
    if (outputs.includes('object')) artifacts.push({ kind: 'object', name: 'model.o', hostPath: join(req.workdir, 'out/obj/model.o'), contentType: CONTENT_TYPES.object });
  }
  if (outputs.includes('static')) {
    await mkdirOpen(req.workdir, 'out/lib');
    const r = await run.step(['rcsD', '../out/lib/libmodel.a', '../out/obj/model.o'], LLVM_AR);
    if (r.exitCode !== 0) return run.fail(r, 'archiving the static library');
    artifacts.push({ kind: 'static', name: 'libmodel.a', hostPath: join(req.workdir, 'out/lib/libmodel.a'), contentType: CONTENT_TYPES.static });
  }
  if (outputs.includes('shared')) {
    await mkdirOpen(req.workdir, 'out/lib');
    const r = await run.step([...host, '-shared', '--cudart', 'static', 'model.cu', '-o', '../out/lib/libmodel.so']);
    if (r.exitCode !== 0) return run.fail(r, 'linking the shared library');
    artifacts.push({ kind: 'shared', name: 'libmodel.so', hostPath: join(req.workdir, 'out/lib/libmodel.so'), contentType: CONTENT_TYPES.shared });
  }
  if (!req.verify) return run.ok(artifacts);

  const verify = req.verify as ModelVerifySpec;
  const meta = compiled.metadata;
  await mkdirOpen(req.workdir, 'verify');
  writeBeneath(req.workdir, 'src/kiln_harness.c', modelHarness(meta));
  const r = await run.step([...host, '--cudart', 'static', 'model.cu', 'kiln_harness.c', '-o', '../verify/program']);
  if (r.exitCode !== 0) return run.fail(r, 'linking the verification harness');
  return finishModelBundle(run, req, artifacts, bytes, meta, verify, 'program', arch);
}
