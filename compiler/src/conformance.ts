import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onnx } from 'onnx-proto';
import { compareOutput } from '../../src/verification/compare';
import type { DType as VDType } from '../../src/verification/dtype';
import { compileModel } from './compile';
import { modelHarness } from './harness';
import { tensorFromProto } from './import';
import { halfBits } from './half';
import { CompileError, ioType, IODType } from './ir';

const run = promisify(execFile);

export const ONNX_TESTDATA = '/usr/share/libonnx-testdata/data';
export const SUITES = ['node', 'simple', 'pytorch-converted', 'pytorch-operator'] as const;

export interface CaseResult {
  suite: string;
  name: string;
  ops: string[];
  status: 'passed' | 'failed' | 'unsupported' | 'error';
  detail: string;
}

export const VERIFY_DTYPE: Record<Exclude<IODType, 'string'>, VDType> = { float16: 'float16', bfloat16: 'bfloat16', float32: 'float32', float64: 'float64', int64: 'int64', int32: 'int32', bool: 'uint8', uint8: 'uint8', int8: 'int8' };

export const TARGET_RUNNERS: Record<string, (exe: string) => string[]> = {
  'x86_64-linux-gnu': (exe) => [exe],
  'aarch64-linux-gnu': (exe) => ['qemu-aarch64', '-cpu', 'max', exe],
  'riscv64-linux-gnu': (exe) => ['qemu-riscv64', exe],
};

