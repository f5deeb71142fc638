import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { LANGUAGE_SPECS } from '../jobs/languages';
import { PRESETS, TARGETS, verifyPoolOf, VERIFY_POOLS } from './catalog';

/** The catalog is data: these are the rules it must keep. */
describe('the target catalog', () => {
  it('has unique target and preset names, aliases included', () => {
    const names = [...TARGETS.map((t) => t.name), ...PRESETS.flatMap((p) => [p.name, ...(p.aliases ?? [])])];
    assert.deepEqual(names.filter((n, i) => names.indexOf(n) !== i), []);
  });

  it('points every preset at a target, with a cpu the target accepts for GPUs', () => {
    for (const p of PRESETS) {
      const t = TARGETS.find((x) => x.name === p.target);
      assert.ok(t, `preset ${p.name} names unknown target ${p.target}`);
      if (t.gpu) assert.ok(p.cpu && t.gpu.arches.includes(p.cpu), `preset ${p.name}: ${p.cpu} is not an arch of ${t.name}`);
      for (const f of p.features) assert.match(f, /^[+-][a-z0-9][a-z0-9._-]*$/);
    }
  });

  it('gives GPU targets a vendor and arches and a runner pool per NVIDIA arch, and CPU targets a runner', () => {
    for (const t of TARGETS) {
      if (t.family === 'nvptx' || t.family === 'amdgpu') {
        assert.ok(t.gpu && t.gpu.arches.length > 0, t.name);
        assert.equal(t.verifyPool, null, t.name);
        for (const a of t.gpu.arches) assert.equal(verifyPoolOf(t, a), t.family === 'nvptx' ? `verify-cuda-${a}` : null);
        if (t.family === 'nvptx') assert.ok(t.gpu.arches.every((a) => VERIFY_POOLS.includes(`verify-cuda-${a}`)));
      } else {
        assert.equal(t.gpu, undefined, t.name);
        assert.match(t.verifyPool ?? '', /^verify-/, t.name);
      }
    }
  });

  it('lets every target be built from at least one language, and every language name real targets', () => {
    for (const t of TARGETS) assert.ok(LANGUAGE_SPECS.some((l) => t.name in l.targets), `no language builds ${t.name}`);
    for (const l of LANGUAGE_SPECS) {
      for (const [name, outputs] of Object.entries(l.targets)) {
        assert.ok(TARGETS.some((t) => t.name === name), `${l.name} names unknown target ${name}`);
        assert.ok(outputs.length > 0, `${l.name} on ${name} produces nothing`);
      }
      for (const o of l.defaultOutputs) assert.ok(Object.values(l.targets).some((outs) => outs.includes(o)), `${l.name} default output ${o} is never produced`);
    }
  });
});
