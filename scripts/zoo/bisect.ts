import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onnx } from 'onnx-proto';
import { compileModel } from '../../compiler/src/compile';
import { modelHarness } from '../../compiler/src/harness';
import { compareOutput } from '../../src/verification/compare';
import { modelInputs, referenceOutputs } from '../../workers/toolchains/onnx';

/**
 * Finds the first node of a model where Kiln's result departs from ONNX Runtime's: the graph is
 * cut after node k (its first output becomes the only graph output), compiled, built for this
 * host and compared, with k found by bisection over the nodes in their order.
 *   node dist/scripts/zoo/bisect.js MODEL.onnx [-march=...] [k,k,...: only compare these nodes]
 */
const file = process.argv[2];
const march = process.argv[3] ?? '-march=x86-64';
const model = onnx.ModelProto.decode(readFileSync(file));
const nodes = model.graph!.node!;

async function differs(k: number): Promise<{ bad: boolean; what: string }> {
  const cut = onnx.ModelProto.decode(onnx.ModelProto.encode(model).finish());
  const out = nodes[k].output![0];
  cut.graph!.output = [{ name: out, type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }];
  const bytes = onnx.ModelProto.encode(cut).finish();
  let compiled;
  try {
    compiled = compileModel(bytes, { name: 'model' });
  } catch (e) {
    return { bad: false, what: `does not compile: ${(e as Error).message}` };
  }
  const meta = compiled.metadata;
  if (meta.outputs[0].dtype !== 'float32') return { bad: false, what: `output is ${meta.outputs[0].dtype}` };
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bisect-'));
  try {
    for (const [f, c] of Object.entries(compiled.files)) writeFileSync(join(dir, f), c);
    writeFileSync(join(dir, 'harness.c'), modelHarness(meta));
    const inputs = modelInputs(meta, 7);
    writeFileSync(join(dir, 'in.bin'), Buffer.concat(inputs));
    const expected = await referenceOutputs(bytes, meta, inputs);
    const cc = spawnSync('clang-19', [march, '-std=c23', '-O1', '-I', dir, join(dir, 'model.c'), join(dir, 'harness.c'), '-o', join(dir, 'm'), '-lm'], { encoding: 'utf8' });
    if (cc.status !== 0) return { bad: true, what: `clang failed: ${cc.stderr.slice(0, 300)}` };
    const r = spawnSync(join(dir, 'm'), [join(dir, 'in.bin'), join(dir, 'out.bin')], { encoding: 'utf8' });
    if (r.status !== 0) return { bad: true, what: `run failed: ${r.status} ${r.signal}` };
    const c = compareOutput(out, 'float32', expected, readFileSync(join(dir, 'out.bin')), { rtol: 1e-3, atol: 1e-4, maxUlp: null });
    return { bad: !c.passed, what: `${c.mismatches}/${c.count} differ, max abs ${c.maxAbsError.toExponential(2)} [${meta.outputs[0].shape}]` };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  if (process.argv[4]) {
    for (const k of process.argv[4].split(',').map(Number)) console.log(`node ${k} ${nodes[k].opType} ${nodes[k].name}: ${(await differs(k)).what}`);
    return;
  }
  let lo = 0;
  let hi = nodes.length - 1;
  const last = await differs(hi);
  console.log(`whole model: ${last.what}`);
  if (!last.bad) return;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    const d = await differs(mid);
    console.log(`node ${mid} ${nodes[mid].opType} ${nodes[mid].name}: ${d.bad ? 'DIFFERS' : 'ok'} (${d.what})`);
    if (d.bad) hi = mid;
    else lo = mid + 1;
  }
  const n = nodes[lo];
  console.log(`first differing node: ${lo} ${n.opType} ${n.name} inputs ${n.input} outputs ${n.output}`);
  for (let k = Math.max(0, lo - 6); k <= lo; k++) console.log(`  ${k}: ${nodes[k].opType} ${nodes[k].name} (${nodes[k].input?.join(', ')}) -> ${nodes[k].output?.join(', ')}`);
}
main();
