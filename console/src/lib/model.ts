import type { CatalogTarget, ModelCompilers } from './types';

export interface TargetOpSupport {
  target: string;
  kind: string;
  /** The compiler that builds models for this kind of target; null when none does. */
  compiler: string | null;
  supported: string[];
  unsupported: string[];
}

/**
 * For each catalog target, which of a model's operators it supports: the operators of the model
 * compiler that serves the target (its kind, and its name where the compiler lists targets), or
 * none when no compiler serves it yet.
 */
export function opSupport(ops: Record<string, number>, compilers: ModelCompilers, targets: CatalogTarget[]): TargetOpSupport[] {
  const names = Object.keys(ops).sort();
  return targets.map((t) => {
    const c = compilers.compilers.find((x) => x.targetKinds.includes(t.kind) && (!x.targets || x.targets.includes(t.name)));
    const known = new Set(c?.ops ?? []);
    return {
      target: t.name,
      kind: t.kind,
      compiler: c ? `${c.name} ${c.version}` : null,
      supported: names.filter((o) => known.has(o)),
      unsupported: names.filter((o) => !known.has(o)),
    };
  });
}

/** A model's operators, most frequent first, then by name. */
export function opsByCount(ops: Record<string, number>): [string, number][] {
  return Object.entries(ops).sort(([a, x], [b, y]) => y - x || a.localeCompare(b));
}

/** Parses "1, 3, 224, 224" (or "1x3x224x224") into dimensions, or says what is wrong. */
export function parseShape(text: string): { dims: number[] } | { error: string } {
  const parts = text.split(/[\s,x×]+/).filter(Boolean);
  if (!parts.length) return { error: 'give the dimensions, such as 1, 3, 224, 224' };
  const dims = parts.map(Number);
  if (dims.some((d) => !Number.isInteger(d) || d < 1)) return { error: 'dimensions are positive whole numbers' };
  return { dims };
}
