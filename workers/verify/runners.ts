import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { CUDA_VERIFY_PREFIX, VERIFY_POOLS, TARGETS } from '../../src/targets/catalog';
import type { Mount, ResourceLimits, SandboxExecutor } from '../sandbox/executor';

/** How a verification runner executes a program built for its architecture. */
export interface Runner {
  /** native, qemu-aarch64, wasm (node WASI), ... */
  name: string;
  arch: string;
  /** The command line that runs `program` (a path inside the sandbox) with its arguments. */
  argv(program: string, args: string[]): string[];
  /** Extra read-only mounts the runner needs inside the sandbox. */
  mounts: Mount[];
  limits: Partial<ResourceLimits>;
  /** Files the run needs besides the bundle (the WASI launcher), bound read-only at /in/NAME. */
  files: Record<string, string>;
  /**
   * Signals that can only mean the runner itself crashed, never the program: a WebAssembly
   * module cannot crash its host (a trap is an exception, which the launcher turns into exit
   * 134). A run that ends with one is repeated (RUNNER_CRASH_RETRIES), and the report says so.
   */
  crashSignals?: string[];
}

/** How many times a run is repeated after its runner (not its program) crashed, and up to how long a crashed run may have taken to be repeated. */
export const RUNNER_CRASH_RETRIES = 2;
export const RUNNER_CRASH_RETRY_MAX_MS = 5 * 60_000;

const HOST_ARCH: Record<string, string> = { x64: 'x86_64', arm64: 'aarch64' };

const QEMU: Record<string, { bin: string; cpu: string }> = {
  x86_64: { bin: '/usr/bin/qemu-x86_64', cpu: 'max' },
  aarch64: { bin: '/usr/bin/qemu-aarch64', cpu: 'max' },
  // RVV 1.0 on, so code built with +v runs; qemu's riscv64 has no "max" model in every version.
  riscv64: { bin: '/usr/bin/qemu-riscv64', cpu: 'rv64,v=true,vext_spec=v1.0,vlen=128,elen=64,zba=true,zbb=true,zbs=true' },
  armv7: { bin: '/usr/bin/qemu-arm', cpu: 'max' },
};

/**
 * Runs a WASI command module with Node's WASI: the run's folder and its read-only inputs (/in)
 * are the only directories it sees, argv and exit code pass through, and nothing of the host environment leaks in.
 */
export const WASI_LAUNCHER = `'use strict';
const { readFileSync } = require('node:fs');
const { WASI } = require('node:wasi');
const [file, ...args] = process.argv.slice(2);
const wasi = new WASI({ version: 'preview1', args: [file, ...args], env: {}, preopens: { '.': '.', '/in': '/in' }, returnOnExit: true });
WebAssembly.instantiate(readFileSync(file), wasi.getImportObject()).then(({ instance }) => {
  process.exitCode = wasi.start(instance);
}, (e) => { console.error('wasm: ' + e.message); process.exitCode = 134; });
`;

function wasmRunner(): Runner | null {
  const node = process.execPath;
  if (!existsSync(node)) return null;
  const nodeDir = dirname(dirname(node));
  return {
    name: 'wasm (node WASI)',
    arch: 'wasm32',
    // Node 20's V8 on some hosts (a Zen 5 VM) dies of SIGSEGV in its own code at the first
    // JavaScript after a module that grew its memory returns, its work done. With V8's GC
    // threads (no --single-threaded), nearly always (a C program that fills 96 MiB: 57 of 60
    // runs); with --single-threaded, when a large module ran on a busy machine (ResNet-50, four at
    // once on two cores: 32 of 32). --single-threaded, then: a harness says it finished in a file
    // (outputs.bin.done), and any other crash of Node is repeated (crashSignals).
    argv: (program, args) => [node, '--no-warnings', '--single-threaded', '--max-old-space-size=512', '/in/kiln-wasi-launcher.cjs', program, ...args],
    // Node may live outside /usr (nvm, /opt): make its folder visible, read-only.
    mounts: nodeDir.startsWith('/usr') ? [] : [{ host: nodeDir, sandbox: nodeDir }],
    // V8 reserves large guard regions for wasm memories: address space is not a memory measure here.
    limits: { memoryBytes: 64 * 1024 ** 3, processes: 64 },
    files: { 'kiln-wasi-launcher.cjs': WASI_LAUNCHER },
    // Node 20's V8 now and then dies of SIGSEGV in its own interpreter while a large module runs
    // (ResNet-50: about 1 run in 16 on a 2-core Zen 5 host, with or without other load).
    crashSignals: ['SIGSEGV', 'SIGBUS', 'SIGILL'],
  };
}

