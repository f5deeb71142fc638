import { halfBits } from '../../compiler/src/half';
import { DType, DTYPE_SIZE, isFloat, readElement } from './dtype';

export interface Tolerance {
  rtol: number;
  atol: number;
  /** When set, an element within this many units in the last place also passes. */
  maxUlp: number | null;
}

/**
 * Defaults per dtype. A reference built without FP contraction differs from an FMA-using
 * target in the low bits; these bounds allow that and little more. Integers compare exactly.
 */
export const DEFAULT_TOLERANCE: Record<'float32' | 'float64', Tolerance> = {
  float32: { rtol: 1e-5, atol: 1e-6, maxUlp: null },
  float64: { rtol: 1e-12, atol: 1e-14, maxUlp: null },
};

/**
 * The least tolerance a half-precision model output is compared at: a few units in its last
 * place (float16 has 11 significant bits, bfloat16 8), since each operator's result is rounded
 * to the format and a reference may keep some intermediates in float32.
 */
export const HALF_TOLERANCE: Record<'float16' | 'bfloat16', Tolerance> = {
  float16: { rtol: 1e-2, atol: 1e-3, maxUlp: null },
  bfloat16: { rtol: 5e-2, atol: 1e-2, maxUlp: null },
};

export const EXACT: Tolerance = { rtol: 0, atol: 0, maxUlp: null };

export interface OutputComparison {
  name: string;
  dtype: DType;
  count: number;
  passed: boolean;
  maxAbsError: number;
  maxRelError: number;
  /** Largest distance in units in the last place, over the elements whose reference is larger than atol in magnitude (floats only; 0 for integers). */
  maxUlp: number;
  mismatches: number;
  /** Elements where one side is NaN or an infinity and the other is not the same. */
  nanInfMismatches: number;
  worst: { index: number; expected: number | string; actual: number | string } | null;
  tolerance: Tolerance;
  /** How the absolute errors are distributed, for a plot: exact matches, then one bin per decade. */
  errorHistogram?: ErrorHistogram;
  /** The elements with the largest errors, failing ones first, worst first. */
  worstElements?: WorstElement[];
  /**
   * Set when the check says little: most of the reference's values lie within atol of zero, so
   * any answer of that size passes. Says how many, and what to do.
   */
  weak?: string;
}

/** The share of reference elements within atol of zero above which a check is called weak. */
export const WEAK_SHARE = 0.9;

export interface ErrorHistogram {
  /** Elements equal to the reference (or matching NaN / the same infinity). */
  exact: number;
  /** Elements whose absolute error is in [10^exponent, 10^(exponent+1)), and how many of them fail; only non-empty bins, by exponent. */
  decades: { exponent: number; count: number; failed: number }[];
  /** Elements where NaN or an infinity on one side is not matched on the other. */
  nonFinite: number;
}

export interface WorstElement {
  index: number;
  expected: number | string;
  actual: number | string;
  /** |actual - expected|, or null when one side is NaN or infinite. */
  absError: number | null;
  passed: boolean;
}

/** How many of the worst elements a comparison keeps. */
export const WORST_ELEMENTS = 8;

const f32 = new Float32Array(1);
const i32 = new Int32Array(f32.buffer);
const f64 = new Float64Array(1);
const i64 = new BigInt64Array(f64.buffer);

/** Maps a float's bits onto a line where adjacent floats are adjacent integers. */
function orderedBits32(x: number): number {
  f32[0] = x;
  const i = i32[0];
  return i < 0 ? -0x80000000 - i : i;
}
function orderedBits64(x: number): bigint {
  f64[0] = x;
  const i = i64[0];
  return i < 0n ? -0x8000000000000000n - i : i;
}

export function ulpDistance(dtype: 'float32' | 'float64' | 'float16' | 'bfloat16', a: number, b: number): number {
  if (Number.isNaN(a) || Number.isNaN(b)) return Infinity;
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const ordered = (x: number) => {
      const h = halfBits(dtype, x);
      return h & 0x8000 ? -(h & 0x7fff) : h;
    };
    return Math.abs(ordered(a) - ordered(b));
  }
  if (dtype === 'float32') return Math.abs(orderedBits32(a) - orderedBits32(b));
  const d = orderedBits64(a) - orderedBits64(b);
  return Number(d < 0n ? -d : d);
}

function show(v: number | bigint): number | string {
  if (typeof v === 'bigint') return v.toString();
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
  return v;
}

/** Whether an element (pass/fail, absolute error) ranks above a kept one: failing first, then the larger error. */
function worse(ok: boolean, score: number, than: WorstElement): boolean {
  if (ok !== than.passed) return !ok;
  return score > (than.absError ?? Infinity);
}

/**
 * Compares a target's output with the reference's, element by element. A float passes when
 * |actual - expected| <= atol + rtol * |expected| (numpy's isclose), or when it is within
 * maxUlp units in the last place; NaN matches NaN and an infinity matches the same infinity.
 */
