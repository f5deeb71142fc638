import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { formatAgo, formatBytes, formatDuration, formatNumber, formatPair } from './format';

describe('formatting', () => {
  it('sizes', () => {
    assert.deepEqual([0, 999, 1000, 12_345, 999_999, 4_500_000].map(formatBytes), ['0 B', '999 B', '1.0 kB', '12.3 kB', '1.0 MB', '4.5 MB']);
  });
  it('durations', () => {
    assert.deepEqual([null, 850, 2400, 12_345, 185_000].map(formatDuration), ['—', '850 ms', '2.40 s', '12.3 s', '3 min 05 s']);
  });
  it('error magnitudes', () => {
    assert.deepEqual([0, 3.2e-7, 0.0125, 1.5, 'NaN', Infinity].map(formatNumber), ['0', '3.20e-7', '0.0125', '1.5', 'NaN', 'Infinity']);
  });
  it('an expected and an actual value to the digits that tell them apart', () => {
    assert.deepEqual(formatPair(1.4937341, 2.4937341), ['1.49373', '2.49373']);
    assert.deepEqual(formatPair(1.0000001, 1.0000002), ['1.0000001', '1.0000002']);
    assert.deepEqual(formatPair(Math.fround(0.1), 0.1), ['0.100000001', '0.1']);
    assert.deepEqual(formatPair(3.2e-7, 3.2000001e-7), ['3.2000000e-7', '3.2000001e-7']);
    assert.deepEqual(formatPair(0, -0), ['0', '-0']);
    assert.deepEqual(formatPair(2, 2), ['2', '2']);
    assert.deepEqual(formatPair('NaN', 1), ['NaN', '1']);
  });
  it('ages', () => {
    const now = Date.parse('2026-01-02T00:00:00Z');
    assert.equal(formatAgo('2026-01-01T23:59:50Z', now), 'just now');
    assert.equal(formatAgo('2026-01-01T23:55:00Z', now), '5 min ago');
    assert.equal(formatAgo('2025-12-01T00:00:00Z', now), '2025-12-01');
  });
});
