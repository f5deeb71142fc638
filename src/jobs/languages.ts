import type { ArtifactKind } from '../database/entities/job.entity';

/**
 * The languages Kiln compiles, as data: which files belong to each, which toolchain builds it,
 * and what it can produce for which target. The API checks a request against this table, so an
 * impossible combination (CUDA for riscv64, a Fortran executable where there is no Fortran
 * runtime) is a 400 that says what is supported; workers only announce pairs they proved.
 */
export const LANGUAGES = ['c', 'c++', 'llvm-ir', 'fortran', 'go', 'rust', 'cuda', 'hip'] as const;
export type Language = (typeof LANGUAGES)[number];

export interface LanguageSpec {
  name: Language;
  /** Other names a client may send. */
  aliases: string[];
  /** Files compiled on their own. */
  units: string[];
  /** Files available to the units (headers, modules' includes). */
  headers: string[];
  /** Whole file names that belong to a project (go.mod). */
  files: string[];
  /** The key of the toolchain that builds it. */
  toolchain: string;
  /** What it can produce, per target name; a target not listed cannot be built from it. */
  targets: Record<string, readonly ArtifactKind[]>;
  /** Used when a request does not name its outputs. */
  defaultOutputs: readonly ArtifactKind[];
  /** Whether a job in this language may ask for verification. */
  verifiable: boolean;
  /** Said next to an output that is missing for some targets. */
  note?: string;
  /** Other toolchains that build it, chosen with source.toolchain; never verifiable. */
  alternatives?: { toolchain: string; targets: Record<string, readonly ArtifactKind[]>; note?: string }[];
}

const CPU_LINUX = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'riscv64-linux-gnu', 'armv7-linux-gnueabihf'];
const NATIVE: readonly ArtifactKind[] = ['object', 'executable', 'shared', 'static', 'assembly', 'llvm-ir'];
const WASM: readonly ArtifactKind[] = ['object', 'executable', 'static', 'assembly', 'llvm-ir'];
const C_HEADERS = ['.h', '.hh', '.hpp', '.hxx', '.h++', '.inc', '.def', '.ipp', '.tpp'];

function each(names: string[], outputs: readonly ArtifactKind[]): Record<string, readonly ArtifactKind[]> {
  return Object.fromEntries(names.map((n) => [n, outputs]));
}

const C_FAMILY = { ...each(CPU_LINUX, NATIVE), 'wasm32-wasi': WASM };

export const LANGUAGE_SPECS: readonly LanguageSpec[] = [
  {
    name: 'c',
    aliases: [],
    units: ['.c'],
    headers: C_HEADERS,
    files: [],
    toolchain: 'clang',
    targets: C_FAMILY,
    defaultOutputs: ['object'],
    verifiable: true,
    alternatives: [{ toolchain: 'gcc', targets: each(CPU_LINUX, ['object', 'executable', 'shared', 'static', 'assembly']), note: 'GCC 12 (Debian\'s native and cross compilers) builds for the four Linux targets; descriptor features are not mapped to GCC flags, use "cpu"' }],
  },
  {
    name: 'c++',
    aliases: ['cpp', 'cxx'],
    units: ['.cc', '.cpp', '.cxx', '.c++', '.C'],
    headers: C_HEADERS,
    files: [],
    toolchain: 'clang',
    targets: C_FAMILY,
    defaultOutputs: ['object'],
    verifiable: true,
    alternatives: [{ toolchain: 'gcc', targets: each(CPU_LINUX, ['object', 'executable', 'shared', 'static', 'assembly']), note: 'GCC 12 (Debian\'s native and cross compilers) builds for the four Linux targets; descriptor features are not mapped to GCC flags, use "cpu"' }],
  },
  { name: 'llvm-ir', aliases: ['ll', 'llvm'], units: ['.ll', '.bc'], headers: [], files: [], toolchain: 'clang', targets: each([...CPU_LINUX, 'wasm32-wasi'], ['object', 'executable', 'static', 'assembly']), defaultOutputs: ['object'], verifiable: false },
  {
    name: 'fortran',
    aliases: ['f90', 'f95', 'f2008', 'f2018'],
    units: ['.f90', '.f95', '.f03', '.f08', '.f', '.for', '.F90', '.F95', '.F03', '.F08', '.F'],
    headers: ['.inc', '.h'],
    files: [],
    toolchain: 'flang',
    targets: { 'x86_64-linux-gnu': NATIVE, 'aarch64-linux-gnu': ['object', 'assembly', 'llvm-ir'], 'riscv64-linux-gnu': ['object', 'assembly', 'llvm-ir'] },
    defaultOutputs: ['object'],
    verifiable: false,
    note: 'flang-19 ships its Fortran runtime for x86-64 only, so other targets get objects, assembly and LLVM IR to link with their own runtime; flang-19 has no 32-bit Arm or WebAssembly code generation',
  },
  {
    name: 'go',
    aliases: ['golang'],
    units: ['.go'],
    headers: ['.s'],
    files: ['go.mod', 'go.sum'],
    toolchain: 'go',
    targets: each(CPU_LINUX, ['executable']),
    defaultOutputs: ['executable'],
    verifiable: false,
    note: 'Go builds static executables (CGO off); Debian\'s Go 1.19 has no WASI port',
  },
  {
    name: 'rust',
    aliases: ['rs'],
    units: ['.rs'],
    headers: [],
    files: [],
    toolchain: 'rustc',
    targets: { 'x86_64-linux-gnu': NATIVE, 'wasm32-wasi': WASM },
    defaultOutputs: ['executable'],
    verifiable: false,
    note: 'Debian ships the Rust standard library for x86-64 and wasm32-wasi only',
  },
  {
    name: 'cuda',
    aliases: ['cu'],
    units: ['.cu'],
    headers: ['.cuh', ...C_HEADERS],
    files: [],
    toolchain: 'nvcc',
    targets: { 'nvptx64-nvidia-cuda': ['ptx', 'cubin', 'fatbin', 'object'] },
    defaultOutputs: ['ptx', 'cubin'],
    verifiable: true,
    note: 'an object is the x86-64 host object with the device code embedded (a fat binary for the chosen arch, plus its PTX)',
  },
  {
    name: 'hip',
    aliases: [],
    units: ['.hip'],
    headers: C_HEADERS,
    files: [],
    toolchain: 'hip',
    targets: { 'amdgcn-amd-amdhsa': ['code-object', 'assembly', 'llvm-ir'] },
    defaultOutputs: ['code-object'],
    verifiable: false,
  },
];

