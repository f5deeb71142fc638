import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { compileModel } from '../compiler/src/compile';
import { BENCH_MODELS } from '../compiler/test/models';
import { f16Bits } from '../compiler/src/half';
import { IO_BYTES } from '../compiler/src/ir';
import { prng } from '../src/verification/inputs';

/**
 * Per benchmark model and thread count: the compiled model's median latency next to
 * onnxruntime-node's (CPU, graph optimisations on, intraOpNumThreads = the same thread count) on
 * the same inputs, measured in the same run, interleaved in up to 25 rounds of a few runs a side
 * so that load from other work on the machine (its speed drifts by a third over seconds on a
 * shared VM) hits both alike: Kiln's timing harness stays running and takes its counts from
 * standard input; each side is warmed up for 50 ms once and for 5 ms in every round; both sides
 * run on the same CPUs (the first `threads`, see pinTo);
 * the GEMM also in GFLOP/s against the core's FP32 peak. Then
 * Kiln's compile times (ONNX to C, and clang per target); then, for aarch64 under qemu-user,
 * instructions per inference (KILN_BENCH_AARCH64=0 skips that).
 *   npm run bench:models -- [runs] [threads,...] [model name filter] [--zoo public|extra|NAME,...]
 */
/** --zoo NAME,... (or --zoo public): real networks from the model zoo (npm run zoo exports them) instead of the benchmark blocks. */
const ZOO_AT = process.argv.indexOf('--zoo');
const ZOO_NAMES = ZOO_AT >= 0 ? (process.argv[ZOO_AT + 1] ?? 'public').split(',') : null;
const ARGS = ZOO_AT >= 0 ? [...process.argv.slice(0, ZOO_AT), ...process.argv.slice(ZOO_AT + 2)] : process.argv;
const RUNS = Number(ARGS[2] ?? 60);
const THREADS = (ARGS[3] ?? '1,2').split(',').map(Number);
const FILTER = ARGS[4] ?? '';

/** The models to measure: the benchmark blocks, or the zoo's exported networks with their FLOPs. */
function benchModels(): { name: string; build: () => Uint8Array; inputShapes?: Record<string, number[]>; flops?: number }[] {
  if (!ZOO_NAMES) return BENCH_MODELS;
  const dir = join(process.env.KILN_ZOO_DIR ?? join(homedir(), '.cache', 'kiln', 'zoo'), 'models');
  const list = JSON.parse(readFileSync(join(dir, 'zoo.json'), 'utf8')) as { models: { name: string; set: string }[] };
  const names = ZOO_NAMES.flatMap((n) => (list.models.some((m) => m.set === n) ? list.models.filter((m) => m.set === n).map((m) => m.name) : [n]));
  return names.map((name) => {
    const bytes = new Uint8Array(readFileSync(join(dir, `${name}.onnx`)));
    return { name, build: () => bytes, flops: compileModel(bytes, { name: 'net' }).metadata.flops };
  });
}
/** Rounds of the interleaving: the machine's speed drifts over seconds, so each side runs a few times, then the other. */
const ROUNDS = Math.max(1, Math.min(25, Math.floor(RUNS / 4)));
const TARGETS = [
  ['x86_64-linux-gnu'],
  ['aarch64-linux-gnu'],
  ['riscv64-linux-gnu'],
  ['armv7-linux-gnueabihf', '-mfloat-abi=hard', '-mfpu=neon'],
  ['wasm32-wasi'],
  ['wasm32-wasi', '-msimd128'],
];

/** C statements of main(): the inputs from the file argv[1] into in[], and room for the outputs in out[]. */
function readInputs(inBytes: number[], outBytes: number[]): string {
  return `  FILE *f = fopen(argv[1], "rb");
  static const void *in[16]; static void *out[16];
  size_t in_bytes[] = { ${inBytes.join(', ')} }, out_bytes[] = { ${outBytes.join(', ')} };
  for (int i = 0; i < NET_NUM_INPUTS; i++) { void *p = malloc(in_bytes[i]); if (fread(p, 1, in_bytes[i], f) != in_bytes[i]) return 1; in[i] = p; }
  for (int i = 0; i < NET_NUM_OUTPUTS; i++) out[i] = malloc(out_bytes[i]);`;
}

