import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileModel, ModelMetadata } from '../compiler/src/compile';
import { modelHarness } from '../compiler/src/harness';
import { CompileError, IO_BYTES, numel } from '../compiler/src/ir';
import { compareOutput, OutputComparison } from '../src/verification/compare';
import type { DType as VerifyDType } from '../src/verification/dtype';
import { modelInputs, referenceOutputs } from '../workers/toolchains/onnx';

/**
 * The model zoo: real networks exported from torchvision, timm and transformers (scripts/zoo/,
 * see export.py), each compiled by Kiln, built with clang for x86_64 at every ISA level the
 * kernels specialise (x86-64, x86-64-v3, x86-64-v4 where this CPU runs it) and for aarch64
 * (run under qemu-user), run on seeded inputs and compared with ONNX Runtime on the same inputs
 * (rtol 1e-3, atol 1e-4, every output, its size exact). One row per model: the status per build,
 * the worst error, the compile time, code and weight size.
 *
 *   npm run zoo -- [--set public|extra|all] [--only NAME,...] [--levels x86-64,x86-64-v3,...]
 *                  [--no-aarch64] [--no-export] [--markdown FILE] [--json FILE]
 *
 * First it runs scripts/zoo/setup.sh (the Python environment and the exports, both cached in
 * KILN_ZOO_DIR, default ~/.cache/kiln/zoo) unless --no-export.
 *
 * Exits non-zero when any model is refused, wrong or crashes.
 */

export const ZOO = process.env.KILN_ZOO_DIR ?? join(homedir(), '.cache', 'kiln', 'zoo');
const TOLERANCE = { rtol: 1e-3, atol: 1e-4, maxUlp: null };
const SEED = 7;
/** A model whose reference is this small everywhere is checked against nothing: its atol covers any answer. */
const WEAK_BELOW = 1e-3;

type Status = 'pass' | 'wrong' | 'crash' | 'timeout' | 'error' | 'refused' | 'internal-error';

interface BuildResult {
  target: string;
  status: Status;
  detail?: string;
  maxAbsError?: number;
  maxRelError?: number;
  ms?: number;
}

export interface ModelRow {
  name: string;
  set: string;
  status: Status;
  detail?: string;
  compileMs?: number;
  codeBytes?: number;
  weightBytes?: number;
  referenceMax?: number;
  builds: BuildResult[];
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function run(file: string, args: string[], timeoutMs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string; timedOut: boolean; ms: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(file, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let timedOut = false;
    child.stderr.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString();
    });
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stderr, timedOut, ms: performance.now() - t0 });
    });
  });
}

export function hostLevels(): string[] {
  const flags = readFileSync('/proc/cpuinfo', 'utf8');
  const levels = ['x86-64'];
  if (/\bavx2\b/.test(flags) && /\bfma\b/.test(flags)) levels.push('x86-64-v3');
  if (/\bavx512f\b/.test(flags) && /\bavx512bw\b/.test(flags) && /\bavx512vl\b/.test(flags)) levels.push('x86-64-v4');
  return levels;
}

/** Compares every output the model declares, in order; the output file's size must be exact. */
function compareAll(meta: ModelMetadata, expected: Buffer, actual: Buffer): { ok: boolean; detail?: string; maxAbs: number; maxRel: number } {
  const sizes = meta.outputs.map((t) => numel(t.shape) * IO_BYTES[t.dtype]);
  const total = sizes.reduce((a, b) => a + b, 0);
  if (actual.length !== total) return { ok: false, detail: `the outputs are ${actual.length} bytes, expected ${total}`, maxAbs: NaN, maxRel: NaN };
  let off = 0;
  let maxAbs = 0;
  let maxRel = 0;
  const bad: string[] = [];
  meta.outputs.forEach((t, i) => {
    const c: OutputComparison = compareOutput(t.name, (t.dtype === 'bool' ? 'uint8' : t.dtype) as VerifyDType, expected.subarray(off, off + sizes[i]), actual.subarray(off, off + sizes[i]), TOLERANCE);
    off += sizes[i];
    maxAbs = Math.max(maxAbs, c.maxAbsError);
    maxRel = Math.max(maxRel, c.maxRelError);
    if (!c.passed) bad.push(`${t.name}: ${c.mismatches} of ${c.count} differ (max abs ${c.maxAbsError.toExponential(2)})`);
  });
  return { ok: bad.length === 0, detail: bad.join('; ') || undefined, maxAbs, maxRel };
}

function largestMagnitude(meta: ModelMetadata, buf: Buffer): number {
  let m = 0;
  let off = 0;
  for (const t of meta.outputs) {
    const n = numel(t.shape);
    if (t.dtype === 'float32') for (let i = 0; i < n; i++) m = Math.max(m, Math.abs(buf.readFloatLE(off + i * 4)));
    off += n * IO_BYTES[t.dtype];
  }
  return m;
}

