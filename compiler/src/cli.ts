#!/usr/bin/env node
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { compileModel } from './compile';
import { modelHarness } from './harness';
import { CompileError } from './ir';
import { formatProfile, profileModel } from './profile';

const USAGE = `usage: kiln-onnx <model.onnx> [--out dir] [--name net] [--shape input=1,3,224,224 ...] [--threads n] [--harness]

Compiles an ONNX model to dependency-free C: <name>.c, <name>.h, <name>.weights.bin (embedded
with #embed: compile with clang -std=c23) and <name>.json (inputs, outputs, shapes, dtypes).
Symbolic input dimensions are bound with --shape. --threads n lets the kernels use n threads
(pthreads, started on the first run; link with -lpthread where the C library needs it; wasm32
runs on one). --harness also writes harness.c, a program that runs the model on a file of inputs.
--profile [runs] also builds the model for this machine (clang-19 -O2 -march=native) with each
kernel timed, runs it on seeded inputs (default 20 runs after 3 to warm up) and prints the latency,
peak memory, and the kernels of the compiled graph by time: share, milliseconds, GFLOP/s, the
ONNX operators each covers.`;

export async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  let out = '.';
  let name = 'model';
  let harness = false;
  let threads = 1;
  let profile = 0;
  const shapes: Record<string, number[]> = {};
  const positional: string[] = [];
  while (args.length) {
    const a = args.shift()!;
    if (a === '--out') out = args.shift() ?? '';
    else if (a === '--name') name = args.shift() ?? '';
    else if (a === '--harness') harness = true;
    else if (a === '--profile') {
      profile = /^\d+$/.test(args[0] ?? '') ? Number(args.shift()) : 20;
      if (profile < 1 || profile > 100_000) {
        console.error('kiln-onnx: --profile takes a number of runs from 1 to 100000');
        return 2;
      }
    }
    else if (a === '--threads') {
      threads = Number(args.shift());
      if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
        console.error('kiln-onnx: --threads takes a whole number from 1 to 256');
        return 2;
      }
    }
    else if (a === '--shape') {
      const m = /^([^=]+)=(\d+(?:,\d+)*)$/.exec(args.shift() ?? '');
      if (!m) {
        console.error('kiln-onnx: --shape takes input=d0,d1,...');
        return 2;
      }
      shapes[m[1]] = m[2].split(',').map(Number);
    } else if (a === '--help' || a.startsWith('--')) {
      console.error(USAGE);
      return a === '--help' ? 0 : 2;
    } else positional.push(a);
  }
  if (positional.length !== 1 || !out || !name) {
    console.error(USAGE);
    return 2;
  }
  try {
    const bytes = await readFile(positional[0]);
    const { files, metadata } = compileModel(bytes, { name, inputShapes: shapes, threads });
    await mkdir(out, { recursive: true });
    for (const [file, content] of Object.entries(files)) await writeFile(join(out, file), content);
    if (harness) await writeFile(join(out, 'harness.c'), modelHarness(metadata));
    const ops = Object.entries(metadata.ops).map(([op, n]) => `${op} x${n}`).join(', ');
    console.log(`${name}: ${metadata.inputs.length} input(s), ${metadata.outputs.length} output(s), ${metadata.weightsBytes} bytes of weights; ${ops}`);
    if (profile) console.log(`\n${formatProfile(await profileModel(bytes, { name, inputShapes: shapes, threads, runs: profile }))}`);
    return 0;
  } catch (e) {
    if (e instanceof CompileError) {
      console.error(`kiln-onnx: ${e.message}`);
      return 1;
    }
    console.error(`kiln-onnx: ${(e as Error).message}`);
    return 2;
  }
}

if (require.main === module) main(process.argv.slice(2)).then((c) => (process.exitCode = c));
