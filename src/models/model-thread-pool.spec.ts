import { strict as assert } from 'node:assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { after, describe, it } from 'node:test';
import { onnx } from 'onnx-proto';
import { mlp } from '../../compiler/test/models';
import { ModelBudgetError, ModelPoolBusyError, ModelThreadPool } from './model-thread-pool';

const LIMITS = { maxBytes: 64 * 1024 * 1024, maxNodes: 10_000_000 };

/** A chain of `n` Relu nodes: cheap to send, costly to read (about 4 s and 100s of MB for 300,000). */
function chain(n: number): Uint8Array {
  const node: onnx.INodeProto[] = [];
  for (let i = 0; i < n; i++) node.push({ opType: 'Relu', input: [i === 0 ? 'x' : `t${i}`], output: [i === n - 1 ? 'y' : `t${i + 1}`] });
  const FLOAT = onnx.TensorProto.DataType.FLOAT;
  return onnx.ModelProto.encode({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 17 }],
    graph: { node, input: [{ name: 'x', type: { tensorType: { elemType: FLOAT, shape: { dim: [{ dimValue: 4 }] } } } }], output: [{ name: 'y', type: { tensorType: { elemType: FLOAT } } }] },
  }).finish();
}

describe('ModelThreadPool', () => {
  const pools: ModelThreadPool[] = [];
  const pool = (opts: ConstructorParameters<typeof ModelThreadPool>[0]) => {
    const p = new ModelThreadPool(opts);
    pools.push(p);
    return p;
  };
  after(async () => {
    for (const p of pools) await p.close();
  });

  it('reads a model on a thread and keeps the thread for the next one', async () => {
    const p = pool({ threads: 1, timeoutMs: 30_000, memoryMb: 256 });
    const first = await p.run({ op: 'inspect', bytes: mlp(), inputShapes: { x: [2, 16] }, limits: LIMITS });
    assert.ok(first.ok, JSON.stringify(first));
    assert.deepEqual((first.value as { outputs: unknown }).outputs, [{ name: 'softmax_3', dtype: 'float32', shape: [2, 10] }]);
    const job = await p.run({ op: 'job', bytes: mlp(), inputShapes: { x: [2, 16] }, limits: LIMITS });
    assert.ok(job.ok);
    assert.deepEqual((job.value as { summary: { ops: unknown } }).summary.ops, { Gemm: 2, Relu: 1, Softmax: 1 });
    assert.equal(p.threads, 1);
    // A refused model is a refusal, not an error; the thread stays.
    const bad = await p.run({ op: 'job', bytes: mlp(), inputShapes: {}, limits: LIMITS });
    assert.ok(!bad.ok && 'refusal' in bad && /symbolic input dimensions/.test(bad.refusal), JSON.stringify(bad));
    assert.equal(p.threads, 1);
  });

  it('ends a thread past its time, and the next model gets a new one', async () => {
    const p = pool({ threads: 1, timeoutMs: 300, memoryMb: 1024 });
    await assert.rejects(p.run({ op: 'inspect', bytes: chain(300_000), inputShapes: {}, limits: LIMITS }), (e: unknown) => e instanceof ModelBudgetError && e.kind === 'time' && /could not be inspected within 0.3 s/.test(e.message));
    assert.equal(p.threads, 0);
    assert.ok((await p.run({ op: 'inspect', bytes: mlp(), inputShapes: {}, limits: LIMITS })).ok);
  });

  it('ends a thread that needs more memory than its budget', async () => {
    const p = pool({ threads: 1, timeoutMs: 120_000, memoryMb: 64 });
    await assert.rejects(p.run({ op: 'inspect', bytes: chain(300_000), inputShapes: {}, limits: LIMITS }), (e: unknown) => e instanceof ModelBudgetError && e.kind === 'memory' && /within 64 MB of memory/.test(e.message));
    assert.ok((await p.run({ op: 'inspect', bytes: mlp(), inputShapes: {}, limits: LIMITS })).ok);
  });

  it('reads as many models at once as it has threads; the rest wait, and past the queue are refused', async () => {
    const p = pool({ threads: 2, timeoutMs: 30_000, memoryMb: 256, maxWaiting: 1 });
    const runs = [0, 1, 2].map(() => p.run({ op: 'inspect', bytes: mlp(), inputShapes: {}, limits: LIMITS }));
    await assert.rejects(p.run({ op: 'inspect', bytes: mlp(), inputShapes: {}, limits: LIMITS }), ModelPoolBusyError);
    for (const r of await Promise.all(runs)) assert.ok(r.ok);
    assert.ok(p.threads <= 2);
  });

  it('a thread given up for its time that then fails (out of memory as it stops) is no uncaught error', async () => {
    // A thread that starts and never answers.
    const dir = mkdtempSync(join(tmpdir(), 'kiln-pool-'));
    const file = join(dir, 'silent.js');
    writeFileSync(file, "require('node:worker_threads').parentPort.postMessage({ ready: true }); setInterval(() => {}, 1000);");
    const p = pool({ threads: 1, timeoutMs: 200, memoryMb: 64, file });
    const run = p.run({ op: 'inspect', bytes: mlp(), inputShapes: {}, limits: LIMITS });
    await new Promise((r) => setTimeout(r, 100));
    const [w] = [...(p as unknown as { all: Set<Worker> }).all];
    assert.ok(w, 'the thread runs');
    await assert.rejects(run, (e: unknown) => e instanceof ModelBudgetError && e.kind === 'time');
    // terminate() is under way; the thread's last event still reaches it.
    assert.doesNotThrow(() => w.emit('error', Object.assign(new Error('Worker terminated due to reaching memory limit'), { code: 'ERR_WORKER_OUT_OF_MEMORY' })));
    assert.equal(p.threads, 0);
  });
});
