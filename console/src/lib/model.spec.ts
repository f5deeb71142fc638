import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { opsByCount, opSupport, parseShape } from './model';
import { planDrop, languageOfFiles } from './files';
import { catalogLanguages, formProblems, jobRequest, sourceOutputs, type BuildForm } from './request';

describe('model view', () => {
  it('says which of a model\'s operators each target supports, by the compiler serving its kind (and name, where it lists targets)', () => {
    const compilers = {
      compilers: [
        { name: 'kiln-onnx', version: '0.1.0', backend: 'c', targetKinds: ['cpu', 'wasm'], ops: ['Conv', 'Gemm', 'Relu'] },
        { name: 'kiln-onnx', version: '0.1.0', backend: 'cuda', targetKinds: ['gpu'], targets: ['nvptx64-nvidia-cuda'], ops: ['Gemm'] },
      ],
    };
    const rows = opSupport({ Relu: 2, Gemm: 1, Hardmax: 1 }, compilers, [{ name: 'x86', kind: 'cpu' }, { name: 'nvptx64-nvidia-cuda', kind: 'gpu' }, { name: 'amdgcn-amd-amdhsa', kind: 'gpu' }] as never);
    assert.deepEqual(rows, [
      { target: 'x86', kind: 'cpu', compiler: 'kiln-onnx 0.1.0', supported: ['Gemm', 'Relu'], unsupported: ['Hardmax'] },
      { target: 'nvptx64-nvidia-cuda', kind: 'gpu', compiler: 'kiln-onnx 0.1.0', supported: ['Gemm'], unsupported: ['Hardmax', 'Relu'] },
      { target: 'amdgcn-amd-amdhsa', kind: 'gpu', compiler: null, supported: [], unsupported: ['Gemm', 'Hardmax', 'Relu'] },
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
  it('sorts dropped files: one model, or source files and one archive; never both; strangers refused with a reason', () => {
    const none = { hasModel: false, hasSources: false, hasArchive: false };
    const plan = planDrop(['net.onnx', 'a.c', 'b.tar.gz', 'notes.txt'], none);
    assert.equal(plan.model, 'net.onnx');
    assert.deepEqual([plan.sources, plan.archive], [[], null]);
    assert.deepEqual(plan.refused.map((r) => r.name), ['a.c', 'b.tar.gz', 'notes.txt']);
    assert.match(plan.refused[1].reason, /one model, or source code, not both/);
    const src = planDrop(['a.c', 'a.h', 'p.tar.gz', 'q.zip'], none);
    assert.deepEqual([src.sources, src.archive, src.refused.map((r) => r.reason)], [['a.c', 'a.h'], 'p.tar.gz', ['a job takes one project archive']]);
    assert.deepEqual(planDrop(['m.onnx'], { ...none, hasArchive: true }).refused.length, 1);
    assert.deepEqual(planDrop(['main.go', 'go.mod', 'k.cu', 'lib.rs'], none).sources, ['main.go', 'go.mod', 'k.cu', 'lib.rs']);
  });

  it('tells the language from translation units, C++ over C, and none from headers alone', () => {
    assert.equal(languageOfFiles(['a.c', 'b.cpp', 'c.h']), 'c++');
    assert.equal(languageOfFiles(['k.cu', 'k.cuh']), 'cuda');
    assert.equal(languageOfFiles(['m.f90']), 'fortran');
    assert.equal(languageOfFiles(['x.h']), null);
  });

  it('offers the outputs the language gives on every picked target, from the catalog', () => {
    const targets: { name: string; outputs: Record<string, string[]> }[] = [
      { name: 'x86', outputs: { c: ['object', 'executable', 'shared', 'assembly'], cuda: [] } },
      { name: 'wasm', outputs: { c: ['object', 'executable', 'assembly'] } },
      { name: 'sm_90', outputs: { cuda: ['ptx', 'cubin'] } },
    ];
    assert.deepEqual(sourceOutputs(targets, [], 'c'), ['object', 'executable', 'shared', 'assembly']);
    assert.deepEqual(sourceOutputs(targets, ['x86', 'wasm'], 'c'), ['object', 'executable', 'assembly']);
    assert.deepEqual(sourceOutputs(targets, ['sm_90'], 'cuda'), ['ptx', 'cubin']);
    assert.deepEqual(sourceOutputs(targets, ['wasm'], 'cuda'), []);
    assert.deepEqual(catalogLanguages([{ languages: ['c', 'c++'] }, { languages: ['cuda', 'c'] }]), ['c', 'c++', 'cuda']);
  });

  const form: BuildForm = { mode: 'model', files: [], archiveUploadId: null, language: 'c', modelUploadId: 'u', inputShapes: { x: [1, 16] }, targets: ['x86_64-linux-gnu'], outputs: ['object'], optLevel: '-O2', extraOptions: '', verify: true, profile: false, rtol: '1e-3', atol: '' };

  it('builds the request in the API\'s shape', () => {
    assert.deepEqual(jobRequest(form), { targets: ['x86_64-linux-gnu'], outputs: ['object'], model: { uploadId: 'u' }, inputShapes: { x: [1, 16] }, verify: { tolerance: { rtol: 0.001 } } });
    assert.deepEqual(jobRequest({ ...form, rtol: '' }).verify, true);
    assert.deepEqual(jobRequest({ ...form, rtol: '', profile: true }).verify, { profile: true });
    assert.deepEqual(jobRequest({ ...form, profile: true }).verify, { tolerance: { rtol: 0.001 }, profile: true });
    const src = jobRequest({ ...form, mode: 'source', files: [{ path: 'm.c', uploadId: 'v' }], extraOptions: ' -std=c11  -Wall ' });
    assert.deepEqual(src.source, { language: 'c', files: [{ path: 'm.c', uploadId: 'v' }], options: ['-O2', '-std=c11', '-Wall'] });
    assert.deepEqual(src.verify, { program: {} });
    const tar = jobRequest({ ...form, mode: 'source', archiveUploadId: 'a', language: 'fortran', verify: false });
    assert.deepEqual(tar.source, { language: 'fortran', archive: { uploadId: 'a' }, options: ['-O2'] });
  });

  it('says what is missing before sending', () => {
    assert.deepEqual(formProblems(form), []);
    assert.deepEqual(formProblems({ ...form, modelUploadId: null, targets: [], atol: 'abc' }), ['Add an ONNX model.', 'Pick at least one target.', 'atol must be a number, 0 or more.']);
    assert.deepEqual(formProblems({ ...form, mode: 'source' }), ['Add source files or an archive, or write a file in the editor.']);
  });
});
