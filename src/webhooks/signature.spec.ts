import { strict as assert } from 'node:assert';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { newWebhookSecret, signatureHeader, verifySignature } from './signature';

describe('webhook signatures', () => {
  const secret = 'whsec_test';
  const body = '{"id":"e1","type":"job.finished"}';
  const at = new Date('2026-01-01T00:00:00Z');

  it('signs "t.body" with HMAC-SHA256, Stripe style', () => {
    const header = signatureHeader(secret, body, at);
    const t = at.getTime() / 1000;
    assert.equal(header, `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`);
  });

  it('verifies a good signature within the tolerance and refuses everything else', () => {
    const header = signatureHeader(secret, body, at);
    assert.equal(verifySignature(secret, header, body, 300, new Date(at.getTime() + 299_000)), null);
    assert.equal(verifySignature(secret, header, body, 300, new Date(at.getTime() + 301_000)), 'timestamp outside the tolerance');
    assert.equal(verifySignature(secret, header, `${body} `, 300, at), 'signature does not match');
    assert.equal(verifySignature('whsec_other', header, body, 300, at), 'signature does not match');
    assert.equal(verifySignature(secret, header.replace(/t=\d+/, `t=${at.getTime() / 1000 + 1}`), body, 300, at), 'signature does not match');
    assert.equal(verifySignature(secret, undefined, body, 300, at), 'no Kiln-Signature header');
    assert.equal(verifySignature(secret, 'v1=abc', body, 300, at), 'malformed Kiln-Signature header');
  });

  it('makes secrets that differ', () => {
    const a = newWebhookSecret();
    assert.match(a, /^whsec_[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, newWebhookSecret());
  });
});
