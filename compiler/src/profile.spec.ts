import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { ModelBuilder, randomWeights } from '../test/builder';
import { compileModel } from './compile';
import { formatProfile, profileModel } from './profile';

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
    assert.ok(p.latencyMs > 0 && p.kernelsMs > 0 && p.peakMemoryBytes > 0);
    assert.ok(p.kernels.every((k) => k.ms >= 0 && k.share >= 0 && k.share <= 1));
    assert.ok(Math.abs(p.kernels.reduce((a, k) => a + k.share, 0) - 1) < 1e-9);
    const text = formatProfile(p);
    assert.match(text, /latency [\d.]+ ms \(median of 5 runs\)/);
    assert.match(text, /Conv\+Sigmoid\+Mul/);
  });
});
