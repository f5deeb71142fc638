import { PRESETS, TARGETS, TargetSpec } from './catalog';
import type { CanonicalTarget, TargetDescriptorInput, TargetInput } from './target';

export class TargetError extends Error {}

export interface ResolvedTarget {
  /** The name the client used, kept for display. */
  requested: string;
  target: CanonicalTarget;
  spec: TargetSpec;
}

const CPU_RE = /^[a-z0-9][a-z0-9._+-]{0,63}$/i;
const FEATURE_RE = /^[+-][a-z0-9][a-z0-9._-]{0,63}$/i;
const VENDORS = new Set(['unknown', 'pc', 'none']);
/** The fields a descriptor object may have: the canonical descriptor's, less the catalog name. */
export const DESCRIPTOR_FIELDS: readonly (keyof TargetDescriptorInput)[] = ['triple', 'cpu', 'features', 'abi', 'floatAbi', 'os', 'libc', 'gpu'];

export function supportedTargetNames(): string[] {
  return [...TARGETS.map((t) => t.name), ...PRESETS.map((p) => p.name)];
}

function findPreset(name: string) {
  const n = name.toLowerCase();
  return PRESETS.find((p) => p.name === n || p.aliases?.includes(n));
}

function unknown(what: string): TargetError {
  return new TargetError(`unknown target ${what}; supported targets: ${supportedTargetNames().join(', ')}`);
}

/** Finds the catalog entry for a triple, with or without its vendor field. */
function specForTriple(triple: string): TargetSpec | undefined {
  const parts = triple.toLowerCase().split('-');
  const withoutVendor = parts.length === 4 && VENDORS.has(parts[1]) ? [parts[0], ...parts.slice(2)] : parts;
  const key = withoutVendor.join('-');
  return TARGETS.find((t) => t.name === key || t.clangTriple === key || t.triple === triple.toLowerCase());
}

function canonical(spec: TargetSpec, cpu: string | null, features: string[]): CanonicalTarget {
  if (spec.gpu) {
    if (!cpu) {
      const presets = PRESETS.filter((p) => p.target === spec.name).map((p) => p.name);
      throw new TargetError(`${spec.name} needs a GPU architecture: use a preset (${presets.join(', ')}) or give "cpu" (one of ${spec.gpu.arches.join(', ')})`);
    }
    if (!spec.gpu.arches.includes(cpu)) throw new TargetError(`"${cpu}" is not a ${spec.gpu.vendor === 'nvidia' ? 'NVIDIA' : 'AMD'} GPU architecture Kiln builds for; choose one of ${spec.gpu.arches.join(', ')}`);
    if (features.length) throw new TargetError(`${spec.name} takes no "features"; the architecture (${cpu}) decides them`);
  }
  return {
    name: spec.name,
    triple: spec.triple,
    cpu,
    features: [...new Set(features)].sort(),
    abi: null,
    floatAbi: spec.floatAbi,
    os: spec.os,
    libc: spec.libc,
    ...(spec.gpu ? { gpu: { vendor: spec.gpu.vendor, arch: cpu! } } : {}),
  };
}

/**
 * Turns what a client sent (a short name, a preset, a triple or a descriptor object) into the
 * canonical descriptor. `knownCpus`, when given, is the list of CPUs that the live toolchain
 * accepts for the target's triple; a CPU outside it is refused here rather than at compile time.
 */
