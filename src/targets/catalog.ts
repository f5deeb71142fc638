import type { CanonicalTarget } from './target';

export type TargetFamily = 'x86' | 'arm' | 'aarch64' | 'riscv' | 'wasm' | 'nvptx' | 'amdgpu';

/** How a client groups targets: host CPUs, WebAssembly, and GPUs. */
export type TargetKind = 'cpu' | 'wasm' | 'gpu';

export function targetKind(family: TargetFamily): TargetKind {
  return family === 'wasm' ? 'wasm' : family === 'nvptx' || family === 'amdgpu' ? 'gpu' : 'cpu';
}

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
  /**
   * The pool of runners that can execute code built for this target (natively or emulated);
   * null where it depends on the architecture (NVIDIA GPUs: verify-cuda-sm_XX, see verifyPoolOf)
   * or where Kiln has no runner for it (AMD GPUs).
   */
  verifyPool: string | null;
  /** The architecture that runners of verifyPool execute. */
  arch: 'x86_64' | 'aarch64' | 'riscv64' | 'armv7' | 'wasm32' | 'nvptx64' | 'amdgcn';
  /** For a GPU target: its vendor, and the architectures (LLVM's "cpu") it accepts. */
  gpu?: { vendor: 'nvidia' | 'amd'; arches: readonly string[] };
}

export interface TargetPreset {
  name: string;
  /** Other names that mean the same preset (a product name for a GPU architecture). */
  aliases?: readonly string[];
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
  {
    name: 'nvptx64-nvidia-cuda',
    triple: 'nvptx64-nvidia-cuda',
    family: 'nvptx',
    pool: 'cuda',
    description: 'NVIDIA GPUs (CUDA); choose the architecture with a preset such as sm_90, or "cpu"',
    clangTriple: 'nvptx64-nvidia-cuda',
    os: 'cuda',
    libc: null,
    floatAbi: null,
    sysrootHint: 'the CUDA toolkit in /usr/local/cuda',
    verifyPool: null,
    arch: 'nvptx64',
    gpu: { vendor: 'nvidia', arches: ['sm_75', 'sm_80', 'sm_86', 'sm_87', 'sm_89', 'sm_90', 'sm_100', 'sm_120'] },
  },
  {
    name: 'amdgcn-amd-amdhsa',
    triple: 'amdgcn-amd-amdhsa',
    family: 'amdgpu',
    pool: 'rocm',
    description: 'AMD GPUs (HIP, ROCm code objects); choose the architecture with a preset such as gfx942, or "cpu"',
    clangTriple: 'amdgcn-amd-amdhsa',
    os: 'amdhsa',
    libc: null,
    floatAbi: null,
    sysrootHint: 'hipcc and libamdhip64-dev',
    verifyPool: null,
    arch: 'amdgcn',
    gpu: { vendor: 'amd', arches: ['gfx900', 'gfx906', 'gfx908', 'gfx90a', 'gfx940', 'gfx941', 'gfx942', 'gfx1030', 'gfx1100'] },
  },
];

