import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { SourceInput } from '../database/entities/job.entity';
import type { CanonicalTarget } from '../targets/target';
import { cacheKey, DigestInput, inputDigest } from './build-cache';

const target: CanonicalTarget = { name: 'aarch64-linux-gnu', triple: 'aarch64-unknown-linux-gnu', cpu: null, features: [], abi: null, floatAbi: null, os: 'linux', libc: 'glibc' };
const source: SourceInput = { language: 'c', files: [{ path: 'a.c', content: 'int a;' }, { path: 'b.c', uploadId: 'u1' }], options: ['-O2'], defines: { N: '1', M: '2' } };
const base: DigestInput = { source, model: null, uploadHashes: new Map([['u1', 'f'.repeat(64)]]), target, outputs: ['object', 'assembly'], verify: null };

describe('build cache keys', () => {
  it('do not depend on the order of files, defines or outputs', () => {
    const shuffled = { ...base, source: { ...source, files: [...source.files].reverse(), defines: { M: '2', N: '1' } }, outputs: ['assembly', 'object'] };
    assert.equal(inputDigest(shuffled), inputDigest(base));
  });

  it('change with anything that decides the result', () => {
    const d = inputDigest(base);
    const variants: DigestInput[] = [
      { ...base, source: { ...source, files: [{ path: 'a.c', content: 'int a ;' }, source.files[1]] } },
      { ...base, source: { ...source, files: [{ path: 'c.c', content: 'int a;' }, source.files[1]] } },
      { ...base, uploadHashes: new Map([['u1', 'e'.repeat(64)]]) },
      { ...base, source: { ...source, options: ['-O3'] } },
      { ...base, source: { ...source, defines: { N: '1', M: '3' } } },
      { ...base, target: { ...target, cpu: 'cortex-a72' } },
      { ...base, target: { ...target, features: ['+sve'] } },
      { ...base, outputs: ['object'] },
      { ...base, source: { ...source, language: 'c++' } },
    ];
    for (const v of variants) assert.notEqual(inputDigest(v), d, JSON.stringify(v));
  });

  it('are per tenant and per toolchain version', () => {
    const d = inputDigest(base);
    const k = cacheKey('t1', d, { key: 'clang', version: '19.1.7' });
    assert.match(k, /^[0-9a-f]{64}$/);
    assert.notEqual(cacheKey('t2', d, { key: 'clang', version: '19.1.7' }), k);
    assert.notEqual(cacheKey('t1', d, { key: 'clang', version: '19.1.8' }), k);
    assert.notEqual(cacheKey('t1', d, { key: 'gcc', version: '19.1.7' }), k);
  });

  it('refuse to guess an upload whose hash is unknown', () => {
    assert.throws(() => inputDigest({ ...base, uploadHashes: new Map() }), /no sha256 known for upload u1/);
  });
});
