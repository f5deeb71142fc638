import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { onnx } from 'onnx-proto';
import { CaseResult, compareCaseOutputs, harnessBytes, VERIFY_DTYPE } from '../conformance';
import { modelHarness } from '../harness';
import { tensorFromProto } from '../import';
import { CompileError } from '../ir';
import { compileModelCuda } from './generate';

const run = promisify(execFile);

/**
 * One ONNX backend test case through the CUDA generator, its kernels run in host emulation
 * (g++ -DKILN_HOST_EMULATION), compared with the case's expected outputs (rtol 1e-3, atol 1e-5).
 * Inputs are prepared as the C conformance run prepares them: integer inputs and the parameters
 * of Resize, Pad and Clip are frozen to the test's values; float data stays a runtime input.
 */
export async function runCudaCase(dir: string, suite: string): Promise<CaseResult> {
  const name = dir.split('/').pop()!;
  const model = await readFile(join(dir, 'model.onnx'));
  let ops: string[] = [];
  let proto: onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(model);
    ops = [...new Set((proto.graph?.node ?? []).map((n) => n.opType ?? ''))];
  } catch (e) {
    return { suite, name, ops, status: 'error', detail: (e as Error).message };
  }
  const data = join(dir, 'test_data_set_0');
  const files = existsSync(data) ? (await readdir(data)).sort() : [];
  const load = (prefix: string) =>
    Promise.all(files.filter((f) => f.startsWith(prefix)).sort((a, b) => Number(a.slice(prefix.length, -3)) - Number(b.slice(prefix.length, -3))).map(async (f) => tensorFromProto(onnx.TensorProto.decode(await readFile(join(data, f))))));
  let inputs: Awaited<ReturnType<typeof load>>;
  let outputs: Awaited<ReturnType<typeof load>>;
  try {
    inputs = await load('input_');
    outputs = await load('output_');
  } catch (e) {
    return { suite, name, ops, status: 'unsupported', detail: `test data is not a plain tensor: ${(e as Error).message}` };
  }
  const inits = new Set((proto.graph?.initializer ?? []).map((i) => i.name ?? ''));
  const names = (proto.graph?.input ?? []).map((i) => i.name ?? '').filter((n) => !inits.has(n));
  const params = new Set<string>();
  for (const n of proto.graph?.node ?? []) if (['Resize', 'Pad', 'Clip'].includes(n.opType ?? '')) (n.input ?? []).slice(1).forEach((x) => params.add(x));
  const constantInputs: Record<string, (typeof inputs)[number]> = {};
  names.forEach((n, i) => {
    const t = inputs[i];
    if (t && (t.dtype === 'int64' || t.dtype === 'int32' || params.has(n))) constantInputs[n] = t;
  });
  const runtime = names.map((n, i) => ({ n, t: inputs[i] })).filter(({ n }) => !constantInputs[n]);
  const shapes = Object.fromEntries(runtime.map(({ n, t }) => [n, t?.shape ?? []]));
  let compiled;
  try {
    compiled = compileModelCuda(model, { name: 'net', inputShapes: shapes, constantInputs });
  } catch (e) {
    if (e instanceof CompileError) return { suite, name, ops, status: e.code === 'unsupported' ? 'unsupported' : 'error', detail: e.message };
    return { suite, name, ops, status: 'error', detail: (e as Error).message };
  }
  const work = await mkdtemp(join(tmpdir(), 'kiln-cuda-conf-'));
  try {
    for (const [f, content] of Object.entries(compiled.files)) await writeFile(join(work, f), content);
    await writeFile(join(work, 'harness.c'), modelHarness(compiled.metadata));
    try {
      await run('g++', ['-x', 'c++', '-std=c++17', '-O1', '-w', '-DKILN_HOST_EMULATION', 'net.cu', '-x', 'c', 'harness.c', '-o', 'harness', '-lm'], { cwd: work, timeout: 120_000 });
    } catch (e) {
      return { suite, name, ops, status: 'error', detail: `g++: ${((e as { stderr?: string }).stderr ?? '').split('\n').find((l) => l.includes('error')) ?? (e as Error).message}` };
    }
    await writeFile(join(work, 'in.bin'), Buffer.concat(runtime.map(({ t }) => harnessBytes(t))));
    try {
      await run(join(work, 'harness'), ['in.bin', 'out.bin'], { cwd: work, timeout: 60_000 });
    } catch (e) {
      return { suite, name, ops, status: 'failed', detail: `the program failed: ${(e as Error).message.split('\n')[0]}` };
    }
    return compareCaseOutputs({ suite, name, ops }, compiled.metadata.outputs, outputs, await readFile(join(work, 'out.bin')), (d) => VERIFY_DTYPE[d as keyof typeof VERIFY_DTYPE]);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
