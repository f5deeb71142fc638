import type { EmitContext } from './op';

/**
 * The integer GEMM of the quantized operators (MatMulInteger, QLinearMatMul, ConvInteger,
 * QLinearConv): 8-bit operands, 32-bit sums, exact. With A (M x K) and B (K x N) and their zero
 * points,
 *
 *   C[m][n] = sum_k (A[m][k] - za) (B[k][n] - zb[n])
 *           = D[m][n] - zb[n] RA[m] - za CB[n] + K za zb[n],   D = A B, RA the row sums of A, CB the column sums of B,
 *
 * computed modulo 2^32 like every int32 accumulation, so the order of the sums cannot change the
 * result. The kernel computes D from bytes whose signedness suits the target's dot-product
 * instruction: B is always int8 (a uint8 B is stored minus 128, its zero point moved with it);
 * A is uint8 on x86 (vpdpbusd multiplies unsigned by signed bytes) and int8 with Arm's sdot (a
 * value of the other signedness has its top bit flipped, which moves it and its zero point by
 * 128). The corrections then use the stored values' sums.
 *
 * Packed layout: B in panels of 16 columns, each 4 rows of K deep interleaved (panel p, row group
 * g, column j, row t at ((p * kp / 4 + g) * 16 + j) * 4 + t): one 64-byte load gives the 16
 * columns' next 4 products for one 4-byte broadcast of A. K is padded with zeros to kp, a multiple
 * of 16; rows of A to a multiple of 4.
 *
 * Paths, chosen by the preprocessor from the target's features:
 *   AVX-512 VNNI: vpdpbusd on zmm; AVX-VNNI: vpdpbusd on two ymm;
 *   AVX-512BW, AVX2, SSE2: the same sums from vpmaddwd on bytes widened to 16 bits (even and odd
 *     bytes apart), which cannot saturate (vpmaddubsw could: 255 x 127 x 2 > 32767);
 *   Arm with the dot-product extension: sdot (vdotq_laneq_s32);
 *   elsewhere: plain C, 32-bit multiply-adds.
 */

/** K padded for the kernel: whole 16-byte groups. */
export function qgemmDepth(K: number): number {
  return Math.max(16, Math.ceil(K / 16) * 16);
}

/** Panels of 16 columns. */
export function qgemmPanels(N: number): number {
  return Math.ceil(N / 16);
}

/** Rows of A per block: the block (rows x kp bytes) stays in L2, next to one panel of B in L1. */
export function qgemmRowBlock(M: number, kp: number): number {
  const m4 = Math.ceil(M / 4) * 4;
  return Math.min(m4, Math.max(16, Math.min(256, Math.floor((96 * 1024) / kp) & ~3)));
}

/**
 * Packs B (K x N, element (k, n) from `at`) at compile time: int8 panels (a uint8 B minus 128)
 * and the column sums of the stored values (N padded to whole panels).
 */
export function packQPanels(at: (k: number, n: number) => number, K: number, N: number, unsigned: boolean): { panels: Int8Array; sums: Int32Array } {
  const kp = qgemmDepth(K);
  const P = qgemmPanels(N);
  const panels = new Int8Array(P * kp * 16);
  const sums = new Int32Array(P * 16);
  const off = unsigned ? 128 : 0;
  for (let n = 0; n < N; n++) {
    const p = n >> 4;
    const j = n & 15;
    let s = 0;
    for (let k = 0; k < K; k++) {
      const v = at(k, n) - off;
      panels[((p * kp + (k & ~3)) * 16) + j * 4 + (k & 3)] = v;
      s += v;
    }
    sums[n] = s;
  }
  return { panels, sums };
}