async function build(dir: string, target: string, flags: string[], exe: string): Promise<string | null> {
  const r = await run('clang-19', [...flags, '-std=c23', '-O2', '-I', dir, join(dir, 'model.c'), join(dir, 'harness.c'), '-o', exe, '-lm'], 600_000);
  return r.code === 0 ? null : `clang for ${target} failed: ${r.stderr.split('\n').find((l) => /error/.test(l)) ?? r.stderr.slice(0, 300)}`;
}

async function runBuild(meta: ModelMetadata, expected: Buffer, dir: string, target: string, argv: string[], timeoutMs: number): Promise<BuildResult> {
  const out = join(dir, `out-${target}.bin`);
  await rm(out, { force: true });
  const r = await run(argv[0], [...argv.slice(1), join(dir, 'inputs.bin'), out], timeoutMs);
  if (r.timedOut) return { target, status: 'timeout', detail: `did not finish within ${timeoutMs / 1000} s`, ms: r.ms };
  if (r.signal) return { target, status: 'crash', detail: `killed by ${r.signal}`, ms: r.ms };
  // qemu-user reports the guest's fatal signal as an exit status of 128 + its number.
  if (r.code !== null && r.code > 128) return { target, status: 'crash', detail: `exit status ${r.code} (signal ${r.code - 128})`, ms: r.ms };
  if (r.code !== 0) return { target, status: 'error', detail: `exit status ${r.code}: ${r.stderr.trim().slice(0, 200)}`, ms: r.ms };
  const actual = await readFile(out);
  const c = compareAll(meta, expected, actual);
  return { target, status: c.ok ? 'pass' : 'wrong', detail: c.detail, maxAbsError: c.maxAbs, maxRelError: c.maxRel, ms: r.ms };
}