export function compareOutput(name: string, dtype: DType, expected: Buffer, actual: Buffer, tolerance: Tolerance): OutputComparison {
  const size = DTYPE_SIZE[dtype];
  if (expected.length !== actual.length) throw new Error(`output ${name}: expected ${expected.length / size} elements, got ${actual.length / size}`);
  const count = expected.length / size;
  let maxAbsError = 0;
  let maxRelError = 0;
  let maxUlp = 0;
  let mismatches = 0;
  let nanInfMismatches = 0;
  let worst: OutputComparison['worst'] = null;
  let worstScore = -1;
  const tol = isFloat(dtype) ? tolerance : EXACT;
  let exact = 0;
  let nonFinite = 0;
  const decades = new Map<number, { exponent: number; count: number; failed: number }>();
  // The worst few, kept sorted by rank (largest first); an element enters only if it beats the last.
  const top: { element: WorstElement }[] = [];
  let nearZero = 0;
  let finite = 0;

  for (let i = 0; i < count; i++) {
    const e = readElement(expected, dtype, i);
    const a = readElement(actual, dtype, i);
    let ok: boolean;
    let score: number;
    if (typeof e === 'bigint' || typeof a === 'bigint') {
      const d = BigInt(a) - BigInt(e);
      const abs = Number(d < 0n ? -d : d);
      ok = abs === 0;
      score = abs;
      maxAbsError = Math.max(maxAbsError, abs);
      if (abs > 0) maxRelError = Math.max(maxRelError, e === 0n ? Infinity : abs / Math.abs(Number(e)));
    } else if (isFloat(dtype)) {
      const special = !Number.isFinite(e) || !Number.isFinite(a);
      if (special) {
        ok = Object.is(e, a) || (Number.isNaN(e) && Number.isNaN(a)) || e === a;
        if (!ok) nanInfMismatches++;
        score = ok ? 0 : Infinity;
      } else {
        finite++;
        if (Math.abs(e) <= tol.atol) nearZero++;
        const abs = Math.abs(a - e);
        const rel = e === 0 ? (abs === 0 ? 0 : Infinity) : abs / Math.abs(e);
        const ulp = ulpDistance(dtype as 'float32' | 'float64' | 'float16' | 'bfloat16', a, e);
        maxAbsError = Math.max(maxAbsError, abs);
        maxRelError = Math.max(maxRelError, rel);
        // Within atol of zero the absolute error is what counts: a ULP distance there (across
        // zero, among denormals) runs to millions and would read as an alarm on a passing check.
        if (Math.abs(e) > tol.atol) maxUlp = Math.max(maxUlp, ulp);
        ok = abs <= tol.atol + tol.rtol * Math.abs(e) || (tol.maxUlp !== null && ulp <= tol.maxUlp);
        score = abs;
      }
    } else {
      const abs = Math.abs(a - e);
      ok = abs === 0;
      score = abs;
      maxAbsError = Math.max(maxAbsError, abs);
      if (abs > 0) maxRelError = Math.max(maxRelError, e === 0 ? Infinity : abs / Math.abs(e));
    }
    if (!ok) mismatches++;
    if (!Number.isFinite(score)) nonFinite++;
    else if (score === 0) exact++;
    else {
      const exponent = Math.floor(Math.log10(score));
      const bin = decades.get(exponent) ?? { exponent, count: 0, failed: 0 };
      bin.count++;
      if (!ok) bin.failed++;
      decades.set(exponent, bin);
    }
    // The worst element: the first failing one with the largest error, else the largest error.
    const rank = (ok ? 0 : 1e300) + (Number.isFinite(score) ? score : 1e299);
    if (rank > worstScore) {
      worstScore = rank;
      worst = { index: i, expected: show(e), actual: show(a) };
    }
    if (score > 0 && (top.length < WORST_ELEMENTS || worse(ok, score, top[top.length - 1].element))) {
      const element = { index: i, expected: show(e), actual: show(a), absError: Number.isFinite(score) ? score : null, passed: ok };
      let at = top.findIndex((t) => worse(ok, score, t.element));
      if (at < 0) at = top.length;
      top.splice(at, 0, { element });
      if (top.length > WORST_ELEMENTS) top.pop();
    }
  }
  const weak =
    tol.atol > 0 && finite > 0 && nearZero >= WEAK_SHARE * finite
      ? `${nearZero === finite ? 'every one' : `${nearZero} of ${finite}`} of the reference's values ${nearZero === finite ? 'lies' : 'lie'} within atol (${tol.atol}) of zero, so an answer of that size passes whatever it is: a weak check; set tolerance.atol to a small fraction of the values this output should have`
      : undefined;
  return {
    name, dtype, count, passed: mismatches === 0, maxAbsError, maxRelError, maxUlp, mismatches, nanInfMismatches, worst: count ? worst : null, tolerance: tol,
    errorHistogram: { exact, decades: [...decades.values()].sort((x, y) => x.exponent - y.exponent), nonFinite },
    worstElements: top.map((t) => t.element),
    ...(weak ? { weak } : {}),
  };
}