export const PRESETS: readonly TargetPreset[] = [
  { name: 'x86-64-v2', target: 'x86_64-linux-gnu', cpu: 'x86-64-v2', features: [], description: 'x86-64 with SSE4.2 and POPCNT (Nehalem and later)' },
  { name: 'x86-64-v3', target: 'x86_64-linux-gnu', cpu: 'x86-64-v3', features: [], description: 'x86-64 with AVX2 and FMA (Haswell and later)' },
  { name: 'x86-64-v4', target: 'x86_64-linux-gnu', cpu: 'x86-64-v4', features: [], description: 'x86-64 with AVX-512 (Skylake-SP and later)' },
  { name: 'graviton2', target: 'aarch64-linux-gnu', cpu: 'neoverse-n1', features: [], description: 'AWS Graviton2 (Neoverse N1)' },
  { name: 'graviton3', target: 'aarch64-linux-gnu', cpu: 'neoverse-v1', features: [], description: 'AWS Graviton3 (Neoverse V1, SVE)' },
  { name: 'rpi4', target: 'aarch64-linux-gnu', cpu: 'cortex-a72', features: [], description: 'Raspberry Pi 4, 64-bit OS (Cortex-A72)' },
  { name: 'rpi5', target: 'aarch64-linux-gnu', cpu: 'cortex-a76', features: [], description: 'Raspberry Pi 5, 64-bit OS (Cortex-A76)' },
  { name: 'sifive-u74', target: 'riscv64-linux-gnu', cpu: 'sifive-u74', features: [], description: 'SiFive U74 (rv64gc; VisionFive 2, HiFive Unmatched)' },
  { name: 'rv64gcv', target: 'riscv64-linux-gnu', cpu: null, features: ['+v'], description: 'RISC-V 64 with the vector extension (RVV 1.0)' },
  { name: 'armv7-neon', target: 'armv7-linux-gnueabihf', cpu: 'cortex-a7', features: ['+neon'], description: 'Armv7-A with NEON and VFPv4 (Cortex-A7; Raspberry Pi 2, many SoCs)' },
  { name: 'wasm32-simd', target: 'wasm32-wasi', cpu: null, features: ['+simd128'], description: 'WebAssembly with 128-bit SIMD (every current browser and runtime)' },
  { name: 'sm_80', aliases: ['a100'], target: 'nvptx64-nvidia-cuda', cpu: 'sm_80', features: [], description: 'NVIDIA Ampere datacenter (A100)' },
  { name: 'sm_86', aliases: ['a10', 'rtx3090'], target: 'nvptx64-nvidia-cuda', cpu: 'sm_86', features: [], description: 'NVIDIA Ampere (A10, RTX 30 series)' },
  { name: 'sm_89', aliases: ['l4', 'l40s'], target: 'nvptx64-nvidia-cuda', cpu: 'sm_89', features: [], description: 'NVIDIA Ada Lovelace (L4, L40S, RTX 40 series)' },
  { name: 'sm_90', aliases: ['h100', 'h200'], target: 'nvptx64-nvidia-cuda', cpu: 'sm_90', features: [], description: 'NVIDIA Hopper (H100, H200)' },
  { name: 'gfx90a', aliases: ['mi210', 'mi250', 'mi250x'], target: 'amdgcn-amd-amdhsa', cpu: 'gfx90a', features: [], description: 'AMD CDNA2 (Instinct MI210, MI250)' },
  { name: 'gfx942', aliases: ['mi300', 'mi300x', 'mi300a'], target: 'amdgcn-amd-amdhsa', cpu: 'gfx942', features: [], description: 'AMD CDNA3 (Instinct MI300)' },
];

/** Pools that compile, and pools that run what was compiled. */
export const COMPILE_POOLS: readonly string[] = [...new Set(TARGETS.map((t) => t.pool))];
/** NVIDIA GPU code is verified on a runner with a GPU of exactly that architecture: one pool per sm_XX. */
export const CUDA_VERIFY_PREFIX = 'verify-cuda-';
/** What a worker names in KILN_POOLS to serve the verify-cuda-sm_XX pool of the GPU it has. */
export const CUDA_VERIFY_ANY = 'verify-cuda';
export const CUDA_VERIFY_POOLS: readonly string[] = TARGETS.filter((t) => t.family === 'nvptx').flatMap((t) => t.gpu!.arches.map((a) => `${CUDA_VERIFY_PREFIX}${a}`));
export const VERIFY_POOLS: readonly string[] = [...new Set(TARGETS.map((t) => t.verifyPool).filter((p): p is string => p !== null)), ...CUDA_VERIFY_POOLS];

/** Why a compiled build waits for verification: no live worker serves its verify pool. */
export function verifyWaitReason(pool: string): string {
  if (pool.startsWith(CUDA_VERIFY_PREFIX)) {
    const arch = pool.slice(CUDA_VERIFY_PREFIX.length);
    return `compiled; waiting for a device: no runner with an NVIDIA ${arch} GPU serves pool "${pool}" right now (start a worker with KILN_POOLS=verify-cuda on such a machine)`;
  }
  return `compiled; no live worker serves pool "${pool}" to verify it right now`;
}

/** The pool that verifies a build for a target with an architecture (cpu); null where none can. */
export function verifyPoolOf(spec: TargetSpec, cpu: string | null): string | null {
  if (spec.family === 'nvptx') return cpu ? `${CUDA_VERIFY_PREFIX}${cpu}` : null;
  return spec.verifyPool;
}
export const POOLS: readonly string[] = [...COMPILE_POOLS, ...VERIFY_POOLS];

export function targetSpec(name: string): TargetSpec {
  const spec = TARGETS.find((t) => t.name === name);
  if (!spec) throw new Error(`no target named ${name} in the catalog`);
  return spec;
}
