import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { cliCommand, curlCommand, requestOf, shellQuote, verifyRequestOf } from './command';
import type { Job } from './types';

const build = (requested: string) => ({ target: { requested } }) as Job['builds'][number];

describe('reproducing a request', () => {
  it('quotes for the shell so that any text survives, quotes included', () => {
    const nasty = `it's "a" $HOME \`x\` \\ \n`;
    assert.equal(execFileSync('sh', ['-c', `printf %s ${shellQuote(nasty)}`]).toString(), nasty);
    assert.equal(shellQuote('x86_64-linux-gnu,wasm32-wasi'), 'x86_64-linux-gnu,wasm32-wasi');
  });

  it('rebuilds a model job\'s request with its upload, shapes, outputs and verification in request form', () => {
    const job = {
      model: { uploadId: 'u-1', inputShapes: { x: [2, 16] } }, source: null, outputs: ['object', 'shared', 'header', 'c-source', 'metadata'],
      verify: { kind: 'model', tolerance: { rtol: 1e-3, atol: 1e-5, maxUlp: null }, seed: 1, timeoutMs: 20000 },
      builds: [build('x86_64-linux-gnu'), build('graviton3')],
    } as unknown as Job;
    const { body, inlineFiles } = requestOf(job);
    assert.deepEqual(body, {
      targets: ['x86_64-linux-gnu', 'graviton3'], model: { uploadId: 'u-1' }, inputShapes: { x: [2, 16] }, outputs: ['object', 'shared'],
      verify: { tolerance: { rtol: 1e-3, atol: 1e-5 }, seed: 1, timeoutMs: 20000 },
    });
    assert.deepEqual(inlineFiles, []);
    // A job whose atol follows each output's magnitude (none was given) is sent again without one.
    const scaled = { ...job, verify: { kind: 'model', tolerance: { rtol: 1e-3, atol: 1e-5, maxUlp: null }, seed: 1, atolScale: 1e-4 } } as unknown as Job;
    assert.deepEqual(requestOf(scaled).body.verify, { tolerance: { rtol: 1e-3 }, seed: 1, timeoutMs: undefined });
    // A profiled job is profiled again, with its runs when it gave them.
    const profiled = { ...job, verify: { kind: 'model', tolerance: { rtol: 1e-3, atol: 1e-5, maxUlp: null }, seed: 1, profile: { runs: 5 } } } as unknown as Job;
    assert.deepEqual((requestOf(profiled).body.verify as { profile: unknown }).profile, { runs: 5 });
    assert.deepEqual((requestOf({ ...profiled, verify: { ...(profiled.verify as object), profile: {} } } as unknown as Job).body.verify as { profile: unknown }).profile, true);
  });

  it('refers to uploaded source files by id and marks inline ones it cannot repeat', () => {
    const job = {
      model: null, outputs: ['object'], verify: null, builds: [build('wasm32-wasi')],
      source: { language: 'c', options: ['-O2'], defines: {}, files: [{ path: 'a.c', size: 3, uploadId: 'u-2' }, { path: 'b.h', size: 4 }] },
    } as unknown as Job;
    const { body, inlineFiles } = requestOf(job);
    assert.deepEqual(body.source, { language: 'c', files: [{ path: 'a.c', uploadId: 'u-2' }, { path: 'b.h', content: '<the text of b.h>' }], options: ['-O2'] });
    assert.deepEqual(inlineFiles, ['b.h']);
  });

  it('turns stored program and kernel checks back into request form', () => {
    assert.deepEqual(verifyRequestOf({ kind: 'program', args: [], stdin: '', expect: null, timeoutMs: 20000 }), { program: { args: [], stdin: '', timeoutMs: 20000 } });
    assert.deepEqual(verifyRequestOf({ kind: 'program', args: ['1'], stdin: 'x', expect: { stdout: '42\n', exitCode: null }, timeoutMs: 5 }), { program: { args: ['1'], stdin: 'x', expect: { stdout: '42\n' }, timeoutMs: 5 } });
    // A job's own device wait goes with it; without one, the service's default applies again.
    assert.deepEqual(verifyRequestOf({ kind: 'program', args: [], stdin: '', expect: null, timeoutMs: 20000, deviceWaitSeconds: 60 }), { program: { args: [], stdin: '', timeoutMs: 20000 }, deviceWaitSeconds: 60 });
    assert.deepEqual(
      verifyRequestOf({ kind: 'kernel', entry: 'saxpy', args: [{ name: 'n', kind: 'scalar', dtype: 'int32', value: 4 }, { name: 'y', kind: 'buffer', dtype: 'float32', shape: [4], dir: 'inout', range: [-1, 1] }], tolerance: { rtol: 1e-5, atol: 1e-6, maxUlp: 4 }, seed: 7, timeoutMs: 20000 }),
      { entry: 'saxpy', args: [{ name: 'n', type: 'int32', value: 4 }, { name: 'y', type: 'float32*', shape: [4], dir: 'inout', range: [-1, 1] }], tolerance: { rtol: 1e-5, atol: 1e-6, maxUlp: 4 }, seed: 7, timeoutMs: 20000 },
    );
  });

  it('writes a curl command whose body a shell hands over intact, with the key left in $KILN_API_KEY', () => {
    const body = { targets: ['x86_64-linux-gnu'], source: { language: 'c', files: [{ path: "it's.c", uploadId: 'u' }] } } as never;
    const cmd = curlCommand('http://kiln.example/', body);
    assert.match(cmd, /^curl -sS http:\/\/kiln.example\/v1\/jobs \\\n/);
    assert.match(cmd, /"Authorization: Bearer \$KILN_API_KEY"/);
    const sent = execFileSync('sh', ['-c', `printf %s ${cmd.split('-d ')[1]}`]).toString();
    assert.deepEqual(JSON.parse(sent), body);
  });

  it('writes the kiln CLI command for the same build', () => {
    const cmd = cliCommand('http://k:8080', { targets: ['x86_64-linux-gnu', 'rpi4'], model: { uploadId: 'u' }, inputShapes: { x: [1, 16] }, outputs: ['object'], verify: { tolerance: { rtol: 0.001, atol: 1e-5 } } } as never, ['mlp.onnx']);
    assert.equal(cmd, 'KILN_URL=http://k:8080 kiln compile mlp.onnx --shape x=1,16 -t x86_64-linux-gnu,rpi4 -o object --verify --tolerance rtol=0.001,atol=0.00001 --wait');
    const profiled = cliCommand('http://k', { targets: ['x86_64-linux-gnu'], model: { uploadId: 'u' }, outputs: ['object'], verify: { profile: { runs: 5 } } } as never, ['mlp.onnx']);
    assert.equal(profiled, 'KILN_URL=http://k kiln compile mlp.onnx -t x86_64-linux-gnu -o object --verify --profile 5 --wait');
    const src = cliCommand('http://k', { targets: ['wasm32-wasi'], source: { language: 'c', files: [], options: ['-O2', '-DX=1 2'] }, outputs: ['object'] } as never, ['main.c']);
    assert.equal(src, "KILN_URL=http://k kiln compile main.c -t wasm32-wasi -o object -l c --option=-O2 --option='-DX=1 2' --wait");
  });
});