/** The C of the kernel (file scope, once per model). */
export const QGEMM_C = `/* ---- Kiln integer GEMM: 8-bit operands, exact 32-bit sums (see ops/qgemm.ts) ---- */
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif
#if defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#include <arm_neon.h>
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
#define KILN_QG_PATH "avx512-vnni"
#define KILN_QG_AU 1
#elif defined(__AVXVNNI__)
#define KILN_QG_PATH "avx-vnni"
#define KILN_QG_AU 1
#elif defined(__AVX512BW__)
#define KILN_QG_PATH "avx512bw"
#define KILN_QG_AU 1
#elif defined(__AVX2__)
#define KILN_QG_PATH "avx2"
#define KILN_QG_AU 1
#elif defined(__SSE2__)
#define KILN_QG_PATH "sse2"
#define KILN_QG_AU 1
#elif defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
#define KILN_QG_PATH "sdot"
#define KILN_QG_AU 0
#else
#define KILN_QG_PATH "c"
#define KILN_QG_AU 1
#endif
/* A's bytes are stored unsigned (KILN_QG_AU) or signed: a value of the other kind has its top bit flipped, moving it by 128. */
#define KILN_QG_FLIP(sgn) ((((sgn) != 0) == (KILN_QG_AU != 0)) ? 0x80 : 0)
#define KILN_QG_AOFF(sgn) ((sgn) ? (KILN_QG_AU ? 128 : 0) : (KILN_QG_AU ? 0 : -128))
static inline int32_t kiln_qg_ld4(const uint8_t *p) { int32_t v; memcpy(&v, p, 4); return v; }

/* D (4 rows x 16 columns, row stride ldc) = 4 rows of A (stride kp) times one panel of B. */
static inline void kiln_qg_4x16(const uint8_t *a, long kp, const int8_t *b, int32_t *c, long ldc) {
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
  for (long k = 0; k < kp; k += 4) {
    const __m512i bv = _mm512_loadu_si512((const void *)(b + k * 16));
    c0 = _mm512_dpbusd_epi32(c0, _mm512_set1_epi32(kiln_qg_ld4(a + k)), bv);
    c1 = _mm512_dpbusd_epi32(c1, _mm512_set1_epi32(kiln_qg_ld4(a + kp + k)), bv);
    c2 = _mm512_dpbusd_epi32(c2, _mm512_set1_epi32(kiln_qg_ld4(a + 2 * kp + k)), bv);
    c3 = _mm512_dpbusd_epi32(c3, _mm512_set1_epi32(kiln_qg_ld4(a + 3 * kp + k)), bv);
  }
  _mm512_storeu_si512((void *)c, c0);
  _mm512_storeu_si512((void *)(c + ldc), c1);
  _mm512_storeu_si512((void *)(c + 2 * ldc), c2);
  _mm512_storeu_si512((void *)(c + 3 * ldc), c3);
#elif defined(__AVXVNNI__)
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  for (long k = 0; k < kp; k += 4) {
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + k * 16)), b1 = _mm256_loadu_si256((const __m256i *)(b + k * 16 + 32));
    __m256i av = _mm256_set1_epi32(kiln_qg_ld4(a + k));
    c0 = _mm256_dpbusd_avx_epi32(c0, av, b0); c1 = _mm256_dpbusd_avx_epi32(c1, av, b1);
    av = _mm256_set1_epi32(kiln_qg_ld4(a + kp + k));
    c2 = _mm256_dpbusd_avx_epi32(c2, av, b0); c3 = _mm256_dpbusd_avx_epi32(c3, av, b1);
    av = _mm256_set1_epi32(kiln_qg_ld4(a + 2 * kp + k));
    c4 = _mm256_dpbusd_avx_epi32(c4, av, b0); c5 = _mm256_dpbusd_avx_epi32(c5, av, b1);
    av = _mm256_set1_epi32(kiln_qg_ld4(a + 3 * kp + k));
    c6 = _mm256_dpbusd_avx_epi32(c6, av, b0); c7 = _mm256_dpbusd_avx_epi32(c7, av, b1);
  }
  _mm256_storeu_si256((__m256i *)c, c0); _mm256_storeu_si256((__m256i *)(c + 8), c1);
  _mm256_storeu_si256((__m256i *)(c + ldc), c2); _mm256_storeu_si256((__m256i *)(c + ldc + 8), c3);
  _mm256_storeu_si256((__m256i *)(c + 2 * ldc), c4); _mm256_storeu_si256((__m256i *)(c + 2 * ldc + 8), c5);
  _mm256_storeu_si256((__m256i *)(c + 3 * ldc), c6); _mm256_storeu_si256((__m256i *)(c + 3 * ldc + 8), c7);
#elif defined(__AVX512BW__)
  /* Each 32-bit lane: bytes 0 and 2 (sign-extended from B, zero-extended from A) in one vpmaddwd, 1 and 3 in another. */
  const __m512i lo = _mm512_set1_epi16(0x00ff);
  __m512i c0 = _mm512_setzero_si512(), c1 = c0, c2 = c0, c3 = c0;
  for (long k = 0; k < kp; k += 4) {
    const __m512i bv = _mm512_loadu_si512((const void *)(b + k * 16));
    const __m512i be = _mm512_srai_epi16(_mm512_slli_epi16(bv, 8), 8), bo = _mm512_srai_epi16(bv, 8);
#define KILN_QG_ROW(cr, r) { const __m512i av = _mm512_set1_epi32(kiln_qg_ld4(a + (r) * kp + k)); \\
    cr = _mm512_add_epi32(cr, _mm512_add_epi32(_mm512_madd_epi16(_mm512_and_si512(av, lo), be), _mm512_madd_epi16(_mm512_srli_epi16(av, 8), bo))); }
    KILN_QG_ROW(c0, 0) KILN_QG_ROW(c1, 1) KILN_QG_ROW(c2, 2) KILN_QG_ROW(c3, 3)
#undef KILN_QG_ROW
  }
  _mm512_storeu_si512((void *)c, c0);
  _mm512_storeu_si512((void *)(c + ldc), c1);
  _mm512_storeu_si512((void *)(c + 2 * ldc), c2);
  _mm512_storeu_si512((void *)(c + 3 * ldc), c3);
#elif defined(__AVX2__)
  const __m256i lo = _mm256_set1_epi16(0x00ff);
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  for (long k = 0; k < kp; k += 4) {
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + k * 16)), b1 = _mm256_loadu_si256((const __m256i *)(b + k * 16 + 32));
    const __m256i e0 = _mm256_srai_epi16(_mm256_slli_epi16(b0, 8), 8), o0 = _mm256_srai_epi16(b0, 8);
    const __m256i e1 = _mm256_srai_epi16(_mm256_slli_epi16(b1, 8), 8), o1 = _mm256_srai_epi16(b1, 8);
#define KILN_QG_ROW(ca, cb, r) { const __m256i av = _mm256_set1_epi32(kiln_qg_ld4(a + (r) * kp + k)); \\
    const __m256i ae = _mm256_and_si256(av, lo), ao = _mm256_srli_epi16(av, 8); \\
    ca = _mm256_add_epi32(ca, _mm256_add_epi32(_mm256_madd_epi16(ae, e0), _mm256_madd_epi16(ao, o0))); \\
    cb = _mm256_add_epi32(cb, _mm256_add_epi32(_mm256_madd_epi16(ae, e1), _mm256_madd_epi16(ao, o1))); }
    KILN_QG_ROW(c0, c1, 0) KILN_QG_ROW(c2, c3, 1) KILN_QG_ROW(c4, c5, 2) KILN_QG_ROW(c6, c7, 3)
#undef KILN_QG_ROW
  }
  _mm256_storeu_si256((__m256i *)c, c0); _mm256_storeu_si256((__m256i *)(c + 8), c1);
  _mm256_storeu_si256((__m256i *)(c + ldc), c2); _mm256_storeu_si256((__m256i *)(c + ldc + 8), c3);
  _mm256_storeu_si256((__m256i *)(c + 2 * ldc), c4); _mm256_storeu_si256((__m256i *)(c + 2 * ldc + 8), c5);
  _mm256_storeu_si256((__m256i *)(c + 3 * ldc), c6); _mm256_storeu_si256((__m256i *)(c + 3 * ldc + 8), c7);
#elif defined(__SSE2__)
  /* Two rows at a time (16 accumulators would not fit the 16 xmm registers with B's). */
  const __m128i lo = _mm_set1_epi16(0x00ff);
  for (int r = 0; r < 4; r += 2) {
    __m128i c0 = _mm_setzero_si128(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
    for (long k = 0; k < kp; k += 4) {
      const __m128i a0 = _mm_set1_epi32(kiln_qg_ld4(a + r * kp + k)), a1 = _mm_set1_epi32(kiln_qg_ld4(a + (r + 1) * kp + k));
      const __m128i ae0 = _mm_and_si128(a0, lo), ao0 = _mm_srli_epi16(a0, 8), ae1 = _mm_and_si128(a1, lo), ao1 = _mm_srli_epi16(a1, 8);
#define KILN_QG_COL(ca, cb, q) { const __m128i bv = _mm_loadu_si128((const __m128i *)(b + k * 16 + 16 * (q))); \\
      const __m128i be = _mm_srai_epi16(_mm_slli_epi16(bv, 8), 8), bo = _mm_srai_epi16(bv, 8); \\
      ca = _mm_add_epi32(ca, _mm_add_epi32(_mm_madd_epi16(ae0, be), _mm_madd_epi16(ao0, bo))); \\
      cb = _mm_add_epi32(cb, _mm_add_epi32(_mm_madd_epi16(ae1, be), _mm_madd_epi16(ao1, bo))); }
      KILN_QG_COL(c0, c4, 0) KILN_QG_COL(c1, c5, 1) KILN_QG_COL(c2, c6, 2) KILN_QG_COL(c3, c7, 3)
#undef KILN_QG_COL
    }
    int32_t *c_0 = c + r * ldc, *c_1 = c_0 + ldc;
    _mm_storeu_si128((__m128i *)c_0, c0); _mm_storeu_si128((__m128i *)(c_0 + 4), c1); _mm_storeu_si128((__m128i *)(c_0 + 8), c2); _mm_storeu_si128((__m128i *)(c_0 + 12), c3);
    _mm_storeu_si128((__m128i *)c_1, c4); _mm_storeu_si128((__m128i *)(c_1 + 4), c5); _mm_storeu_si128((__m128i *)(c_1 + 8), c6); _mm_storeu_si128((__m128i *)(c_1 + 12), c7);
  }
#elif defined(__aarch64__) && defined(__ARM_FEATURE_DOTPROD)
  int32x4_t acc[4][4];
  for (int r = 0; r < 4; r++) for (int j = 0; j < 4; j++) acc[r][j] = vdupq_n_s32(0);
  for (long k = 0; k < kp; k += 16) {
    int8x16_t av[4];
    for (int r = 0; r < 4; r++) av[r] = vreinterpretq_s8_u8(vld1q_u8(a + r * kp + k));
#define KILN_QG_LANE(t) { const int8_t *bk = b + (k + 4 * (t)) * 16; \\
    const int8x16_t b0 = vld1q_s8(bk), b1 = vld1q_s8(bk + 16), b2 = vld1q_s8(bk + 32), b3 = vld1q_s8(bk + 48); \\
    for (int r = 0; r < 4; r++) { \\
      acc[r][0] = vdotq_laneq_s32(acc[r][0], b0, av[r], t); acc[r][1] = vdotq_laneq_s32(acc[r][1], b1, av[r], t); \\
      acc[r][2] = vdotq_laneq_s32(acc[r][2], b2, av[r], t); acc[r][3] = vdotq_laneq_s32(acc[r][3], b3, av[r], t); } }
    KILN_QG_LANE(0) KILN_QG_LANE(1) KILN_QG_LANE(2) KILN_QG_LANE(3)
#undef KILN_QG_LANE
  }
  for (int r = 0; r < 4; r++) for (int j = 0; j < 4; j++) vst1q_s32(c + r * ldc + 4 * j, acc[r][j]);
#else
  int32_t acc[4][16] = {{0}};
  for (long k = 0; k < kp; k += 4) {
    const int8_t *bk = b + k * 16;
    for (int r = 0; r < 4; r++) {
      const uint8_t *ar = a + r * kp + k;
      for (int j = 0; j < 16; j++) acc[r][j] += (int32_t)ar[0] * bk[4 * j] + (int32_t)ar[1] * bk[4 * j + 1] + (int32_t)ar[2] * bk[4 * j + 2] + (int32_t)ar[3] * bk[4 * j + 3];
    }
  }
  for (int r = 0; r < 4; r++) for (int j = 0; j < 16; j++) c[r * ldc + j] = acc[r][j];
#endif
}

/* With VNNI, more rows at a time: vpdpbusd's latency (about 5 cycles, 2 a cycle) wants at least 10 independent sums. */
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
#define KILN_QG_BIG 12
static inline void kiln_qg_big(const uint8_t *a, long kp, const int8_t *b, int32_t *c, long ldc) {
  __m512i acc[12];
  for (int r = 0; r < 12; r++) acc[r] = _mm512_setzero_si512();
  for (long k = 0; k < kp; k += 4) {
    const __m512i bv = _mm512_loadu_si512((const void *)(b + k * 16));
    for (int r = 0; r < 12; r++) acc[r] = _mm512_dpbusd_epi32(acc[r], _mm512_set1_epi32(kiln_qg_ld4(a + r * kp + k)), bv);
  }
  for (int r = 0; r < 12; r++) _mm512_storeu_si512((void *)(c + r * ldc), acc[r]);
}
#elif defined(__AVXVNNI__)
#define KILN_QG_BIG 6
static inline void kiln_qg_big(const uint8_t *a, long kp, const int8_t *b, int32_t *c, long ldc) {
  __m256i acc[12];
  for (int r = 0; r < 12; r++) acc[r] = _mm256_setzero_si256();
  for (long k = 0; k < kp; k += 4) {
    const __m256i b0 = _mm256_loadu_si256((const __m256i *)(b + k * 16)), b1 = _mm256_loadu_si256((const __m256i *)(b + k * 16 + 32));
    for (int r = 0; r < 6; r++) {
      const __m256i av = _mm256_set1_epi32(kiln_qg_ld4(a + r * kp + k));
      acc[2 * r] = _mm256_dpbusd_avx_epi32(acc[2 * r], av, b0);
      acc[2 * r + 1] = _mm256_dpbusd_avx_epi32(acc[2 * r + 1], av, b1);
    }
  }
  for (int r = 0; r < 6; r++) { _mm256_storeu_si256((__m256i *)(c + r * ldc), acc[2 * r]); _mm256_storeu_si256((__m256i *)(c + r * ldc + 8), acc[2 * r + 1]); }
}
#endif

/* D for rows r0 .. r1 - 1 (a multiple of 4 apart) of one panel. */
static void kiln_qgemm_tile(long r0, long r1, long p, long kp, const uint8_t *a, const int8_t *b, int32_t *c, long ldc) {
  long m = r0;
  const int8_t *bp = b + p * kp * 16;
#ifdef KILN_QG_BIG
  /* As many big blocks as leave a multiple of 4 rows. */
  long big = (r1 - r0) / KILN_QG_BIG;
  while (big > 0 && (r1 - r0 - big * KILN_QG_BIG) % 4) big--;
  for (; m < r0 + big * KILN_QG_BIG; m += KILN_QG_BIG) kiln_qg_big(a + m * kp, kp, bp, c + m * ldc + p * 16, ldc);
#endif
  for (; m < r1; m += 4) kiln_qg_4x16(a + m * kp, kp, bp, c + m * ldc + p * 16, ldc);
}

/* Threads share out tiles of 48 rows of one panel, each claiming the next. */
#define KILN_QG_ROWS 48
typedef struct { long rows, panels, kp, ldc, next; const uint8_t *a; const int8_t *b; int32_t *c; } kiln_qgemm_args;
static void kiln_qgemm_task(void *arg, int tid, int nt) {
  kiln_qgemm_args *g = (kiln_qgemm_args *)arg;
  (void)tid; (void)nt;
  const long chunks = (g->rows + KILN_QG_ROWS - 1) / KILN_QG_ROWS, units = chunks * g->panels;
  for (long u; (u = __atomic_fetch_add(&g->next, 1, __ATOMIC_RELAXED)) < units;) {
    const long r0 = u / g->panels * KILN_QG_ROWS, r1 = r0 + KILN_QG_ROWS < g->rows ? r0 + KILN_QG_ROWS : g->rows;
    kiln_qgemm_tile(r0, r1, u % g->panels, g->kp, g->a, g->b, g->c, g->ldc);
  }
}

/* D (rows x 16 panels, row stride ldc) = A (rows x kp, rows a multiple of 4) times the panels of B; with threads
   when there is enough work (a million multiply-adds). */
static void kiln_qgemm(long rows, long panels, long kp, const uint8_t *a, const int8_t *b, int32_t *c, long ldc) {
  if (KILN_THREADS > 1 && rows * panels * kp * 16 >= (1l << 20) && (rows > KILN_QG_ROWS || panels > 1)) {
    kiln_qgemm_args g = { rows, panels, kp, ldc, 0, a, b, c };
    kiln_parallel(kiln_qgemm_task, &g);
    return;
  }
  for (long p = 0; p < panels; p++) kiln_qgemm_tile(0, rows, p, kp, a, b, c, ldc);
}
`;

