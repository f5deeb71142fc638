import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { SourceInput } from '../database/entities/job.entity';
import type { CanonicalTarget } from '../targets/target';
import type { KernelVerifySpec } from '../verification/spec';
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

  it('follow the content of the uploads a verification names, not their ids', () => {
    const verify = (input: string, expected: string, ref: string): KernelVerifySpec => ({
      kind: 'kernel',
      entry: 'k',
      args: [
        { name: 'x', kind: 'buffer', dtype: 'float32', shape: [2], dir: 'in', range: [-1, 1], input: { uploadId: input } },
        { name: 'y', kind: 'buffer', dtype: 'float32', shape: [2], dir: 'out', range: [-1, 1], expected: { uploadId: expected } },
      ],
      tolerance: { rtol: 1e-5, atol: 1e-6, maxUlp: null },
      seed: 1,
      timeoutMs: 1000,
      reference: { files: [{ path: 'ref.c', uploadId: ref }], options: [] },
    });
    const hashes = new Map([...base.uploadHashes, ['i1', 'a'.repeat(64)], ['i2', 'a'.repeat(64)], ['e1', 'b'.repeat(64)], ['e2', 'c'.repeat(64)], ['r1', 'd'.repeat(64)], ['r2', 'e'.repeat(64)]]);
    const d = inputDigest({ ...base, uploadHashes: hashes, verify: verify('i1', 'e1', 'r1') });
    // Another upload with the same bytes is the same input.
    assert.equal(inputDigest({ ...base, uploadHashes: hashes, verify: verify('i2', 'e1', 'r1') }), d);
    // New expected outputs or a new reference file is a new input.
    assert.notEqual(inputDigest({ ...base, uploadHashes: hashes, verify: verify('i1', 'e2', 'r1') }), d);
    assert.notEqual(inputDigest({ ...base, uploadHashes: hashes, verify: verify('i1', 'e1', 'r2') }), d);
    assert.throws(() => inputDigest({ ...base, verify: verify('i1', 'e1', 'r1') }), /no sha256 known for upload [ier]1/);
    // A check that names no upload hashes as it always did: its spec as stored.
    const plain: KernelVerifySpec = { ...verify('i1', 'e1', 'r1'), args: [{ name: 'y', kind: 'buffer', dtype: 'float32', shape: [2], dir: 'out', range: [-1, 1] }], reference: undefined };
    assert.equal(inputDigest({ ...base, verify: plain }), inputDigest({ ...base, verify: JSON.parse(JSON.stringify(plain)) }));
    assert.notEqual(inputDigest({ ...base, verify: plain }), inputDigest({ ...base, verify: { ...plain, seed: 2 } }));
  });

  it('refuse to guess an upload whose hash is unknown', () => {
    assert.throws(() => inputDigest({ ...base, uploadHashes: new Map() }), /no sha256 known for upload u1/);
  });
});
