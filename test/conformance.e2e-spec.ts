import { strict as assert } from 'node:assert';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { DEFECTS, listCases, ONNX_TESTDATA, runCases } from '../compiler/src/conformance';

/** The operators whose backend test cases CI runs (the full suite is `npm run conformance`). */
const OPS = new Set(['Split', 'Pad', 'ConvTranspose', 'Resize', 'GatherElements', 'Trilu', 'Gather', 'Reshape', 'Slice', 'Unsqueeze', 'Squeeze', 'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'ReduceL2', 'ArgMax', 'ArgMin', 'Sin', 'Cos', 'Conv', 'Gemm', 'MatMul', 'Concat', 'Flatten', 'Softmax', 'LogSoftmax', 'Transpose', 'AveragePool', 'MaxPool', 'GlobalAveragePool', 'Sigmoid', 'Relu', 'Tanh', 'Exp', 'Sqrt']);

/** Cases that fail today, each for a reason known and written down; anything else must pass. */
const KNOWN_GAPS: Record<string, string> = {};

/** Simple cases the compiler refuses: each gives an operator's shape or split sizes as a graph input, known only at run time. */
const RUNTIME_PARAMETERS = ['test_expand_shape_model1', 'test_expand_shape_model2', 'test_expand_shape_model3', 'test_expand_shape_model4', 'test_sequence_model8'];

describe('ONNX backend conformance (a fast subset, x86_64)', { skip: !existsSync(ONNX_TESTDATA) && 'libonnx-testdata is not installed' }, () => {
  it('compiles and matches the expected outputs of every case of the core operators', async () => {
    const cases: { dir: string; suite: string }[] = [];
    for (const dir of await listCases('node')) {
      const model = onnx.ModelProto.decode(await readFile(join(dir, 'model.onnx')));
      const ops = new Set((model.graph?.node ?? []).map((n) => n.opType ?? ''));
      if (ops.size === 1 && OPS.has([...ops][0])) cases.push({ dir, suite: 'node' });
    }
    const results = await runCases(cases, 'x86_64-linux-gnu', 2);
    const bad = results.filter((r) => DEFECTS.includes(r.status) && !KNOWN_GAPS[r.name]);
    assert.deepEqual(bad.map((r) => `${r.name}: ${r.status}: ${r.detail}`), []);
    const passed = results.filter((r) => r.status === 'pass').length;
    assert.ok(passed >= 185, `${passed} of ${results.length} cases passed`);
  });

  it('passes every simple and every pytorch-converted case, but those with operator parameters given at run time', async () => {
    const cases = [...(await listCases('simple')).map((dir) => ({ dir, suite: 'simple' })), ...(await listCases('pytorch-converted')).map((dir) => ({ dir, suite: 'pytorch-converted' }))];
    const results = await runCases(cases, 'x86_64-linux-gnu', 2);
    const bad = results.filter((r) => r.status !== 'pass' && !(r.status === 'unsupported' && RUNTIME_PARAMETERS.includes(r.name)));
    assert.deepEqual(bad.map((r) => `${r.suite}/${r.name}: ${r.status}: ${r.detail}`), []);
    assert.equal(results.length, 23 + 82);
  });
});
