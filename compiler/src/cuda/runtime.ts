/**
 * The fixed part of every generated CUDA file: launch helpers, the tiled shared-memory SGEMM
 * template, and the warp-per-row kernels (Softmax, LayerNormalization).
 *
 * Every kernel's arithmetic lives in __host__ __device__ functions. A __global__ wrapper runs
 * them on the GPU; with KILN_HOST_EMULATION defined, the same functions run on the host, the
 * threads of a block stepped through phase by phase (between the points where the kernel
 * synchronises), so that the index arithmetic, tiling, bounds handling and the order of every
 * reduction can be tested on a machine without a GPU.
 */
import { halfConversionsC } from '../half';

export const CUDA_RUNTIME = String.raw`
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef KILN_HOST_EMULATION
#define KILN_HD
#else
#include <cuda_runtime.h>
#ifdef KILN_USE_HGEMM
#include <mma.h>
#include <cuda_fp16.h>
#include <cuda_bf16.h>
#endif
#define KILN_HD __host__ __device__
#endif

/* Everything but the C entry points has internal linkage: several models can share a process. */
namespace {

/* Pointers of one element-wise (or otherwise per-output-element) kernel. */
#define KILN_MAX_ARGS 16
struct KilnArgs {
  float *y;
  const float *x[KILN_MAX_ARGS];
};

#ifndef KILN_HOST_EMULATION
static cudaStream_t kiln_stream = 0;
template <class F> __global__ void __launch_bounds__(256) kiln_pointwise(long n, KilnArgs a) {
  const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) F::run(i, a);
}
#endif

/* Runs F::run(i, args) for every i below n: one GPU thread each, or a host loop. */
template <class F> static inline void kiln_launch(long n, const KilnArgs &a) {
  if (n <= 0) return;
#ifdef KILN_HOST_EMULATION
  for (long i = 0; i < n; i++) F::run(i, a);
#else
  kiln_pointwise<F><<<(unsigned)((n + 255) / 256), 256, 0, kiln_stream>>>(n, a);
#endif
}

#ifdef KILN_USE_GEMM
/* ---- Tiled SGEMM (32-bit indices: the compiler limits a tensor to 2^28 elements): a BM x BN tile per block, BK deep, TM x TN outputs per thread. ----
 * P (generated per node) gives M, N, K, the operands through P::A(z, m, k) and P::B(z, k, n)
 * (so a convolution gathers its input as an implicit GEMM), and P::store(z, m, n, acc) with the
 * fused epilogue. The block's A tile is stored transposed, so a thread reads its TM rows and TN
 * columns of one k as two short runs of shared memory. */
/* Reads 4 floats of global memory at a 16-byte aligned address (LDG.128). */
static KILN_HD inline void kiln_ldg4(float *r, const float *p) {
#if defined(KILN_HOST_EMULATION)
  memcpy(r, p, 4 * sizeof(float));
#else
  const float4 v = *reinterpret_cast<const float4 *>(p);
  r[0] = v.x; r[1] = v.y; r[2] = v.z; r[3] = v.w;
#endif
}

/* Reads n floats of shared memory into registers: 16 bytes at a time where n allows (LDS.128). */
template <int n> static KILN_HD inline void kiln_lds(float *r, const float *p) {
#if defined(KILN_HOST_EMULATION)
  memcpy(r, p, n * sizeof(float));
#else
  if (n % 4 == 0) {
#pragma unroll
    for (int i = 0; i < n; i += 4) {
      const float4 v = *reinterpret_cast<const float4 *>(p + i);
      r[i] = v.x; r[i + 1] = v.y; r[i + 2] = v.z; r[i + 3] = v.w;
    }
  } else {
#pragma unroll
    for (int i = 0; i < n; i++) r[i] = p[i];
  }
#endif
}

template <int BM_, int BN_, int BK_, int TM_, int TN_> struct KilnGemm {
  enum { BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_, THREADS = (BM_ / TM_) * (BN_ / TN_) };
  /* A's rows are padded by 4 floats: the transposed stores of one warp then fall in 32 different banks. */
  struct Smem {
    alignas(16) float a[BK_][BM_ + 4];
    alignas(16) float b[BK_][BN_];
  };
  /* Global -> shared. Where P says an operand is contiguous along a multiple of 4 (A_VEC: A along k;
   * B_VEC: B along n; B_KVEC: B along k, a transposed B), four elements move per 16-byte load,
   * consecutive threads reading consecutive addresses (every buffer is 16-byte aligned: the entry
   * points refuse others). */
  template <class P> static KILN_HD void load(const P &p, int z, int m0, int n0, int k0, int tid, Smem &s) {
    if (P::A_VEC) {
      for (int e = tid; e < BM * BK / 4; e += THREADS) {
        const int mm = e / (BK / 4), kk = e % (BK / 4) * 4;
        const int m = m0 + mm, k = k0 + kk;
        float v[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
        if (m < P::M && k < P::K) kiln_ldg4(v, p.Ap(z, m, k));
        s.a[kk][mm] = v[0]; s.a[kk + 1][mm] = v[1]; s.a[kk + 2][mm] = v[2]; s.a[kk + 3][mm] = v[3];
      }
    } else {
      for (int e = tid; e < BM * BK; e += THREADS) {
        const int mm = e / BK, kk = e % BK;
        const int m = m0 + mm, k = k0 + kk;
        s.a[kk][mm] = (m < P::M && k < P::K) ? p.A(z, m, k) : 0.0f;
      }
    }
    if (P::B_VEC) {
      for (int e = tid; e < BK * BN / 4; e += THREADS) {
        const int kk = e / (BN / 4), nn = e % (BN / 4) * 4;
        const int k = k0 + kk, n = n0 + nn;
        float v[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
        if (k < P::K && n < P::N) kiln_ldg4(v, p.Bp(z, k, n));
        s.b[kk][nn] = v[0]; s.b[kk][nn + 1] = v[1]; s.b[kk][nn + 2] = v[2]; s.b[kk][nn + 3] = v[3];
      }
    } else if (P::B_KVEC) {
      for (int e = tid; e < BK * BN / 4; e += THREADS) {
        const int nn = e / (BK / 4), kk = e % (BK / 4) * 4;
        const int k = k0 + kk, n = n0 + nn;
        float v[4] = { 0.0f, 0.0f, 0.0f, 0.0f };
        if (k < P::K && n < P::N) kiln_ldg4(v, p.Bp(z, k, n));
        s.b[kk][nn] = v[0]; s.b[kk + 1][nn] = v[1]; s.b[kk + 2][nn] = v[2]; s.b[kk + 3][nn] = v[3];
      }
    } else if (P::B_KCONTIG) {
      for (int e = tid; e < BK * BN; e += THREADS) {
        const int nn = e / BK, kk = e % BK;
        const int k = k0 + kk, n = n0 + nn;
        s.b[kk][nn] = (k < P::K && n < P::N) ? p.B(z, k, n) : 0.0f;
      }
    } else {
      for (int e = tid; e < BK * BN; e += THREADS) {
        const int kk = e / BN, nn = e % BN;
        const int k = k0 + kk, n = n0 + nn;
        s.b[kk][nn] = (k < P::K && n < P::N) ? p.B(z, k, n) : 0.0f;
      }
    }
  }
  static KILN_HD void compute(const Smem &s, int tid, float acc[TM_][TN_]) {
    const int tr = tid / (BN / TN), tc = tid % (BN / TN);
#pragma unroll
    for (int kk = 0; kk < BK; kk++) {
      float ra[TM_], rb[TN_];
      kiln_lds<TM_>(ra, &s.a[kk][tr * TM]);
      kiln_lds<TN_>(rb, &s.b[kk][tc * TN]);
#pragma unroll
      for (int i = 0; i < TM; i++)
#pragma unroll
        for (int j = 0; j < TN; j++) acc[i][j] += ra[i] * rb[j];
    }
  }
  template <class P> static KILN_HD void store(const P &p, int z, int m0, int n0, int tid, const float acc[TM_][TN_]) {
    const int tr = tid / (BN / TN), tc = tid % (BN / TN);
    for (int i = 0; i < TM; i++) {
      const int m = m0 + tr * TM + i;
      if (m >= P::M) break;
      for (int j = 0; j < TN; j++) {
        const int n = n0 + tc * TN + j;
        if (n < P::N) p.store(z, m, n, acc[i][j]);
      }
    }
  }
};

#ifndef KILN_HOST_EMULATION
template <class G, class P> __global__ void __launch_bounds__(G::THREADS, 2) kiln_gemm_kernel(P p) {
  /* Two tiles of shared memory: the next k-step loads into one while the block computes on the
   * other, with one barrier per step (after it, every thread is done with the tile that the next
   * step overwrites). */
  __shared__ typename G::Smem s[2];
  float acc[G::TM][G::TN];
#pragma unroll
  for (int i = 0; i < G::TM; i++)
#pragma unroll
    for (int j = 0; j < G::TN; j++) acc[i][j] = 0.0f;
  const int m0 = blockIdx.y * G::BM, n0 = blockIdx.x * G::BN, z = blockIdx.z;
  const int tid = threadIdx.x;
  G::load(p, z, m0, n0, 0, tid, s[0]);
  __syncthreads();
  int cur = 0;
  for (int k0 = 0; k0 < P::K; k0 += G::BK) {
    if (k0 + G::BK < P::K) G::load(p, z, m0, n0, k0 + G::BK, tid, s[cur ^ 1]);
    G::compute(s[cur], tid, acc);
    __syncthreads();
    cur ^= 1;
  }
  G::store(p, z, m0, n0, tid, acc);
}
#endif

template <class G, class P> static inline void kiln_gemm(const P &p, long batch) {
  const long gm = (P::M + G::BM - 1) / G::BM, gn = (P::N + G::BN - 1) / G::BN;
#ifdef KILN_HOST_EMULATION
  /* The kernel's phases between barriers, thread by thread: the prologue's load; then per k-step
   * the next tile's load (into the other buffer) and the compute on this one. */
  static typename G::Smem s[2];
  static float acc[G::THREADS][G::TM][G::TN];
  for (int z = 0; z < batch; z++)
    for (int bm = 0; bm < gm; bm++)
      for (int bn = 0; bn < gn; bn++) {
        memset(acc, 0, sizeof acc);
        memset(s, 0xff, sizeof s); /* NaNs: a read of a tile no load wrote shows in the results */
        for (int t = 0; t < G::THREADS; t++) G::load(p, z, bm * G::BM, bn * G::BN, 0, t, s[0]);
        int cur = 0;
        for (int k0 = 0; k0 < P::K; k0 += G::BK) {
          for (int t = 0; t < G::THREADS; t++) {
            if (k0 + G::BK < P::K) G::load(p, z, bm * G::BM, bn * G::BN, k0 + G::BK, t, s[cur ^ 1]);
            G::compute(s[cur], t, acc[t]);
          }
          cur ^= 1;
        }
        for (int t = 0; t < G::THREADS; t++) G::store(p, z, bm * G::BM, bn * G::BN, t, acc[t]);
      }
#else
  kiln_gemm_kernel<G, P><<<dim3((unsigned)gn, (unsigned)gm, (unsigned)batch), G::THREADS, 0, kiln_stream>>>(p);
#endif
}

typedef KilnGemm<128, 128, 8, 8, 8> KilnGemmLarge;
typedef KilnGemm<32, 32, 8, 2, 2> KilnGemmSmall;
#endif

#if defined(KILN_USE_SOFTMAX) || defined(KILN_USE_LAYERNORM)
/* ---- Warp-per-row kernels: 32 lanes share a row; partial results meet in a butterfly. ---- */
#define KILN_SUM(a, b) ((a) + (b))
#define KILN_MAX(a, b) ((a) > (b) ? (a) : (b))
#ifndef KILN_HOST_EMULATION
__device__ inline float kiln_warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v = KILN_SUM(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ inline float kiln_warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) { const float w = __shfl_xor_sync(0xffffffffu, v, o); v = KILN_MAX(v, w); }
  return v;
}
#else
/* The same butterfly as the shuffles, lane by lane: the same operations in the same order. */
static inline float kiln_lanes_sum(float *v) {
  float t[32];
  for (int o = 16; o > 0; o >>= 1) { for (int l = 0; l < 32; l++) t[l] = KILN_SUM(v[l], v[l ^ o]); memcpy(v, t, sizeof t); }
  return v[0];
}
static inline float kiln_lanes_max(float *v) {
  float t[32];
  for (int o = 16; o > 0; o >>= 1) { for (int l = 0; l < 32; l++) t[l] = KILN_MAX(v[l], v[l ^ o]); memcpy(v, t, sizeof t); }
  return v[0];
}
#endif

#endif

#ifdef KILN_USE_SOFTMAX
/* Softmax / LogSoftmax over len elements, inner apart: row r is (r / inner, r % inner). */
struct KilnSoftmax {
  const float *x;
  float *y;
  long rows, len, inner;
  int log;
};
static KILN_HD inline long kiln_sm_at(const KilnSoftmax &p, long r, long j) { return (r / p.inner) * p.len * p.inner + j * p.inner + r % p.inner; }
static KILN_HD float kiln_softmax_max(const KilnSoftmax &p, long r, int lane) {
  float m = -INFINITY;
  for (long j = lane; j < p.len; j += 32) { const float v = p.x[kiln_sm_at(p, r, j)]; m = KILN_MAX(m, v); }
  return m;
}
static KILN_HD float kiln_softmax_sum(const KilnSoftmax &p, long r, int lane, float m) {
  float s = 0.0f;
  for (long j = lane; j < p.len; j += 32) s += expf(p.x[kiln_sm_at(p, r, j)] - m);
  return s;
}
static KILN_HD void kiln_softmax_write(const KilnSoftmax &p, long r, int lane, float m, float s) {
  if (p.log) {
    const float ls = logf(s);
    for (long j = lane; j < p.len; j += 32) { const long k = kiln_sm_at(p, r, j); p.y[k] = p.x[k] - m - ls; }
  } else {
    for (long j = lane; j < p.len; j += 32) { const long k = kiln_sm_at(p, r, j); p.y[k] = expf(p.x[k] - m) / s; }
  }
}

#ifndef KILN_HOST_EMULATION
__global__ void __launch_bounds__(256) kiln_softmax_kernel(KilnSoftmax p) {
  const long r = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (r >= p.rows) return; /* the whole warp leaves together */
  const float m = kiln_warp_max(kiln_softmax_max(p, r, lane));
  const float s = kiln_warp_sum(kiln_softmax_sum(p, r, lane, m));
  kiln_softmax_write(p, r, lane, m, s);
}
#endif

static inline void kiln_softmax(const KilnSoftmax &p) {
  if (p.rows <= 0) return;
#ifdef KILN_HOST_EMULATION
  float part[32];
  for (long r = 0; r < p.rows; r++) {
    for (int l = 0; l < 32; l++) part[l] = kiln_softmax_max(p, r, l);
    const float m = kiln_lanes_max(part);
    for (int l = 0; l < 32; l++) part[l] = kiln_softmax_sum(p, r, l, m);
    const float s = kiln_lanes_sum(part);
    for (int l = 0; l < 32; l++) kiln_softmax_write(p, r, l, m, s);
  }
#else
  kiln_softmax_kernel<<<(unsigned)((p.rows * 32 + 255) / 256), 256, 0, kiln_stream>>>(p);
#endif
}

#endif

#ifdef KILN_USE_LAYERNORM
/* LayerNormalization over the trailing len elements of each row. */
struct KilnLayerNorm {
  const float *x, *scale, *bias;
  float *y;
  long rows, len, sn, bn;
  float eps;
};
static KILN_HD float kiln_ln_sum(const KilnLayerNorm &p, long r, int lane) {
  float s = 0.0f;
  for (long j = lane; j < p.len; j += 32) s += p.x[r * p.len + j];
  return s;
}
static KILN_HD float kiln_ln_var(const KilnLayerNorm &p, long r, int lane, float mean) {
  float s = 0.0f;
  for (long j = lane; j < p.len; j += 32) { const float d = p.x[r * p.len + j] - mean; s += d * d; }
  return s;
}
static KILN_HD void kiln_ln_write(const KilnLayerNorm &p, long r, int lane, float mean, float var) {
  const float inv = 1.0f / sqrtf(var + p.eps);
  for (long j = lane; j < p.len; j += 32)
    p.y[r * p.len + j] = (p.x[r * p.len + j] - mean) * inv * p.scale[j % p.sn] + (p.bias ? p.bias[j % p.bn] : 0.0f);
}

#ifndef KILN_HOST_EMULATION
__global__ void __launch_bounds__(256) kiln_layernorm_kernel(KilnLayerNorm p) {
  const long r = ((long)blockIdx.x * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x & 31;
  if (r >= p.rows) return;
  const float mean = kiln_warp_sum(kiln_ln_sum(p, r, lane)) / (float)p.len;
  const float var = kiln_warp_sum(kiln_ln_var(p, r, lane, mean)) / (float)p.len;
  kiln_ln_write(p, r, lane, mean, var);
}
#endif

static inline void kiln_layernorm(const KilnLayerNorm &p) {
  if (p.rows <= 0) return;
#ifdef KILN_HOST_EMULATION
  float part[32];
  for (long r = 0; r < p.rows; r++) {
    for (int l = 0; l < 32; l++) part[l] = kiln_ln_sum(p, r, l);
    const float mean = kiln_lanes_sum(part) / (float)p.len;
    for (int l = 0; l < 32; l++) part[l] = kiln_ln_var(p, r, l, mean);
    const float var = kiln_lanes_sum(part) / (float)p.len;
    for (int l = 0; l < 32; l++) kiln_ln_write(p, r, l, mean, var);
  }
#else
  kiln_layernorm_kernel<<<(unsigned)((p.rows * 32 + 255) / 256), 256, 0, kiln_stream>>>(p);
#endif
}
#endif

#ifdef KILN_USE_GELU
/* GELU as the C backend computes it (the Erf form). */
static KILN_HD inline float kiln_gelu(float v) { return 0.5f * v * (1.0f + erff(v * 0.70710678f)); }
#endif

#ifdef KILN_USE_HALF
${halfConversionsC('static KILN_HD inline')}
#endif

#ifdef KILN_USE_HGEMM
/* ---- Tensor-core GEMM for half operands: float16 (sm_70 and later) and bfloat16 (sm_80 and later). ----
 * A 64 x 64 tile per block of 4 warps, 32 deep; each warp owns 32 x 32 of it as 2 x 2 WMMA
 * 16x16x16 fragments accumulating in float32. A and B tiles are staged in shared memory in the
 * half format (their values are of that format already: the model's types say so); at the end
 * the accumulators pass through shared memory to the same per-element epilogue (P::store) as the
 * SIMT GEMM. Where the architecture has no tensor cores for the format, the same tiles are
 * multiplied on CUDA cores. With KILN_HOST_EMULATION the fragments are 16 x 16 arrays and each
 * warp's matrix operations run once per warp (KILN_EMULATE_CUDA_CORES: the CUDA-core path). */
#if defined(KILN_HOST_EMULATION)
#ifdef KILN_EMULATE_CUDA_CORES
#define KILN_TC_F16 0
#define KILN_TC_BF16 0
#else
#define KILN_TC_F16 1
#define KILN_TC_BF16 1
#endif
struct KilnF16 { typedef float T; static inline T from(float v) { return kiln_round_float16(v); } };
struct KilnBF16 { typedef float T; static inline T from(float v) { return kiln_round_bfloat16(v); } };
namespace kiln_wmma {
struct fa { float x[16][16]; };
typedef fa fb;
struct fc { float x[16][16]; };
static inline void load(fa &f, const float *p, int ld) { for (int r = 0; r < 16; r++) for (int c = 0; c < 16; c++) f.x[r][c] = p[r * ld + c]; }
static inline void fill(fc &f) { memset(&f, 0, sizeof f); }
static inline void mma(fc &d, const fa &a, const fb &b) {
  for (int r = 0; r < 16; r++)
    for (int c = 0; c < 16; c++) { float s = d.x[r][c]; for (int k = 0; k < 16; k++) s += a.x[r][k] * b.x[k][c]; d.x[r][c] = s; }
}
static inline void store(float *p, const fc &f, int ld) { for (int r = 0; r < 16; r++) for (int c = 0; c < 16; c++) p[r * ld + c] = f.x[r][c]; }
}
#else
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700
#define KILN_TC_F16 1
#else
#define KILN_TC_F16 0
#endif
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
#define KILN_TC_BF16 1
#else
#define KILN_TC_BF16 0
#endif
struct KilnF16 { typedef __half T; static __device__ inline T from(float v) { return __float2half_rn(v); } };
struct KilnBF16 { typedef __nv_bfloat16 T; static __device__ inline T from(float v) { return __float2bfloat16_rn(v); } };
#endif

/* Whether this compilation pass has tensor cores for the format. */
template <class H> struct KilnTc;
template <> struct KilnTc<KilnF16> { enum { ON = KILN_TC_F16 }; };
template <> struct KilnTc<KilnBF16> { enum { ON = KILN_TC_BF16 }; };

template <class H> struct KilnHgemm {
  typedef typename H::T T;
  enum { BM = 64, BN = 64, BK = 32, THREADS = 128, LDA = BK + 8, LDB = BN + 8, LDC = BN + 4 };
  /* The A and B tiles, and later the float results over them; 128-byte aligned (WMMA needs 32). */
  enum { IN_BYTES = (BM * LDA + BK * LDB) * (int)sizeof(T), OUT_BYTES = BM * LDC * 4, SMEM = IN_BYTES > OUT_BYTES ? IN_BYTES : OUT_BYTES };
  static KILN_HD T *a(unsigned char *s) { return reinterpret_cast<T *>(s); }
  static KILN_HD T *b(unsigned char *s) { return reinterpret_cast<T *>(s) + BM * LDA; }
  static KILN_HD float *c(unsigned char *s) { return reinterpret_cast<float *>(s); }
  template <class P> static KILN_HD void load(const P &p, int z, int m0, int n0, int k0, int tid, unsigned char *s) {
    T *sa = a(s), *sb = b(s);
    for (int e = tid; e < BM * BK; e += THREADS) {
      const int mm = e / BK, kk = e % BK, m = m0 + mm, k = k0 + kk;
      sa[mm * LDA + kk] = H::from(m < P::M && k < P::K ? p.A(z, m, k) : 0.0f);
    }
    if (P::B_KCONTIG) {
      for (int e = tid; e < BK * BN; e += THREADS) {
        const int nn = e / BK, kk = e % BK, k = k0 + kk, n = n0 + nn;
        sb[kk * LDB + nn] = H::from(k < P::K && n < P::N ? p.B(z, k, n) : 0.0f);
      }
    } else {
      for (int e = tid; e < BK * BN; e += THREADS) {
        const int kk = e / BN, nn = e % BN, k = k0 + kk, n = n0 + nn;
        sb[kk * LDB + nn] = H::from(k < P::K && n < P::N ? p.B(z, k, n) : 0.0f);
      }
    }
  }
  template <class P> static KILN_HD void epilogue(const P &p, int z, int m0, int n0, int tid, unsigned char *s) {
    const float *sc = c(s);
    for (int e = tid; e < BM * BN; e += THREADS) {
      const int mm = e / BN, nn = e % BN, m = m0 + mm, n = n0 + nn;
      if (m < P::M && n < P::N) p.store(z, m, n, sc[mm * LDC + nn]);
    }
  }
};

#ifndef KILN_HOST_EMULATION
/* The warp's 2 x 2 fragments over one k-tile, on tensor cores. */
template <class H, bool TC> struct KilnHgemmMath;
template <class H> struct KilnHgemmMath<H, true> {
  typedef KilnHgemm<H> G;
  nvcuda::wmma::fragment<nvcuda::wmma::accumulator, 16, 16, 16, float> acc[2][2];
  __device__ void init() {
    for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) nvcuda::wmma::fill_fragment(acc[i][j], 0.0f);
  }
  __device__ void step(unsigned char *s, int tid) {
    const int warp = tid / 32, wm = warp / 2 * 32, wn = warp % 2 * 32;
    for (int kk = 0; kk < G::BK; kk += 16) {
      nvcuda::wmma::fragment<nvcuda::wmma::matrix_a, 16, 16, 16, typename H::T, nvcuda::wmma::row_major> fa[2];
      nvcuda::wmma::fragment<nvcuda::wmma::matrix_b, 16, 16, 16, typename H::T, nvcuda::wmma::row_major> fb[2];
      for (int i = 0; i < 2; i++) nvcuda::wmma::load_matrix_sync(fa[i], G::a(s) + (wm + i * 16) * G::LDA + kk, G::LDA);
      for (int j = 0; j < 2; j++) nvcuda::wmma::load_matrix_sync(fb[j], G::b(s) + kk * G::LDB + wn + j * 16, G::LDB);
      for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) nvcuda::wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
  }
  __device__ void finish(unsigned char *s, int tid) {
    const int warp = tid / 32, wm = warp / 2 * 32, wn = warp % 2 * 32;
    for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) nvcuda::wmma::store_matrix_sync(G::c(s) + (wm + i * 16) * G::LDC + wn + j * 16, acc[i][j], G::LDC, nvcuda::wmma::mem_row_major);
  }
};
/* The same on CUDA cores: each thread 32 outputs (one row, 32 columns) of the block's tile. */
template <class H> struct KilnHgemmMath<H, false> {
  typedef KilnHgemm<H> G;
  float acc[32];
  __device__ void init() { for (int j = 0; j < 32; j++) acc[j] = 0.0f; }
  __device__ void step(unsigned char *s, int tid) {
    const int r = tid / 2, c0 = tid % 2 * 32;
    for (int k = 0; k < G::BK; k++) {
      const float av = static_cast<float>(G::a(s)[r * G::LDA + k]);
      for (int j = 0; j < 32; j++) acc[j] += av * static_cast<float>(G::b(s)[k * G::LDB + c0 + j]);
    }
  }
  __device__ void finish(unsigned char *s, int tid) {
    const int r = tid / 2, c0 = tid % 2 * 32;
    for (int j = 0; j < 32; j++) G::c(s)[r * G::LDC + c0 + j] = acc[j];
  }
};
template <class H, class P> __global__ void __launch_bounds__(128) kiln_hgemm_kernel(P p) {
  typedef KilnHgemm<H> G;
  __shared__ __align__(128) unsigned char s[G::SMEM];
  const int m0 = blockIdx.y * G::BM, n0 = blockIdx.x * G::BN, z = blockIdx.z, tid = threadIdx.x;
  KilnHgemmMath<H, (bool)KilnTc<H>::ON> math;
  math.init();
  for (int k0 = 0; k0 < P::K; k0 += G::BK) {
    G::load(p, z, m0, n0, k0, tid, s);
    __syncthreads();
    math.step(s, tid);
    __syncthreads();
  }
  math.finish(s, tid);
  __syncthreads();
  G::epilogue(p, z, m0, n0, tid, s);
}
#endif

template <class H, class P> static inline void kiln_hgemm(const P &p, long batch) {
  typedef KilnHgemm<H> G;
  const long gm = (P::M + G::BM - 1) / G::BM, gn = (P::N + G::BN - 1) / G::BN;
#ifdef KILN_HOST_EMULATION
  /* Phase by phase, as the kernel's barriers order them: every thread's load, then each warp's
   * fragments (or each thread's outputs on CUDA cores), then the results through shared memory. */
  alignas(128) static unsigned char s[G::SMEM];
  static kiln_wmma::fc acc[4][2][2];
  static float tacc[G::THREADS][32];
  const bool tc = KilnTc<H>::ON;
  for (int z = 0; z < batch; z++)
    for (int bm = 0; bm < gm; bm++)
      for (int bn = 0; bn < gn; bn++) {
        const int m0 = bm * G::BM, n0 = bn * G::BN;
        for (int w = 0; w < 4; w++) for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) kiln_wmma::fill(acc[w][i][j]);
        memset(tacc, 0, sizeof tacc);
        for (int k0 = 0; k0 < P::K; k0 += G::BK) {
          memset(s, 0xff, sizeof s); /* NaNs: a read of a tile no load wrote shows in the results */
          for (int t = 0; t < G::THREADS; t++) G::load(p, z, m0, n0, k0, t, s);
          if (tc) {
            for (int w = 0; w < 4; w++) {
              const int wm = w / 2 * 32, wn = w % 2 * 32;
              for (int kk = 0; kk < G::BK; kk += 16) {
                kiln_wmma::fa fa[2];
                kiln_wmma::fb fb[2];
                for (int i = 0; i < 2; i++) kiln_wmma::load(fa[i], G::a(s) + (wm + i * 16) * G::LDA + kk, G::LDA);
                for (int j = 0; j < 2; j++) kiln_wmma::load(fb[j], G::b(s) + kk * G::LDB + wn + j * 16, G::LDB);
                for (int i = 0; i < 2; i++) for (int j = 0; j < 2; j++) kiln_wmma::mma(acc[w][i][j], fa[i], fb[j]);
              }
            }
          } else {
            for (int t = 0; t < G::THREADS; t++) {
              const int r = t / 2, c0 = t % 2 * 32;
              for (int k = 0; k < G::BK; k++)
                for (int j = 0; j < 32; j++) tacc[t][j] += G::a(s)[r * G::LDA + k] * G::b(s)[k * G::LDB + c0 + j];
            }
          }
        }
        memset(s, 0xff, sizeof s);
        if (tc) {
          for (int w = 0; w < 4; w++)
            for (int i = 0; i < 2; i++)
              for (int j = 0; j < 2; j++) kiln_wmma::store(G::c(s) + (w / 2 * 32 + i * 16) * G::LDC + w % 2 * 32 + j * 16, acc[w][i][j], G::LDC);
        } else {
          for (int t = 0; t < G::THREADS; t++)
            for (int j = 0; j < 32; j++) G::c(s)[(t / 2) * G::LDC + t % 2 * 32 + j] = tacc[t][j];
        }
        for (int t = 0; t < G::THREADS; t++) G::epilogue(p, z, m0, n0, t, s);
      }
#else
  kiln_hgemm_kernel<H, P><<<dim3((unsigned)gn, (unsigned)gm, (unsigned)batch), G::THREADS, 0, kiln_stream>>>(p);
#endif
}
#endif
`;
