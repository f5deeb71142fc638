import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { compileModel } from '../compiler/src/compile';
import { TEST_MODELS } from '../compiler/test/models';
import { prng } from '../src/verification/inputs';

/**
 * Per test model: Kiln's compile time (ONNX to C, then clang per target), and the compiled
 * model's inference time next to onnxruntime-node's on the same inputs, both single-threaded,
 * measured in the same run.   npm run bench:models -- [runs]
 */
const RUNS = Number(process.argv[2] ?? 50);
const TARGETS = ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'wasm32-wasi'];

function timingHarness(runs: number): string {
  return `#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "net.h"
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "rb");
  static const void *in[16]; static void *out[16];
  size_t in_bytes[] = { ${'IN_BYTES'} }, out_bytes[] = { ${'OUT_BYTES'} };
  for (int i = 0; i < NET_NUM_INPUTS; i++) { void *p = malloc(in_bytes[i]); if (fread(p, 1, in_bytes[i], f) != in_bytes[i]) return 1; in[i] = p; }
  for (int i = 0; i < NET_NUM_OUTPUTS; i++) out[i] = malloc(out_bytes[i]);
  double t[${runs}];
  net_run(in, out);
  for (int r = 0; r < ${runs}; r++) { double a = now(); net_run(in, out); t[r] = now() - a; }
  qsort(t, ${runs}, sizeof t[0], cmp);
  printf("%f\\n", t[${Math.floor(runs / 2)}]);
  return 0;
}
`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-models-'));
  try {
    console.log(`Model benchmark: ${RUNS} runs each, median, single thread; Kiln ${'C (clang -O2, no fast-math)'} vs onnxruntime-node (graph optimisations on)`);
    console.log('model                 compile: kiln->C  ' + TARGETS.map((t) => `clang ${t}`.padEnd(26)).join('') + 'kiln x86_64   onnxruntime   ratio (kiln/ort)');
    for (const m of TEST_MODELS) {
      const bytes = m.build();
      let t = performance.now();
      const { files, metadata } = compileModel(bytes, { name: 'net', inputShapes: m.inputShapes });
      const toC = performance.now() - t;
      for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
      const clang: number[] = [];
      for (const target of TARGETS) {
        t = performance.now();
        execFileSync('clang-19', [`--target=${target}`, '-std=c23', '-O2', '-c', join(dir, 'net.c'), '-o', join(dir, `net-${target}.o`)]);
        clang.push(performance.now() - t);
      }
      const rand = prng(7);
      const inputs = metadata.inputs.map((i) => Float32Array.from({ length: i.shape.reduce((a, b) => a * b, 1) }, () => rand() * 2 - 1));
      await writeFile(join(dir, 'in.bin'), Buffer.concat(inputs.map((a) => Buffer.from(a.buffer))));
      const harness = timingHarness(RUNS)
        .replace('IN_BYTES', metadata.inputs.map((i) => i.shape.reduce((a, b) => a * b, 1) * 4).join(', '))
        .replace('OUT_BYTES', metadata.outputs.map((o) => o.shape.reduce((a, b) => a * b, 1) * 4).join(', '));
      await writeFile(join(dir, 'bench.c'), harness);
      execFileSync('clang-19', ['-std=c23', '-O2', '-I', dir, join(dir, 'net.c'), join(dir, 'bench.c'), '-o', join(dir, 'bench'), '-lm']);
      const kiln = Number(execFileSync(join(dir, 'bench'), [join(dir, 'in.bin')]).toString());
      const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
      const feeds = Object.fromEntries(metadata.inputs.map((i, k) => [i.name, new ort.Tensor('float32', inputs[k], i.shape)]));
      await session.run(feeds);
      const times: number[] = [];
      for (let r = 0; r < RUNS; r++) {
        const a = performance.now();
        await session.run(feeds);
        times.push(performance.now() - a);
      }
      times.sort((a, b) => a - b);
      const ortMs = times[Math.floor(RUNS / 2)];
      await session.release();
      const f = (x: number) => `${x.toFixed(3)} ms`;
      console.log(`${m.name.padEnd(22)}${f(toC).padEnd(18)}${clang.map((c) => f(c).padEnd(26)).join('')}${f(kiln).padEnd(14)}${f(ortMs).padEnd(14)}${(kiln / ortMs).toFixed(2)}x`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
