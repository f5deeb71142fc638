import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { compileModelCuda } from '../compiler/src/cuda/generate';
import { modelHarness } from '../compiler/src/harness';
import { hgemmBench, hgemmModel, nvccBenchArgs, nvccModelArgs, PROBE, sgemmBench, sgemmModel } from '../compiler/src/cuda/check';
import { f16Bits } from '../compiler/src/half';
import { IO_BYTES } from '../compiler/src/ir';
import { toHalfModel } from '../compiler/test/builder';
import { TEST_MODELS } from '../compiler/test/models';
import { compareOutput, HALF_TOLERANCE } from '../src/verification/compare';
import { prng } from '../src/verification/inputs';
import { BUNDLE_FILES, BundleManifest } from '../src/verification/bundle';
import { generateInputs } from '../src/verification/inputs';
import { KernelVerifySpec, MODEL_TOLERANCE, normalizeVerify } from '../src/verification/spec';
import { SandboxExecutor } from '../workers/sandbox/executor';
import { verifyBundle } from '../workers/verify/cli';
import { generateCudaHarness } from '../workers/verify/cuda-harness';
import { generateHarness } from '../workers/verify/harness';

/**
 * On a machine with an NVIDIA GPU and the CUDA toolkit: builds the test models with the CUDA
 * generator for this GPU's sm_XX, runs them on the GPU on seeded inputs, compares the outputs with
 * onnxruntime-node's (CPU) within the model tolerance (and the same models in float16, whose
 * GEMMs run on tensor cores, against ONNX Runtime's float16 outputs at float16's precision),
 * verifies a CUDA kernel's bundle with the GPU runner (as kiln-verify and a verify-cuda worker do),
 * then times the generated SGEMM at 4096x4096x4096 next to cuBLAS's cublasSgemm on the same device
 * buffers, and the float16 tensor-core GEMM next to cublasGemmEx, and prints TFLOP/s.
 *   npm run gpu:check            (KILN_CUDA_HOME: the toolkit, default /usr/local/cuda)
 * Exits 1 when a model does not match, 2 when there is no GPU or no toolkit.
 */
const CUDA_HOME = process.env.KILN_CUDA_HOME ?? '/usr/local/cuda';
const NVCC = join(CUDA_HOME, 'bin/nvcc');
const SIZE = Number(process.env.KILN_GEMM_SIZE ?? 4096);

function refuse(message: string): never {
  process.stderr.write(`gpu-check: ${message}\n`);
  process.exit(2);
}

/**
 * The GPU runner's check: a SAXPY kernel's verification bundle in `kd`, built as a worker builds
 * one (the generated launch harness linked with the kernel by nvcc -rdc=true for `arch`, seeded
 * inputs, the expected outputs of a C reference run on this host with cc).
 */
