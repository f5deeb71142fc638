import { readProduced, writeBeneath } from '../sandbox/files';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { DEFAULT_MAX_NODES, ModelClaimError, prescanOnnx } from '../../src/models/onnx-prescan';
import { compileModel, COMPILER_VERSION, ModelMetadata, modelJobProblem } from '../../compiler/src/compile';
import { modelHarness } from '../../compiler/src/harness';
import { profileHarness } from '../../compiler/src/profile';
import { halfBits } from '../../compiler/src/half';
import { arrayView, CompileError, IODType, IO_BYTES, numel } from '../../compiler/src/ir';
import type { Packed } from '../../compiler/src/packed';
import { HALF_TOLERANCE, Tolerance } from '../../src/verification/compare';
import { BUNDLE_FILES, BundleManifest, ProfileManifest } from '../../src/verification/bundle';
import { writeElement, type DType as VerifyDType } from '../../src/verification/dtype';
import { prng } from '../../src/verification/inputs';
import { modelVerifyTimeoutMs, scaledTolerance, type ModelVerifySpec, type RunnerSpeed } from '../../src/verification/spec';
import type { TargetSpec } from '../../src/targets/catalog';
import type { SandboxExecutor } from '../sandbox/executor';
import { baseFlags, BundleStage, CLANG, ClangRun, CONTENT_TYPES, hostTarget, LLVM_AR, LLVM_SIZE, mkdirOpen, targetFlags } from './clang';
import { compileCudaModelBuild } from './onnx-cuda';
import type { CompileRequest, CompileResult, ProducedArtifact } from './toolchain';

export const MODEL_FILE = 'model/model.onnx';
const ORT_VERSION = (require('onnxruntime-node/package.json') as { version: string }).version;

/** What model jobs take at the edges (modelJobProblem refuses the rest). */
type NumericDType = Exclude<IODType, 'string' | 'bfloat16' | Packed>;
const VERIFY_DTYPE: Record<NumericDType, VerifyDType> = {
  float16: 'float16',
  float32: 'float32',
  float64: 'float64',
  int64: 'int64',
  uint64: 'uint64',
  int32: 'int32',
  uint32: 'uint32',
  int16: 'int16',
  uint16: 'uint16',
  bool: 'uint8',
  uint8: 'uint8',
  int8: 'int8',
};
const ORT_TYPE: Record<NumericDType, ort.Tensor.Type> = {
  float16: 'float16',
  float32: 'float32',
  float64: 'float64',
  int64: 'int64',
  uint64: 'uint64',
  int32: 'int32',
  uint32: 'uint32',
  int16: 'int16',
  uint16: 'uint16',
  bool: 'bool',
  uint8: 'uint8',
  int8: 'int8',
};

/** A half-precision output is compared at no less than its format's precision allows. */
function outputTolerance(dtype: IODType, given: Tolerance): Tolerance | undefined {
  if (dtype !== 'float16' && dtype !== 'bfloat16') return undefined;
  const least = HALF_TOLERANCE[dtype];
  return { rtol: Math.max(given.rtol, least.rtol), atol: Math.max(given.atol, least.atol), maxUlp: given.maxUlp };
}

/** Time allowed for a model build's clang steps: the configured compile timeout, plus 2 s per MiB of model, at most 30 minutes. */
export function modelCompileTimeoutMs(configured: number, modelBytes: number): number {
  return Math.min(Math.max(configured, 30 * 60_000), configured + Math.ceil((modelBytes / 2 ** 20) * 2000));
}

/** The largest file a model build's clang steps may write: 256 MiB, plus twice the weights and the intermediate buffers, at most 16 GiB. */
export function modelFileBytes(meta: Pick<ModelMetadata, 'weightsBytes' | 'activationBytes'>): number {
  return Math.min(16 * 1024 ** 3, 256 * 1024 ** 2 + 2 * (meta.weightsBytes + (meta.activationBytes ?? 0)));
}

