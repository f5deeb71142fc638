/** Sizes as people read them: 512 B, 12.3 kB, 4.5 MB (powers of 1000, as browsers show downloads). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '—';
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  do {
    v /= 1000;
    u++;
  } while (v >= 999.95 && u < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}

/** Durations: 850 ms, 2.4 s, 3 min 05 s. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** An error magnitude: 0, 3.2e-7, 0.0125, 1.5, or the string a report gave (NaN, Infinity). */
export function formatNumber(v: number | string | null | undefined): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') return v;
  if (v === 0) return '0';
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'Infinity' : '-Infinity';
  const a = Math.abs(v);
  if (a >= 1e-3 && a < 1e6) return String(Number(v.toPrecision(6)));
  return v.toExponential(2);
}

/**
 * Two numbers (an expected and an actual value) each to the fewest significant digits that tell
 * them apart: formatNumber's, more where those print the same (1.00000 and 1.00000 read as equal
 * though the element failed).
 */
export function formatPair(a: number | string | null | undefined, b: number | string | null | undefined): [string, string] {
  const fa = formatNumber(a);
  const fb = formatNumber(b);
  if (fa !== fb || typeof a !== 'number' || typeof b !== 'number' || !Number.isFinite(a) || !Number.isFinite(b) || Object.is(a, b)) return [fa, fb];
  const plain = (v: number) => Math.abs(v) >= 1e-3 && Math.abs(v) < 1e6;
  const at = (v: number, p: number) => (plain(v) ? String(Number(v.toPrecision(p))) : v.toExponential(p - 1));
  for (let p = 4; p <= 17; p++) {
    const [x, y] = [at(a, p), at(b, p)];
    if (x !== y) return [x, y];
  }
  // Only the sign of zero differs.
  return [Object.is(a, -0) ? '-0' : String(a), Object.is(b, -0) ? '-0' : String(b)];
}

/** How long ago, for lists: "just now", "5 min ago", "3 h ago", else the date. */
export function formatAgo(iso: string, now = Date.now()): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const s = Math.max(0, Math.round((now - t) / 1000));
  if (s < 45) return 'just now';
  if (s < 3600) return `${Math.max(1, Math.round(s / 60))} min ago`;
  if (s < 86_400) return `${Math.round(s / 3600)} h ago`;
  return new Date(t).toISOString().slice(0, 10);
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function shape(dims: readonly (number | string)[]): string {
  return `[${dims.join(', ')}]`;
}