/** Compiles one backend test case for a target, runs it, and compares with its expected outputs. */
export async function runCase(dir: string, suite: string, target = 'x86_64-linux-gnu'): Promise<CaseResult> {
  const name = dir.split('/').pop()!;
  const model = await readFile(join(dir, 'model.onnx'));
  let ops: string[] = [];
  try {
    ops = [...new Set((onnx.ModelProto.decode(model).graph?.node ?? []).map((n) => n.opType ?? ''))];
  } catch {
    /* reported by the compiler below */
  }
  const data = join(dir, 'test_data_set_0');
  const files = existsSync(data) ? (await readdir(data)).sort() : [];
  let inputs: Awaited<ReturnType<typeof tensorFromProto>>[];
  let outputs: Awaited<ReturnType<typeof tensorFromProto>>[];
  try {
  inputs = await Promise.all(files.filter((f) => f.startsWith('input_')).sort((a, b) => Number(a.slice(6, -3)) - Number(b.slice(6, -3))).map(async (f) => tensorFromProto(onnx.TensorProto.decode(await readFile(join(data, f))))));
  outputs = await Promise.all(files.filter((f) => f.startsWith('output_')).sort((a, b) => Number(a.slice(7, -3)) - Number(b.slice(7, -3))).map(async (f) => tensorFromProto(onnx.TensorProto.decode(await readFile(join(data, f))))));
  } catch (e) {
    // Sequence and optional test values are not tensors: the compiler has no such types.
    return { suite, name, ops, status: 'unsupported', detail: `test data is not a plain tensor: ${(e as Error).message}` };
  }
  const work = await mkdtemp(join(tmpdir(), 'kiln-conf-'));
  try {
    const graphInputs = (onnx.ModelProto.decode(model).graph?.input ?? []).map((i) => i.name ?? '');
    const inits = new Set((onnx.ModelProto.decode(model).graph?.initializer ?? []).map((i) => i.name ?? ''));
    const names = graphInputs.filter((n) => !inits.has(n));
    // Inputs that only parameterise an operator (integer shapes, axes, pads, split sizes, indices;
    // Resize's roi and scales; Pad's and Clip's constant values) are frozen to the test's values,
    // as an exporter emits them: the compiler specialises on them. Float data stays an input.
    const params = new Set<string>();
    for (const n of onnx.ModelProto.decode(model).graph?.node ?? []) {
      const ins = n.input ?? [];
      if (n.opType === 'Resize') ins.slice(1).forEach((x) => params.add(x));
      if (n.opType === 'Pad' || n.opType === 'Clip') ins.slice(1).forEach((x) => params.add(x));
    }
    const constantInputs: Record<string, (typeof inputs)[number]> = {};
    names.forEach((n, i) => {
      const t = inputs[i];
      if (t && (t.dtype === 'int64' || t.dtype === 'int32' || params.has(n))) constantInputs[n] = t;
    });
    const runtime = names.map((n, i) => ({ n, t: inputs[i] })).filter(({ n }) => !constantInputs[n]);
    inputs = runtime.map(({ t }) => t);
    const shapes = Object.fromEntries(runtime.map(({ n, t }) => [n, t?.shape ?? []]));
    let compiled;
    try {
      compiled = compileModel(model, { name: 'net', inputShapes: shapes, constantInputs });
    } catch (e) {
      if (e instanceof CompileError) return { suite, name, ops, status: e.code === 'unsupported' ? 'unsupported' : 'error', detail: e.message };
      return { suite, name, ops, status: 'error', detail: (e as Error).message };
    }
    for (const [f, content] of Object.entries(compiled.files)) await writeFile(join(work, f), content);
    await writeFile(join(work, 'harness.c'), modelHarness(compiled.metadata));
    const exe = join(work, 'harness');
    try {
      await run('clang-19', [`--target=${target}`, '-std=c23', '-O1', '-fuse-ld=lld', '-static', '-ffp-contract=off', '-w', '-I', work, join(work, 'net.c'), join(work, 'harness.c'), '-o', exe, '-lm'], { cwd: work, timeout: 120_000 });
    } catch (e) {
      return { suite, name, ops, status: 'error', detail: `clang: ${((e as { stderr?: string }).stderr ?? '').split('\n').find((l) => l.includes('error')) ?? (e as Error).message}` };
    }
    await writeFile(join(work, 'in.bin'), Buffer.concat(inputs.map(harnessBytes)));
    const [cmd, ...args] = TARGET_RUNNERS[target](exe);
    try {
      await run(cmd, [...args, join(work, 'in.bin'), join(work, 'out.bin')], { cwd: work, timeout: 60_000 });
    } catch (e) {
      return { suite, name, ops, status: 'failed', detail: `the program failed: ${(e as Error).message.split('\n')[0]}` };
    }
    return compareCaseOutputs({ suite, name, ops }, compiled.metadata.outputs, outputs, await readFile(join(work, 'out.bin')), (d) => VERIFY_DTYPE[d as Exclude<IODType, 'string'>]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * Compares a case's outputs, as the program wrote them one after another (see modelHarness), with
 * the expected tensors (rtol 1e-3, atol 1e-5; strings exactly), by shape, element type and value.
 * Shared by the C and CUDA runs.
 */
export function compareCaseOutputs(
  c: Pick<CaseResult, 'suite' | 'name' | 'ops'>,
  produced: { name: string; shape: number[]; dtype: string; dynamic?: boolean }[],
  expected: { shape: number[]; dtype: string; half?: 'float16' | 'bfloat16'; data?: ArrayBufferView | null; strings?: string[] }[],
  out: Buffer,
  verifyDtype: (dtype: string) => VDType,
): CaseResult {
  const failed = (detail: string): CaseResult => ({ ...c, status: 'failed', detail });
  let o = 0;
  for (const [i, meta] of produced.entries()) {
    const exp = expected[i];
    if (!exp) break;
    let shape = meta.shape;
    if (meta.dynamic) {
      if (out.length < o + 8 * shape.length) return failed(`output ${meta.name}: the program wrote no shape`);
      shape = shape.map((_, k) => Number(out.readBigInt64LE(o + 8 * k)));
      o += 8 * shape.length;
    }
    if (shape.join() !== exp.shape.join()) return failed(`output ${meta.name}: shape [${shape}] != expected [${exp.shape}]`);
    const expType = ioType(exp as { dtype: IODType & string; half?: 'float16' | 'bfloat16' } as never);
    if (meta.dtype !== expType) return failed(`output ${meta.name}: ${meta.dtype}, expected ${expType}`);
    if (meta.dtype === 'string') {
      const want = exp.strings ?? [];
      for (let k = 0; k < want.length; k++) {
        if (out.length < o + 4) return failed(`output ${meta.name}: the program wrote ${k} of ${want.length} strings`);
        const len = out.readUInt32LE(o);
        const got = out.subarray(o + 4, o + 4 + len).toString('utf8');
        o += 4 + len;
        if (got !== want[k]) return failed(`output ${meta.name}: [${k}] expected ${JSON.stringify(want[k])} got ${JSON.stringify(got)}`);
      }
      continue;
    }
    const bytes = harnessBytes(exp);
    const mine = out.subarray(o, o + bytes.length);
    o += bytes.length;
    const r = compareOutput(meta.name, verifyDtype(expType), bytes, mine, { rtol: 1e-3, atol: 1e-5, maxUlp: null });
    if (!r.passed) return failed(`output ${meta.name}: ${r.mismatches}/${r.count} differ, worst [${r.worst?.index}] expected ${r.worst?.expected} got ${r.worst?.actual}`);
  }
  return { ...c, status: 'passed', detail: '' };
}

/** A tensor as the harness reads it: raw elements, or each string as a uint32 length and its UTF-8 bytes. */
export function harnessBytes(t: { dtype: string; half?: 'float16' | 'bfloat16'; data?: ArrayBufferView | null; strings?: string[] }): Buffer {
  if (t.half) {
    // A half tensor is held as float32 values; the harness reads its 16-bit elements.
    const kind = t.half;
    return Buffer.from(Uint16Array.from(t.data as Float32Array, (v) => halfBits(kind, v)).buffer);
  }
  if (t.dtype !== 'string') return Buffer.from(t.data!.buffer, t.data!.byteOffset, t.data!.byteLength);
  return Buffer.concat(
    (t.strings ?? []).flatMap((s) => {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      return [len, b];
    }),
  );
}

export async function listCases(suite: string): Promise<string[]> {
  const root = join(ONNX_TESTDATA, suite);
  if (!existsSync(root)) return [];
  return (await readdir(root)).sort().map((d) => join(root, d));
}

/** Runs cases with a little parallelism (clang is the slow part). */
export async function runCases(cases: { dir: string; suite: string }[], target: string, parallel = 2, onResult?: (r: CaseResult) => void): Promise<CaseResult[]> {
  const results: CaseResult[] = new Array(cases.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < cases.length) {
        const i = next++;
        results[i] = await runCase(cases[i].dir, cases[i].suite, target);
        onResult?.(results[i]);
      }
    }),
  );
  return results;
}

