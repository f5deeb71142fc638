/**
 * Kiln's kernel library: the C that the hot operators call, emitted once into a model's C when a
 * call site needs it. Written with clang vector extensions, so one source serves every ISA: a
 * 16-float vector is one zmm register with AVX-512, two ymm with AVX2, four xmm or q registers
 * with SSE2, NEON and wasm SIMD128, and scalar registers elsewhere. The register blocking (rows
 * per microkernel) is chosen by the preprocessor from the target's features, so the same C builds
 * for every target; the packed weight layout (panels of 16 columns) does not depend on it.
 */

/** Columns per packed panel of B: the microkernel's width, one 16-float vector. */
export const NR = 16;
/** Rows of K packed per block; a block of one panel (KC x 16 floats) stays in L1. */
export const KC = 256;

/**
 * Packs B (K x N; element (k, n) at data[k * rs + n * cs]) into panels of 16 columns:
 * panel p holds rows 0..K-1 of columns 16p..16p+15, zero-padded past N, scaled by `scale`.
 * The layout the GEMM reads: panel p, row k, lane j at ((p * K + k) * 16 + j).
 */
export function packPanels(data: ArrayLike<number>, K: number, N: number, rs: number, cs: number, offset = 0, scale = 1): Float32Array {
  const panels = Math.ceil(N / NR);
  const out = new Float32Array(panels * K * NR);
  for (let p = 0; p < panels; p++) {
    for (let k = 0; k < K; k++) {
      for (let j = 0; j < NR; j++) {
        const n = p * NR + j;
        if (n < N) out[(p * K + k) * NR + j] = data[offset + k * rs + n * cs] * scale;
      }
    }
  }
  return out;
}

/**
 * Rows of A per block of the GEMM: a block (rows x K) stays in L2. A multiple of every KILN_MR. At most 192 KiB,
 * so that it stays there on a 512 KiB L2 next to B's panels and C's rows, and when another thread shares the core
 * (B's panels are streamed once per block: from anonymous huge pages, see COPY_WEIGHTS_C, that costs less than
 * an L2 that overflows).
 */
export function gemmRowBlock(M: number, K: number): number {
  if (M * K <= 48 * 1024) return M;
  return Math.min(M, 192, Math.max(24, Math.floor((48 * 1024) / K / 24) * 24));
}

/** Scratch floats one thread of a GEMM call uses: packed B, a block of results, a block of A with padded rows (see kiln_gemm_panels). */
export function gemmScratch(mc: number, K: number): number {
  return 2 * KC * NR + 2 * mc * NR + mc * (K + 16);
}

/** The shared copy of A of a threaded GEMM call (when its rows need padding): every row, 16 floats longer. */
export function gemmSharedA(M: number, K: number): number {
  return M * (K + 16);
}

/** Above this, a threaded GEMM call copies A per thread instead of once (the shared buffer would be too large). */
export const MAX_SHARED_A = 1 << 24;

