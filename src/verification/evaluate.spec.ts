import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { evaluateKernel, evaluateProgram, stdoutDifference } from './evaluate';

describe('stdoutDifference', () => {
  it('shows the whole differing line on both sides, with its line and column', () => {
    assert.equal(stdoutDifference('41\n', '42\n'), 'standard output differs at line 1, column 2: expected "41", got "42"');
    assert.equal(stdoutDifference('a\nsum = 10\nc\n', 'a\nsum = 12\nc\n'), 'standard output differs at line 2, column 8: expected "sum = 10", got "sum = 12"');
    assert.equal(stdoutDifference('4\n', '3\n'), 'standard output differs at line 1, column 1: expected "4", got "3"');
  });

  it('says where one side ends', () => {
    assert.equal(stdoutDifference('1\n2\n', '1\n'), 'standard output differs at line 2, column 1: expected "2", got the end of the output');
    assert.equal(stdoutDifference('1\n', '1\n2\n'), 'standard output differs at line 2, column 1: expected the end of the output, got "2"');
    assert.equal(stdoutDifference('42\n', '4'), 'standard output differs at line 1, column 2: expected "42", got "4"');
    assert.equal(stdoutDifference('42\n', '42'), 'standard output differs at the end of line 1 (column 3): expected "\\n" after it, got ""');
  });

  it('shows a long line around the difference', () => {
    const e = `${'x'.repeat(300)}A${'y'.repeat(300)}\n`;
    const a = `${'x'.repeat(300)}B${'y'.repeat(300)}\n`;
    const message = stdoutDifference(e, a);
    assert.match(message, /^standard output differs at line 1, column 301: expected \.\.\."x{60}Ay{59}"\.\.\., got \.\.\."x{60}By{59}"\.\.\.$/);
  });
});

describe('evaluateKernel', () => {
  it('says how many elements are NaN or infinite where the reference is not, before the errors of the rest', () => {
    const manifest = { version: 1 as const, kind: 'kernel' as const, target: 'x86_64-linux-gnu', program: 'program', timeoutMs: 1000, reference: 'onnxruntime-node', outputs: [{ name: 'y', dtype: 'float32' as const, count: 4 }], tolerance: { rtol: 1e-3, atol: 1e-5, maxUlp: null } };
    const run = { exitCode: 0, signal: null, timedOut: false, truncated: false, stdout: '', stderr: '', wallMs: 1 };
    const expected = Buffer.from(Float32Array.of(104.5, 1, 2, 3).buffer);
    const actual = Buffer.from(Float32Array.of(Infinity, 1, 2, 3).buffer);
    const r = evaluateKernel(manifest, run, expected, actual, { runner: 'native', worker: 'w' });
    assert.equal(r.status, 'failed');
    assert.match(r.summary, /1 of 4 elements differ .*worst y\[0\]: expected 104\.5, got Infinity \(1 NaN or infinite where the reference is not, or the other way round; among the rest, max abs error 0,/);
  });

  it('says a passing check of outputs within atol of zero is weak', () => {
    const manifest = { version: 1 as const, kind: 'kernel' as const, target: 'x86_64-linux-gnu', program: 'program', timeoutMs: 1000, reference: 'onnxruntime-node', outputs: [{ name: 'y', dtype: 'float32' as const, count: 4 }], tolerance: { rtol: 1e-5, atol: 1e-6, maxUlp: null } };
    const run = { exitCode: 0, signal: null, timedOut: false, truncated: false, stdout: '', stderr: '', wallMs: 1 };
    const expected = Buffer.from(Float32Array.of(1e-9, -2e-9, 3e-9, 0).buffer);
    const r = evaluateKernel(manifest, run, expected, Buffer.from(Float32Array.of(4e-7, 4e-7, -4e-7, 0).buffer), { runner: 'native', worker: 'w' });
    assert.equal(r.status, 'passed');
    assert.match(r.summary, /; a weak check of y: its reference values lie within atol of zero$/);
    assert.match(r.outputs[0].weak ?? '', /^every one of the reference's values/);
  });

  it('calls a run stopped by its clock unfinished, not failed: nothing was compared; a crash or running out of memory stays a failure', () => {
    const kernel = { version: 1 as const, kind: 'kernel' as const, target: 'aarch64-linux-gnu', program: 'program', entry: 'f', timeoutMs: 1500, reference: 'x', outputs: [{ name: 'y', dtype: 'float32' as const, count: 1 }], tolerance: { rtol: 1e-5, atol: 1e-6, maxUlp: null } };
    const stopped = { exitCode: null, signal: 'SIGKILL', timedOut: true, truncated: false, stdout: '', stderr: '', wallMs: 1500 };
    const k = evaluateKernel(kernel, stopped, Buffer.alloc(4), null, { runner: 'qemu-aarch64', worker: 'w' });
    assert.equal(k.status, 'unfinished');
    assert.equal(k.summary, 'the kernel f did not finish within its limit of 1500 ms on qemu-aarch64, so nothing was compared (verify.timeoutMs sets the limit)');
    const program = { version: 1 as const, kind: 'program' as const, target: 'x86_64-linux-gnu', program: 'program', timeoutMs: 2000, reference: 'x', expect: { stdout: 'hi\n', exitCode: 0 } };
    assert.equal(evaluateProgram(program, stopped, { runner: 'native', worker: 'w' }).status, 'unfinished');
    assert.equal(evaluateProgram(program, { ...stopped, timedOut: false, signal: 'SIGSEGV' }, { runner: 'native', worker: 'w' }).status, 'failed');
    assert.equal(evaluateProgram(program, { ...stopped, memoryLimitBytes: 2 ** 30 }, { runner: 'native', worker: 'w' }).status, 'failed');
  });
});
