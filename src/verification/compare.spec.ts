import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { compareOutput, DEFAULT_TOLERANCE, ulpDistance } from './compare';

const f32 = (xs: number[]) => Buffer.from(new Float32Array(xs).buffer);
const f64 = (xs: number[]) => Buffer.from(new Float64Array(xs).buffer);
const i32 = (xs: number[]) => Buffer.from(new Int32Array(xs).buffer);

describe('ulpDistance', () => {
  it('counts representable floats between two values, across zero', () => {
    assert.equal(ulpDistance('float32', 1, 1), 0);
    assert.equal(ulpDistance('float32', 1, Math.fround(1 + 2 ** -23)), 1);
    assert.equal(ulpDistance('float32', 0, -0), 0);
    assert.equal(ulpDistance('float32', 1e-45, -1e-45), 2);
    assert.equal(ulpDistance('float64', 1, 1 + Number.EPSILON), 1);
  });
});

describe('compareOutput', () => {
  it('passes equal outputs and values within tolerance', () => {
    const r = compareOutput('y', 'float32', f32([1, 2, 3]), f32([1, 2.00001, 3]), DEFAULT_TOLERANCE.float32);
    assert.equal(r.passed, true);
    assert.equal(r.mismatches, 0);
    assert.ok(r.maxAbsError > 0 && r.maxAbsError < 2e-5);
    assert.ok(r.maxUlp > 0);
  });

  it('calls a check weak when the reference is (mostly) within atol of zero, and says so only then', () => {
    // Outputs of 1e-9 or less pass at atol 1e-6 whatever they are: the answer below is wrong by a factor of 500.
    const tiny = Array.from({ length: 100 }, (_, i) => (i + 1) * 1e-11);
    const r = compareOutput('y', 'float32', f32(tiny), f32(tiny.map((v) => v * 500)), DEFAULT_TOLERANCE.float32);
    assert.equal(r.passed, true);
    assert.match(r.weak ?? '', /every one of the reference's values lies within atol \(0\.000001\) of zero/);
    // 9 of 10 near zero is weak; 8 of 10 is not; and a tolerance scaled to the values is not.
    assert.match(compareOutput('y', 'float32', f32([...tiny.slice(0, 9), 1]), f32([...tiny.slice(0, 9), 1]), DEFAULT_TOLERANCE.float32).weak ?? '', /^9 of 10 /);
    assert.equal(compareOutput('y', 'float32', f32([...tiny.slice(0, 8), 1, 2]), f32([...tiny.slice(0, 8), 1, 2]), DEFAULT_TOLERANCE.float32).weak, undefined);
    assert.equal(compareOutput('y', 'float32', f32(tiny), f32(tiny), { rtol: 1e-5, atol: 1e-12, maxUlp: null }).weak, undefined);
    // Integers compare exactly: never weak.
    assert.equal(compareOutput('y', 'int32', i32([0, 0, 0]), i32([0, 0, 0]), DEFAULT_TOLERANCE.float32).weak, undefined);
  });

  it('states ULP distances only where the reference is larger than atol', () => {
    // A sigmoid's tail: 1e-30 against 1e-38 is billions of ULP apart, and well within atol.
    const r = compareOutput('y', 'float32', f32([1e-38, 0.5]), f32([1e-30, Math.fround(0.5) + 2 ** -24]), DEFAULT_TOLERANCE.float32);
    assert.equal(r.passed, true);
    assert.equal(r.maxUlp, 1);
    assert.equal(compareOutput('y', 'float32', f32([1e-38]), f32([1e-30]), { rtol: 0, atol: 0, maxUlp: null }).maxUlp > 1e6, true);
  });

  it('names the worst element with both values', () => {
    const r = compareOutput('y', 'float32', f32([1, 2, 3, 4]), f32([1, 2.5, 3, 4.0001]), DEFAULT_TOLERANCE.float32);
    assert.equal(r.passed, false);
    assert.equal(r.mismatches, 2);
    assert.deepEqual(r.worst, { index: 1, expected: 2, actual: 2.5 });
    assert.equal(r.maxAbsError, 0.5);
    assert.equal(r.maxRelError, 0.25);
  });

  it('accepts a ULP bound as an alternative to rtol/atol', () => {
    const a = Math.fround(1 + 2 ** -22);
    assert.equal(compareOutput('y', 'float32', f32([1]), f32([a]), { rtol: 0, atol: 0, maxUlp: null }).passed, false);
    assert.equal(compareOutput('y', 'float32', f32([1]), f32([a]), { rtol: 0, atol: 0, maxUlp: 2 }).passed, true);
  });

  it('matches NaN with NaN and an infinity with the same infinity only', () => {
    assert.equal(compareOutput('y', 'float64', f64([NaN, Infinity]), f64([NaN, Infinity]), DEFAULT_TOLERANCE.float64).passed, true);
    const r = compareOutput('y', 'float64', f64([1, Infinity]), f64([NaN, -Infinity]), DEFAULT_TOLERANCE.float64);
    assert.equal(r.nanInfMismatches, 2);
    assert.equal(r.worst?.actual, 'NaN');
  });

  it('compares integers exactly, whatever the tolerance', () => {
    const r = compareOutput('n', 'int32', i32([5, 6]), i32([5, 7]), { rtol: 1, atol: 10, maxUlp: 100 });
    assert.equal(r.passed, false);
    assert.deepEqual(r.worst, { index: 1, expected: 6, actual: 7 });
    assert.equal(compareOutput('n', 'int32', i32([5]), i32([5]), DEFAULT_TOLERANCE.float32).passed, true);
  });

  it('bins the absolute errors by decade and keeps the worst elements, failing ones first', () => {
    const r = compareOutput('y', 'float64', f64([1, 2, 3, 4, 5, 6, NaN]), f64([1, 2 + 3e-15, 3 + 2e-15, 4.5, 5 + 0.02, Infinity, NaN]), DEFAULT_TOLERANCE.float64);
    assert.equal(r.errorHistogram?.exact, 2);
    assert.equal(r.errorHistogram?.nonFinite, 1);
    assert.deepEqual(
      r.errorHistogram?.decades.map((d) => [d.exponent, d.count, d.failed]),
      [[-15, 2, 0], [-2, 1, 1], [-1, 1, 1]],
    );
    assert.deepEqual(r.worstElements?.map((w) => [w.index, w.passed]), [[5, false], [3, false], [4, false], [1, true], [2, true]]);
    assert.equal(r.worstElements?.[0].absError, null);
    assert.equal(r.worstElements?.[1].absError, 0.5);
  });

  it('keeps only the few worst elements of a large output', () => {
    const n = 1000;
    const e = Array.from({ length: n }, (_, i) => i);
    const r = compareOutput('y', 'float32', f32(e), f32(e.map((v, i) => v + (i % 100) * 1e-3)), { rtol: 0, atol: 0.05, maxUlp: null });
    assert.equal(r.worstElements?.length, 8);
    assert.ok(r.worstElements?.every((w) => !w.passed));
    assert.equal(r.errorHistogram!.exact + r.errorHistogram!.decades.reduce((a, d) => a + d.count, 0), n);
  });

  it('refuses outputs of different lengths', () => {
    assert.throws(() => compareOutput('y', 'float32', f32([1, 2]), f32([1]), DEFAULT_TOLERANCE.float32), /expected 2 elements, got 1/);
  });
});