/** The library's C. `threads` > 1 adds a small pthread pool (none on wasm, where it runs serially). */
export function kernelLibrary(threads: number): string {
  return `/* ---- Kiln kernel library ---- */
#pragma clang diagnostic ignored "-Wpsabi"
#pragma clang diagnostic ignored "-Wunused-function"
#define KILN_NR 16
#define KILN_KC ${KC}
#define KILN_THREADS ${threads}
typedef float kiln_v __attribute__((vector_size(64)));
typedef float kiln_vu __attribute__((vector_size(64), aligned(4)));
#if defined(__AVX512F__)
#define KILN_MR 12
#elif defined(__aarch64__)
#define KILN_MR 6
#elif defined(__AVX__)
/* 16 ymm registers, a row of the panel taking two: 4 rows (8 accumulators) measured faster than 6 on AVX2 hosts. */
#define KILN_MR 4
#elif defined(__SSE2__) || defined(__ARM_NEON) || defined(__wasm_simd128__)
#define KILN_MR 3
#else
#define KILN_MR 1
#endif
/* Panels of B per microkernel call: two where there are 32 registers for 16-float vectors (AVX-512: 12 rows x 2
   panels = 24 accumulators), so that each broadcast of A feeds two multiply-adds; one elsewhere. -DKILN_NP=2 forces
   two on any target (the tests do, to take that path on every host). */
#ifndef KILN_NP
#if defined(__AVX512F__)
#define KILN_NP 2
#else
#define KILN_NP 1
#endif
#endif
#define KILN_MIN(a, b) ((a) < (b) ? (a) : (b))

#define KILN_INLINE static inline __attribute__((always_inline))
KILN_INLINE kiln_v kiln_load(const float *p) { return *(const kiln_vu *)p; }
KILN_INLINE void kiln_store(float *p, kiln_v v) { *(kiln_vu *)p = v; }
KILN_INLINE kiln_v kiln_splat(float x) { return (kiln_v){0} + x; }

/* e^x, 16 lanes: Cody-Waite reduction by ln 2 and a degree-6 polynomial (Cephes expf, about 1 ulp),
   for x in [-87.3, 88.3] (clamped; below, the smallest normal float instead of 0). */
typedef int kiln_vi __attribute__((vector_size(64)));
KILN_INLINE kiln_v kiln_exp_v(kiln_v x) {
  x = __builtin_elementwise_max(x, kiln_splat(-87.3f));
  x = __builtin_elementwise_min(x, kiln_splat(88.3f));
  const kiln_v n = __builtin_elementwise_floor(x * 1.44269504088896341f + 0.5f);
  const kiln_v r = x - n * 0.693359375f + n * 2.12194440e-4f;
  kiln_v p = kiln_splat(1.9875691500e-4f);
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const kiln_v y = p * r * r + r + 1.0f;
  const kiln_vi e = (__builtin_convertvector(n, kiln_vi) + 127) << 23;
  return y * (kiln_v)e;
}

/* erf(x), 16 lanes: Abramowitz & Stegun 7.1.26 (absolute error under 1.5e-7), for GELU. */
KILN_INLINE kiln_v kiln_erf_v(kiln_v x) {
  const kiln_v a = __builtin_elementwise_abs(x);
  const kiln_v t = 1.0f / (1.0f + 0.3275911f * a);
  kiln_v p = kiln_splat(1.061405429f);
  p = p * t - 1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t - 0.284496736f;
  p = p * t + 0.254829592f;
  const kiln_v y = 1.0f - p * t * kiln_exp_v(-(a * a));
  const kiln_vi sign = (kiln_vi)x & (int)0x80000000;
  return (kiln_v)((kiln_vi)y | sign);
}

/* x * (1 + erf(x / sqrt 2)) / 2 */
KILN_INLINE kiln_v kiln_gelu_v(kiln_v x) { return 0.5f * x * (1.0f + kiln_erf_v(x * 0.70710678118654752f)); }

/* What a kernel does to each result before storing it: scale, bias, residual add, then clamp and an activation (GELU, SiLU, HardSwish). */
typedef struct {
  const float *bias_m; /* one per row (output channel), or 0 */
  const float *bias_n; /* one per column, padded to a multiple of 16, or 0 */
  const float *res;    /* added element-wise, same layout as the output, or 0 */
  int clamp;           /* 1: clamp to [lo, hi] (Relu, Clip, Relu6) */
  float lo, hi;
  int scaled;          /* 1: the product is multiplied by alpha first */
  float alpha;
  int act;             /* last: 1 GELU, 2 SiLU (x * sigmoid x), 3 HardSwish */
} kiln_epi;

KILN_INLINE kiln_v kiln_epi_v(const kiln_epi *e, kiln_v v, long i, long j0) {
  if (e->scaled) v *= e->alpha;
  if (e->bias_m) v += e->bias_m[i];
  if (e->bias_n) v += kiln_load(e->bias_n + j0);
  return v;
}

/* v clamped to [lo, hi] as ONNX Runtime's Relu and Clip do: NaN stays NaN, -0 stays -0. Compare-and-select, which
   on x86 is one maxps and one minps. */
KILN_INLINE kiln_v kiln_clamp_v(kiln_v v, float lo, float hi) {
  const kiln_v l = kiln_splat(lo), h = kiln_splat(hi);
  kiln_vi m = v < l;
  v = (kiln_v)((m & (kiln_vi)l) | (~m & (kiln_vi)v));
  m = v > h;
  return (kiln_v)((m & (kiln_vi)h) | (~m & (kiln_vi)v));
}

KILN_INLINE kiln_v kiln_act_v(const kiln_epi *e, kiln_v v) {
  if (e->clamp) v = kiln_clamp_v(v, e->lo, e->hi);
  if (e->act == 1) v = kiln_gelu_v(v);
  else if (e->act == 2) v = v * (1.0f / (1.0f + kiln_exp_v(-v)));
  else if (e->act == 3) v = v * __builtin_elementwise_min(__builtin_elementwise_max(v / 6.0f + 0.5f, kiln_splat(0.0f)), kiln_splat(1.0f));
  return v;
}

/* Layer normalisation of each of the given number of contiguous rows of n floats; scale and bias have sn and bn
   elements (1 or n; bias may be absent). Sums in 16 lanes, then across them. */
static void kiln_layernorm_rows(const float *x, float *y, long rows, long n, const float *scale, long sn, const float *bias, long bn, float eps) {
  for (long r = 0; r < rows; r++, x += n, y += n) {
    kiln_v vs = kiln_splat(0.0f);
    long j = 0;
    for (; j + 16 <= n; j += 16) vs += kiln_load(x + j);
    float mean = 0.0f;
    for (int l = 0; l < 16; l++) mean += vs[l];
    for (; j < n; j++) mean += x[j];
    mean /= (float)n;
    kiln_v vq = kiln_splat(0.0f);
    for (j = 0; j + 16 <= n; j += 16) { const kiln_v d = kiln_load(x + j) - mean; vq += d * d; }
    float var = 0.0f;
    for (int l = 0; l < 16; l++) var += vq[l];
    for (; j < n; j++) { const float d = x[j] - mean; var += d * d; }
    var /= (float)n;
    const float inv = 1.0f / sqrtf(var + eps);
    if (sn == n && (!bias || bn == n)) {
      for (j = 0; j + 16 <= n; j += 16) {
        kiln_v v = (kiln_load(x + j) - mean) * inv * kiln_load(scale + j);
        if (bias) v += kiln_load(bias + j);
        kiln_store(y + j, v);
      }
    } else {
      j = 0;
    }
    for (; j < n; j++) y[j] = (x[j] - mean) * inv * scale[j % sn] + (bias ? bias[j % bn] : 0.0f);
  }
}

/* Softmax (or log-softmax) of each of the given number of contiguous rows of n floats. Log-softmax is
   (x - max) - log(sum(exp(x - max))), as ONNX Runtime computes it, exact for large x. */
static void kiln_softmax_rows(const float *x, float *y, long rows, long n, int logsm) {
  for (long r = 0; r < rows; r++, x += n, y += n) {
    kiln_v vm = kiln_splat(-INFINITY);
    long j = 0;
    for (; j + 16 <= n; j += 16) vm = __builtin_elementwise_max(vm, kiln_load(x + j));
    float m = -INFINITY;
    for (int l = 0; l < 16; l++) m = vm[l] > m ? vm[l] : m;
    for (; j < n; j++) m = x[j] > m ? x[j] : m;
    kiln_v vs = kiln_splat(0.0f);
    for (j = 0; j + 16 <= n; j += 16) {
      const kiln_v e = kiln_exp_v(kiln_load(x + j) - m);
      if (!logsm) kiln_store(y + j, e);
      vs += e;
    }
    float s = 0.0f;
    for (int l = 0; l < 16; l++) s += vs[l];
    for (; j < n; j++) {
      const float e = expf(x[j] - m);
      if (!logsm) y[j] = e;
      s += e;
    }
    if (logsm) {
      /* (x - m) - log(s), in that order: m + log(s) first would round away the low bits of a large m. */
      const float ls = logf(s);
      for (j = 0; j + 16 <= n; j += 16) kiln_store(y + j, (kiln_load(x + j) - m) - ls);
      for (; j < n; j++) y[j] = (x[j] - m) - ls;
    } else {
      const float inv = 1.0f / s;
      for (j = 0; j + 16 <= n; j += 16) kiln_store(y + j, kiln_load(y + j) * inv);
      for (; j < n; j++) y[j] *= inv;
    }
  }
}

/* ---- threads ---- */
/* kiln_parallel(fn, arg) runs fn(arg, tid, nt) on the calling thread and on the pool's threads that
   join in time: a task must let any one thread do all of its work (threads claim pieces of it), so a
   thread the system holds up is simply not waited for. Workers spin briefly, then sleep. */
typedef void (*kiln_task)(void *arg, int tid, int nt);
#if KILN_THREADS > 1 && !defined(__wasm__)
#include <pthread.h>
#define KILN_CLOSED 0x10000ul
/* Pause instructions a waiting thread spins for before it sleeps (about half a millisecond): a model run's
   calls follow each other closely, and waking a sleeping thread costs more than that. */
#define KILN_SPIN 30000
/* A spinning thread yields now and then: when the system runs it on the same core as the thread it waits for
   (the other cores busy), spinning would only slow that thread down. */
#include <sched.h>
#define KILN_YIELD(i) (((i) & 255) == 255 ? (void)sched_yield() : KILN_PAUSE())
#if defined(__x86_64__) || defined(__i386__)
#define KILN_PAUSE() __builtin_ia32_pause()
#else
#define KILN_PAUSE() ((void)0)
#endif
static struct {
  pthread_mutex_t mu;
  pthread_cond_t go, done;
  kiln_task fn;
  void *arg;
  unsigned long state;   /* generation << 17 | closed << 16 | threads that joined */
  unsigned long exited;  /* threads that joined and finished */
  int sleepers, started, workers;
} kiln_pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, 0, 0, 0, 0 };

static void *kiln_worker(void *p) {
  const int tid = (int)(long)p;
  unsigned long seen = 0;
  for (;;) {
    unsigned long st = __atomic_load_n(&kiln_pool.state, __ATOMIC_ACQUIRE);
    for (int i = 0; (st >> 17) == seen; i++) {
      if (i < KILN_SPIN) { KILN_YIELD(i); st = __atomic_load_n(&kiln_pool.state, __ATOMIC_ACQUIRE); continue; }
      pthread_mutex_lock(&kiln_pool.mu);
      kiln_pool.sleepers++;
      while ((__atomic_load_n(&kiln_pool.state, __ATOMIC_ACQUIRE) >> 17) == seen) pthread_cond_wait(&kiln_pool.go, &kiln_pool.mu);
      kiln_pool.sleepers--;
      pthread_mutex_unlock(&kiln_pool.mu);
      st = __atomic_load_n(&kiln_pool.state, __ATOMIC_ACQUIRE);
    }
    seen = st >> 17;
    int joined = 0;
    while (!(st & KILN_CLOSED) && (st >> 17) == seen) {
      if (__atomic_compare_exchange_n(&kiln_pool.state, &st, st + 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) { joined = 1; break; }
    }
    if (!joined) continue;
    kiln_pool.fn(kiln_pool.arg, tid, kiln_pool.workers + 1);
    __atomic_add_fetch(&kiln_pool.exited, 1, __ATOMIC_RELEASE);
    pthread_mutex_lock(&kiln_pool.mu);
    pthread_cond_signal(&kiln_pool.done);
    pthread_mutex_unlock(&kiln_pool.mu);
  }
  return 0;
}

static void kiln_parallel(kiln_task fn, void *arg) {
  if (!kiln_pool.started) {
    kiln_pool.started = 1;
    for (int t = 1; t < KILN_THREADS; t++) {
      pthread_t th;
      if (pthread_create(&th, 0, kiln_worker, (void *)(long)t) != 0) break;
      pthread_detach(th);
      kiln_pool.workers++;
    }
  }
  if (!kiln_pool.workers) { fn(arg, 0, 1); return; }
  kiln_pool.fn = fn;
  kiln_pool.arg = arg;
  __atomic_store_n(&kiln_pool.exited, 0, __ATOMIC_RELAXED);
  const unsigned long gen = (__atomic_load_n(&kiln_pool.state, __ATOMIC_RELAXED) >> 17) + 1;
  __atomic_store_n(&kiln_pool.state, gen << 17, __ATOMIC_RELEASE);
  pthread_mutex_lock(&kiln_pool.mu);
  if (kiln_pool.sleepers) pthread_cond_broadcast(&kiln_pool.go);
  pthread_mutex_unlock(&kiln_pool.mu);
  fn(arg, 0, kiln_pool.workers + 1);
  /* Close the call: threads that have not joined by now stay out; wait for those that did. */
  const unsigned long joined = __atomic_fetch_or(&kiln_pool.state, KILN_CLOSED, __ATOMIC_ACQ_REL) & 0xfffful;
  for (int i = 0; __atomic_load_n(&kiln_pool.exited, __ATOMIC_ACQUIRE) < joined; i++) {
    if (i < KILN_SPIN) { KILN_YIELD(i); continue; }
    pthread_mutex_lock(&kiln_pool.mu);
    while (__atomic_load_n(&kiln_pool.exited, __ATOMIC_ACQUIRE) < joined) pthread_cond_wait(&kiln_pool.done, &kiln_pool.mu);
    pthread_mutex_unlock(&kiln_pool.mu);
  }
}
#else
static void kiln_parallel(kiln_task fn, void *arg) { fn(arg, 0, 1); }
#endif

/* ---- GEMM: C = A (M x K, row-major, lda) * B (K x N), B in panels of 16 columns ---- */
typedef struct {
  long M, N, K;
  const float *a;
  long lda;
  const float *bpacked;  /* [ceil(N/16)][K][16] packed at compile time, or 0: */
  const float *b;        /* B(k, n) = b[(koff ? koff[k] : k * ldb) + n * sn] */
  const long *koff;
  long ldb, sn;
  float *c;              /* C(i, n) at c[i * ldc + col(n)], where col(n) = n, or with wp: */
  long ldc, wp, ow;      /* col(n) = (n / wp) * ow + n % wp, and columns with n % wp >= ow are dropped */
  long ct;               /* or, when not 0, C transposed: C(i, n) at c[n * ct + i] (and the residual alike) */
  long mc;               /* rows per block (a block of A stays in L2) */
  kiln_epi e;
  float *scratch;        /* per thread: kiln_gemm_scratch(mc, K) floats */
  long scratch_floats;
  float *apacked;        /* with threads: room for all of A copied (M x (K + 16) floats), shared; or 0 */
  long next;             /* with threads: the next panel to take */
} kiln_gemm_args;

/* The microkernel: mr rows of A (row r at a + r * lda) times np (1 or 2) 16-column panels of B, kc steps, into t
   (rows of 16; the second panel's results at t + tp). B's panel row k is at bp + 16 k, or, with koff, read in place
   at bp + koff[k] (an implicit im2col, or the rows of a run-time matrix); the second panel's row is bs floats on. */
static inline __attribute__((always_inline)) void kiln_ukr(const int mr, const int np, long kc, const float *restrict a, long lda, const float *restrict bp, long bs, const long *restrict koff, float *restrict t, long tp, int accumulate) {
#pragma clang fp contract(fast)
  kiln_v acc[KILN_MR > 15 ? KILN_MR : 15], acc2[KILN_NP > 1 ? KILN_MR : 1];
  for (int r = 0; r < mr; r++) acc[r] = accumulate ? *(const kiln_v *)(t + r * 16) : (kiln_v){0};
  if (np > 1) for (int r = 0; r < mr; r++) acc2[r] = accumulate ? *(const kiln_v *)(t + tp + r * 16) : (kiln_v){0};
  /* One step: row is panel row k (the second panel's bs floats on); two loops, so that each is unrolled by itself. */
#define KILN_UKR_STEP(row, load) do { \
    const kiln_v b = load(row); \
    if (np > 1) { \
      const kiln_v b2 = load((row) + bs); \
      _Pragma("clang loop unroll(full)") \
      for (int r = 0; r < mr; r++) { const float x = a[r * lda + k]; acc[r] += x * b; acc2[r] += x * b2; } \
    } else { \
      _Pragma("clang loop unroll(full)") \
      for (int r = 0; r < mr; r++) acc[r] += a[r * lda + k] * b; \
    } \
  } while (0)
#define KILN_LOAD_ALIGNED(p) (*(const kiln_v *)(p))
  if (koff) for (long k = 0; k < kc; k++) KILN_UKR_STEP(bp + koff[k], kiln_load);
  else for (long k = 0; k < kc; k++) KILN_UKR_STEP(bp + k * 16, KILN_LOAD_ALIGNED);
#undef KILN_UKR_STEP
#undef KILN_LOAD_ALIGNED
  for (int r = 0; r < mr; r++) *(kiln_v *)(t + r * 16) = acc[r];
  if (np > 1) for (int r = 0; r < mr; r++) *(kiln_v *)(t + tp + r * 16) = acc2[r];
}

/* All mc rows: KILN_MR at a time, then the rest (a constant number in each case). A short rest is shared with the
   last full block in two near halves (16 rows as 8 + 8, not 12 + 4: a few rows keep too few accumulators busy). */
KILN_INLINE void kiln_ukr_rows(const int np, long mc, long kc, const float *a, long lda, const float *bp, long bs, const long *koff, float *t, long tp, int accumulate) {
  const long rest = mc % KILN_MR;
  const long full = mc - rest - (rest && rest < KILN_MR / 2 && mc > KILN_MR ? KILN_MR : 0);
  long i = 0;
  for (; i < full; i += KILN_MR) kiln_ukr(KILN_MR, np, kc, a + i * lda, lda, bp, bs, koff, t + i * 16, tp, accumulate);
  while (i < mc) {
    const long n = mc - i > KILN_MR ? (mc - i + 1) / 2 : mc - i;
    const float *an = a + i * lda;
    float *tn = t + i * 16;
    switch (n) {
#define KILN_CASE(m) case m: if (m <= KILN_MR) kiln_ukr(m, np, kc, an, lda, bp, bs, koff, tn, tp, accumulate); break;
      KILN_CASE(1) KILN_CASE(2) KILN_CASE(3) KILN_CASE(4) KILN_CASE(5) KILN_CASE(6) KILN_CASE(7) KILN_CASE(8)
      KILN_CASE(9) KILN_CASE(10) KILN_CASE(11) KILN_CASE(12) KILN_CASE(13) KILN_CASE(14)
#undef KILN_CASE
    }
    i += n;
  }
}

static void kiln_ukr_all(long mc, long kc, const float *a, long lda, const float *bp, const long *koff, float *t, int accumulate) {
  kiln_ukr_rows(1, mc, kc, a, lda, bp, 0, koff, t, 0, accumulate);
}

#if KILN_NP > 1
static void kiln_ukr_all2(long mc, long kc, const float *a, long lda, const float *bp, long bs, const long *koff, float *t, long tp, int accumulate) {
  kiln_ukr_rows(2, mc, kc, a, lda, bp, bs, koff, t, tp, accumulate);
}
#endif

static void kiln_pack_b(const kiln_gemm_args *g, long j0, long k0, long kc, float *restrict dst) {
  const long nr = KILN_MIN(16, g->N - j0);
  for (long k = 0; k < kc; k++) {
    const float *src = g->b + (g->koff ? g->koff[k0 + k] : (k0 + k) * g->ldb) + j0 * g->sn;
    float *d = dst + k * 16;
    if (nr == 16 && g->sn == 1) { *(kiln_v *)d = kiln_load(src); continue; }
    long j = 0;
    for (; j < nr; j++) d[j] = src[j * g->sn];
    for (; j < 16; j++) d[j] = 0.0f;
  }
}

static void kiln_gemm_store(const kiln_gemm_args *g, const float *t, long i0, long rows, long j0) {
  /* Local copies: a store to C could otherwise alias them, and every row would load them again. */
  const kiln_epi ev = g->e, *e = &ev;
  float *const cb = g->c;
  const long ldc = g->ldc;
  const long nr = KILN_MIN(16, g->N - j0);
  if (g->ct) {
    /* Each row's 16 results go to 16 output planes: gathered and scattered one by one (a row of C is one pixel of
       16 output channels; this path is taken where the pixels are few, so the stores are few next to the FMAs). */
    const long ct = g->ct;
    for (long i = i0; i < i0 + rows; i++) {
      kiln_v v = kiln_epi_v(e, *(const kiln_v *)(t + (i - i0) * 16), i, j0);
      if (e->res) for (long j = 0; j < nr; j++) v[j] += e->res[(j0 + j) * ct + i];
      v = kiln_act_v(e, v);
      for (long j = 0; j < nr; j++) cb[(j0 + j) * ct + i] = v[j];
    }
    return;
  }
  long col = j0;
  int contiguous = nr == 16;
  if (g->wp) {
    const long r = j0 / g->wp, q = j0 % g->wp;
    col = r * g->ow + q;
    contiguous = contiguous && q + 16 <= g->ow;
  }
  if (contiguous) {
    for (long i = i0; i < i0 + rows; i++) {
      kiln_v v = kiln_epi_v(e, *(const kiln_v *)(t + (i - i0) * 16), i, j0);
      if (e->res) v += kiln_load(e->res + i * ldc + col);
      kiln_store(cb + i * ldc + col, kiln_act_v(e, v));
    }
    return;
  }
  /* Where each of the panel's columns goes (-1: a column of the padded width, dropped). */
  long off[16];
  for (long j = 0; j < 16; j++) {
    const long n = j0 + j;
    off[j] = j >= nr ? -1 : !g->wp ? n : n % g->wp >= g->ow ? -1 : (n / g->wp) * g->ow + n % g->wp;
  }
  for (long i = i0; i < i0 + rows; i++) {
    kiln_v v = kiln_epi_v(e, *(const kiln_v *)(t + (i - i0) * 16), i, j0);
    float *c = cb + i * ldc;
    const float *res = e->res ? e->res + i * ldc : 0;
    if (res) for (int j = 0; j < 16; j++) v[j] += off[j] >= 0 ? res[off[j]] : 0.0f;
    v = kiln_act_v(e, v);
    for (int j = 0; j < 16; j++) if (off[j] >= 0) c[off[j]] = v[j];
  }
}

/* Rows [i0, i0 + mc) (packed in ap) times panels [p0, p1), two at a time where the microkernel takes two.
   Scratch: packed B (KILN_KC x 16 per panel, room for two), then results (mc x 16 per panel, room for two). */
static void kiln_gemm_block(const kiln_gemm_args *g, long i0, long mc, const float *ap, long alda, long p0, long p1, float *scratch) {
  float *pack = scratch, *tile = scratch + 2 * KILN_KC * 16;
  for (long p = p0; p < p1;) {
    const long j0 = p * 16;
#if KILN_NP > 1
    if (p + 1 < p1) {
      for (long k0 = 0; k0 < g->K; k0 += KILN_KC) {
        const long kc = KILN_MIN(KILN_KC, g->K - k0);
        const float *bp;
        const long *koff = 0;
        long bs;
        if (!g->bpacked && g->koff && g->sn == 1 && j0 + 32 <= g->N) { bp = g->b + j0; koff = g->koff + k0; bs = 16; }
        else if (g->bpacked) { bp = g->bpacked + (p * g->K + k0) * 16; bs = g->K * 16; }
        else { kiln_pack_b(g, j0, k0, kc, pack); kiln_pack_b(g, j0 + 16, k0, kc, pack + KILN_KC * 16); bp = pack; bs = KILN_KC * 16; }
        kiln_ukr_all2(mc, kc, ap + k0, alda, bp, bs, koff, tile, mc * 16, k0 > 0);
      }
      kiln_gemm_store(g, tile, i0, mc, j0);
      kiln_gemm_store(g, tile + mc * 16, i0, mc, j0 + 16);
      p += 2;
      continue;
    }
#endif
    for (long k0 = 0; k0 < g->K; k0 += KILN_KC) {
      const long kc = KILN_MIN(KILN_KC, g->K - k0);
      const float *bp = 0;
      const long *koff = 0;
      if (!g->bpacked && g->koff && g->sn == 1 && j0 + 16 <= g->N) {
        /* A whole panel of rows given by offsets: read in place (the rows are reused from L2, and packing would cost more). */
        bp = g->b + j0;
        koff = g->koff + k0;
      } else if (g->bpacked) bp = g->bpacked + (p * g->K + k0) * 16;
      else { kiln_pack_b(g, j0, k0, kc, pack); bp = pack; }
      kiln_ukr_all(mc, kc, ap + k0, alda, bp, koff, tile, k0 > 0);
    }
    kiln_gemm_store(g, tile, i0, mc, j0);
    p++;
  }
}

/* Rows of A whose length is a multiple of 4 KiB would share L1 sets (the microkernel reads KILN_MR of them
   at once): they are copied with 16 floats more per row first. Otherwise A is read in place. */
#define KILN_PAD_A(g) ((g)->lda % 1024 == 0)

static void kiln_copy_rows(const float *restrict a, long lda, long rows, long K, float *restrict dst) {
  for (long r = 0; r < rows; r++) memcpy(dst + r * (K + 16), a + r * lda, K * sizeof(float));
}

/* Panels [p0, p1) of every row block (A copied into this thread's scratch, after the block's results, when it must be). */
static void kiln_gemm_panels(const kiln_gemm_args *g, long p0, long p1, float *scratch) {
  float *ap = scratch + 2 * KILN_KC * 16 + 2 * g->mc * 16;
  for (long i0 = 0; i0 < g->M; i0 += g->mc) {
    const long mc = KILN_MIN(g->mc, g->M - i0);
    if (KILN_PAD_A(g)) {
      kiln_copy_rows(g->a + i0 * g->lda, g->lda, mc, g->K, ap);
      kiln_gemm_block(g, i0, mc, ap, g->K + 16, p0, p1, scratch);
    } else {
      kiln_gemm_block(g, i0, mc, g->a + i0 * g->lda, g->lda, p0, p1, scratch);
    }
  }
}

/* With threads: A is copied once if it must be (shared, when there is room), and the threads take chunks of panels as
   they come (a thread that the system holds up does less of the work instead of holding up the call). */
static void kiln_gemm_task(void *arg, int tid, int nt) {
  kiln_gemm_args *g = (kiln_gemm_args *)arg;
  const long panels = (g->N + 15) / 16;
  float *scratch = g->scratch + tid * g->scratch_floats;
  /* Small pieces (a held-up thread keeps at most one waiting), each a whole number of the microkernel's panels. */
  const long chunk = KILN_NP * (panels / (nt * 16 * KILN_NP) > 1 ? panels / (nt * 16 * KILN_NP) : 1);
  for (;;) {
    const long p0 = __atomic_fetch_add(&g->next, chunk, __ATOMIC_RELAXED);
    if (p0 >= panels) break;
    const long p1 = KILN_MIN(panels, p0 + chunk);
    if (!g->apacked) kiln_gemm_panels(g, p0, p1, scratch);
    else for (long i0 = 0; i0 < g->M; i0 += g->mc) kiln_gemm_block(g, i0, KILN_MIN(g->mc, g->M - i0), g->apacked + i0 * (g->K + 16), g->K + 16, p0, p1, scratch);
  }
}

static void kiln_gemm(kiln_gemm_args *g) {
  const long panels = (g->N + 15) / 16;
  if (KILN_THREADS > 1 && panels > 1 && (double)g->M * g->N * g->K > 1048576.0) {
    if (!KILN_PAD_A(g)) g->apacked = 0;
    if (g->apacked) kiln_copy_rows(g->a, g->lda, g->M, g->K, g->apacked);
    g->next = 0;
    kiln_parallel(kiln_gemm_task, g);
  } else {
    kiln_gemm_panels(g, 0, panels, g->scratch);
  }
}

/* Independent products (a batched MatMul): with threads, each thread takes whole products. */
typedef struct { kiln_gemm_args *g; long count, next; } kiln_batch_args;

static void kiln_batch_task(void *arg, int tid, int nt) {
  kiln_batch_args *b = (kiln_batch_args *)arg;
  (void)nt;
  for (;;) {
    const long i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED);
    if (i >= b->count) break;
    const kiln_gemm_args *g = &b->g[i];
    kiln_gemm_panels(g, 0, (g->N + 15) / 16, g->scratch + tid * g->scratch_floats);
  }
}

static void kiln_gemm_batch(kiln_gemm_args *g, long count) {
  kiln_batch_args b = { g, count, 0 };
  if (KILN_THREADS > 1 && count > 1) kiln_parallel(kiln_batch_task, &b);
  else for (long i = 0; i < count; i++) kiln_gemm(&g[i]);
}

/* ---- 3x3 stride-1 convolution by Winograd F(2x2, 3x3): 16 GEMMs of (M x C) x (C x tiles) per row of tiles ---- */
typedef struct {
  const float *x;        /* one image [C][H][W] */
  float *y;              /* [M][OH][OW] */
  const float *u;        /* transformed weights G g G^T: [16][M][C] */
  long C, H, W, M, OH, OW, pt, pl;
  long th, twp, hp, wp;  /* rows of tiles; tiles per row (rounded up to 16); the padded input plane */
  float *xp;             /* [C][hp][wp], zero around the input (never written there) */
  const long *koff;      /* c * twp: rows of a transformed-input matrix */
  kiln_epi e;            /* bias_m, res (the output's layout), clamp/activation */
  float *scratch;        /* per thread: 16 * C * twp + 16 * M * twp + 2 * KILN_KC * 16 + 2 * M * 16 */
  long scratch_floats;
  long next;
} kiln_wino_args;

#define KILN_EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#define KILN_ODD(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31)

static void kiln_wino_store(const kiln_wino_args *w, kiln_v v, long mo, long oh, long ow) {
  if (oh >= w->OH) return;
  const long at = (mo * w->OH + oh) * w->OW + ow;
  const long n = KILN_MIN(16, w->OW - ow);
  if (n <= 0) return;
  if (w->e.bias_m) v += w->e.bias_m[mo];
  if (n == 16) {
    if (w->e.res) v += kiln_load(w->e.res + at);
    kiln_store(w->y + at, kiln_act_v(&w->e, v));
    return;
  }
  if (w->e.res) for (long j = 0; j < n; j++) v[j] += w->e.res[at + j];
  v = kiln_act_v(&w->e, v);
  for (long j = 0; j < n; j++) w->y[at + j] = v[j];
}

static void kiln_wino_row(const kiln_wino_args *w, long i, float *scratch) {
  const long C = w->C, M = w->M, twp = w->twp;
  float *v = scratch, *m = v + 16 * C * twp, *gs = m + 16 * M * twp;
  /* Input transform: V = B^T d B for every 4x4 input tile d of this row, 16 tiles per vector. */
  for (long c = 0; c < C; c++) {
    for (long t0 = 0; t0 < twp; t0 += 16) {
      kiln_v d[4][4];
      for (int r = 0; r < 4; r++) {
        const float *p = w->xp + (c * w->hp + 2 * i + r) * w->wp + 2 * t0;
        const kiln_v a = kiln_load(p), b = kiln_load(p + 16), a2 = kiln_load(p + 2), b2 = kiln_load(p + 18);
        d[r][0] = KILN_EVEN(a, b); d[r][1] = KILN_ODD(a, b); d[r][2] = KILN_EVEN(a2, b2); d[r][3] = KILN_ODD(a2, b2);
      }
      for (int q = 0; q < 4; q++) {
        const kiln_v r0 = d[0][q] - d[2][q], r1 = d[1][q] + d[2][q], r2 = d[2][q] - d[1][q], r3 = d[1][q] - d[3][q];
        d[0][q] = r0; d[1][q] = r1; d[2][q] = r2; d[3][q] = r3;
      }
      for (int r = 0; r < 4; r++) {
        const kiln_v q0 = d[r][0] - d[r][2], q1 = d[r][1] + d[r][2], q2 = d[r][2] - d[r][1], q3 = d[r][1] - d[r][3];
        kiln_store(v + ((r * 4 + 0) * C + c) * twp + t0, q0);
        kiln_store(v + ((r * 4 + 1) * C + c) * twp + t0, q1);
        kiln_store(v + ((r * 4 + 2) * C + c) * twp + t0, q2);
        kiln_store(v + ((r * 4 + 3) * C + c) * twp + t0, q3);
      }
    }
  }
  /* 16 GEMMs: m_s = u_s (M x C) x v_s (C x twp). */
  for (int s = 0; s < 16; s++) {
    kiln_gemm_args g = { .M = M, .N = twp, .K = C, .b = v + s * C * twp, .koff = w->koff, .sn = 1, .c = m + s * M * twp, .ldc = twp, .mc = M };
    kiln_gemm_block(&g, 0, M, w->u + s * M * C, C, 0, twp / 16, gs);
  }
  /* Output transform: Y = A^T m A, two rows of outputs, 32 columns per pair of vectors. */
  for (long mo = 0; mo < M; mo++) {
    for (long t0 = 0; t0 < twp; t0 += 16) {
      kiln_v p0[4], p1[4];
      for (int q = 0; q < 4; q++) {
        const kiln_v m0 = kiln_load(m + ((0 * 4 + q) * M + mo) * twp + t0), m1 = kiln_load(m + ((1 * 4 + q) * M + mo) * twp + t0);
        const kiln_v m2 = kiln_load(m + ((2 * 4 + q) * M + mo) * twp + t0), m3 = kiln_load(m + ((3 * 4 + q) * M + mo) * twp + t0);
        p0[q] = m0 + m1 + m2;
        p1[q] = m1 - m2 - m3;
      }
      const kiln_v y00 = p0[0] + p0[1] + p0[2], y01 = p0[1] - p0[2] - p0[3];
      const kiln_v y10 = p1[0] + p1[1] + p1[2], y11 = p1[1] - p1[2] - p1[3];
      const long ow = 2 * t0;
      kiln_wino_store(w, __builtin_shufflevector(y00, y01, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), mo, 2 * i, ow);
      kiln_wino_store(w, __builtin_shufflevector(y00, y01, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), mo, 2 * i, ow + 16);
      kiln_wino_store(w, __builtin_shufflevector(y10, y11, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23), mo, 2 * i + 1, ow);
      kiln_wino_store(w, __builtin_shufflevector(y10, y11, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31), mo, 2 * i + 1, ow + 16);
    }
  }
}

static void kiln_wino_task(void *arg, int tid, int nt) {
  kiln_wino_args *w = (kiln_wino_args *)arg;
  (void)nt;
  for (;;) {
    const long i = __atomic_fetch_add(&w->next, 1, __ATOMIC_RELAXED);
    if (i >= w->th) break;
    kiln_wino_row(w, i, w->scratch + tid * w->scratch_floats);
  }
}

static void kiln_wino(kiln_wino_args *w) {
  for (long c = 0; c < w->C; c++) for (long h = 0; h < w->H; h++) memcpy(w->xp + (c * w->hp + h + w->pt) * w->wp + w->pl, w->x + (c * w->H + h) * w->W, w->W * sizeof(float));
  w->next = 0;
  if (KILN_THREADS > 1 && w->th > 1) kiln_parallel(kiln_wino_task, w);
  else kiln_wino_task(w, 0, 1);
}

/* ---- depthwise convolution, direct: one channel per step, 16 output columns per vector ---- */
typedef struct {
  const float *x, *w;
  float *y;
  long C, H, W, OH, OW;
  int KH, KW, sh, sw, dh, dw, pt, pl;
  long hp, wp;           /* padded input plane (zeros around), sized so full vectors stay inside */
  long bh, bw;           /* blocked (bh > 0): 16 channels at a time, their padded planes interleaved [bh][bw][16] */
  const float *wb;       /* blocked: the weights as [C / 16 rounded up][KH * KW][16] (zeros past the last channel) */
  kiln_epi e;            /* bias_m per channel; res in the output's layout */
  float *scratch;        /* per thread: hp * wp floats */
  long scratch_floats;
  long next;             /* with threads: the next channel to take */
} kiln_dw_args;

/* Channels [c0, c1), through xp: a zero-padded plane (zeroed by the caller; only its inside is written here). */
/* One output row of one channel's depthwise convolution: rows[kh] + kw is where tap (kh, kw) of output column 0 reads. */
KILN_INLINE void kiln_dw_row_w(const float *const *rows, const float *w, const kiln_v *wv, float bias, const kiln_epi *e, float *out, long OW, const int KH, const int KW, const int sw) {
#pragma clang fp contract(fast)
  for (long ow = 0; ow < OW; ow += 16) {
    /* A sum per row of the kernel (up to 5), added at the end: shorter chains of dependent multiply-adds. */
    kiln_v part[5];
    for (int kh = 0; kh < KH; kh++) {
      kiln_v acc = kh == 0 ? kiln_splat(bias) : (kiln_v){0};
      for (int kw = 0; kw < KW; kw++) {
        const float *p = rows[kh] + ow * sw + kw;
        kiln_v v;
        if (sw == 1) v = kiln_load(p);
        else if (sw == 2) v = __builtin_shufflevector(kiln_load(p), kiln_load(p + 16), 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
        else for (int j = 0; j < 16; j++) v[j] = p[j * sw];
        acc += (wv ? wv[kh * KW + kw] : kiln_splat(w[kh * KW + kw])) * v;
      }
      if (kh < 5) part[kh] = acc;
      else part[kh % 5] += acc;
    }
    kiln_v acc = part[0];
    for (int kh = 1; kh < KILN_MIN(KH, 5); kh++) acc += part[kh];
    acc = kiln_act_v(e, acc);
    const long n = KILN_MIN(16, OW - ow);
    if (n == 16) kiln_store(out + ow, acc);
    else for (long j = 0; j < n; j++) out[ow + j] = acc[j];
  }
}

/* The channel's weights (up to 5x5) are broadcast into registers once, and the epilogue copied: otherwise, since a
   store to out could alias them, every 16 outputs would load them all again. */
KILN_INLINE void kiln_dw_row(const float *const *rows, const float *w, float bias, const kiln_epi *e, float *out, long OW, const int KH, const int KW, const int sw) {
  const kiln_epi ev = *e;
  if (KH * KW <= 25) {
    kiln_v wv[25];
    for (int i = 0; i < KH * KW; i++) wv[i] = kiln_splat(w[i]);
    kiln_dw_row_w(rows, w, wv, bias, &ev, out, OW, KH, KW, sw);
  } else {
    kiln_dw_row_w(rows, w, 0, bias, &ev, out, OW, KH, KW, sw);
  }
}

/* One output row of one channel, the common kernels with their sizes known to the compiler. */
static void kiln_dw_row_any(const float *const *rows, const float *w, float bias, const kiln_epi *e, float *out, long OW, int KH, int KW, int sw) {
  if (KH == 3 && KW == 3 && sw == 1) kiln_dw_row(rows, w, bias, e, out, OW, 3, 3, 1);
  else if (KH == 3 && KW == 3 && sw == 2) kiln_dw_row(rows, w, bias, e, out, OW, 3, 3, 2);
  else if (KH == 5 && KW == 5 && sw == 1) kiln_dw_row(rows, w, bias, e, out, OW, 5, 5, 1);
  else if (KH == 5 && KW == 5 && sw == 2) kiln_dw_row(rows, w, bias, e, out, OW, 5, 5, 2);
  else kiln_dw_row(rows, w, bias, e, out, OW, KH, KW, sw);
}

/* A channel's whole plane, the common kernels with their sizes known to the compiler: the weights are broadcast
   once per channel, not once per row (with 16 lanes on AVX2 they do not all fit in registers, and broadcasting
   them again for every row of a 7x7 plane cost more than the multiply-adds). */
KILN_INLINE void kiln_dw_plane(const float *xp, long wp, const float *w, float bias, const kiln_epi *e, float *y, long OH, long OW, int dh, const int KH, const int KW, const int sh, const int sw) {
  const kiln_epi ev = *e;
  kiln_v wv[25];
  for (int i = 0; i < KH * KW; i++) wv[i] = kiln_splat(w[i]);
  for (long oh = 0; oh < OH; oh++) {
    const float *rows[5];
    for (int kh = 0; kh < KH; kh++) rows[kh] = xp + (oh * sh + kh * dh) * wp;
    kiln_dw_row_w(rows, w, wv, bias, &ev, y + oh * OW, OW, KH, KW, sw);
  }
}

static int kiln_dw_plane_any(const float *xp, long wp, const float *w, float bias, const kiln_epi *e, float *y, long OH, long OW, int dh, int KH, int KW, int sh, int sw) {
  if (KH == 3 && KW == 3 && sh == 1 && sw == 1) kiln_dw_plane(xp, wp, w, bias, e, y, OH, OW, dh, 3, 3, 1, 1);
  else if (KH == 3 && KW == 3 && sh == 2 && sw == 2) kiln_dw_plane(xp, wp, w, bias, e, y, OH, OW, dh, 3, 3, 2, 2);
  else if (KH == 5 && KW == 5 && sh == 1 && sw == 1) kiln_dw_plane(xp, wp, w, bias, e, y, OH, OW, dh, 5, 5, 1, 1);
  else if (KH == 5 && KW == 5 && sh == 2 && sw == 2) kiln_dw_plane(xp, wp, w, bias, e, y, OH, OW, dh, 5, 5, 2, 2);
  else return 0;
  return 1;
}

/* The activation of a channel's plane of n outputs, in place: run apart from the multiply-adds, whose weights then
   stay in registers, and over the plane as one run of vectors (a 7x7 plane is 4 vectors, not 7 rows of 16 lanes). */
static void kiln_act_plane(const kiln_epi *e, float *y, long n) {
  kiln_epi a = *e;
  a.clamp = 0;
  long i = 0;
  for (; i + 16 <= n; i += 16) kiln_store(y + i, kiln_act_v(&a, kiln_load(y + i)));
  if (i < n) {
    kiln_v v = {0};
    for (long j = 0; j < n - i; j++) v[j] = y[i + j];
    v = kiln_act_v(&a, v);
    for (long j = 0; j < n - i; j++) y[i + j] = v[j];
  }
}

static void kiln_dw_channels(const kiln_dw_args *dp, long c0, long c1, float *xp) {
#pragma clang fp contract(fast)
  /* A local copy: a store to the output could otherwise alias the arguments, and every vector would load them again. */
  const kiln_dw_args dv = *dp, *d = &dv;
  /* The rows' epilogue without the activation, which follows over the whole plane (kiln_act_plane). */
  kiln_epi er = d->e;
  er.act = 0;
  for (long c = c0; c < c1; c++) {
    const float *x = d->x + c * d->H * d->W;
    for (long h = 0; h < d->H; h++) memcpy(xp + (h + d->pt) * d->wp + d->pl, x + h * d->W, d->W * sizeof(float));
    const float *w = d->w + c * d->KH * d->KW;
    const float bias = d->e.bias_m ? d->e.bias_m[c] : 0.0f;
    float *y = d->y + c * d->OH * d->OW;
    const float *res = d->e.res ? d->e.res + c * d->OH * d->OW : 0;
    if (d->dw == 1 && !res && d->KH <= 16) {
      /* Undilated, no residual: a row at a time, as the inverted residual kernel does. */
      if (!kiln_dw_plane_any(xp, d->wp, w, bias, &er, y, d->OH, d->OW, d->dh, d->KH, d->KW, d->sh, d->sw))
      for (long oh = 0; oh < d->OH; oh++) {
        const float *rows[16];
        for (int kh = 0; kh < d->KH; kh++) rows[kh] = xp + (oh * d->sh + kh * d->dh) * d->wp;
        kiln_dw_row_any(rows, w, bias, &er, y + oh * d->OW, d->OW, d->KH, d->KW, d->sw);
      }
      if (d->e.act) kiln_act_plane(&d->e, y, d->OH * d->OW);
      continue;
    }
    for (long oh = 0; oh < d->OH; oh++) {
      for (long ow = 0; ow < d->OW; ow += 16) {
        kiln_v acc = kiln_splat(bias);
        for (int kh = 0; kh < d->KH; kh++) {
          const float *row = xp + (oh * d->sh + kh * d->dh) * d->wp + ow * d->sw;
          for (int kw = 0; kw < d->KW; kw++) {
            const float *p = row + kw * d->dw;
            kiln_v v;
            if (d->sw == 1) v = kiln_load(p);
            else if (d->sw == 2) v = __builtin_shufflevector(kiln_load(p), kiln_load(p + 16), 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
            else for (int j = 0; j < 16; j++) v[j] = p[j * d->sw];
            acc += w[kh * d->KW + kw] * v;
          }
        }
        float *out = y + oh * d->OW + ow;
        const long n = KILN_MIN(16, d->OW - ow);
        if (n == 16) {
          if (res) acc += kiln_load(res + oh * d->OW + ow);
          kiln_store(out, kiln_act_v(&d->e, acc));
        } else {
          if (res) for (long j = 0; j < n; j++) acc[j] += res[oh * d->OW + ow + j];
          acc = kiln_act_v(&d->e, acc);
          for (long j = 0; j < n; j++) out[j] = acc[j];
        }
      }
    }
  }
}

/* Small output planes (16 columns or fewer), 16 channels at a time: their zero-padded inputs interleaved ([bh][bw][16])
   so that a vector is one position of 16 channels and no lane idles (rows of a 7x7 plane would leave 9 of 16 idle).
   xb: bh * bw * 16 floats, zeroed by the caller (only the inside is written here), then OH * OW * 16 for the results.
   Undilated in width or not, no residual; up to 7x7 taps. Lanes past the last channel compute what is left there. */
/* One block's outputs, with the common kernel sizes known to the compiler (its loops then unrolled). */
KILN_INLINE void kiln_dw_block_taps(const kiln_dw_args *d, const float *xb, const float *wk, kiln_v bias, float *yb, const int KH, const int KW) {
#pragma clang fp contract(fast)
  for (long oh = 0; oh < d->OH; oh++) {
    for (long ow = 0; ow < d->OW; ow++) {
      kiln_v acc = bias;
      for (int kh = 0; kh < KH; kh++) {
        const float *row = xb + ((oh * d->sh + kh * d->dh) * d->bw + ow * d->sw) * 16;
        for (int kw = 0; kw < KW; kw++) acc += *(const kiln_v *)(wk + (kh * KW + kw) * 16) * *(const kiln_v *)(row + kw * d->dw * 16);
      }
      *(kiln_v *)(yb + (oh * d->OW + ow) * 16) = kiln_act_v(&d->e, acc);
    }
  }
}

static void kiln_dw_blocked(const kiln_dw_args *dp, long c0, long c1, float *xb) {
#pragma clang fp contract(fast)
  const kiln_dw_args dv = *dp, *d = &dv;
  const long bw = d->bw, taps = d->KH * d->KW, plane = d->OH * d->OW;
  float *yb = xb + d->bh * bw * 16;
  for (long cb = c0; cb < c1; cb += 16) {
    const long nc = KILN_MIN(16, c1 - cb);
    for (long c = 0; c < nc; c++) {
      const float *x = d->x + (cb + c) * d->H * d->W;
      for (long h = 0; h < d->H && h + d->pt < d->bh; h++)
        for (long w = 0; w < d->W && w + d->pl < bw; w++) xb[((h + d->pt) * bw + w + d->pl) * 16 + c] = x[h * d->W + w];
    }
    const float *wk = d->wb + (cb / 16) * taps * 16;
    float bt[16] __attribute__((aligned(64))) = {0};
    if (d->e.bias_m) memcpy(bt, d->e.bias_m + cb, nc * sizeof(float));
    const kiln_v bias = *(const kiln_v *)bt;
    if (d->KH == 3 && d->KW == 3) kiln_dw_block_taps(d, xb, wk, bias, yb, 3, 3);
    else if (d->KH == 5 && d->KW == 5) kiln_dw_block_taps(d, xb, wk, bias, yb, 5, 5);
    else kiln_dw_block_taps(d, xb, wk, bias, yb, d->KH, d->KW);
    for (long c = 0; c < nc; c++) {
      float *y = d->y + (cb + c) * plane;
      for (long i = 0; i < plane; i++) y[i] = yb[i * 16 + c];
    }
  }
}

static void kiln_dw_task(void *arg, int tid, int nt) {
  kiln_dw_args *d = (kiln_dw_args *)arg;
  float *xp = d->scratch + tid * d->scratch_floats;
  /* Small pieces: a thread the system holds up keeps at most one of them waiting. Blocked: whole blocks of 16. */
  const long chunk = d->bh ? 16 * (d->C / (nt * 256) > 1 ? d->C / (nt * 256) : 1) : d->C / (nt * 16) > 1 ? d->C / (nt * 16) : 1;
  int zeroed = 0;
  for (;;) {
    const long c0 = __atomic_fetch_add(&d->next, chunk, __ATOMIC_RELAXED);
    if (c0 >= d->C) break;
    if (!zeroed) {
      memset(xp, 0, (d->bh ? d->bh * d->bw * 16 : d->hp * d->wp) * sizeof(float));
      zeroed = 1;
    }
    if (d->bh) kiln_dw_blocked(d, c0, KILN_MIN(d->C, c0 + chunk), xp);
    else kiln_dw_channels(d, c0, KILN_MIN(d->C, c0 + chunk), xp);
  }
}

static void kiln_dwconv(kiln_dw_args *d) {
  d->next = 0;
  /* Memory-bound (a few multiply-adds per element moved): measured, a second thread made it slower (the
     threads' reads and writes contend), so it runs on the calling thread unless asked otherwise. */
#ifdef KILN_DW_THREADS
  if (KILN_THREADS > 1 && d->C > 1 && d->C * d->OH * d->OW * d->KH * d->KW > 100000) kiln_parallel(kiln_dw_task, d);
  else
#endif
  kiln_dw_task(d, 0, 1);
}
/* ---- inverted residual (MobileNetV2): 1x1 expand, depthwise, 1x1 project, one row of output at a time ----
   The expanded and depthwise tensors never go to memory in full: the expand's rows live in a ring of KH zero-padded
   rows per channel (each input row is expanded once, when the first output row needs it), and the depthwise row
   of every channel is what the project reads. */
typedef struct {
  const float *x;          /* one image [C][H][W] */
  float *y;                /* [M][OH][OW] */
  long C, H, W, E, M, OH, OW;
  const float *wexp, *wdw, *wproj; /* expand [E][C], depthwise [E][KH][KW], project [M][E] */
  int KH, KW, sh, sw, pt, pl;
  long lead, wp;           /* a row of the ring: its W values from column lead (a multiple of 16), zeros around; wp floats (a multiple of 16) */
  kiln_epi e1, ed, e2;     /* expand (bias_m, clamp), depthwise (bias_m per channel, clamp), project (bias_m, res: [M][OH][OW]) */
  const long *koff2;       /* e * OW */
  float *scratch;          /* per thread: E * KH * wp (the ring), E * OW rounded up to 16 (the depthwise row), then the GEMMs' */
  long scratch_floats;
  long chunk, next;        /* rows of output per piece; with threads, the next piece to take */
} kiln_ir_args;

static void kiln_ir_rows(const kiln_ir_args *r, long oh0, long oh1, float *scratch) {
  const long q = r->KH, wp = r->wp, plane = q * wp;
  /* gs starts on a 64-byte boundary: the GEMM's packed panels are read with aligned vector loads. */
  float *ring = scratch, *drow = ring + r->E * plane, *gs = drow + ((r->E * r->OW + 15) & ~15L);
  memset(ring, 0, r->E * plane * sizeof(float));
  long have = oh0 * r->sh - r->pt - 1; /* the last input row in the ring (none yet) */
  for (long oh = oh0; oh < oh1; oh++) {
    const long lo = oh * r->sh - r->pt;
    /* The input rows this output row needs that the ring lacks: expanded (or zeros, outside the image). */
    for (long ih = have + 1 > lo ? have + 1 : lo; ih < lo + q; ih++) {
      const long slot = ((ih % q) + q) % q;
      if (ih < 0 || ih >= r->H) {
        for (long e = 0; e < r->E; e++) memset(ring + e * plane + slot * wp, 0, wp * sizeof(float));
      } else {
        /* B packed a panel at a time (the input's channels are a plane apart, and reading them in place would put them in a few L1 sets). */
        kiln_gemm_args g = { .M = r->E, .N = r->W, .K = r->C, .a = r->wexp, .lda = r->C, .b = r->x + ih * r->W, .ldb = r->H * r->W, .sn = 1,
          .c = ring + slot * wp + r->lead, .ldc = plane, .mc = r->E, .e = r->e1 };
        kiln_gemm_block(&g, 0, r->E, r->wexp, r->C, 0, (r->W + 15) / 16, gs);
      }
    }
    have = lo + q - 1;
    /* The depthwise row of every channel. */
    for (long e = 0; e < r->E; e++) {
      const float *rows[16];
      for (int kh = 0; kh < r->KH; kh++) rows[kh] = ring + e * plane + (((lo + kh) % q + q) % q) * wp + r->lead - r->pl;
      kiln_dw_row_any(rows, r->wdw + e * r->KH * r->KW, r->ed.bias_m ? r->ed.bias_m[e] : 0.0f, &r->ed, drow + e * r->OW, r->OW, r->KH, r->KW, r->sw);
    }
    /* The project: this row of every output channel (the residual at the same place). */
    kiln_gemm_args g = { .M = r->M, .N = r->OW, .K = r->E, .a = r->wproj, .lda = r->E, .b = drow, .koff = r->koff2, .sn = 1,
      .c = r->y + oh * r->OW, .ldc = r->OH * r->OW, .mc = r->M, .e = r->e2 };
    if (g.e.res) g.e.res += oh * r->OW;
    kiln_gemm_block(&g, 0, r->M, r->wproj, r->E, 0, (r->OW + 15) / 16, gs);
  }
}

static void kiln_ir_task(void *arg, int tid, int nt) {
  kiln_ir_args *r = (kiln_ir_args *)arg;
  (void)nt;
  for (;;) {
    const long oh0 = __atomic_fetch_add(&r->next, r->chunk, __ATOMIC_RELAXED);
    if (oh0 >= r->OH) break;
    kiln_ir_rows(r, oh0, KILN_MIN(r->OH, oh0 + r->chunk), r->scratch + tid * r->scratch_floats);
  }
}

static void kiln_ir(kiln_ir_args *r) {
  r->next = 0;
  if (KILN_THREADS > 1 && r->chunk < r->OH) kiln_parallel(kiln_ir_task, r);
  else kiln_ir_task(r, 0, 1);
}
/* ---- end of the kernel library ---- */
`;
}
