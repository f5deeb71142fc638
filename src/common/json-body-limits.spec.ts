import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { jsonDepth, MAX_JSON_DEPTH, unstorableText, verifyJsonDepth } from './json-body-limits';

const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('jsonDepth', () => {
  it('counts objects and arrays within each other, not brackets in strings', () => {
    assert.equal(jsonDepth(bytes('{}')), 1);
    assert.equal(jsonDepth(bytes('{"a":[1,{"b":[]}],"c":{}}')), 4);
    assert.equal(jsonDepth(bytes('{"a":"[[[{{{"}')), 1);
    assert.equal(jsonDepth(bytes('{"a":"\\"[[[","b":"\\\\"}')), 1);
    assert.equal(jsonDepth(bytes('{"é✓":"[", "x": [[]]}')), 3);
    assert.equal(jsonDepth(bytes(`${'['.repeat(1_000_000)}${']'.repeat(1_000_000)}`)), 1_000_000);
    // Stops counting past the bound.
    assert.equal(jsonDepth(bytes(`${'['.repeat(1000)}${']'.repeat(1000)}`), 10), 11);
  });

  it('verify refuses past MAX_JSON_DEPTH with a 400 the body parser keeps', () => {
    verifyJsonDepth(null, null, bytes(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`));
    assert.throws(
      () => verifyJsonDepth(null, null, bytes(`${'['.repeat(MAX_JSON_DEPTH + 1)}${']'.repeat(MAX_JSON_DEPTH + 1)}`)),
      (e: { status?: number; type?: string; message: string }) => e.status === 400 && e.type === 'entity.verify.failed' && /more than 64 levels deep/.test(e.message),
    );
  });
});

describe('unstorableText', () => {
  it('names where a NUL character or a lone surrogate is, in values and keys', () => {
    assert.equal(unstorableText({ a: 'fine', b: ['x', { c: 'é✓😀' }] }), null);
    assert.equal(unstorableText({ verify: { program: { stdin: 'a\u0000' } } }), 'verify.program.stdin contains a NUL character (\\u0000), which cannot be stored');
    assert.match(unstorableText({ files: [{ content: 'ok' }, { content: '\udc00' }] })!, /^files\[1\]\.content is not valid Unicode \(a lone surrogate\)/);
    assert.match(unstorableText({ 'odd key': { 'x\u0000': 1 } })!, /^a key in \["odd key"\] contains a NUL character/);
    assert.match(unstorableText(['\ud83d'])!, /^\[0\] is not valid Unicode/);
    assert.equal(unstorableText({ n: 1, t: true, z: null }), null);
  });

  it('walks a deep value without recursion', () => {
    let v: unknown = 'x\u0000';
    for (let i = 0; i < 200_000; i++) v = [v];
    assert.match(unstorableText(v)!, /contains a NUL character/);
  });
});
