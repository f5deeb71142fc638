import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { MemoryPlan } from './memplan';

describe('memory plan', () => {
  it('reuses the room of tensors no later kernel reads, and never that of live ones', () => {
    // a = k0(x); b = k1(a); c = k2(b); d = k3(a, c)
    const plan = new MemoryPlan(new Map([['a', 3], ['b', 2], ['c', 3]]));
    const a = plan.place('a', 1000, 0);
    plan.release(0);
    const b = plan.place('b', 1000, 1);
    plan.release(1);
    const c = plan.place('c', 1000, 2);
    plan.release(2);
    const d = plan.place('d', 1000, 3);
    plan.release(3);
    assert.equal(a, 0);
    assert.equal(b, 1024, 'a is live');
    assert.equal(c, 2048, 'b is read by k2 as c is written');
    assert.equal(d, 1024, 'b is dead by k3; a and c are not');
    assert.equal(plan.size, 3072);
  });

  it('keeps a tensor as long as a name that shares its memory is read', () => {
    const plan = new MemoryPlan(new Map([['a', 1], ['r', 5]]));
    plan.place('a', 100, 0);
    plan.share('r', 'a');
    for (let k = 1; k < 5; k++) {
      plan.release(k);
      assert.notEqual(plan.place(`t${k}`, 64, k), 0, `kernel ${k} may not take a's room`);
    }
    plan.release(5);
    assert.equal(plan.place('z', 64, 6), 0);
  });

  it('gives a tensor that nothing reads room only while its writer runs', () => {
    const plan = new MemoryPlan(new Map());
    assert.equal(plan.place('unused', 4096, 0), 0);
    plan.release(0);
    assert.equal(plan.place('next', 64, 1), 0);
  });
});
