import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { generateInputs } from './inputs';
import { DEFAULT_VERIFY_TIMEOUT_MS, KernelVerifySpec, MAX_MODEL_VERIFY_TIMEOUT_MS, modelVerifyTimeoutMs, normalizeModelVerify, normalizeVerify, ProgramVerifySpec, scaledTolerance, verifyUploadIds } from './spec';

const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';
const U3 = '33333333-3333-4333-8333-333333333333';

const saxpy = (x: object = {}, y: object = {}, extra: object = {}) => ({
  entry: 'saxpy',
  args: [
    { name: 'n', type: 'int32', value: 4 },
    { name: 'a', type: 'float32', value: 2 },
    { name: 'x', type: 'float32*', shape: [4], ...x },
    { name: 'y', type: 'float32*', shape: [4], dir: 'inout', ...y },
  ],
  seed: 5,
  ...extra,
});

describe('verify specs with uploaded tensors and a reference source', () => {
  it('keep uploaded inputs and expected outputs on their arguments', () => {
    const spec = normalizeVerify(saxpy({ input: { uploadId: U1 } }, { input: { uploadId: U2 }, expected: { uploadId: U3.toUpperCase() } })) as KernelVerifySpec;
    const [, , x, y] = spec.args;
    assert.deepEqual(x.kind === 'buffer' && x.input, { uploadId: U1 });
    assert.deepEqual(y.kind === 'buffer' && [y.input, y.expected], [{ uploadId: U2 }, { uploadId: U3 }]);
    assert.deepEqual(verifyUploadIds(spec), [U1, U2, U3]);
  });

  it('refuse uploads where they do not apply, and a mix of uploaded and computed expectations', () => {
    const cases: [object, RegExp][] = [
      [saxpy({ input: { uploadId: 'nope' } }), /argument "x": "input" must be \{"uploadId"/],
      [saxpy({ input: { uploadId: U1, sha: 1 } }), /argument "x": "input" must be/],
      [saxpy({ input: { uploadId: U1 }, range: [0, 1] }), /argument "x": give "range" .* or "input" .*, not both/],
      [saxpy({ expected: { uploadId: U1 } }), /argument "x" is "in": only "out" and "inout" arguments are compared/],
      [saxpy({}, { dir: 'out', input: { uploadId: U1 } }), /argument "y" is "out": it has no input to upload/],
      [
        { entry: 'k', args: [{ name: 'a', type: 'float32*', shape: [2], dir: 'out', expected: { uploadId: U1 } }, { name: 'b', type: 'float32*', shape: [2], dir: 'out' }] },
        /give "expected" for every out\/inout argument or for none: "b" has none/,
      ],
      [saxpy({}, { expected: { uploadId: U1 } }, { reference: { files: [{ path: 'r.c', content: 'x' }] } }), /"reference" and uploaded "expected" outputs both say what is right; give one/],
      [saxpy({}, {}, { reference: { files: [] } }), /reference.files must list at least one file/],
      [saxpy({}, {}, { reference: { files: [{ path: 'r.c' }] } }), /reference.files\[0\] \("r.c"\): give exactly one of "content" or "uploadId"/],
      [saxpy({}, {}, { reference: { files: [{ path: 'r.c', content: 'x' }], flags: [] } }), /reference has no field "flags"/],
      [saxpy({}, {}, { reference: { files: [{ path: 'r.c', content: 'x' }], options: '-O2' } }), /reference.options must be a list/],
      [{ program: { expect: { stdout: '1\n' } }, reference: { files: [{ path: 'r.c', content: 'x' }] } }, /"reference" and program.expect both say what the program must print/],
    ];
    for (const [raw, message] of cases) assert.throws(() => normalizeVerify(raw), message, JSON.stringify(raw));
  });

  it('give a reference source the job\'s options unless it names its own', () => {
    const files = [{ path: 'ref.c', content: 'void saxpy(void) {}' }, { path: 'lib/more.c', uploadId: U1 }];
    const inherited = normalizeVerify(saxpy({}, {}, { reference: { files } }), ['-O2', '-DX=1']) as KernelVerifySpec;
    assert.deepEqual(inherited.reference, { files, options: ['-O2', '-DX=1'] });
    assert.deepEqual(verifyUploadIds(inherited), [U1]);
    const own = normalizeVerify(saxpy({}, {}, { reference: { files, options: [] } }), ['-O3']) as KernelVerifySpec;
    assert.deepEqual(own.reference?.options, []);
    const program = normalizeVerify({ program: { stdin: '1' }, reference: { files } }) as ProgramVerifySpec;
    assert.equal(program.expect, null);
    assert.equal(program.reference?.files.length, 2);
  });

  it('use an uploaded input as given and leave the other inputs as the seed makes them', () => {
    const seeded = normalizeVerify(saxpy()) as KernelVerifySpec;
    const withUpload = normalizeVerify(saxpy({ input: { uploadId: U1 } })) as KernelVerifySpec;
    const x = Buffer.alloc(16);
    [1.5, -2, 3.25, 0].forEach((v, i) => x.writeFloatLE(v, i * 4));
    const before = generateInputs(seeded);
    const after = generateInputs(withUpload, new Map([['x', x]]));
    assert.equal(after.length, 32);
    assert.deepEqual(after.subarray(0, 16), x);
    assert.deepEqual(after.subarray(16), before.subarray(16));
    assert.throws(() => generateInputs(withUpload, new Map([['x', Buffer.alloc(12)]])), /the uploaded input of "x" holds 12 bytes; float32 \[4\] needs 16/);
  });

  it('take a CUDA kernel\'s launch and its reference in C or C++, and refuse a CUDA check with nothing to compare with', () => {
    const ref = { files: [{ path: 'ref.c', content: 'void saxpy(int n, float a, const float *x, float *y) {}' }] };
    const k = normalizeVerify(saxpy({}, {}, { launch: { grid: [2, 3], block: [128] }, reference: { ...ref, language: 'c' } }), ['-O3'], 'cuda') as KernelVerifySpec;
    assert.deepEqual(k.launch, { grid: [2, 3, 1], block: [128, 1, 1], sharedBytes: 0 });
    assert.equal(k.reference?.language, 'c');
    assert.deepEqual(k.reference?.options, [], 'nvcc options are not the reference\'s');
    assert.equal((normalizeVerify(saxpy({}, {}, { launch: { grid: [1], block: [1] }, reference: ref }), [], 'cuda') as KernelVerifySpec).reference?.language, 'c++');
    assert.throws(() => normalizeVerify(saxpy({}, {}, { launch: { grid: [1], block: [1] } }), [], 'c'), /unknown field "launch"/);
    assert.throws(() => normalizeVerify(saxpy({}, {}, { reference: ref }), [], 'cuda'), /a CUDA kernel needs "launch"/);
    assert.throws(() => normalizeVerify(saxpy({}, {}, { launch: { grid: [1], block: [1] } }), [], 'cuda'), /no host build of it to compare with/);
    assert.throws(() => normalizeVerify(saxpy({}, {}, { launch: { grid: [0], block: [1] }, reference: ref }), [], 'cuda'), /launch.grid must list 1 to 3 whole numbers/);
    assert.throws(() => normalizeVerify(saxpy({}, {}, { launch: { grid: [1], block: [1], sharedBytes: -1 }, reference: ref }), [], 'cuda'), /sharedBytes/);
    assert.throws(() => normalizeVerify(saxpy({}, {}, { launch: { grid: [1], block: [1] }, reference: { ...ref, language: 'fortran' } }), [], 'cuda'), /reference.language must be "c" or "c\+\+"/);
    assert.throws(() => normalizeVerify(saxpy({}, {}, { reference: { ...ref, language: 'c' } }), [], 'c'), /reference has no field "language"/);
    assert.throws(() => normalizeVerify({ program: {} }, [], 'cuda'), /give program.expect/);
    assert.equal((normalizeVerify({ program: { expect: { stdout: 'ok\n' } } }, [], 'cuda') as ProgramVerifySpec).expect?.stdout, 'ok\n');
  });
});

describe('a model check\'s time limit', () => {
  it('follows the work unless the job sets one: the model\'s FLOPs at the runner\'s speed, from 20 s up to an hour', () => {
    assert.deepEqual(normalizeModelVerify(true), { kind: 'model', tolerance: { rtol: 1e-3, atol: 1e-5, maxUlp: null }, seed: 1, atolScale: 1e-4 });
    assert.equal(normalizeModelVerify({ seed: 3 })!.timeoutMs, undefined);
    // ResNet-50, 8.2 GFLOP: seconds natively, minutes under an emulator, most under qemu-riscv64.
    const flops = 8.2e9;
    assert.equal(modelVerifyTimeoutMs(flops, 'native'), 20_000 + 16_400);
    assert.equal(modelVerifyTimeoutMs(flops, 'qemu-aarch64'), 20_000 + 410_000);
    assert.ok(modelVerifyTimeoutMs(flops, 'qemu-riscv64') > 15 * 60_000);
    assert.equal(modelVerifyTimeoutMs(0, 'wasm'), DEFAULT_VERIFY_TIMEOUT_MS);
    assert.equal(modelVerifyTimeoutMs(1e15, 'qemu-riscv64'), MAX_MODEL_VERIFY_TIMEOUT_MS);
  });

  it('scales a model output\'s atol to its reference\'s largest magnitude unless the job gives an atol', () => {
    assert.equal(normalizeModelVerify({ tolerance: { atol: 1e-6 } })!.atolScale, undefined);
    assert.equal(normalizeModelVerify({ tolerance: { rtol: 1e-2 } })!.atolScale, 1e-4);
    const t = { rtol: 1e-3, atol: 1e-5, maxUlp: null };
    // Outputs near 1e-9 (a deep network at its default initialisation): any answer would pass atol 1e-5.
    assert.equal(scaledTolerance(t, 1e-4, Float32Array.from([2e-9, -3e-9, 0])).atol, 1e-4 * Math.fround(3e-9));
    assert.equal(scaledTolerance(t, 1e-4, [3, -0.5, NaN, Infinity]).atol, 1e-4 * 3);
    assert.equal(scaledTolerance(t, 1e-4, [0, 0]).atol, 1e-5);
    assert.equal(scaledTolerance(t, undefined, [3]).atol, 1e-5);
  });

  it('takes a model\'s own limit up to an hour, and a kernel\'s up to 2 minutes', () => {
    assert.equal(normalizeModelVerify({ timeoutMs: 900_000 })!.timeoutMs, 900_000);
    assert.throws(() => normalizeModelVerify({ timeoutMs: MAX_MODEL_VERIFY_TIMEOUT_MS + 1 }), /timeoutMs must be a whole number from 100 to 3600000/);
    assert.throws(() => normalizeVerify({ entry: 'f', args: [{ name: 'y', type: 'float32*', shape: [4], dir: 'inout' }], timeoutMs: 900_000 }), /timeoutMs must be a whole number from 100 to 120000/);
  });
});
