import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseRetryAfter, retryingFetch } from './index';

/** A scripted server: each call answers with the next entry (a status, or an error to throw). */
function scripted(answers: (number | Error | [number, Record<string, string>])[]) {
  const calls: Request[] = [];
  const fetchFn = (async (input: string | URL | Request) => {
    calls.push(input as Request);
    const a = answers[Math.min(calls.length - 1, answers.length - 1)];
    if (a instanceof Error) throw a;
    const [status, headers] = Array.isArray(a) ? a : [a, {}];
    return new Response(status === 204 ? null : '{}', { status, headers });
  }) as typeof fetch;
  return { fetchFn, calls };
}

describe('retryingFetch', () => {
  const base = { retries: 3, minDelayMs: 100, maxDelayMs: 1000 };

  it('retries 503 and connection errors, honouring Retry-After', async () => {
    const slept: number[] = [];
    const { fetchFn, calls } = scripted([[503, { 'Retry-After': '2' }], new TypeError('fetch failed'), 200]);
    const f = retryingFetch(fetchFn, { ...base, sleep: async (ms) => void slept.push(ms) });
    const res = await f('http://kiln.test/v1/jobs');
    assert.equal(res.status, 200);
    assert.equal(calls.length, 3);
    assert.ok(slept[0] >= 2000, `waited ${slept[0]} ms for Retry-After: 2`);
    assert.ok(slept[1] >= 50 && slept[1] <= 1000);
  });

  it('gives up after the retries and returns the last answer', async () => {
    const { fetchFn, calls } = scripted([429]);
    const res = await retryingFetch(fetchFn, { ...base, sleep: async () => undefined })('http://kiln.test/v1/targets');
    assert.equal(res.status, 429);
    assert.equal(calls.length, 4);
  });

  it('never retries a POST without an Idempotency-Key, and does retry one with it', async () => {
    const plain = scripted([503, 202]);
    const r1 = await retryingFetch(plain.fetchFn, { ...base, sleep: async () => undefined })('http://kiln.test/v1/jobs', { method: 'POST', body: '{}' });
    assert.equal(r1.status, 503);
    assert.equal(plain.calls.length, 1);
    const keyed = scripted([503, 202]);
    const r2 = await retryingFetch(keyed.fetchFn, { ...base, sleep: async () => undefined })('http://kiln.test/v1/jobs', { method: 'POST', body: '{"a":1}', headers: { 'Idempotency-Key': 'k1' } });
    assert.equal(r2.status, 202);
    assert.equal(keyed.calls.length, 2);
    assert.equal(await keyed.calls[1].text(), '{"a":1}', 'the body is sent again');
  });

  it('does not retry client errors', async () => {
    const { fetchFn, calls } = scripted([400, 200]);
    assert.equal((await retryingFetch(fetchFn, { ...base, sleep: async () => undefined })('http://kiln.test/v1/jobs/x')).status, 400);
    assert.equal(calls.length, 1);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('5'), 5000);
    assert.equal(parseRetryAfter(new Date(10_000).toUTCString(), 4_000), 6000);
    assert.equal(parseRetryAfter(null), null);
    assert.equal(parseRetryAfter('soon'), null);
  });
});
