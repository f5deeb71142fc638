import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { ModelBuilder } from '../test/builder';
import { compileModel } from './compile';
import { compareOutputs, conformanceReport, runCase, SUITE_SETS } from './conformance';

const DT = onnx.TensorProto.DataType;

/** Bytes of a typed array. */
const raw = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe('conformance runner: comparing the output file', () => {
  const f32 = (shape: number[], values: number[]) => ({ dtype: 'float32', shape, data: Float32Array.from(values) });
  const meta = (name: string, shape: number[], dtype = 'float32') => ({ name, shape, dtype });
  const y = f32([2], [1, 2]);
  const z = f32([3], [3, 4, 5]);
  const file = Buffer.concat([raw(y.data), raw(z.data)]);

  it('passes only when every expected output is there and the file ends after the last', () => {
    assert.equal(compareOutputs([meta('y', [2]), meta('z', [3])], [y, z], file).status, 'pass');
  });

  it('a program that omits an output is wrong, whichever side lists fewer', () => {
    const omitted = compareOutputs([meta('y', [2])], [y, z], raw(y.data));
    assert.equal(omitted.status, 'wrong');
    assert.match(omitted.detail, /writes 1 output\(s\), the test expects 2/);
    assert.equal(compareOutputs([meta('y', [2]), meta('z', [3])], [y], file).status, 'wrong');
  });

  it('a short, empty or longer file is wrong, and never throws', () => {
    const outs = [meta('y', [2]), meta('z', [3])];
    for (const out of [file.subarray(0, file.length - 4), file.subarray(0, 3), Buffer.alloc(0), Buffer.concat([file, Buffer.alloc(1)])]) {
      const r = compareOutputs(outs, [y, z], out);
      assert.equal(r.status, 'wrong', `${out.length} bytes`);
    }
    assert.match(compareOutputs(outs, [y, z], Buffer.concat([file, Buffer.alloc(1)])).detail, /1 byte\(s\) after the last output/);
    assert.match(compareOutputs(outs, [y, z], Buffer.alloc(0)).detail, /file ends at byte 0/);
    // A value-dependent shape the file cuts off.
    assert.equal(compareOutputs([{ ...meta('y', [2]), dynamic: true }], [y], Buffer.alloc(4)).status, 'wrong');
  });

  it('compares float64 strictly, float32 at rtol 1e-3, integers and bool exactly', () => {
    const d = { dtype: 'float64', shape: [1], data: Float64Array.from([1]) };
    assert.equal(compareOutputs([meta('d', [1], 'float64')], [d], raw(Float64Array.from([1 + 1e-7]))).status, 'wrong');
    assert.equal(compareOutputs([meta('d', [1], 'float64')], [d], raw(Float64Array.from([1 + 1e-13]))).status, 'pass');
    assert.equal(compareOutputs([meta('f', [1])], [f32([1], [1])], raw(Float32Array.from([1 + 1e-4]))).status, 'pass');
    assert.equal(compareOutputs([meta('f', [1])], [f32([1], [1])], raw(Float32Array.from([1.01]))).status, 'wrong');
    const i = { dtype: 'int64', shape: [1], data: BigInt64Array.from([1n << 40n]) };
    assert.equal(compareOutputs([meta('i', [1], 'int64')], [i], raw(BigInt64Array.from([(1n << 40n) + 1n]))).status, 'wrong');
    const b = { dtype: 'bool', shape: [2], data: Uint8Array.from([1, 0]) };
    assert.equal(compareOutputs([meta('b', [2], 'bool')], [b], Buffer.from([1, 1])).status, 'wrong');
  });

  it('a wrong shape, element type or output order is wrong', () => {
    assert.match(compareOutputs([meta('y', [1, 2])], [y], raw(y.data)).detail, /shape \[1,2\], expected \[2\]/);
    assert.match(compareOutputs([meta('y', [2], 'int32')], [y], raw(y.data)).detail, /int32, expected float32/);
    assert.match(compareOutputs([meta('z', [2])], [{ ...y, expectName: 'y' }], raw(y.data)).detail, /output 0 is z, the graph's is y/);
  });
});

describe('conformance runner: whole cases (clang)', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'kiln-conf-spec-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const tensor = (name: string, dataType: number, dims: number[], data: ArrayBufferView) => onnx.TensorProto.encode({ name, dataType, dims, rawData: new Uint8Array(raw(data)) }).finish();
  /** A case folder as the ONNX backend suites lay them out: model.onnx and test_data_set_N/{input,output}_K.pb. */
  async function writeCase(name: string, model: Uint8Array, sets: { inputs: Uint8Array[]; outputs: Uint8Array[] }[]): Promise<string> {
    const dir = join(root, name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'model.onnx'), model);
    for (const [k, s] of sets.entries()) {
      await mkdir(join(dir, `test_data_set_${k}`));
      for (const [i, t] of s.inputs.entries()) await writeFile(join(dir, `test_data_set_${k}`, `input_${i}.pb`), t);
      for (const [i, t] of s.outputs.entries()) await writeFile(join(dir, `test_data_set_${k}`, `output_${i}.pb`), t);
    }
    return dir;
  }
  const equalModel = () => {
    const b = new ModelBuilder(13);
    const out = b.op('Equal', [b.input('a', [3], DT.INT64), b.input('b', [3], DT.INT64)]);
    b.output(out, DT.BOOL);
    return { model: b.build('equal'), out };
  };
  const i64 = (name: string, v: number[]) => tensor(name, DT.INT64, [v.length], BigInt64Array.from(v.map(BigInt)));
  const bool = (name: string, v: number[]) => tensor(name, DT.BOOL, [v.length], Uint8Array.from(v));

  it('passes integer graph inputs at run time: the program reads them, and one build answers two data sets', async () => {
    const { model, out } = equalModel();
    const meta = compileModel(model, { name: 'net', inputShapes: { a: [3], b: [3] } }).metadata;
    assert.deepEqual(
      meta.inputs.map((i) => `${i.name}:${i.dtype}`),
      ['a:int64', 'b:int64'],
    );
    const dir = await writeCase('equal', model, [
      { inputs: [i64('a', [1, 2, 3]), i64('b', [1, 5, 3])], outputs: [bool(out, [1, 0, 1])] },
      { inputs: [i64('a', [7, 8, 9]), i64('b', [0, 8, 0])], outputs: [bool(out, [0, 1, 0])] },
    ]);
    const r = await runCase(dir, 'spec');
    assert.equal(r.status, 'pass', r.detail);
    assert.deepEqual(r.runtimeInputs, ['a', 'b']);
  });

  it('compares every data set: a wrong expectation in the second is found', async () => {
    const { model, out } = equalModel();
    const dir = await writeCase('equal_wrong', model, [
      { inputs: [i64('a', [1, 2, 3]), i64('b', [1, 5, 3])], outputs: [bool(out, [1, 0, 1])] },
      { inputs: [i64('a', [7, 8, 9]), i64('b', [0, 8, 0])], outputs: [bool(out, [1, 0, 1])] },
    ]);
    const r = await runCase(dir, 'spec');
    assert.equal(r.status, 'wrong');
    assert.match(r.detail, /^test_data_set_1: output/);
  });

  it("a shape given as a graph input is unsupported, with the compiler's message", async () => {
    const b = new ModelBuilder(13);
    const out = b.op('Reshape', [b.input('x', [2, 3]), b.input('shape', [2], DT.INT64)]);
    b.output(out);
    const dir = await writeCase('reshape', b.build('reshape'), [
      { inputs: [tensor('x', DT.FLOAT, [2, 3], new Float32Array(6)), i64('shape', [3, 2])], outputs: [tensor(out, DT.FLOAT, [3, 2], new Float32Array(6))] },
    ]);
    const r = await runCase(dir, 'spec');
    assert.equal(r.status, 'unsupported');
    assert.match(r.detail, /Reshape .*known at compile time/);
  });

  it('compares a float64 output strictly, and the table lists the case as a defect', async () => {
    const b = new ModelBuilder(13);
    const out = b.op('Cast', [b.input('x', [2], DT.FLOAT)], { to: DT.DOUBLE });
    b.output(out, DT.DOUBLE);
    const f64 = (name: string, v: number[]) => tensor(name, DT.DOUBLE, [v.length], Float64Array.from(v));
    const x = tensor('x', DT.FLOAT, [2], Float32Array.from([1.5, 2.25]));
    const exact = await writeCase('cast_f64', b.build('cast_f64'), [{ inputs: [x], outputs: [f64(out, [1.5, 2.25])] }]);
    const ok = await runCase(exact, 'spec');
    assert.equal(ok.status, 'pass', ok.detail);
    // 1e-7 apart: within float32's tolerance, not float64's.
    const dir = await writeCase('cast_f64_off', b.build('cast_f64'), [{ inputs: [x], outputs: [f64(out, [1.5, 2.25 * (1 + 1e-7)])] }]);
    const r = await runCase(dir, 'spec');
    assert.equal(r.status, 'wrong');
    assert.match(r.detail, /1\/2 differ/);
    const table = conformanceReport([r], SUITE_SETS.debian, 'x86_64-linux-gnu');
    assert.match(table, /### wrong \(1\)\n\n- spec\/cast_f64_off: output/);
  });
});