/**
 * One integer GEMM (or a batch of them, in `slices`), from packed rows of A to a store per
 * element. The caller fills rows of A (raw values, bytes of A's type, K of each row) and says how
 * each result is stored.
 */
export interface QGemmCall {
  M: number;
  N: number;
  K: number;
  aSigned: boolean;
  bSigned: boolean;
  /**
   * C statements that set ap[r * kp + k] for rows m0 .. m0 + mb - 1 (r = m - m0), k < K: A's byte
   * XOR `flip` (a C constant expression), which stores it as the kernel takes it.
   */
  packRows(ap: string, kp: number, m0: string, mb: string, flip: string): string;
  /** Bytes of scratch the caller's C needs (see prepare). */
  extraBytes?: number;
  /** C run before the rows are packed, given the extra scratch (uint8_t *). */
  prepare?(extra: string): string;
  /** B packed at compile time (its panels and column sums) or read at run time (element (k, n) as C). */
  b: { panels: string; sums: string } | { at(k: string, n: string): string };
  /** A's zero point for row m (C, int32). */
  za(m: string): string;
  /** B's zero point for column n (C, int32). */
  zb(n: string): string;
  /** C statement that stores the exact int32 result v of row m, column n. */
  store(m: string, n: string, v: string): string;
}

/**
 * The C of one call on the packed kernel. Its buffers (a block of A's rows, the block's results, a
 * run-time B's panels) are carved from the buffer the kernel library shares between the threads of
 * a call (one, sized for the largest call); the rows' sums are in the first thread's scratch.
 */