export function resolveTarget(
  input: TargetInput,
  knownCpus?: (spec: TargetSpec) => string[] | undefined,
  knownFeatures?: (spec: TargetSpec) => string[] | undefined,
): ResolvedTarget {
  if (typeof input === 'string') {
    const name = input.trim();
    if (!name) throw new TargetError('a target name must not be empty');
    const preset = findPreset(name);
    if (preset) {
      const spec = TARGETS.find((t) => t.name === preset.target)!;
      return { requested: name, target: canonical(spec, preset.cpu, preset.features), spec };
    }
    const spec = specForTriple(name);
    if (!spec) throw unknown(`"${name}"`);
    return { requested: name, target: canonical(spec, null, []), spec };
  }

  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new TargetError('a target is a name (such as "aarch64-linux-gnu") or an object with a "triple"');
  }
  // A misspelt field would otherwise be ignored, and the build made without what it asked for.
  for (const key of Object.keys(input)) {
    if (!DESCRIPTOR_FIELDS.includes(key as keyof TargetDescriptorInput)) {
      const hint = key === 'name' ? ' (a catalog name goes in "triple", or send the name alone as a string)' : '';
      throw new TargetError(`a target descriptor has no field "${key}"${hint}; its fields are ${DESCRIPTOR_FIELDS.join(', ')}`);
    }
  }
  if (typeof input.triple !== 'string') throw new TargetError('a target is a name (such as "aarch64-linux-gnu") or an object with a "triple"');
  const spec = specForTriple(input.triple);
  if (!spec) throw unknown(`triple "${input.triple}"`);

  let cpu = input.cpu ?? null;
  if (input.gpu != null) {
    const gpu = input.gpu as unknown;
    if (!spec.gpu) throw new TargetError(`${spec.name} is not a GPU target; leave "gpu" out`);
    if (typeof gpu !== 'object' || Array.isArray(gpu) || Object.keys(gpu as object).some((k) => k !== 'vendor' && k !== 'arch')) {
      throw new TargetError('"gpu" is an object such as {"vendor": "nvidia", "arch": "sm_90"}');
    }
    const { vendor, arch } = gpu as { vendor?: unknown; arch?: unknown };
    if (vendor != null && vendor !== spec.gpu.vendor) throw new TargetError(`${spec.name} is a GPU of vendor "${spec.gpu.vendor}", got "${String(vendor)}"`);
    if (arch != null) {
      if (cpu !== null && cpu !== arch) throw new TargetError(`"cpu" ("${String(cpu)}") and "gpu.arch" ("${String(arch)}") differ; give one of them`);
      cpu = arch as string;
    }
  }
  if (cpu !== null) {
    if (typeof cpu !== 'string' || !CPU_RE.test(cpu)) throw new TargetError(`"${String(cpu)}" is not a valid cpu name`);
    const cpus = spec.gpu ? undefined : knownCpus?.(spec);
    if (cpus && cpus.length > 0 && !cpus.includes(cpu)) {
      throw new TargetError(`cpu "${cpu}" is not known for ${spec.name}; known cpus: ${cpus.join(', ')}`);
    }
  }
  const features = input.features ?? [];
  if (!Array.isArray(features)) throw new TargetError('"features" must be a list such as ["+neon", "-sve"]');
  for (const f of features) {
    if (typeof f !== 'string' || !FEATURE_RE.test(f)) {
      throw new TargetError(`feature "${String(f)}" must be a name with a leading + or - (for example "+v")`);
    }
  }
  const both = [...new Set(features.filter((f) => f.startsWith('+') && features.includes(`-${f.slice(1)}`)).map((f) => f.slice(1)))];
  if (both.length) throw new TargetError(`features turn ${both.map((f) => `"${f}"`).join(', ')} both on and off; keep one of +${both[0]} and -${both[0]}`);
  const known = knownFeatures?.(spec);
  if (known && known.length > 0) {
    const unknownFeatures = features.filter((f) => !known.includes(f.slice(1)));
    if (unknownFeatures.length) {
      const near = known.filter((k) => unknownFeatures.some((u) => k.includes(u.slice(1, 4)))).slice(0, 12);
      throw new TargetError(`${spec.name} has no feature ${unknownFeatures.map((f) => `"${f.slice(1)}"`).join(', ')}${near.length ? `; similar features: ${near.join(', ')}` : ''}; GET /v1/targets lists them all`);
    }
  }
  if (input.abi != null) throw new TargetError(`"abi" cannot be chosen for ${spec.name}; leave it null`);
  if (input.floatAbi != null && input.floatAbi !== spec.floatAbi) {
    throw new TargetError(`${spec.name} supports floatAbi ${spec.floatAbi ?? 'null'} only, got "${input.floatAbi}"`);
  }
  if (input.os != null && input.os !== spec.os) throw new TargetError(`${spec.name} is for os ${spec.os}, got "${String(input.os)}"`);
  if (input.libc != null && input.libc !== spec.libc) throw new TargetError(`${spec.name} links against libc ${spec.libc ?? 'null'}, got "${String(input.libc)}"`);
  return { requested: spec.name, target: canonical(spec, cpu, features), spec };
}
