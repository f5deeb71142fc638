import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../../compiler/test/builder';
import { compileModel, modelJobProblem } from '../../compiler/src/compile';
import { IO_BYTES, numel } from '../../compiler/src/ir';
import { readElement } from '../../src/verification/dtype';
import { modelInputs, referenceOutputs } from './onnx';

const DT = onnx.TensorProto.DataType;

describe('model jobs: seeded inputs and the ONNX Runtime reference', () => {
  it('take every integer type at the graph edges: int8 to uint64, bool', async () => {
    const types = [
      ['int8', DT.INT8],
      ['uint8', DT.UINT8],
      ['int16', DT.INT16],
      ['uint16', DT.UINT16],
      ['int32', DT.INT32],
      ['uint32', DT.UINT32],
      ['int64', DT.INT64],
      ['uint64', DT.UINT64],
    ] as const;
    const b = new ModelBuilder(17);
    for (const [name, code] of types) {
      const x = b.input(`x_${name}`, [2, 3], code);
      b.output(b.op('Add', [x, x]), code);
    }
    const c = b.input('c', [4], DT.BOOL);
    b.output(b.op('Not', [c]), DT.BOOL);
    const bytes = b.build();
    const { metadata } = compileModel(bytes, { name: 'model' });
    assert.equal(modelJobProblem(metadata), null);
    const inputs = modelInputs(metadata, 42);
    metadata.inputs.forEach((t, i) => assert.equal(inputs[i].length, numel(t.shape) * IO_BYTES[t.dtype], t.name));
    const expected = await referenceOutputs(bytes, metadata, inputs);
    // Each output is its input doubled (the inputs are in [0, 10)), and Not of the bools.
    let o = 0;
    types.forEach(([name], i) => {
      for (let k = 0; k < 6; k++) {
        const v = Number(readElement(inputs[i], name, k));
        assert.ok(v >= 0 && v < 10 && Number.isInteger(v), `${name}: seeded input ${v}`);
        assert.equal(Number(readElement(expected.subarray(o), name, k)), 2 * v, `${name}[${k}]`);
      }
      o += 6 * IO_BYTES[name];
    });
    const bools = inputs[types.length];
    for (let k = 0; k < 4; k++) {
      assert.ok(bools[k] === 0 || bools[k] === 1);
      assert.equal(expected[o + k], 1 - bools[k]);
    }
  });
});