/** The table in docs/: totals per suite, then per operator. */
export function conformanceTable(results: CaseResult[], target: string): string {
  const lines = [
    `# ONNX backend conformance (${target})`,
    '',
    'Generated by `npm run conformance`; do not edit. Cases come from Debian\'s libonnx-testdata; outputs are compared with rtol 1e-3, atol 1e-5.',
    'Kiln compiles for static shapes: inputs that only parameterise an operator (integer tensors such as shapes, axes, pads, split sizes and indices, and',
    'Resize\'s roi/scales, Pad\'s and Clip\'s values) are frozen to the test\'s values, as exporters emit them; float data stays a runtime input.',
    '"unsupported" means the compiler refused the model with a clear error (an operator, dtype or attribute it does not cover); "failed" means wrong numbers.',
    '',
  ];
  lines.push('| suite | passed | failed | unsupported | error | total |', '| --- | --- | --- | --- | --- | --- |');
  for (const suite of SUITES) {
    const r = results.filter((x) => x.suite === suite);
    if (!r.length) continue;
    const c = (s: string) => r.filter((x) => x.status === s).length;
    lines.push(`| ${suite} | ${c('passed')} | ${c('failed')} | ${c('unsupported')} | ${c('error')} | ${r.length} |`);
  }
  lines.push('', '## Node tests by operator', '', '| operator | passed | failed | unsupported | error |', '| --- | --- | --- | --- | --- |');
  const byOp = new Map<string, Record<string, number>>();
  for (const r of results.filter((x) => x.suite === 'node')) {
    const op = r.ops.join('+') || r.name;
    const row = byOp.get(op) ?? { passed: 0, failed: 0, unsupported: 0, error: 0 };
    row[r.status]++;
    byOp.set(op, row);
  }
  for (const [op, row] of [...byOp].sort(([a], [b]) => a.localeCompare(b))) lines.push(`| ${op} | ${row.passed} | ${row.failed} | ${row.unsupported} | ${row.error} |`);
  const failures = results.filter((r) => r.status === 'failed' || r.status === 'error');
  if (failures.length) {
    lines.push('', '## Failures', '');
    for (const f of failures) lines.push(`- ${f.suite}/${f.name}: ${f.detail.replace(/\|/g, '\\|').slice(0, 200)}`);
  }
  return lines.join('\n') + '\n';
}
