import { formatNumber, formatPair } from './format';
import type { Build, OutputComparison } from './types';

export interface HistogramBar {
  /** "exact", "1e-7" (errors in [1e-7, 1e-6)), or "NaN/Inf" */
  label: string;
  /** The bin's lower bound as a power of ten; null for the exact and non-finite bins. */
  exponent: number | null;
  count: number;
  failed: number;
  /** count / the largest count, for the bar's height (0..1) */
  height: number;
}

export interface OutputPlot {
  name: string;
  passed: boolean;
  count: number;
  bars: HistogramBar[];
  /** The bar index where atol falls, to draw the tolerance line; null when atol is 0 or off the axis. */
  toleranceBar: number | null;
  caption: string;
}

function decadeLabel(e: number): string {
  return `1e${e}`;
}

/**
 * The bars of an output's error distribution: the exact matches, then one bar per decade of
 * absolute error with no gap between the smallest and the largest (empty decades show as empty
 * bars, so the axis stays a scale, and it reaches atol's decade), then elements whose NaN or infinity did not match. Reports
 * made before histograms existed give the single worst error as one bar.
 */
export function outputPlot(o: OutputComparison): OutputPlot {
  const bars: Omit<HistogramBar, 'height'>[] = [];
  const h = o.errorHistogram;
  if (h) {
    bars.push({ label: 'exact', exponent: null, count: h.exact, failed: 0 });
    if (h.decades.length) {
      // The axis reaches atol's decade too, so the plot shows how far the errors are from it.
      const atolExp = o.tolerance.atol > 0 ? Math.floor(Math.log10(o.tolerance.atol)) : null;
      let lo = h.decades[0].exponent;
      let hi = h.decades[h.decades.length - 1].exponent;
      if (atolExp !== null && atolExp >= lo - 8 && atolExp <= hi + 8) {
        lo = Math.min(lo, atolExp);
        hi = Math.max(hi, atolExp);
      }
      const byExp = new Map(h.decades.map((d) => [d.exponent, d]));
      for (let e = lo; e <= hi; e++) bars.push({ label: decadeLabel(e), exponent: e, count: byExp.get(e)?.count ?? 0, failed: byExp.get(e)?.failed ?? 0 });
    }
    if (h.nonFinite) bars.push({ label: 'NaN/Inf', exponent: null, count: h.nonFinite, failed: h.nonFinite });
  } else {
    const exact = o.count - (o.maxAbsError > 0 ? 1 : 0);
    bars.push({ label: 'exact', exponent: null, count: Math.max(0, exact), failed: 0 });
    if (o.maxAbsError > 0 && Number.isFinite(o.maxAbsError)) {
      const e = Math.floor(Math.log10(o.maxAbsError));
      bars.push({ label: decadeLabel(e), exponent: e, count: 1, failed: o.mismatches ? 1 : 0 });
    }
  }
  const max = Math.max(1, ...bars.map((b) => b.count));
  const atolExp = o.tolerance.atol > 0 ? Math.floor(Math.log10(o.tolerance.atol)) : null;
  const toleranceBar = atolExp === null ? null : bars.findIndex((b) => b.exponent === atolExp);
  const nonExact = o.count - (bars[0]?.count ?? 0);
  return {
    name: o.name,
    passed: o.passed,
    count: o.count,
    bars: bars.map((b) => ({ ...b, height: b.count / max })),
    toleranceBar: toleranceBar === null || toleranceBar < 0 ? null : toleranceBar,
    caption: `${o.count} elements: ${bars[0]?.count ?? 0} exact, ${nonExact} differ (max abs ${formatNumber(o.maxAbsError)}), ${o.mismatches} outside the tolerance`,
  };
}

export interface WorstRow {
  index: number;
  expected: string;
  actual: string;
  absError: string;
  passed: boolean;
}

/** The worst elements of an output as table rows; the single worst one for older reports. */
export function worstRows(o: OutputComparison): WorstRow[] {
  const list = o.worstElements ?? (o.worst && o.maxAbsError > 0 ? [{ ...o.worst, absError: o.maxAbsError, passed: o.mismatches === 0 }] : []);
  return list.map((w) => {
    const [expected, actual] = formatPair(w.expected, w.actual);
    return { index: w.index, expected, actual, absError: formatNumber(w.absError ?? null), passed: w.passed };
  });
}

export type Verdict = 'passed' | 'failed' | 'unfinished' | 'pending' | 'not verified';

/** The one word a target's verification comes to. */
export function verdict(b: Pick<Build, 'verification' | 'verifyPool' | 'status'>): Verdict {
  if (b.verification) {
    const s = b.verification.status;
    return s === 'passed' ? 'passed' : s === 'unfinished' ? 'unfinished' : s === 'not-run' ? 'not verified' : 'failed';
  }
  if (!b.verifyPool) return 'not verified';
  if (['succeeded', 'failed', 'canceled'].includes(b.status)) return 'not verified';
  return 'pending';
}
