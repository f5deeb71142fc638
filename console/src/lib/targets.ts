import type { CatalogTarget, Preset, TargetCatalog } from './types';

/** One thing a user can tick in the target picker: a preset or a base target. */
export interface TargetChoice {
  /** What goes into the job's "targets". */
  name: string;
  preset: boolean;
  /** The catalog target it builds for (itself for a base target). */
  target: string;
  description: string;
  /** e.g. "neoverse-v1" for a preset, the triple for a base target */
  detail: string;
  kind: string;
  available: boolean;
  /** Why it cannot be built now, in words; null when it can. */
  unavailableReason: string | null;
  /** Whether a live worker can verify builds for it now, and how. */
  verifiable: boolean;
  runners: string[];
  toolchain: string | null;
  /** Languages Kiln builds for it, and those a live worker builds now. */
  languages: string[];
  liveLanguages: string[];
}

export interface TargetGroup {
  kind: string;
  label: string;
  choices: TargetChoice[];
  available: number;
}

const KIND_LABELS: Record<string, string> = { cpu: 'CPU', wasm: 'WebAssembly', gpu: 'GPU' };
/** Known kinds first, in this order; any kind the catalog adds later follows, by name. */
const KIND_ORDER = ['cpu', 'wasm', 'gpu'];

export function kindLabel(kind: string): string {
  return KIND_LABELS[kind] ?? kind.toUpperCase();
}

function targetChoice(t: CatalogTarget): TargetChoice {
  return {
    name: t.name,
    preset: false,
    target: t.name,
    description: t.description,
    detail: t.triple,
    kind: t.kind,
    available: t.available,
    unavailableReason: t.available ? null : t.reason ?? 'no live worker can build it now',
    verifiable: t.verifiable,
    runners: t.runners,
    toolchain: t.toolchains[0] ? `${t.toolchains[0].key} ${t.toolchains[0].version}` : null,
    languages: t.languages ?? [],
    liveLanguages: t.liveLanguages ?? [],
  };
}

function presetChoice(p: Preset, base: CatalogTarget | undefined): TargetChoice {
  const detail = [p.cpu, ...p.features].filter(Boolean).join(' ') || (base?.triple ?? p.target);
  let unavailableReason: string | null = null;
  if (!p.available) {
    unavailableReason = base ? `builds for ${base.name}, which is unavailable: ${base.reason ?? 'no live worker can build it now'}` : `builds for ${p.target}, which is not in the catalog`;
  }
  return {
    name: p.name,
    preset: true,
    target: p.target,
    description: p.description,
    detail,
    kind: base?.kind ?? 'cpu',
    available: p.available,
    unavailableReason,
    verifiable: base?.verifiable ?? false,
    runners: base?.runners ?? [],
    toolchain: base?.toolchains[0] ? `${base.toolchains[0].key} ${base.toolchains[0].version}` : null,
    languages: base?.languages ?? [],
    liveLanguages: base?.liveLanguages ?? [],
  };
}

/**
 * The catalog as the picker shows it: one group per kind of target (CPU, WebAssembly, GPU, and
 * whatever kinds the catalog adds), presets first within a group, unavailable choices kept (and
 * explained) rather than hidden. Groups and names come from the catalog's own fields.
 */
export function groupTargets(catalog: TargetCatalog): TargetGroup[] {
  const byName = new Map(catalog.targets.map((t) => [t.name, t]));
  const groups = new Map<string, TargetChoice[]>();
  const add = (c: TargetChoice) => {
    if (!groups.has(c.kind)) groups.set(c.kind, []);
    groups.get(c.kind)!.push(c);
  };
  for (const p of catalog.presets) add(presetChoice(p, byName.get(p.target)));
  for (const t of catalog.targets) add(targetChoice(t));
  const rank = (k: string) => (KIND_ORDER.includes(k) ? KIND_ORDER.indexOf(k) : KIND_ORDER.length);
  return [...groups.entries()]
    .sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b))
    .map(([kind, choices]) => ({ kind, label: kindLabel(kind), choices, available: choices.filter((c) => c.available).length }));
}

/** Why a choice cannot build a language at all, or null when it can (or no language is set). */
export function languageConflict(c: TargetChoice, language: string | null): string | null {
  if (!language || c.languages.includes(language)) return null;
  return `does not build ${language} (it builds ${c.languages.join(', ') || 'nothing yet'})`;
}

/** The model compilers as GET /v1/models/compilers lists them: the kinds of target each builds for, and which targets. */
export type ModelCompilerList = { compilers: { name: string; targetKinds: string[]; targets?: string[] | null }[] };

/** Why a model cannot be compiled for this choice (no model compiler serves its kind of target), or null. */
export function modelConflict(c: TargetChoice, list: ModelCompilerList | null): string | null {
  if (!list) return null;
  if (list.compilers.some((m) => m.targetKinds.includes(c.kind) && (!m.targets || m.targets.includes(c.target)))) return null;
  const served = [...new Set(list.compilers.flatMap((m) => m.targetKinds))];
  return `has no model compiler (models build for ${served.join(', ') || 'no target'} targets)`;
}

/** A note for a chosen target that will not build or verify at once, or null. */
export function choiceWarning(c: TargetChoice, verify: boolean, language: string | null = null): string | null {
  const conflict = languageConflict(c, language);
  if (conflict) return `${c.name} ${conflict}`;
  if (!c.available) return `${c.name}: ${c.unavailableReason}; its build will wait until a worker serves it`;
  if (language && !c.liveLanguages.includes(language)) return `${c.name}: no live worker builds ${language} for it now; its build will wait for one`;
  if (verify && !c.verifiable) return `${c.name}: no live worker can verify it now; its verification waits for one up to the job's device wait, then the build ends with its artifacts, not verified`;
  return null;
}

/** Toggles a name in a selection, keeping the order in which names were picked. */
export function toggle(selected: readonly string[], name: string): string[] {
  return selected.includes(name) ? selected.filter((n) => n !== name) : [...selected, name];
}