function timingHarness(inBytes: number[], outBytes: number[]): string {
  return `#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "net.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
int main(int argc, char **argv) {
${readInputs(inBytes, outBytes)}
  /* Warm up for 50 ms (at least twice): caches, and the system's placement of the pool's threads on cores. */
  for (double t0 = now(), n = 0; n < 2 || now() - t0 < 50; n++) net_run(in, out);
  /* Then, for each count n read from standard input: 5 ms of runs (at least one) to warm the caches and the core again, n timed runs, "end". */
  int n;
  while (scanf("%d", &n) == 1) {
    for (double t0 = now(), k = 0; k < 1 || now() - t0 < 5; k++) net_run(in, out);
    for (int r = 0; r < n; r++) { double a = now(); net_run(in, out); printf("%f\\n", now() - a); }
    printf("end\\n");
    fflush(stdout);
  }
  return 0;
}
`;
}

/**
 * Keeps this process (ONNX Runtime's threads among them) and the timing harnesses it starts on
 * the first `threads` CPUs. The two sides never run at once, so with one thread both run on the
 * same core: on a VM whose virtual CPUs are not equally fast (one shares its core with other
 * work now and then), a side that ran on the other CPU would be timed on a different machine.
 * Without taskset (not Linux), nothing changes.
 */
function pinTo(threads: number): void {
  try {
    const cpus = Math.min(threads, Math.max(1, (readFileSync('/proc/cpuinfo', 'utf8').match(/^processor\s*:/gm) ?? []).length));
    execFileSync('taskset', ['-a', '-p', '-c', cpus > 1 ? `0-${cpus - 1}` : '0', String(process.pid)], { stdio: 'ignore' });
  } catch {
    // no taskset or /proc here: leave placement to the system
  }
}

/** A timing harness kept running: times(n) has it run the model n times and returns the times. */
function harnessProcess(exe: string, input: string): { times: (n: number) => Promise<number[]>; close: () => void } {
  const child = spawn(exe, [input], { stdio: ['pipe', 'pipe', 'inherit'] });
  let buffered = '';
  let waiting: ((lines: string[]) => void) | undefined;
  let failed: Error | undefined;
  const exited = (code: number | null) => (failed = new Error(`the timing harness exited (${code})`));
  child.on('exit', exited);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buffered += chunk;
    const end = buffered.indexOf('end\n');
    if (end >= 0 && waiting) {
      const lines = buffered.slice(0, end).trim().split('\n').filter(Boolean);
      buffered = buffered.slice(end + 4);
      const w = waiting;
      waiting = undefined;
      w(lines);
    }
  });
  return {
    times: (n) =>
      new Promise((resolve, reject) => {
        if (failed) return reject(failed);
        child.once('exit', () => reject(failed));
        waiting = (lines) => {
          child.removeAllListeners('exit');
          child.on('exit', exited);
          resolve(lines.map(Number));
        };
        child.stdin.write(`${n}\n`);
      }),
    close: () => child.stdin.end(),
  };
}

/** The host's x86-64 level, from /proc/cpuinfo's flags: the -march the benchmark builds Kiln's C for. */
function hostMarch(flags: Set<string>): string {
  if (['avx512f', 'avx512bw', 'avx512dq', 'avx512vl'].every((f) => flags.has(f))) return 'x86-64-v4';
  if (['avx2', 'fma', 'bmi2'].every((f) => flags.has(f))) return 'x86-64-v3';
  return 'x86-64';
}

/**
 * FP32 FLOPs per cycle per core, from the ISA, vendor and CPU family: 2 (FMA) x lanes x FMA pipes.
 * AMD Zen 4 (family 25) runs AVX-512 on two 256-bit FMA pipes (32); Zen 5 (family 26) and Intel
 * server cores with AVX-512 have two 512-bit FMA units (64); AVX2 + FMA cores two 256-bit units
 * (32); SSE2 alone, a 4-lane multiply and add (8).
 */
function flopsPerCycle(flags: Set<string>, vendor: string, family: number): { flops: number; why: string } {
  if (flags.has('avx512f') && vendor === 'AuthenticAMD' && family < 26) return { flops: 32, why: 'AVX-512 on AMD Zen 4: 2 x 256-bit FMA pipes' };
  if (flags.has('avx512f')) return { flops: 64, why: vendor === 'AuthenticAMD' ? 'AVX-512 on AMD Zen 5: 2 x 512-bit FMA pipes' : 'AVX-512 on Intel: 2 x 512-bit FMA units' };
  if (flags.has('avx2') && flags.has('fma')) return { flops: 32, why: 'AVX2 + FMA: 2 x 256-bit FMA units' };
  return { flops: 8, why: 'SSE2: 4-lane multiply + add' };
}