export async function zooModel(name: string, set: string, levels: string[], aarch64: boolean): Promise<ModelRow> {
  const bytes = await readFile(join(ZOO, 'models', `${name}.onnx`));
  const row: ModelRow = { name, set, status: 'pass', builds: [] };
  const t0 = performance.now();
  let compiled;
  try {
    compiled = compileModel(bytes, { name: 'model' });
  } catch (e) {
    // A refusal names what the compiler lacks; anything else thrown is a compiler defect.
    if (e instanceof CompileError) return { ...row, status: 'refused', detail: e.message };
    return { ...row, status: 'internal-error', detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
  }
  row.compileMs = Math.round(performance.now() - t0);
  const meta = compiled.metadata;
  row.codeBytes = Buffer.byteLength(compiled.files['model.c'] as string);
  row.weightBytes = meta.weightsBytes;
  const dir = await mkdtemp(join(tmpdir(), `kiln-zoo-${name}-`));
  try {
    for (const [file, content] of Object.entries(compiled.files)) await writeFile(join(dir, file), content);
    await writeFile(join(dir, 'harness.c'), modelHarness(meta));
    const inputs = modelInputs(meta, SEED);
    await writeFile(join(dir, 'inputs.bin'), Buffer.concat(inputs));
    const expected = await referenceOutputs(bytes, meta, inputs);
    row.referenceMax = largestMagnitude(meta, expected);
    const builds: [string, string[], string[], number][] = levels.map((l) => [l, [`-march=${l}`], [join(dir, `model-${l}`)], 300_000]);
    if (aarch64) builds.push(['aarch64', ['--target=aarch64-linux-gnu', '-static', '-fuse-ld=lld'], ['qemu-aarch64', '-cpu', 'max', join(dir, 'model-aarch64')], 1_800_000]);
    for (const [target, flags, argv, timeoutMs] of builds) {
      const exe = target === 'aarch64' ? argv[3] : argv[0];
      const failed = await build(dir, target, flags, exe);
      if (failed) {
        row.builds.push({ target, status: 'error', detail: failed });
        continue;
      }
      row.builds.push(await runBuild(meta, expected, dir, target, argv, timeoutMs));
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const order: Status[] = ['crash', 'wrong', 'error', 'timeout', 'pass'];
  row.status = order.find((s) => row.builds.some((b) => b.status === s)) ?? 'pass';
  row.detail = row.builds.filter((b) => b.status !== 'pass').map((b) => `${b.target}: ${b.detail}`).join('; ') || undefined;
  return row;
}

function cell(b: BuildResult | undefined): string {
  if (!b) return '';
  if (b.status === 'pass') return `pass ${b.maxAbsError!.toExponential(1)}`;
  return b.status;
}

function table(rows: ModelRow[], targets: string[]): string {
  const kb = (n?: number) => (n === undefined ? '' : `${Math.round(n / 1024)}`);
  const mb = (n?: number) => (n === undefined ? '' : (n / 1024 ** 2).toFixed(1));
  const head = ['model', 'set', 'status', ...targets.map((t) => `${t} (max abs error)`), 'reference max', 'compile ms', 'C KiB', 'weights MiB'];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => ' --- ').join('|')}|`];
  for (const r of rows) {
    lines.push(`| ${[r.name, r.set, r.status, ...targets.map((t) => cell(r.builds.find((b) => b.target === t))), r.referenceMax === undefined ? '' : r.referenceMax.toPrecision(3), r.compileMs ?? '', kb(r.codeBytes), mb(r.weightBytes)].join(' | ')} |`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const set = arg('set') ?? 'public';
  const only = (arg('only') ?? '').split(',').filter(Boolean);
  if (!process.argv.includes('--no-export')) {
    const r = spawnSync('bash', [join(__dirname, '..', '..', 'scripts', 'zoo', 'setup.sh'), '--set', set, ...(only.length ? ['--only', only.join(',')] : [])], { stdio: 'inherit', env: { ...process.env, KILN_ZOO_DIR: ZOO } });
    if (r.status !== 0) console.log('(some models could not be exported; the zoo goes on with those that were)');
  }
  const listFile = join(ZOO, 'models', 'zoo.json');
  if (!existsSync(listFile)) throw new Error(`${listFile} is missing: run bash scripts/zoo/setup.sh first (npm run zoo does)`);
  const list = JSON.parse(readFileSync(listFile, 'utf8')) as { models: { name: string; set: string }[] };
  const levels = arg('levels')?.split(',') ?? hostLevels();
  const aarch64 = !process.argv.includes('--no-aarch64');
  const models = list.models.filter((m) => (set === 'all' || m.set === set) && (only.length === 0 || only.includes(m.name)));
  const targets = [...levels, ...(aarch64 ? ['aarch64'] : [])];
  console.log(`Kiln model zoo: ${models.length} models from ${ZOO}/models; x86_64 at ${levels.join(', ')} on this CPU${aarch64 ? ', aarch64 under qemu-user' : ''}; ONNX Runtime (CPU) as the reference, rtol ${TOLERANCE.rtol}, atol ${TOLERANCE.atol}; ${cpus().length} CPUs`);
  const rows: ModelRow[] = [];
  for (const m of models) {
    const row = await zooModel(m.name, m.set, levels, aarch64);
    rows.push(row);
    const weak = row.referenceMax !== undefined && row.referenceMax < WEAK_BELOW ? ` (weak check: the reference's largest output is ${row.referenceMax.toExponential(1)})` : '';
    console.log(`${m.name}: ${row.status}${row.detail ? ` (${row.detail})` : ''}${weak} ${row.builds.map((b) => `${b.target} ${cell(b)}${b.ms ? ` ${Math.round(b.ms)} ms` : ''}`).join(', ')}`);
  }
  const counts = (['pass', 'wrong', 'crash', 'timeout', 'error', 'internal-error', 'refused'] as Status[]).map((s) => `${rows.filter((r) => r.status === s).length} ${s}`).join(', ');
  const notPassing = rows.filter((r) => r.status !== 'pass');
  const md = `${table(rows, targets)}\n\n${rows.length} models: ${counts}.\n`;
  console.log(`\n${md}`);
  if (notPassing.length) console.log(`Not passing:\n${notPassing.map((r) => `- ${r.name} (${r.status}): ${r.detail}`).join('\n')}`);
  const mdFile = arg('markdown');
  if (mdFile) {
    const header = `# Model zoo (${set} set)

Generated by \`npm run zoo -- --set ${set}${aarch64 ? '' : ' --no-aarch64'} --markdown ${mdFile}\`; do not edit. Each model is exported from
PyTorch by \`scripts/zoo/export.py\` (opset 17, fixed seeds, trained-like parameters), compiled by Kiln, built with clang-19 -O2
for x86_64 at ${levels.join(', ')}${aarch64 ? ' and for aarch64 (run under qemu-user)' : ''}, run on seeded inputs, and compared with ONNX
Runtime (CPU) on the same inputs: every output, rtol ${TOLERANCE.rtol}, atol ${TOLERANCE.atol}. "reference max" is the largest
output magnitude: a check against outputs near zero would prove nothing.

`;
    const defects = notPassing.length ? `\nNot passing:\n\n${notPassing.map((r) => `- ${r.name} (${r.status}): ${r.detail}`).join('\n')}\n` : '';
    await writeFile(mdFile, header + md + defects);
  }
  const jsonFile = arg('json');
  if (jsonFile) {
    await mkdir(join(jsonFile, '..'), { recursive: true });
    await writeFile(jsonFile, JSON.stringify(rows, null, 2));
  }
  if (rows.some((r) => r.status !== 'pass')) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(2);
  });
}