export function qgemmCode(ctx: EmitContext, g: QGemmCall): string {
  ctx.helper('qgemm', QGEMM_C);
  const kp = qgemmDepth(g.K);
  const P = qgemmPanels(g.N);
  const MB = qgemmRowBlock(g.M, kp);
  const ldc = P * 16;
  // Buffer layout, in floats (4 bytes), each part on a 64-byte boundary.
  const up = (bytes: number) => Math.ceil(bytes / 64) * 16;
  const aFloats = up(MB * kp);
  const raFloats = up(MB * 4);
  const accFloats = up(MB * ldc * 4);
  const runtimeB = 'at' in g.b;
  const bpFloats = runtimeB ? up(P * kp * 16) : 0;
  const cbFloats = runtimeB ? up(ldc * 4) : 0;
  const exFloats = up(g.extraBytes ?? 0);
  // The row sums in the kernel library's scratch (the first thread's), the rest in the buffer the threads of a call share.
  const ra = ctx.scratch(raFloats).ptr;
  const sh = ctx.shared(aFloats + accFloats + bpFloats + cbFloats + exFloats);
  let o = 0;
  const part = (n: number) => {
    const at = o;
    o += n;
    return `${sh} + ${at}`;
  };
  const ap = part(aFloats);
  const acc = part(accFloats);
  let bp: string;
  let cb: string;
  let packB = '';
  const boff = g.bSigned ? 0 : 128;
  if ('at' in g.b) {
    const bpRef = part(bpFloats);
    const cbRef = part(cbFloats);
    bp = 'qb';
    cb = 'qcb';
    packB = `int8_t *qb = (int8_t *)(${bpRef});
int32_t *qcb = (int32_t *)(${cbRef});
memset(qb, 0, ${P * kp * 16});
for (long n = 0; n < ${g.N}; n++) {
  int8_t *col = qb + (n >> 4) * ${kp * 16} + (n & 15) * 4;
  int32_t s = 0;
  for (long k = 0; k < ${g.K}; k++) { const int32_t v = (int32_t)(${g.b.at('k', 'n')})${boff ? ` - ${boff}` : ''}; col[(k & ~3L) * 16 + (k & 3)] = (int8_t)v; s += v; }
  qcb[n] = s;
}
`;
  } else {
    bp = g.b.panels;
    cb = g.b.sums;
  }
  const flip = `KILN_QG_FLIP(${g.aSigned ? 1 : 0})`;
  const prepare = g.prepare ? `${g.prepare(`((uint8_t *)(${part(exFloats)}))`)}\n` : '';
  return `${packB}${prepare}uint8_t *qa = (uint8_t *)(${ap});
int32_t *qra = (int32_t *)(${ra});
int32_t *qacc = (int32_t *)(${acc});
for (long m0 = 0; m0 < ${g.M}; m0 += ${MB}) {
  const long mb = ${g.M} - m0 < ${MB} ? ${g.M} - m0 : ${MB};
  const long mb4 = (mb + 3) & ~3L;
  memset(qa, 0, (size_t)mb4 * ${kp});
  ${g.packRows('qa', kp, 'm0', 'mb', flip).replace(/\n/g, '\n  ')}
  for (long r = 0; r < mb; r++) {
    const uint8_t *row = qa + r * ${kp};
    int32_t s = 0;
    for (long k = 0; k < ${g.K}; k++) s += KILN_QG_AU ? (int32_t)row[k] : (int32_t)(int8_t)row[k];
    qra[r] = s;
  }
  kiln_qgemm(mb4, ${P}, ${kp}, qa, ${bp}, qacc, ${ldc});
  for (long r = 0; r < mb; r++) {
    const long m = m0 + r;
    const uint32_t za = (uint32_t)(int32_t)(${g.za('m')} + KILN_QG_AOFF(${g.aSigned ? 1 : 0}));
    const uint32_t ra = (uint32_t)qra[r];
    const int32_t *d = qacc + r * ${ldc};
    for (long n = 0; n < ${g.N}; n++) {
      const uint32_t zb = (uint32_t)(int32_t)(${g.zb('n')}${boff ? ` - ${boff}` : ''});
      const int32_t v = (int32_t)((uint32_t)d[n] - zb * ra - za * (uint32_t)${cb}[n] + ${g.K}u * za * zb);
      ${g.store('m', 'n', 'v')}
    }
  }
}`;
}
