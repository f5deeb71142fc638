import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { outputPlot, verdict, worstRows } from './plot';
import type { OutputComparison } from './types';

const base = { name: 'y', dtype: 'float32', count: 100, passed: false, maxAbsError: 0.5, maxRelError: 0.1, maxUlp: 1e6, mismatches: 2, nanInfMismatches: 1, worst: { index: 3, expected: 1, actual: 1.5 }, tolerance: { rtol: 1e-5, atol: 1e-6, maxUlp: null } };

describe('outputPlot', () => {
  it('draws exact matches, a bar per decade with the gaps filled, NaN/Inf last, and where atol falls', () => {
    const o = { ...base, errorHistogram: { exact: 60, nonFinite: 1, decades: [{ exponent: -8, count: 30, failed: 0 }, { exponent: -6, count: 7, failed: 0 }, { exponent: -1, count: 2, failed: 2 }] } } as OutputComparison;
    const p = outputPlot(o);
    assert.deepEqual(p.bars.map((b) => b.label), ['exact', '1e-8', '1e-7', '1e-6', '1e-5', '1e-4', '1e-3', '1e-2', '1e-1', 'NaN/Inf']);
    assert.deepEqual(p.bars.map((b) => b.count), [60, 30, 0, 7, 0, 0, 0, 0, 2, 1]);
    assert.equal(p.bars[0].height, 1);
    assert.equal(p.bars[1].height, 0.5);
    assert.equal(p.bars[8].failed, 2);
    assert.equal(p.toleranceBar, 3);
    assert.equal(p.caption, '100 elements: 60 exact, 40 differ (max abs 0.5), 2 outside the tolerance');
  });

  it('stretches the axis to atol, so a pass shows its margin', () => {
    const o = { ...base, passed: true, mismatches: 0, tolerance: { rtol: 1e-3, atol: 1e-5, maxUlp: null }, errorHistogram: { exact: 18, nonFinite: 0, decades: [{ exponent: -9, count: 1, failed: 0 }, { exponent: -8, count: 1, failed: 0 }] } } as OutputComparison;
    const p = outputPlot(o);
    assert.deepEqual(p.bars.map((b) => b.label), ['exact', '1e-9', '1e-8', '1e-7', '1e-6', '1e-5']);
    assert.equal(p.toleranceBar, 5);
  });

  it('still plots a report without a histogram, from its worst error', () => {
    const p = outputPlot({ ...base, passed: true, mismatches: 0, maxAbsError: 3e-7 } as OutputComparison);
    assert.deepEqual(p.bars.map((b) => [b.label, b.count, b.failed]), [['exact', 99, 0], ['1e-7', 1, 0]]);
  });

  it('has no tolerance line when atol is zero', () => {
    const p = outputPlot({ ...base, tolerance: { rtol: 0, atol: 0, maxUlp: null }, errorHistogram: { exact: 100, nonFinite: 0, decades: [] } } as OutputComparison);
    assert.equal(p.toleranceBar, null);
    assert.deepEqual(p.bars.map((b) => b.label), ['exact']);
  });
});

describe('worstRows and verdict', () => {
  it('formats the worst elements, or the single worst of an older report', () => {
    const rows = worstRows({ ...base, worstElements: [{ index: 3, expected: 1, actual: 1.5, absError: 0.5, passed: false }, { index: 9, expected: 'NaN', actual: 2, absError: null, passed: false }] } as OutputComparison);
    assert.deepEqual(rows, [{ index: 3, expected: '1', actual: '1.5', absError: '0.5', passed: false }, { index: 9, expected: 'NaN', actual: '2', absError: '—', passed: false }]);
    assert.deepEqual(worstRows(base as OutputComparison).map((r) => r.index), [3]);
  });

  it('gives one word per target', () => {
    assert.equal(verdict({ verification: { status: 'passed' } as never, verifyPool: 'v', status: 'succeeded' }), 'passed');
    assert.equal(verdict({ verification: { status: 'failed' } as never, verifyPool: 'v', status: 'failed' }), 'failed');
    assert.equal(verdict({ verification: null, verifyPool: 'v', status: 'compiling' }), 'pending');
    assert.equal(verdict({ verification: null, verifyPool: 'v', status: 'failed' }), 'not verified');
    assert.equal(verdict({ verification: null, verifyPool: null, status: 'succeeded' }), 'not verified');
  });
});