export async function buildKernelBundle(kd: string, arch: string, nvcc: string): Promise<void> {
  await mkdir(kd, { recursive: true });
  const n = 1 << 20;
  const spec = normalizeVerify(
    {
      entry: 'saxpy',
      args: [{ name: 'n', type: 'int32', value: n }, { name: 'a', type: 'float32', value: 2.5 }, { name: 'x', type: 'float32*', shape: [n], dir: 'in' }, { name: 'y', type: 'float32*', shape: [n], dir: 'inout' }],
      launch: { grid: [n / 256], block: [256] },
      reference: { language: 'c', files: [{ path: 'ref.c', content: 'x' }] },
    },
    [],
    'cuda',
  ) as KernelVerifySpec;
  await writeFile(join(kd, 'saxpy.cu'), '__global__ void saxpy(int n, float a, const float *x, float *y) {\n  int i = blockIdx.x * blockDim.x + threadIdx.x;\n  if (i < n) y[i] = a * x[i] + y[i];\n}\n');
  await writeFile(join(kd, 'harness.cu'), generateCudaHarness(spec));
  await writeFile(join(kd, 'ref.c'), 'void saxpy(int n, float a, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }\n');
  await writeFile(join(kd, 'ref-harness.c'), generateHarness(spec, 'c', 'c'));
  await writeFile(join(kd, BUNDLE_FILES.inputs), generateInputs(spec));
  const virtual = arch.replace('sm_', 'compute_');
  execFileSync(nvcc, ['-std=c++17', '-O3', '-rdc=true', '-gencode', `arch=${virtual},code=[${arch},${virtual}]`, 'saxpy.cu', 'harness.cu', '-o', 'program'], { cwd: kd });
  execFileSync('cc', ['-O2', '-ffp-contract=off', 'ref.c', 'ref-harness.c', '-o', 'ref'], { cwd: kd });
  execFileSync(join(kd, 'ref'), [BUNDLE_FILES.inputs, BUNDLE_FILES.expected], { cwd: kd });
  const manifest: BundleManifest = {
    version: 1,
    kind: 'kernel',
    target: 'nvptx64-nvidia-cuda',
    device: arch,
    program: 'program',
    timeoutMs: 60_000,
    entry: 'saxpy',
    outputs: [{ name: 'y', dtype: 'float32', count: n }],
    tolerance: spec.tolerance,
    seed: spec.seed,
    reference: 'ref.c built with cc on this host',
  };
  await writeFile(join(kd, BUNDLE_FILES.manifest), JSON.stringify(manifest, null, 2));
}

