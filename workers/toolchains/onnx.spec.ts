import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { resolveTarget } from '../../src/targets/resolve';
import { SandboxExecutor } from '../sandbox/executor';
import { compileModelBuild, MODEL_FILE } from './onnx';

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function reluChain(n: number): Uint8Array {
  const t = (i: number) => ({ name: `t${i}`, type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: 4 }] } } } });
  const node = Array.from({ length: n }, (_, i) => ({ opType: 'Relu', input: [`t${i}`], output: [`t${i + 1}`] }));
  return onnx.ModelProto.encode({ irVersion: 8, opsetImport: [{ domain: '', version: 17 }], graph: { name: 'g', node, input: [t(0)], output: [t(n)] } }).finish();
}

describe('compileModelBuild', () => {
  const root = mkdtempSync(join(tmpdir(), 'kiln-onnx-build-'));
  after(() => rmSync(root, { recursive: true, force: true }));

  it('checks the model\'s claims again before decoding it: more nodes than KILN_MODEL_MAX_NODES fails the build, and nothing runs', async () => {
    const workdir = join(root, 'work');
    mkdirSync(join(workdir, 'model'), { recursive: true });
    writeFileSync(join(workdir, MODEL_FILE), reluChain(50));
    const exec = new SandboxExecutor('none');
    let ran = 0;
    exec.run = async () => {
      ran++;
      throw new Error('nothing should run');
    };
    const req = {
      source: { language: 'c' as const, files: [], options: [], defines: {} },
      model: { uploadId: '00000000-0000-0000-0000-000000000000', inputShapes: {} },
      modelMaxNodes: 40,
      ...(({ target, spec }) => ({ target, spec }))(resolveTarget('x86_64-linux-gnu')),
      outputs: ['object' as const],
      workdir,
      stage: join(root, 'stage'),
      timeoutMs: 60_000,
      verify: null,
    };
    const r = await compileModelBuild(req as never, exec);
    assert.equal(r.ok, false);
    assert.match(r.failureReason ?? '', /the model was refused: the model has more than 40 nodes/);
    assert.equal(ran, 0);
    // Within the limit, the same model compiles (clang runs).
    const ok = await compileModelBuild({ ...req, modelMaxNodes: 50 } as never, new SandboxExecutor('none'));
    assert.equal(ok.ok, true, ok.failureReason);
  });
});