/**
 * The clock the core runs at: a chain of dependent register-to-register adds retires one per cycle
 * (an add of an immediate will not do: Intel's Golden Cove and later fold chains of those in the
 * renamer and retire several a cycle). The clock moves with the load on the machine (boost), so
 * the benchmark measures it before every model and keeps the highest: the peak it states is the most
 * the core reached, not a figure from a quiet moment.
 */
function clockProbe(dir: string): () => number {
  const src = join(dir, 'clock.c');
  const exe = join(dir, 'clock');
  execFileSync('bash', ['-c', `cat > ${src} <<'EOF'
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(void) {
  long n = 100000000; double best = 1e9;
  for (int r = 0; r < 10; r++) {
    double t = now(); long x = 0, one = 1;
    __asm__ volatile("mov %2, %%rcx\\n1:\\n add %1, %0\\n add %1, %0\\n add %1, %0\\n add %1, %0\\n sub $4, %%rcx\\n jnz 1b" : "+r"(x) : "r"(one), "r"(n) : "rcx");
    double d = now() - t; if (d < best) best = d;
  }
  printf("%f\\n", n / best / 1e9);
  return 0;
}
EOF`]);
  execFileSync('clang-19', ['-O2', src, '-o', exe]);
  let max = 0;
  return () => (max = Math.max(max, Number(execFileSync(exe).toString())));
}

/**
 * A QEMU TCG plugin that counts the guest instructions a program executes (each translated block
 * adds its instruction count inline every time it runs) and prints the total at exit. Written
 * against QEMU's stable plugin API (version 1, QEMU 7.x); Debian's qemu-user loads plugins but
 * ships none.
 */
const INSN_PLUGIN = `#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, struct qemu_plugin_tb *));
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *, enum qemu_plugin_op, void *, uint64_t);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, void (*)(qemu_plugin_id_t, void *), void *);
void qemu_plugin_outs(const char *);
__attribute__((visibility("default"))) int qemu_plugin_version = 1;
static uint64_t count;
static void trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) { (void)id; qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &count, qemu_plugin_tb_n_insns(tb)); }
static void done(qemu_plugin_id_t id, void *p) { (void)id; (void)p; char b[64]; snprintf(b, sizeof b, "insns %llu\\n", (unsigned long long)count); qemu_plugin_outs(b); }
__attribute__((visibility("default"))) int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
  (void)info; (void)argc; (void)argv;
  qemu_plugin_register_vcpu_tb_trans_cb(id, trans);
  qemu_plugin_register_atexit_cb(id, done, NULL);
  return 0;
}
`;

/** Runs the model argv[2] times on the inputs in argv[1]: instruction counts of 3 runs minus 1 run, halved, are one inference's. */
function countingHarness(inBytes: number[], outBytes: number[]): string {
  return `#include <stdio.h>
#include <stdlib.h>
#include "net.h"
int main(int argc, char **argv) {
${readInputs(inBytes, outBytes)}
  for (int r = 0; r < atoi(argv[2]); r++) net_run(in, out);
  return 0;
}
`;
}

/**
 * aarch64 under qemu-user, as instruction counts per inference (emulated time says nothing about
 * a real core): Kiln's C with its kernel library next to the same model's plain loops (the
 * compiler's reference path), both clang -O2 for generic Armv8-A with NEON.
 */
