import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ModelBuilder, randomWeights } from '../test/builder';
import { compileModel } from './compile';
import { formatProfile, ProfileOutputError, profileModel, readProfile } from './profile';

/*
 * Profiles: the kernels of the compiled graph after fusion, each named with the ONNX nodes it
 * covers and timed natively in a build with -DKILN_PROFILE; without it the C has no timing code.
 */

function block(): Uint8Array {
  const b = new ModelBuilder(17);
  const x = b.input('x', [1, 8, 16, 16]);
  const conv = b.op('Conv', [x, b.weight('w', [16, 8, 3, 3], randomWeights(1, 16 * 8 * 9, 0.2)), b.weight('b', [16], randomWeights(2, 16, 0.1))], { pads: [1, 1, 1, 1] });
  const act = b.op('Mul', [conv, b.op('Sigmoid', [conv])]);
  b.output(b.op('Softmax', [b.op('GlobalAveragePool', [act])], { axis: 1 }));
  return b.build('profiled');
}

describe('profiles', () => {
  it('lists each kernel after fusion with its nodes, operator types and FLOPs, in the order they run', () => {
    const { metadata, files } = compileModel(block(), { name: 'net' });
    assert.deepEqual(metadata.kernels?.map((k) => k.ops), [['Conv', 'Sigmoid', 'Mul'], ['GlobalAveragePool'], ['Softmax']]);
    assert.equal(metadata.kernels?.[0].flops, 2 * 16 * 16 * 16 * 8 * 9);
    assert.ok(metadata.kernels?.[0].label.startsWith('Conv ') && metadata.kernels[0].label.includes('SiLU'));
    assert.match(files['net.c'] as string, /KILN_PROF_BEGIN\(2\)/);
  });

  it('times every kernel of a native build and the whole run, and prints the top kernels', async () => {
    const p = await profileModel(block(), { name: 'net', runs: 5 });
    assert.equal(p.kernels.length, 3);
    assert.ok(p.latencyMs > 0 && p.kernelsMs > 0 && (p.peakMemoryBytes ?? 0) > 0 && p.clock === 'native');
    assert.ok(p.kernels.every((k) => k.ms >= 0 && k.share >= 0 && k.share <= 1));
    assert.ok(Math.abs(p.kernels.reduce((a, k) => a + k.share, 0) - 1) < 1e-9);
    const text = formatProfile(p);
    assert.match(text, /latency [\d.]+ ms \(median of 5 runs\)/);
    assert.match(text, /Conv\+Sigmoid\+Mul/);
  });

  it('reads a profiling run\'s output as untrusted data: one finite, non-negative time per kernel', () => {
    const plan = { kernels: [{ label: 'a', nodes: ['a'], ops: ['Conv'], flops: 2e6 }, { label: 'b', nodes: ['b'], ops: ['Relu'], flops: 1e3 }], runs: 3, warmup: 1, flops: 2.001e6, weightsBytes: 10, activationBytes: 20, codeBytes: 30 };
    const p = readProfile('warming up\n{"latency_ns": 2000000, "maxrss_kb": 0, "kernels_ns": [1500000, 500000]}\n', plan, 'emulated');
    assert.deepEqual(p.kernels.map((k) => [k.label, k.ms, k.share]), [['a', 1.5, 0.75], ['b', 0.5, 0.25]]);
    assert.equal(p.peakMemoryBytes, null);
    assert.equal(p.latencyMs, 2);
    assert.match(formatProfile(p), /an emulator's: the shares show where the work is/);
    for (const bad of ['', 'not json', '{"latency_ns": -1, "maxrss_kb": 0, "kernels_ns": [1, 2]}', '{"latency_ns": 1, "maxrss_kb": 0, "kernels_ns": [1]}', '{"latency_ns": 1, "maxrss_kb": 0, "kernels_ns": [1, "2"]}', '{"latency_ns": 1e999, "maxrss_kb": 0, "kernels_ns": [1, 2]}', '[1, 2]']) {
      assert.throws(() => readProfile(bad, plan, 'native'), ProfileOutputError, bad);
    }
  });
});