/** NVIDIA GPUs in nvidia-smi's CSV ("9.0, NVIDIA H200"), as sm_XX and name. */
export function parseGpuList(csv: string): { arch: string; name: string }[] {
  return csv
    .split('\n')
    .map((l) => /^\s*(\d+)\.(\d+)\s*,\s*(.+?)\s*$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ arch: `sm_${m[1]}${m[2]}`, name: m[3] }));
}

/** The NVIDIA GPUs of this machine (none without a driver and nvidia-smi). */
export function localGpus(): { arch: string; name: string }[] {
  const r = spawnSync('nvidia-smi', ['--query-gpu=compute_cap,name', '--format=csv,noheader'], { encoding: 'utf8', timeout: 15_000 });
  return r.error || r.status !== 0 ? [] : parseGpuList(r.stdout);
}

/**
 * Runs a GPU build's host program natively, with the GPU's device nodes in the sandbox. Only a GPU
 * of exactly the build's architecture counts: an sm_80 build would run on an sm_90 GPU only by
 * JIT-compiling its PTX, which would not prove its sm_80 code.
 */
export function cudaRunner(sm: string, gpus = localGpus()): Runner | null {
  const gpu = gpus.find((g) => g.arch === sm);
  if (!gpu || HOST_ARCH[process.arch] !== 'x86_64') return null;
  const devices = existsSync('/dev') ? readdirSync('/dev').filter((d) => /^nvidia(\d+|ctl|-uvm|-uvm-tools)$/.test(d)) : [];
  return {
    name: `cuda (${gpu.name}, ${sm})`,
    arch: `cuda-${sm}`,
    argv: (program, args) => [program, ...args],
    mounts: devices.map((d) => ({ host: `/dev/${d}`, sandbox: `/dev/${d}`, writable: true, device: true })),
    // The CUDA driver reserves address space far beyond what the program uses.
    limits: { processes: 64, memoryBytes: 1024 ** 4 },
    files: {},
  };
}

/** The runner this machine can offer for an architecture: native when it matches, else qemu-user; cuda-sm_XX on such a GPU. */
export function runnerFor(arch: string): Runner | null {
  if (arch.startsWith('cuda-')) return cudaRunner(arch.slice(5));
  if (arch === 'wasm32') return wasmRunner();
  if (HOST_ARCH[process.arch] === arch) {
    return { name: 'native', arch, argv: (program, args) => [program, ...args], mounts: [], limits: { processes: 64, memoryBytes: 4 * 1024 ** 3 }, files: {} };
  }
  const q = QEMU[arch];
  if (!q || !existsSync(q.bin)) return null;
  return {
    name: `qemu-${arch === 'armv7' ? 'arm' : arch}`,
    arch,
    argv: (program, args) => [q.bin, '-cpu', q.cpu, program, ...args],
    mounts: [],
    // qemu-user maps guest memory into its own address space.
    limits: { processes: 64, memoryBytes: 16 * 1024 ** 3 },
    files: {},
  };
}

/** Proves a runner works here, in the sandbox, before the worker offers its pool. */
export async function probeRunner(runner: Runner, exec: SandboxExecutor, scratch: string): Promise<string | null> {
  const argv = runner.name === 'native' ? ['/bin/true'] : runner.arch.startsWith('cuda-') ? ['nvidia-smi', '-L'] : runner.name.startsWith('qemu') ? [runner.argv('', [])[0], '--version'] : [runner.argv('', [])[0], '--version'];
  const r = await exec.run({ argv, cwd: '/work', mounts: [{ host: scratch, sandbox: '/work', writable: true }, ...runner.mounts], timeoutMs: 20_000, limits: runner.limits });
  return r.exitCode === 0 ? null : `${runner.name} does not run in the sandbox: ${(r.stderr || r.stdout).trim().split('\n')[0]}`;
}

export function archOfVerifyPool(pool: string): string | null {
  if (!VERIFY_POOLS.includes(pool)) return null;
  if (pool.startsWith(CUDA_VERIFY_PREFIX)) return `cuda-${pool.slice(CUDA_VERIFY_PREFIX.length)}`;
  return TARGETS.find((t) => t.verifyPool === pool)!.arch;
}