export function languageSpecOf(language: Language): LanguageSpec {
  return LANGUAGE_SPECS.find((l) => l.name === language)!;
}

/** The languages that can build for a target, for error messages and the catalog. */
export function languagesFor(target: string): Language[] {
  return LANGUAGE_SPECS.filter((l) => target in l.targets).map((l) => l.name);
}

/** The toolchains that build a language: its own first, then the alternatives. */
export function toolchainsFor(language: Language): string[] {
  const spec = languageSpecOf(language);
  return [spec.toolchain, ...(spec.alternatives ?? []).map((a) => a.toolchain)];
}

/** What a language builds with a toolchain (its default when none is named); null if none. */
export function languageToolchain(language: Language, toolchain?: string | null): { toolchain: string; targets: Record<string, readonly ArtifactKind[]>; note?: string; isDefault: boolean } | null {
  const spec = languageSpecOf(language);
  if (!toolchain || toolchain === spec.toolchain) return { toolchain: spec.toolchain, targets: spec.targets, note: spec.note, isDefault: true };
  const alt = spec.alternatives?.find((a) => a.toolchain === toolchain);
  return alt ? { ...alt, isDefault: false } : null;
}

/** How a worker names a language it builds with a toolchain other than the language's own. */
export function servedLanguageKey(language: string, toolchain: string, isDefault: boolean): string {
  return isDefault ? language : `${language}@${toolchain}`;
}

/**
 * Why a language cannot give these outputs for a target (with the named toolchain, or its
 * default), in words a person can act on; null when it can.
 */
export function checkLanguageTarget(language: Language, target: string, outputs: readonly ArtifactKind[], toolchain?: string | null): string | null {
  const tc = languageToolchain(language, toolchain);
  if (!tc) return `${language} is built by ${toolchainsFor(language).join(' or ')}, not "${toolchain}"`;
  const by = tc.isDefault ? '' : ` with ${tc.toolchain}`;
  const supported = tc.targets[target];
  if (!supported) {
    const others = languagesFor(target);
    return `${language}${by} cannot be built for ${target}; ${language}${by} targets: ${Object.keys(tc.targets).join(', ')}` + (others.length && tc.isDefault ? `; languages for ${target}: ${others.join(', ')}` : '');
  }
  const missing = outputs.filter((o) => !supported.includes(o));
  if (missing.length) {
    return `${language}${by} for ${target} can produce ${supported.join(', ')}, not ${missing.join(', ')}${tc.note ? ` (${tc.note})` : ''}`;
  }
  return null;
}
