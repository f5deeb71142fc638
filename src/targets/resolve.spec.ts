import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { TARGETS } from './catalog';
import { resolveTarget, TargetError } from './resolve';

describe('resolveTarget', () => {
  it('resolves every short name to its own canonical triple', () => {
    for (const spec of TARGETS) {
      const r = resolveTarget(spec.name);
      assert.equal(r.target.triple, spec.triple);
      assert.equal(r.spec.pool, spec.pool);
    }
  });

  it('accepts a triple with or without its vendor', () => {
    assert.equal(resolveTarget('aarch64-unknown-linux-gnu').target.name, 'aarch64-linux-gnu');
    assert.equal(resolveTarget({ triple: 'riscv64-linux-gnu', features: ['+v'] }).target.features[0], '+v');
  });

  it('expands presets to a cpu', () => {
    const r = resolveTarget('graviton3');
    assert.equal(r.target.triple, 'aarch64-unknown-linux-gnu');
    assert.equal(r.target.cpu, 'neoverse-v1');
    assert.equal(r.requested, 'graviton3');
  });

  it('sorts and dedupes features so equal descriptors are equal JSON', () => {
    const a = resolveTarget({ triple: 'x86_64-linux-gnu', features: ['+avx2', '+fma', '+avx2'] });
    const b = resolveTarget({ triple: 'x86_64-linux-gnu', features: ['+fma', '+avx2'] });
    assert.deepEqual(a.target, b.target);
  });

  it('refuses an unknown target and lists what is supported', () => {
    assert.throws(() => resolveTarget('pdp11-unix'), (e: Error) => e instanceof TargetError && /supported targets: .*aarch64-linux-gnu/.test(e.message));
  });

  it('refuses malformed cpus and features', () => {
    assert.throws(() => resolveTarget({ triple: 'x86_64-linux-gnu', cpu: 'haswell; rm -rf /' }), TargetError);
    assert.throws(() => resolveTarget({ triple: 'x86_64-linux-gnu', features: ['avx2'] }), /leading \+ or -/);
    assert.throws(() => resolveTarget({ triple: 'armv7-linux-gnueabihf', floatAbi: 'soft' }), /hard only/);
  });

  it('checks cpus against the list the toolchain knows, when there is one', () => {
    const known = () => ['cortex-a72', 'neoverse-v1'];
    assert.equal(resolveTarget({ triple: 'aarch64-linux-gnu', cpu: 'cortex-a72' }, known).target.cpu, 'cortex-a72');
    assert.throws(() => resolveTarget({ triple: 'aarch64-linux-gnu', cpu: 'cortex-z9' }, known), /not known for aarch64-linux-gnu/);
  });
});