/** Seeded inputs for a model: floats in [-1, 1], integers in [0, 10), one stream per input. */
export function modelInputs(meta: ModelMetadata, seed: number): Buffer[] {
  return meta.inputs.map((t, index) => {
    const rand = prng((seed + Math.imul(index + 1, 0x9e3779b1)) >>> 0);
    const n = numel(t.shape);
    const buf = Buffer.alloc(n * IO_BYTES[t.dtype]);
    for (let i = 0; i < n; i++) {
      const u = rand();
      if (t.dtype === 'float16' || t.dtype === 'bfloat16') buf.writeUInt16LE(halfBits(t.dtype, u * 2 - 1), i * 2);
      else if (t.dtype === 'float32') buf.writeFloatLE(u * 2 - 1, i * 4);
      else if (t.dtype === 'float64') buf.writeDoubleLE(u * 2 - 1, i * 8);
      else if (t.dtype === 'bool') buf.writeUInt8(u < 0.5 ? 0 : 1, i);
      else writeElement(buf, VERIFY_DTYPE[t.dtype as NumericDType], i, Math.floor(u * 10));
    }
    return buf;
  });
}

/** The reference: ONNX Runtime (CPU) on the same inputs, outputs concatenated in order. */
export async function referenceOutputs(model: Uint8Array, meta: ModelMetadata, inputs: Buffer[]): Promise<Buffer> {
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  try {
    const feeds: Record<string, ort.Tensor> = {};
    meta.inputs.forEach((t, i) => {
      const b = inputs[i];
      // A float16 tensor is its 16-bit patterns; bool is one byte per element.
      const copy = b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
      const data = t.dtype === 'float16' ? new Uint16Array(copy) : arrayView(t.dtype as Exclude<NumericDType, 'float16'>, copy);
      feeds[t.name] = new ort.Tensor(ORT_TYPE[t.dtype as NumericDType], data as never, t.shape);
    });
    const out = await session.run(feeds);
    return Buffer.concat(
      meta.outputs.map((t) => {
        const d = out[t.name].data as ArrayBufferView;
        return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      }),
    );
  } finally {
    await session.release();
  }
}

/**
 * A model build: ONNX to C with Kiln's compiler, then clang for the target. With verification,
 * also a bundle: the model harness linked with the model's object, seeded inputs, and what
 * ONNX Runtime computes on them.
 */
