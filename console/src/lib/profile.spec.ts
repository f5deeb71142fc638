import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { clockNote, profileBars, timeByOperator, type Profile } from './profile';

const kernel = (label: string, ops: string[], ms: number, flops = 1e6) => ({ label, nodes: [label], ops, flops, ms, share: 0, gflops: flops / (ms * 1e6) });

function profile(kernels: ReturnType<typeof kernel>[]): Profile {
  const total = kernels.reduce((a, k) => a + k.ms, 0);
  return { clock: 'native', latencyMs: total * 1.02, runs: 20, kernelsMs: total, peakMemoryBytes: 1 << 20, weightsBytes: 1000, activationBytes: 2000, codeBytes: 3000, flops: 1e7, gflops: 1, kernels: kernels.map((k) => ({ ...k, share: k.ms / total })) };
}

describe('profile view', () => {
  it('bars the slowest kernels against the slowest, and puts the rest in one bar', () => {
    const p = profile([kernel('b', ['Relu'], 1), kernel('a', ['Conv', 'Relu', 'Relu'], 4), kernel('c', ['Add'], 0.5), kernel('d', ['Conv'], 2)]);
    const bars = profileBars(p, 2);
    assert.deepEqual(bars.map((b) => [b.label, b.ops, b.width]), [['a', 'Conv+Relu', 1], ['d', 'Conv', 0.5], ['2 other kernels', '', 1.5 / 4]]);
    assert.equal(bars[2].rest, 2);
    assert.ok(Math.abs(bars.reduce((a, b) => a + b.share, 0) - 1) < 1e-12);
    assert.equal(profileBars(p, 10).length, 4);
    assert.deepEqual(profileBars(profile([])), []);
  });

  it('adds the time up per operator, and says what an emulator\'s clock means', () => {
    const p = profile([kernel('a', ['Conv', 'Relu'], 4), kernel('b', ['Relu'], 1), kernel('d', ['Conv'], 2)]);
    assert.deepEqual(timeByOperator(p).map((r) => [r.op, r.ms, r.kernels]), [['Conv', 6, 2], ['Relu', 1, 1]]);
    assert.equal(clockNote(p), null);
    assert.match(clockNote({ ...p, clock: 'emulated' })!, /emulator/);
  });
});