async function main(): Promise<void> {
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  if (smi.error) refuse('no NVIDIA GPU: nvidia-smi not found');
  if (smi.status !== 0 || !/GPU \d+:/.test(smi.stdout)) refuse(`no NVIDIA GPU: nvidia-smi lists no GPU (${(smi.stderr || smi.stdout).trim().split('\n')[0]})`);
  if (!existsSync(NVCC)) refuse(`no CUDA toolkit: ${NVCC} not found (set KILN_CUDA_HOME)`);
  if (!existsSync(join(CUDA_HOME, 'include/cublas_v2.h'))) refuse(`no cuBLAS: ${join(CUDA_HOME, 'include/cublas_v2.h')} not found (the SGEMM is timed against cublasSgemm)`);
  const dir = await mkdtemp(join(tmpdir(), 'kiln-gpu-check-'));
  let failed = 0;
  try {
    await writeFile(join(dir, 'probe.cu'), PROBE);
    execFileSync(NVCC, ['probe.cu', '-o', 'probe'], { cwd: dir });
    const probe = execFileSync(join(dir, 'probe'), { cwd: dir, encoding: 'utf8' });
    const count = /count (\d+) (.*)/.exec(probe);
    if (!count || count[1] === '0') refuse(`no NVIDIA GPU: cudaGetDeviceCount = 0 (${count?.[2] ?? probe.trim()})`);
    const [, arch, device] = /(sm_\d+) (.*)/.exec(probe)!;
    console.log(`${device}: ${arch}; ${smi.stdout.trim().split('\n')[0]}`);

    for (const [m, half] of TEST_MODELS.flatMap((x) => [[x, false], [x, true]] as const)) {
      const bytes = half ? toHalfModel(m.build()) : m.build();
      const label = `${m.name}${half ? ' (float16)' : ''}`;
      const model = compileModelCuda(bytes, { name: 'net', inputShapes: m.inputShapes });
      const md = join(dir, `${m.name}${half ? '-f16' : ''}`);
      execFileSync('mkdir', ['-p', md]);
      for (const [f, c] of Object.entries(model.files)) await writeFile(join(md, f), c);
      await writeFile(join(md, 'harness.c'), modelHarness(model.metadata));
      execFileSync(NVCC, nvccModelArgs(arch), { cwd: md });
      const rand = prng(1);
      const count = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
      const inputs = model.metadata.inputs.map((t) => (half ? Uint16Array.from({ length: count(t.shape) }, () => f16Bits(rand() * 2 - 1)) : Float32Array.from({ length: count(t.shape) }, () => rand() * 2 - 1)));
      await writeFile(join(md, 'inputs.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer))));
      const run = spawnSync(join(md, 'run'), ['inputs.bin', 'outputs.bin'], { cwd: md, encoding: 'utf8', timeout: 120_000 });
      if (run.status !== 0) {
        console.log(`FAIL ${label}: the GPU build exited ${run.status} ${run.stderr}`);
        failed++;
        continue;
      }
      const session = await ort.InferenceSession.create(bytes);
      const feeds = Object.fromEntries(model.metadata.inputs.map((t, i) => [t.name, new ort.Tensor(half ? 'float16' : 'float32', inputs[i], t.shape)]));
      const expected = await session.run(feeds);
      const out = await readFile(join(md, 'outputs.bin'));
      const tolerance = half ? HALF_TOLERANCE.float16 : MODEL_TOLERANCE;
      let o = 0;
      for (const t of model.metadata.outputs) {
        const n = count(t.shape) * IO_BYTES[t.dtype];
        const e = expected[t.name].data as Float32Array | Uint16Array;
        const r = compareOutput(t.name, half ? 'float16' : 'float32', Buffer.from(e.buffer, e.byteOffset, e.byteLength), out.subarray(o, o + n), tolerance);
        o += n;
        const cores = model.launches.some((l) => l.kernel === 'tensor-core-gemm') ? ', tensor-core GEMMs' : '';
        console.log(`${r.passed ? 'PASS' : 'FAIL'} ${label}/${t.name}: max abs error ${r.maxAbsError.toExponential(2)}, ${r.mismatches} mismatches (rtol ${tolerance.rtol}, atol ${tolerance.atol}${cores})`);
        if (!r.passed) failed++;
      }
    }

    // The GPU runner: a CUDA kernel's verification bundle, as a worker builds it (the generated
    // launch harness linked with -rdc=true, a C reference run on the host), verified by the same
    // code as `kiln-verify` and a verify-cuda worker, in the sandbox when bubblewrap is here.
    const kd = join(dir, 'kernel-bundle');
    await buildKernelBundle(kd, arch, NVCC);
    const sandbox = SandboxExecutor.available('bwrap') ? 'none' : 'bwrap';
    const report = await verifyBundle(kd, { sandbox });
    console.log(`${report.status === 'passed' ? 'PASS' : 'FAIL'} GPU runner (${report.runner}, sandbox ${sandbox}), saxpy for ${arch}: ${report.summary}`);
    if (report.status !== 'passed') failed++;

    // The GEMMs: a MatMul of two inputs, generated like any model, timed on device buffers; in
    // float32 (the SGEMM) and in float16 (tensor cores).
    for (const [label, model, source] of [['sgemm', sgemmModel(SIZE), sgemmBench(SIZE)], ['hgemm', hgemmModel(SIZE), hgemmBench(SIZE)]] as const) {
      const gemm = compileModelCuda(model, { name: 'net' });
      const gd = join(dir, label);
      execFileSync('mkdir', ['-p', gd]);
      for (const [f, c] of Object.entries(gemm.files)) await writeFile(join(gd, f), c);
      await writeFile(join(gd, 'bench.cu'), source);
      execFileSync(NVCC, nvccBenchArgs(arch), { cwd: gd });
      const bench = spawnSync(join(gd, 'bench'), { cwd: gd, encoding: 'utf8', timeout: 300_000 });
      process.stdout.write(bench.stdout);
      if (bench.status !== 0) {
        console.log(`FAIL ${label}: exited ${bench.status} ${bench.stderr}`);
        failed++;
      } else if (label === 'sgemm') {
        const ratio = Number(/ratio ([\d.]+)%/.exec(bench.stdout)?.[1]);
        console.log(`goal (at least 50% of cuBLAS SGEMM at 4096^3): ${SIZE === 4096 && ratio >= 50 ? 'met' : 'not met'}`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (failed) {
    console.log(`${failed} check(s) failed`);
    process.exit(1);
  }
}

if (require.main === module) {
  main().catch((e) => {
    process.stderr.write(`gpu-check: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