export async function compileModelBuild(req: CompileRequest, exec: SandboxExecutor): Promise<CompileResult> {
  const bytes = await readProduced(req.workdir, MODEL_FILE, Number.MAX_SAFE_INTEGER);
  // A larger model's build may take longer (its weights are embedded in the C, and its kernels are many).
  req = { ...req, timeoutMs: modelCompileTimeoutMs(req.timeoutMs, bytes.length) };
  let run = new ClangRun(req, exec, CLANG);
  // The API checked the upload's claims before it took the job; checked again here, so that a
  // model that reached storage some other way cannot make the worker decode millions of dims.
  try {
    prescanOnnx(bytes, { maxNodes: req.modelMaxNodes ?? DEFAULT_MAX_NODES });
  } catch (e) {
    if (e instanceof ModelClaimError) return run.failed(`the model was refused: ${e.message}`);
    throw e;
  }
  if (req.spec.family === 'nvptx') return compileCudaModelBuild(req, bytes, exec);
  let compiled;
  try {
    compiled = compileModel(bytes, { name: 'model', inputShapes: req.model!.inputShapes, threads: req.model!.threads ?? 1 });
  } catch (e) {
    if (e instanceof CompileError) return run.failed(`compiling the model failed: ${e.message}`);
    throw e;
  }
  const why = modelJobProblem(compiled.metadata);
  if (why) return run.failed(why);
  // Object files hold the weights, and on WebAssembly also every zero-initialised buffer (a data segment each):
  // Whisper-tiny's encoder, 32 MB of weights, gives a 640 MB wasm32 object.
  run = new ClangRun(req, exec, CLANG, { limits: { fileBytes: modelFileBytes(compiled.metadata) } });
  for (const [name, content] of Object.entries(compiled.files)) writeBeneath(req.workdir, `src/${name}`, content);
  const { spec, target, outputs } = req;
  const common = [...targetFlags(target, spec), ...baseFlags(false, spec), '-std=c23', '-O2', ...(outputs.includes('shared') ? ['-fPIC'] : [])];
  const artifacts: ProducedArtifact[] = [
    { kind: 'header', name: 'model.h', hostPath: join(req.workdir, 'src/model.h'), contentType: CONTENT_TYPES.header },
    { kind: 'c-source', name: 'model.c', hostPath: join(req.workdir, 'src/model.c'), contentType: CONTENT_TYPES['c-source'] },
    { kind: 'weights', name: 'model.weights.bin', hostPath: join(req.workdir, 'src/model.weights.bin'), contentType: 'application/octet-stream' },
    { kind: 'metadata', name: 'model.json', hostPath: join(req.workdir, 'src/model.json'), contentType: CONTENT_TYPES.metadata },
  ];
  await mkdirOpen(req.workdir, 'out/obj');
  let r = await run.step([...common, '-c', 'model.c', '-o', '../out/obj/model.o']);
  if (r.exitCode !== 0) return run.fail(r, 'compiling the generated C');
  if (outputs.includes('object')) artifacts.push({ kind: 'object', name: 'model.o', hostPath: join(req.workdir, 'out/obj/model.o'), contentType: CONTENT_TYPES.object });
  for (const [kind, flag, ext, dir] of [['assembly', [], 's', 'asm'], ['llvm-ir', ['-emit-llvm'], 'll', 'ir']] as const) {
    if (!outputs.includes(kind)) continue;
    await mkdirOpen(req.workdir, join('out', dir));
    r = await run.step([...common, '-S', ...flag, 'model.c', '-o', `../out/${dir}/model.${ext}`]);
    if (r.exitCode !== 0) return run.fail(r, 'compiling the generated C');
    artifacts.push({ kind, name: `model.${ext}`, hostPath: join(req.workdir, 'out', dir, `model.${ext}`), contentType: CONTENT_TYPES[kind] });
  }
  if (outputs.includes('static')) {
    await mkdirOpen(req.workdir, 'out/lib');
    r = await run.step(['rcsD', '../out/lib/libmodel.a', '../out/obj/model.o'], LLVM_AR);
    if (r.exitCode !== 0) return run.fail(r, 'archiving the static library');
    artifacts.push({ kind: 'static', name: 'libmodel.a', hostPath: join(req.workdir, 'out/lib/libmodel.a'), contentType: CONTENT_TYPES.static });
  }
  if (outputs.includes('shared')) {
    await mkdirOpen(req.workdir, 'out/lib');
    r = await run.step([...common, '-fuse-ld=lld', '-shared', '../out/obj/model.o', '-o', '../out/lib/libmodel.so', '-lm']);
    if (r.exitCode !== 0) return run.fail(r, 'linking the shared library');
    artifacts.push({ kind: 'shared', name: 'libmodel.so', hostPath: join(req.workdir, 'out/lib/libmodel.so'), contentType: CONTENT_TYPES.shared });
  }
  if (!req.verify) return run.ok(artifacts);

  const verify = req.verify as ModelVerifySpec;
  const meta = compiled.metadata;
  await mkdirOpen(req.workdir, 'verify');
  writeBeneath(req.workdir, 'src/kiln_harness.c', modelHarness(meta));
  const wasm = spec.family === 'wasm';
  const program = wasm ? 'program.wasm' : 'program';
  r = await run.step([...common, '-fuse-ld=lld', ...(wasm ? [] : ['-static']), 'kiln_harness.c', '../out/obj/model.o', '-o', `../verify/${program}`, '-lm']);
  if (r.exitCode !== 0) return run.fail(r, 'linking the verification harness');
  let profile: ProfileManifest | undefined;
  if (verify.profile) {
    // The same C built again with each kernel timed, linked with the profiling program.
    const speed = runnerSpeed(spec);
    const runs = verify.profile.runs ?? (speed === 'native' ? 20 : 3);
    const warmup = speed === 'native' ? 3 : 1;
    writeBeneath(req.workdir, 'src/kiln_profile.c', profileHarness(meta, runs, warmup));
    r = await run.step([...common, '-DKILN_PROFILE', '-c', 'model.c', '-o', '../out/obj/model-profile.o']);
    if (r.exitCode !== 0) return run.fail(r, 'compiling the generated C for the profile');
    const profileProgram = wasm ? 'profile.wasm' : 'profile';
    r = await run.step([...common, '-fuse-ld=lld', ...(wasm ? [] : ['-static']), 'kiln_profile.c', '../out/obj/model-profile.o', '-o', `../verify/${profileProgram}`, '-lm']);
    if (r.exitCode !== 0) return run.fail(r, 'linking the profiling program');
    r = await run.step(['-A', '../out/obj/model.o'], LLVM_SIZE);
    const once = verify.timeoutMs ?? modelVerifyTimeoutMs(meta.flops ?? 0, speed);
    profile = {
      program: profileProgram,
      timeoutMs: Math.min(MAX_PROFILE_TIMEOUT_MS, once * (runs + warmup)),
      clock: speed === 'native' ? 'native' : speed === 'wasm' ? 'wasm' : 'emulated',
      runs,
      warmup,
      kernels: meta.kernels ?? [],
      flops: meta.flops ?? 0,
      weightsBytes: meta.weightsBytes,
      activationBytes: meta.activationBytes ?? 0,
      codeBytes: r.exitCode === 0 ? codeBytes(r.stdout) : 0,
    };
  }
  return finishModelBundle(run, req, artifacts, bytes, meta, verify, program, undefined, profile);
}

