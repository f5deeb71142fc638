import type { CanonicalTarget } from './target';

export type TargetFamily = 'x86' | 'arm' | 'aarch64' | 'riscv' | 'wasm';

/** One entry of the target catalog: a triple Kiln builds for, and which worker pool serves it. */
export interface TargetSpec {
  name: string;
  triple: string;
  family: TargetFamily;
  pool: string;
  description: string;
  /** What clang calls this target (its --target). */
  clangTriple: string;
  os: CanonicalTarget['os'];
  libc: CanonicalTarget['libc'];
  floatAbi: CanonicalTarget['floatAbi'];
  /** Where the C library for the target lives, for the probe and error messages. */
  sysrootHint: string;
  /** The pool of runners that can execute code built for this target (natively or emulated). */
  verifyPool: string;
  /** The architecture that runners of verifyPool execute. */
  arch: 'x86_64' | 'aarch64' | 'riscv64' | 'armv7' | 'wasm32';
}

export interface TargetPreset {
  name: string;
  target: string;
  cpu: string | null;
  features: string[];
  description: string;
}

export const TARGETS: readonly TargetSpec[] = [
  {
    name: 'x86_64-linux-gnu',
    triple: 'x86_64-unknown-linux-gnu',
    family: 'x86',
    pool: 'cpu',
    description: 'x86-64 Linux, glibc',
    clangTriple: 'x86_64-linux-gnu',
    os: 'linux',
    libc: 'glibc',
    floatAbi: null,
    sysrootHint: 'libc6-dev',
    verifyPool: 'verify-x86_64',
    arch: 'x86_64',
  },
  {
    name: 'aarch64-linux-gnu',
    triple: 'aarch64-unknown-linux-gnu',
    family: 'aarch64',
    pool: 'cpu',
    description: '64-bit Arm Linux, glibc',
    clangTriple: 'aarch64-linux-gnu',
    os: 'linux',
    libc: 'glibc',
    floatAbi: null,
    sysrootHint: 'libc6-dev-arm64-cross',
    verifyPool: 'verify-aarch64',
    arch: 'aarch64',
  },
  {
    name: 'riscv64-linux-gnu',
    triple: 'riscv64-unknown-linux-gnu',
    family: 'riscv',
    pool: 'cpu',
    description: 'RISC-V 64 (rv64gc) Linux, glibc',
    clangTriple: 'riscv64-linux-gnu',
    os: 'linux',
    libc: 'glibc',
    floatAbi: null,
    sysrootHint: 'libc6-dev-riscv64-cross',
    verifyPool: 'verify-riscv64',
    arch: 'riscv64',
  },
  {
    name: 'armv7-linux-gnueabihf',
    triple: 'armv7-unknown-linux-gnueabihf',
    family: 'arm',
    pool: 'cpu',
    description: '32-bit Armv7-A Linux, hard float, glibc',
    clangTriple: 'armv7-linux-gnueabihf',
    os: 'linux',
    libc: 'glibc',
    floatAbi: 'hard',
    sysrootHint: 'libc6-dev-armhf-cross',
    verifyPool: 'verify-armv7',
    arch: 'armv7',
  },
  {
    name: 'wasm32-wasi',
    triple: 'wasm32-unknown-wasi',
    family: 'wasm',
    pool: 'wasm',
    description: 'WebAssembly with WASI (preview 1), wasi-libc',
    clangTriple: 'wasm32-wasi',
    os: 'wasi',
    libc: 'wasi-libc',
    floatAbi: null,
    sysrootHint: 'wasi-libc',
    verifyPool: 'verify-wasm32',
    arch: 'wasm32',
  },
];

export const PRESETS: readonly TargetPreset[] = [
  { name: 'x86-64-v3', target: 'x86_64-linux-gnu', cpu: 'x86-64-v3', features: [], description: 'x86-64 with AVX2 and FMA (Haswell and later)' },
  { name: 'x86-64-v4', target: 'x86_64-linux-gnu', cpu: 'x86-64-v4', features: [], description: 'x86-64 with AVX-512 (Skylake-SP and later)' },
  { name: 'graviton2', target: 'aarch64-linux-gnu', cpu: 'neoverse-n1', features: [], description: 'AWS Graviton2 (Neoverse N1)' },
  { name: 'graviton3', target: 'aarch64-linux-gnu', cpu: 'neoverse-v1', features: [], description: 'AWS Graviton3 (Neoverse V1, SVE)' },
  { name: 'rpi4', target: 'aarch64-linux-gnu', cpu: 'cortex-a72', features: [], description: 'Raspberry Pi 4, 64-bit OS (Cortex-A72)' },
  { name: 'rpi5', target: 'aarch64-linux-gnu', cpu: 'cortex-a76', features: [], description: 'Raspberry Pi 5, 64-bit OS (Cortex-A76)' },
  { name: 'rv64gcv', target: 'riscv64-linux-gnu', cpu: null, features: ['+v'], description: 'RISC-V 64 with the vector extension (RVV 1.0)' },
];

/** Pools that compile, and pools that run what was compiled. */
export const COMPILE_POOLS: readonly string[] = [...new Set(TARGETS.map((t) => t.pool))];
export const VERIFY_POOLS: readonly string[] = [...new Set(TARGETS.map((t) => t.verifyPool))];
export const POOLS: readonly string[] = [...COMPILE_POOLS, ...VERIFY_POOLS];

export function targetSpec(name: string): TargetSpec {
  const spec = TARGETS.find((t) => t.name === name);
  if (!spec) throw new Error(`no target named ${name} in the catalog`);
  return spec;
}
