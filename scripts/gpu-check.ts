import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { compileModelCuda } from '../compiler/src/cuda/generate';
import { modelHarness } from '../compiler/src/harness';
import { ModelBuilder } from '../compiler/test/builder';
import { TEST_MODELS } from '../compiler/test/models';
import { compareOutput } from '../src/verification/compare';
import { prng } from '../src/verification/inputs';
import { MODEL_TOLERANCE } from '../src/verification/spec';

/**
 * On a machine with an NVIDIA GPU and the CUDA toolkit: builds the test models with the CUDA
 * generator for this GPU's sm_XX, runs them on the GPU on seeded inputs, compares the outputs with
 * onnxruntime-node's (CPU) within the model tolerance, then times the generated SGEMM at
 * 4096x4096x4096 next to cuBLAS's cublasSgemm on the same device buffers and prints TFLOP/s.
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

const PROBE = `#include <cstdio>
#include <cuda_runtime.h>
int main() {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) n = 0;
  printf("count %d %s\\n", n, e == cudaSuccess ? "ok" : cudaGetErrorString(e));
  if (n == 0) return 0;
  cudaDeviceProp p;
  cudaGetDeviceProperties(&p, 0);
  printf("sm_%d%d %s\\n", p.major, p.minor, p.name);
  return 0;
}
`;

const BENCH = (n: number) => `#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cuda_runtime.h>
#include <cublas_v2.h>
#include "net.h"
#define CHECK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { fprintf(stderr, "%s: %s\\n", #x, cudaGetErrorString(e_)); return 1; } } while (0)
int main() {
  const long n = ${n};
  const size_t bytes = sizeof(float) * n * n;
  float *h = (float *)malloc(bytes);
  unsigned s = 12345u;
  float *a, *b, *c, *r;
  CHECK(cudaMalloc(&a, bytes)); CHECK(cudaMalloc(&b, bytes)); CHECK(cudaMalloc(&c, bytes)); CHECK(cudaMalloc(&r, bytes));
  for (long i = 0; i < n * n; i++) { s = s * 1664525u + 1013904223u; h[i] = (float)(s >> 8) / 16777216.0f - 0.5f; }
  CHECK(cudaMemcpy(a, h, bytes, cudaMemcpyHostToDevice));
  for (long i = 0; i < n * n; i++) { s = s * 1664525u + 1013904223u; h[i] = (float)(s >> 8) / 16777216.0f - 0.5f; }
  CHECK(cudaMemcpy(b, h, bytes, cudaMemcpyHostToDevice));
  const void *in[2] = { a, b };
  void *out[1] = { c };
  cublasHandle_t handle;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) { fprintf(stderr, "cublasCreate failed\\n"); return 1; }
  const float one = 1.0f, zero = 0.0f;
  /* Row-major C = A B is column-major C^T = B^T A^T. */
  #define CUBLAS() cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, b, n, a, n, &zero, r, n)
  int e = net_run_device(in, out);
  if (e) { fprintf(stderr, "net_run_device: CUDA error %d\\n", e); return 1; }
  if (CUBLAS() != CUBLAS_STATUS_SUCCESS) { fprintf(stderr, "cublasSgemm failed\\n"); return 1; }
  CHECK(cudaDeviceSynchronize());
  float *hc = (float *)malloc(bytes), *hr = (float *)malloc(bytes);
  CHECK(cudaMemcpy(hc, c, bytes, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(hr, r, bytes, cudaMemcpyDeviceToHost));
  double worst = 0;
  for (long i = 0; i < n * n; i++) { double d = fabs((double)hc[i] - hr[i]) / (fabs((double)hr[i]) + 1e-2); if (d > worst) worst = d; }
  cudaEvent_t t0, t1;
  cudaEventCreate(&t0); cudaEventCreate(&t1);
  const int iters = 20;
  float ms_kiln = 1e30f, ms_cublas = 1e30f;
  for (int round = 0; round < 3; round++) {
    float ms;
    cudaEventRecord(t0);
    for (int i = 0; i < iters; i++) net_run_device(in, out);
    cudaEventRecord(t1); cudaEventSynchronize(t1); cudaEventElapsedTime(&ms, t0, t1);
    if (ms / iters < ms_kiln) ms_kiln = ms / iters;
    cudaEventRecord(t0);
    for (int i = 0; i < iters; i++) CUBLAS();
    cudaEventRecord(t1); cudaEventSynchronize(t1); cudaEventElapsedTime(&ms, t0, t1);
    if (ms / iters < ms_cublas) ms_cublas = ms / iters;
  }
  const double flop = 2.0 * n * n * n;
  const double tk = flop / (ms_kiln * 1e-3) / 1e12, tc = flop / (ms_cublas * 1e-3) / 1e12;
  printf("SGEMM %ldx%ldx%ld: kiln %.2f TFLOP/s (%.3f ms), cuBLAS %.2f TFLOP/s (%.3f ms), ratio %.1f%%, max rel diff vs cuBLAS %.2e\\n", n, n, n, tk, ms_kiln, tc, ms_cublas, 100.0 * tk / tc, worst);
  return worst < 1e-3 ? 0 : 3;
}
`;

async function main(): Promise<void> {
  const smi = spawnSync('nvidia-smi', ['-L'], { encoding: 'utf8' });
  if (smi.error) refuse('no NVIDIA GPU: nvidia-smi not found');
  if (smi.status !== 0 || !/GPU \d+:/.test(smi.stdout)) refuse(`no NVIDIA GPU: nvidia-smi lists no GPU (${(smi.stderr || smi.stdout).trim().split('\n')[0]})`);
  if (!existsSync(NVCC)) refuse(`no CUDA toolkit: ${NVCC} not found (set KILN_CUDA_HOME)`);
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

    for (const m of TEST_MODELS) {
      const bytes = m.build();
      const model = compileModelCuda(bytes, { name: 'net', inputShapes: m.inputShapes });
      const md = join(dir, m.name);
      execFileSync('mkdir', ['-p', md]);
      for (const [f, c] of Object.entries(model.files)) await writeFile(join(md, f), c);
      await writeFile(join(md, 'harness.c'), modelHarness(model.metadata));
      execFileSync(NVCC, ['-std=c++17', '-O3', `-arch=${arch}`, 'net.cu', 'harness.c', '-o', 'run'], { cwd: md });
      const rand = prng(1);
      const inputs = model.metadata.inputs.map((t) => Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1));
      await writeFile(join(md, 'inputs.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer))));
      const run = spawnSync(join(md, 'run'), ['inputs.bin', 'outputs.bin'], { cwd: md, encoding: 'utf8', timeout: 120_000 });
      if (run.status !== 0) {
        console.log(`FAIL ${m.name}: the GPU build exited ${run.status} ${run.stderr}`);
        failed++;
        continue;
      }
      const session = await ort.InferenceSession.create(bytes);
      const feeds = Object.fromEntries(model.metadata.inputs.map((t, i) => [t.name, new ort.Tensor('float32', inputs[i], t.shape)]));
      const expected = await session.run(feeds);
      const out = await readFile(join(md, 'outputs.bin'));
      let o = 0;
      for (const t of model.metadata.outputs) {
        const n = t.shape.reduce((a, b) => a * b, 1) * 4;
        const e = expected[t.name].data as Float32Array;
        const r = compareOutput(t.name, 'float32', Buffer.from(e.buffer, e.byteOffset, e.byteLength), out.subarray(o, o + n), MODEL_TOLERANCE);
        o += n;
        console.log(`${r.passed ? 'PASS' : 'FAIL'} ${m.name}/${t.name}: max abs error ${r.maxAbsError.toExponential(2)}, ${r.mismatches} mismatches (rtol ${MODEL_TOLERANCE.rtol}, atol ${MODEL_TOLERANCE.atol})`);
        if (!r.passed) failed++;
      }
    }

    // The GEMM: a MatMul of two inputs, generated like any model, timed on device buffers.
    const b = new ModelBuilder();
    b.output(b.op('MatMul', [b.input('a', [SIZE, SIZE]), b.input('b', [SIZE, SIZE])]));
    const gemm = compileModelCuda(b.build('sgemm'), { name: 'net' });
    const gd = join(dir, 'sgemm');
    execFileSync('mkdir', ['-p', gd]);
    for (const [f, c] of Object.entries(gemm.files)) await writeFile(join(gd, f), c);
    await writeFile(join(gd, 'bench.cu'), BENCH(SIZE));
    execFileSync(NVCC, ['-std=c++17', '-O3', `-arch=${arch}`, 'net.cu', 'bench.cu', '-o', 'bench', '-lcublas'], { cwd: gd });
    const bench = spawnSync(join(gd, 'bench'), { cwd: gd, encoding: 'utf8', timeout: 300_000 });
    process.stdout.write(bench.stdout);
    if (bench.status !== 0) {
      console.log(`FAIL sgemm: exited ${bench.status} ${bench.stderr}`);
      failed++;
    } else {
      const ratio = Number(/ratio ([\d.]+)%/.exec(bench.stdout)?.[1]);
      console.log(`goal (at least 50% of cuBLAS SGEMM at 4096^3): ${SIZE === 4096 && ratio >= 50 ? 'met' : 'not met'}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if (failed) {
    console.log(`${failed} check(s) failed`);
    process.exit(1);
  }
}

main().catch((e) => {
  process.stderr.write(`gpu-check: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