/** A profile may run for an hour at most (a large model's runs under an emulator). */
const MAX_PROFILE_TIMEOUT_MS = 60 * 60_000;

/** The code in an object, from `llvm-size -A`: its .text sections (ELF) or its CODE section (WebAssembly). */
export function codeBytes(sizeOutput: string): number {
  let total = 0;
  for (const line of sizeOutput.split('\n')) {
    const m = /^(\.text\S*|CODE)\s+(\d+)\s/.exec(line);
    if (m) total += Number(m[2]);
  }
  return total;
}

/** How a build for this target is run to verify it: natively on a host of its architecture, in Node's WASI, or under qemu. */
function runnerSpeed(spec: TargetSpec): RunnerSpeed {
  if (spec.family === 'wasm') return 'wasm';
  if (spec.family === hostTarget().family) return 'native';
  const arch = spec.name.split('-')[0];
  return arch === 'aarch64' ? 'qemu-aarch64' : arch === 'riscv64' ? 'qemu-riscv64' : arch === 'x86_64' ? 'qemu-x86_64' : 'qemu-arm';
}

/**
 * Completes a model build's verification bundle once its program is linked into verify/: seeded
 * inputs, ONNX Runtime's outputs on them, and the manifest. Shared by the CPU and GPU builds.
 */
export async function finishModelBundle(run: ClangRun, req: CompileRequest, artifacts: ProducedArtifact[], bytes: Uint8Array, meta: ModelMetadata, verify: ModelVerifySpec, program: string, device?: string, profile?: ProfileManifest): Promise<CompileResult> {
  const inputs = modelInputs(meta, verify.seed);
  const stage = new BundleStage(req);
  stage.write(BUNDLE_FILES.inputs, Buffer.concat(inputs));
  let expected: Buffer;
  try {
    expected = await referenceOutputs(bytes, meta, inputs);
  } catch (e) {
    return run.failed(`ONNX Runtime could not run the model for the reference: ${(e as Error).message.split('\n')[0]}`);
  }
  stage.write(BUNDLE_FILES.expected, expected);
  const manifest: BundleManifest = {
    version: 1,
    kind: 'kernel',
    check: 'model',
    target: req.spec.name,
    ...(device ? { device } : {}),
    program,
    timeoutMs: verify.timeoutMs ?? modelVerifyTimeoutMs(meta.flops ?? 0, device ? 'native' : runnerSpeed(req.spec)),
    entry: meta.entry,
    outputs: meta.outputs.map((t, i) => {
      const half = outputTolerance(t.dtype, verify.tolerance);
      const at = meta.outputs.slice(0, i).reduce((o, u) => o + IO_BYTES[u.dtype] * numel(u.shape), 0);
      const bytesOf = (size: number) => expected.buffer.slice(expected.byteOffset + at, expected.byteOffset + at + size * numel(t.shape));
      const ref = t.dtype === 'float32' ? new Float32Array(bytesOf(4)) : t.dtype === 'float64' ? new Float64Array(bytesOf(8)) : undefined;
      const tolerance = ref ? scaledTolerance(verify.tolerance, verify.atolScale, ref) : half;
      return { name: t.name, dtype: VERIFY_DTYPE[t.dtype as NumericDType], count: numel(t.shape), ...(tolerance && tolerance !== verify.tolerance ? { tolerance } : {}) };
    }),
    tolerance: verify.tolerance,
    seed: verify.seed,
    reference: `onnxruntime-node ${ORT_VERSION} (CPU) on the same inputs`,
    ...(profile ? { profile } : {}),
  };
  stage.write(BUNDLE_FILES.manifest, JSON.stringify(manifest, null, 2));
  const taken = (await stage.takeProgram(`verify/${program}`, program)) ?? (profile ? await stage.takeProgram(`verify/${profile.program}`, profile.program) : null);
  if (taken) return run.failed(taken);
  return run.ok(artifacts, stage.bundle());
}

export { MODEL_TOOLCHAIN_KEY } from '../../src/jobs/build-cache';
export { COMPILER_VERSION };
