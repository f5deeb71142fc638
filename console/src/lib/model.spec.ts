import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { opsByCount, opSupport, parseShape } from './model';
import { planDrop, languageOfFiles } from './files';
import { formProblems, jobRequest, type BuildForm } from './request';

describe('model view', () => {
  it('says which of a model\'s operators each target supports, by the compiler serving its kind', () => {
    const compilers = { compilers: [{ name: 'kiln-onnx', version: '0.1.0', backend: 'c', targetKinds: ['cpu', 'wasm'], ops: ['Conv', 'Gemm', 'Relu'] }] };
    const rows = opSupport({ Relu: 2, Gemm: 1, Hardmax: 1 }, compilers, [{ name: 'x86', kind: 'cpu' }, { name: 'sm_90', kind: 'gpu' }] as never);
    assert.deepEqual(rows, [
      { target: 'x86', kind: 'cpu', compiler: 'kiln-onnx 0.1.0', supported: ['Gemm', 'Relu'], unsupported: ['Hardmax'] },
      { target: 'sm_90', kind: 'gpu', compiler: null, supported: [], unsupported: ['Gemm', 'Hardmax', 'Relu'] },
    ]);
    assert.deepEqual(opsByCount({ Relu: 2, Gemm: 1, Add: 1 }), [['Relu', 2], ['Add', 1], ['Gemm', 1]]);
  });

  it('reads shapes as people type them', () => {
    assert.deepEqual(parseShape('1, 3, 224,224'), { dims: [1, 3, 224, 224] });
    assert.deepEqual(parseShape('1x16'), { dims: [1, 16] });
    assert.ok('error' in parseShape('1, -3'));
    assert.ok('error' in parseShape(''));
  });
});

describe('new build form', () => {
  it('sorts dropped files: one model or sources, never both; archives and strangers refused with a reason', () => {
    const plan = planDrop(['net.onnx', 'a.c', 'b.tar.gz', 'notes.txt'], { hasModel: false, hasSources: false });
    assert.equal(plan.model, 'net.onnx');
    assert.deepEqual(plan.sources, []);
    assert.deepEqual(plan.refused.map((r) => r.name), ['a.c', 'b.tar.gz', 'notes.txt']);
    assert.match(plan.refused[1].reason, /archives are not accepted/);
    assert.deepEqual(planDrop(['a.c', 'a.h'], { hasModel: false, hasSources: true }).sources, ['a.c', 'a.h']);
    assert.equal(languageOfFiles(['a.c', 'b.cpp']), 'c++');
  });

  const form: BuildForm = { mode: 'model', files: [], language: 'c', modelUploadId: 'u', inputShapes: { x: [1, 16] }, targets: ['x86_64-linux-gnu'], outputs: ['object'], optLevel: '-O2', extraOptions: '', verify: true, rtol: '1e-3', atol: '' };

  it('builds the request in the API\'s shape', () => {
    assert.deepEqual(jobRequest(form), { targets: ['x86_64-linux-gnu'], outputs: ['object'], model: { uploadId: 'u' }, inputShapes: { x: [1, 16] }, verify: { tolerance: { rtol: 0.001 } } });
    assert.deepEqual(jobRequest({ ...form, rtol: '' }).verify, true);
    const src = jobRequest({ ...form, mode: 'source', files: [{ path: 'm.c', uploadId: 'v' }], extraOptions: ' -std=c11  -Wall ' });
    assert.deepEqual(src.source, { language: 'c', files: [{ path: 'm.c', uploadId: 'v' }], options: ['-O2', '-std=c11', '-Wall'] });
    assert.deepEqual(src.verify, { program: {} });
  });

  it('says what is missing before sending', () => {
    assert.deepEqual(formProblems(form), []);
    assert.deepEqual(formProblems({ ...form, modelUploadId: null, targets: [], atol: 'abc' }), ['Add an ONNX model.', 'Pick at least one target.', 'atol must be a number, 0 or more.']);
  });
});