async function aarch64Counts(dir: string): Promise<void> {
  const plugin = join(dir, 'libinsn.so');
  await writeFile(join(dir, 'insn.c'), INSN_PLUGIN);
  execFileSync('clang-19', ['-shared', '-fPIC', '-O2', join(dir, 'insn.c'), '-o', plugin]);
  const version = /version ([\d.]+)/.exec(execFileSync('qemu-aarch64', ['--version']).toString())?.[1] ?? '?';
  console.log('');
  console.log(`aarch64 (qemu-aarch64 ${version}, instructions per inference counted by a TCG plugin; not times), clang-19 -O2 for generic Armv8-A`);
  console.log('model                      kiln          plain loops   fewer instructions (plain/kiln)');
  for (const m of BENCH_MODELS.filter((x) => x.name.includes(FILTER))) {
    const bytes = m.build();
    const counts: number[] = [];
    for (const kernels of [true, false]) {
      const { files, metadata } = compileModel(bytes, { name: 'net', inputShapes: m.inputShapes, kernels });
      for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
      const size = (t: { shape: number[]; dtype: keyof typeof IO_BYTES }) => t.shape.reduce((a, b) => a * b, 1) * IO_BYTES[t.dtype];
      await writeFile(join(dir, 'count.c'), countingHarness(metadata.inputs.map(size), metadata.outputs.map(size)));
      const rand = prng(7);
      const values = (i: { shape: number[]; dtype: string }) => {
        const v = Float32Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1);
        return i.dtype === 'float16' ? Uint16Array.from(v, f16Bits) : v;
      };
      await writeFile(join(dir, 'in-a64.bin'), Buffer.concat(metadata.inputs.map((i) => Buffer.from(values(i).buffer))));
      const exe = join(dir, 'count-a64');
      execFileSync('clang-19', ['--target=aarch64-linux-gnu', '-std=c23', '-O2', '-static', '-fuse-ld=lld', '-I', dir, join(dir, 'net.c'), join(dir, 'count.c'), '-o', exe, '-lm']);
      // The plugin writes to QEMU's log, which is standard error.
      const insns = (runs: number) => {
        const r = spawnSync('qemu-aarch64', ['-cpu', 'max', '-plugin', plugin, '-d', 'plugin', exe, join(dir, 'in-a64.bin'), String(runs)], { encoding: 'utf8' });
        const n = /insns (\d+)/.exec(r.stderr)?.[1];
        if (r.status !== 0 || !n) throw new Error(`counting ${m.name} on aarch64 failed: ${r.stderr || r.status}`);
        return Number(n);
      };
      counts.push((insns(3) - insns(1)) / 2);
    }
    const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(1)} k`);
    console.log(`${m.name.padEnd(27)}${fmt(counts[0]).padEnd(14)}${fmt(counts[1]).padEnd(14)}${(counts[1] / counts[0]).toFixed(2)}x`);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-models-'));
  try {
    const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
    const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
    const vendor = /^vendor_id\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '';
    const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? process.arch;
    const mhz = Number(/^cpu MHz\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? 0);
    const cores = (cpuinfo.match(/^processor\s*:/gm) ?? []).length;
    const march = process.arch === 'x64' ? hostMarch(flags) : 'native';
    const family = Number(/^cpu family\s*:\s*(\d+)/m.exec(cpuinfo)?.[1] ?? 0);
    const { flops, why } = flopsPerCycle(flags, vendor, family);
    const probe = process.arch === 'x64' ? clockProbe(dir) : () => mhz / 1000;
    console.log(`Host: ${model}, ${cores} cores, /proc/cpuinfo ${(mhz / 1000).toFixed(2)} GHz; Kiln's C built with clang-19 -O2 -march=${march}`);
    console.log(`${RUNS} runs per side, interleaved in ${ROUNDS} rounds; latency: median; speed-up: the median over rounds of ONNX Runtime's median / Kiln's; onnxruntime-node ${(require('onnxruntime-node/package.json') as { version: string }).version} (CPU, graph optimisations on)`);
    console.log('');
    console.log('model                      threads  kiln          onnxruntime   speed-up (ort/kiln)');
    const compileRows: string[] = [];
    const speedups: number[] = [];
    for (const m of benchModels().filter((x) => x.name.includes(FILTER))) {
      probe();
      const bytes = m.build();
      const rand = prng(7);
      let inputs: (Float32Array | Uint16Array | BigInt64Array)[] | undefined;
      for (const threads of THREADS) {
        const t0 = performance.now();
        const { files, metadata } = compileModel(bytes, { name: 'net', inputShapes: m.inputShapes, threads });
        const toC = performance.now() - t0;
        // float16 models take 16-bit inputs, the same values on both sides.
        // Token ids (int64) in [0, 10), as a model job's seeded inputs.
        inputs ??= metadata.inputs.map((i) => {
          const n = i.shape.reduce((a, b) => a * b, 1);
          if (i.dtype === 'int64') return BigInt64Array.from({ length: n }, () => BigInt(Math.floor(rand() * 10)));
          const v = Float32Array.from({ length: n }, () => rand() * 2 - 1);
          return i.dtype === 'float16' ? Uint16Array.from(v, f16Bits) : v;
        });
        for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
        if (threads === THREADS[0]) {
          const clang: number[] = [];
          for (const [target, ...flags] of TARGETS) {
            const t = performance.now();
            execFileSync('clang-19', [`--target=${target}`, ...flags, '-std=c23', '-O2', '-c', join(dir, 'net.c'), '-o', join(dir, `net-${target}.o`)]);
            clang.push(performance.now() - t);
          }
          compileRows.push(`${m.name.padEnd(27)}${`${toC.toFixed(0)} ms`.padEnd(10)}${clang.map((c) => `${c.toFixed(0)} ms`.padEnd(10)).join('')}`);
        }
        await writeFile(join(dir, 'in.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer))));
        const size = (t: { shape: number[]; dtype: keyof typeof IO_BYTES }) => t.shape.reduce((a, b) => a * b, 1) * IO_BYTES[t.dtype];
        await writeFile(join(dir, 'bench.c'), timingHarness(metadata.inputs.map(size), metadata.outputs.map(size)));
        execFileSync('clang-19', ['-std=c23', '-O2', `-march=${march}`, '-I', dir, join(dir, 'net.c'), join(dir, 'bench.c'), '-o', join(dir, 'bench'), '-lm', '-lpthread']);
        pinTo(threads);
        const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
        const feeds = Object.fromEntries(metadata.inputs.map((i, k) => [i.name, new ort.Tensor(i.dtype === 'float16' ? 'float16' : i.dtype === 'int64' ? 'int64' : 'float32', inputs![k] as Float32Array, i.shape)]));
        const kiln: number[] = [];
        const ref: number[] = [];
        const perRound = Math.ceil(RUNS / ROUNDS);
        const harness = harnessProcess(join(dir, 'bench'), join(dir, 'in.bin'));
        try {
          // ONNX Runtime gets the same warm-up as Kiln's harness (50 ms, at least twice).
          for (let t0 = performance.now(), n = 0; n < 2 || performance.now() - t0 < 50; n++) await session.run(feeds);
          for (let r = 0; r < ROUNDS; r++) {
            // ONNX Runtime's pool threads spin for a while after a run: let them settle before Kiln's runs.
            if (threads > 1) await new Promise((done) => setTimeout(done, 100));
            kiln.push(...(await harness.times(perRound)));
            // 5 ms of runs (at least one) to warm the caches and the core again, as Kiln's harness does, then the timed runs.
            for (let t0 = performance.now(), k = 0; k < 1 || performance.now() - t0 < 5; k++) await session.run(feeds);
            for (let i = 0; i < perRound; i++) {
              const a = performance.now();
              await session.run(feeds);
              ref.push(performance.now() - a);
            }
          }
        } finally {
          harness.close();
        }
        await session.release();
        const k = median(kiln);
        const o = median(ref);
        // The speed-up is paired by round: both sides of a round ran within a few tens of milliseconds, under the
        // same load from the rest of the machine, so the median of the rounds' ratios is not moved by that load.
        const paired = median(Array.from({ length: ROUNDS }, (_, r) => median(ref.slice(r * perRound, (r + 1) * perRound)) / median(kiln.slice(r * perRound, (r + 1) * perRound))));
        const gf = (ms: number) => (m.flops ? ` ${(m.flops / ms / 1e6).toFixed(1)} GF/s` : '');
        const peak = probe() * flops * threads;
        const ms = (x: number) => `${x < 0.01 ? x.toFixed(5) : x.toFixed(3)} ms`;
        if (threads === THREADS[0]) speedups.push(paired);
        console.log(`${m.name.padEnd(27)}${String(threads).padEnd(9)}${ms(k).padEnd(14)}${ms(o).padEnd(14)}${paired.toFixed(2)}x${m.flops ? `   kiln${gf(k)} = ${((m.flops / k / 1e6 / peak) * 100).toFixed(0)}% of peak ${peak.toFixed(0)}, ort${gf(o)}` : ''}`);
      }
    }
    if (speedups.length > 1) console.log(`geometric mean of the speed-ups at ${THREADS[0]} thread${THREADS[0] > 1 ? 's' : ''} over ${speedups.length} models: ${Math.exp(speedups.reduce((a, x) => a + Math.log(x), 0) / speedups.length).toFixed(2)}x`);
    const ghz = probe();
    console.log('');
    console.log(`FP32 peak = cores x GHz x FLOPs/cycle: per core ${ghz.toFixed(2)} GHz (the highest clock measured during the run, dependent adds) x ${flops} (${why}) = ${(ghz * flops).toFixed(1)} GFLOP/s; ${((mhz / 1000) * flops).toFixed(1)} at /proc/cpuinfo's ${(mhz / 1000).toFixed(2)} GHz`);
    console.log('');
    console.log(`compile (threads ${THREADS[0]})            kiln->C   ${TARGETS.map(([t, ...f]) => `${t.split('-')[0]}${f.includes('-msimd128') ? '+simd' : ''}`.padEnd(10)).join('')}`);
    for (const row of compileRows) console.log(row);
    if (process.env.KILN_BENCH_AARCH64 !== '0') await aarch64Counts(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
