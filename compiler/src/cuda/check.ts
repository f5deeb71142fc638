import { ModelBuilder, toHalfModel } from '../../test/builder';

/** The GPU check's C++ sources (scripts/gpu-check.ts), here so that tests build them with nvcc. */

/** nvcc's arguments for a model's GPU executable (net.cu and the verification harness), in the model's directory. */
export function nvccModelArgs(arch: string): string[] {
  return ['-std=c++17', '-O3', `-arch=${arch}`, 'net.cu', 'harness.c', '-o', 'run'];
}

/** nvcc's arguments for the SGEMM benchmark (the generated net.cu and bench.cu, linked with cuBLAS). */
export function nvccBenchArgs(arch: string): string[] {
  return ['-std=c++17', '-O3', `-arch=${arch}`, 'net.cu', 'bench.cu', '-o', 'bench', '-lcublas'];
}

/** A MatMul of two [n, n] inputs: the generated SGEMM the benchmark times. */
export function sgemmModel(n: number): Uint8Array {
  const b = new ModelBuilder();
  b.output(b.op('MatMul', [b.input('a', [n, n]), b.input('b', [n, n])]));
  return b.build('sgemm');
}

/** Prints the CUDA device count and the first device's sm_XX. */
export const PROBE = `#include <cstdio>
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

/** Times the generated SGEMM (net_run_device of sgemmModel(n)) next to cublasSgemm on the same buffers; checks they agree. */
export const sgemmBench = (n: number): string => gemmBench(n, 'float32');

/** The same for the float16 GEMM on tensor cores (hgemmModel(n)) next to cublasGemmEx with float16 operands and float32 accumulation. */
export const hgemmBench = (n: number): string => gemmBench(n, 'float16');

/** A MatMul of two float16 [n, n] inputs: the tensor-core GEMM the benchmark times. */
export function hgemmModel(n: number): Uint8Array {
  return toHalfModel(sgemmModel(n));
}

function gemmBench(n: number, kind: 'float32' | 'float16'): string {
  const half = kind === 'float16';
  const T = half ? '__half' : 'float';
  const name = half ? 'HGEMM (float16, tensor cores)' : 'SGEMM';
  const cublas = half
    ? 'cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, b, CUDA_R_16F, n, a, CUDA_R_16F, n, &zero, r, CUDA_R_16F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT)'
    : 'cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, b, n, a, n, &zero, r, n)';
  return `#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <cuda_runtime.h>
#include <cuda_fp16.h>
#include <cublas_v2.h>
#include "net.h"
#define CHECK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { fprintf(stderr, "%s: %s\\n", #x, cudaGetErrorString(e_)); return 1; } } while (0)
static ${T} elem(float v) { return ${half ? '__float2half(v)' : 'v'}; }
static float value(${T} v) { return ${half ? '__half2float(v)' : 'v'}; }
int main() {
  const long n = ${n};
  const size_t bytes = sizeof(${T}) * n * n;
  ${T} *h = (${T} *)malloc(bytes);
  unsigned s = 12345u;
  ${T} *a, *b, *c, *r;
  CHECK(cudaMalloc(&a, bytes)); CHECK(cudaMalloc(&b, bytes)); CHECK(cudaMalloc(&c, bytes)); CHECK(cudaMalloc(&r, bytes));
  for (long i = 0; i < n * n; i++) { s = s * 1664525u + 1013904223u; h[i] = elem((float)(s >> 8) / 16777216.0f - 0.5f); }
  CHECK(cudaMemcpy(a, h, bytes, cudaMemcpyHostToDevice));
  for (long i = 0; i < n * n; i++) { s = s * 1664525u + 1013904223u; h[i] = elem((float)(s >> 8) / 16777216.0f - 0.5f); }
  CHECK(cudaMemcpy(b, h, bytes, cudaMemcpyHostToDevice));
  const void *in[2] = { a, b };
  void *out[1] = { c };
  cublasHandle_t handle;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) { fprintf(stderr, "cublasCreate failed\\n"); return 1; }
  const float one = 1.0f, zero = 0.0f;
  /* Row-major C = A B is column-major C^T = B^T A^T. */
  #define CUBLAS() ${cublas}
  int e = net_run_device(in, out);
  if (e) { fprintf(stderr, "net_run_device: CUDA error %d\\n", e); return 1; }
  if (CUBLAS() != CUBLAS_STATUS_SUCCESS) { fprintf(stderr, "cuBLAS failed\\n"); return 1; }
  CHECK(cudaDeviceSynchronize());
  ${T} *hc = (${T} *)malloc(bytes), *hr = (${T} *)malloc(bytes);
  CHECK(cudaMemcpy(hc, c, bytes, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(hr, r, bytes, cudaMemcpyDeviceToHost));
  double worst = 0;
  for (long i = 0; i < n * n; i++) { double d = fabs((double)value(hc[i]) - value(hr[i])) / (fabs((double)value(hr[i])) + 1e-2); if (d > worst) worst = d; }
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
  printf("${name} %ldx%ldx%ld: kiln %.2f TFLOP/s (%.3f ms), cuBLAS %.2f TFLOP/s (%.3f ms), ratio %.1f%%, max rel diff vs cuBLAS %.2e\\n", n, n, n, tk, ms_kiln, tc, ms_cublas, 100.0 * tk / tc, worst);
  return worst < ${half ? '5e-3' : '1e-3'} ? 0 : 3;
}
`;
}
