import { strict as assert } from 'node:assert';
import { createServer, IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { deliverWebhook } from './deliver';
import { verifySignature } from './signature';

describe('deliverWebhook against a real local receiver', () => {
  let port: number;
  let seen: { headers: IncomingHttpHeaders; body: string }[] = [];
  let answer = 200;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      seen.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      if (answer === 302) res.writeHead(302, { Location: 'http://169.254.169.254/' }).end();
      else res.writeHead(answer).end('x'.repeat(200_000));
    });
  });
  const base = { eventId: 'e1', event: 'job.finished', body: '{"a":1}', secret: 'whsec_s', timeoutMs: 5000 };

  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('posts the signed body and reports the answer', async () => {
    seen = [];
    answer = 204;
    const r = await deliverWebhook({ ...base, url: `http://127.0.0.1:${port}/h`, allowPrivate: true });
    assert.deepEqual({ ok: r.ok, statusCode: r.statusCode, error: r.error }, { ok: true, statusCode: 204, error: null });
    assert.equal(seen[0].body, '{"a":1}');
    assert.equal(verifySignature('whsec_s', seen[0].headers['kiln-signature'] as string, seen[0].body), null);
    assert.equal(seen[0].headers['kiln-delivery'], 'e1');
  });

  it('a non-2xx answer, a redirect or a large body is a failure, and the redirect is not followed', async () => {
    answer = 500;
    const failed = await deliverWebhook({ ...base, url: `http://127.0.0.1:${port}/h`, allowPrivate: true });
    assert.deepEqual({ ok: failed.ok, statusCode: failed.statusCode, error: failed.error }, { ok: false, statusCode: 500, error: 'the receiver answered 500' });
    seen = [];
    answer = 302;
    const redirected = await deliverWebhook({ ...base, url: `http://127.0.0.1:${port}/h`, allowPrivate: true });
    assert.equal(redirected.ok, false);
    assert.equal(redirected.statusCode, 302);
    assert.equal(seen.length, 1);
  });

  it('refuses private addresses at delivery time unless allowed, by name or by literal address', async () => {
    seen = [];
    const disguised = ['::127.0.0.1', '::ffff:0:127.0.0.1', '2002:7f00:1::1'].map((a) => `http://[${a}]:${port}/h`);
    for (const url of [`http://127.0.0.1:${port}/h`, `http://localhost:${port}/h`, `http://[::ffff:127.0.0.1]:${port}/h`, ...disguised]) {
      const r = await deliverWebhook({ ...base, url, allowPrivate: false });
      assert.equal(r.ok, false, url);
      assert.equal(r.statusCode, null, url);
      assert.match(r.error!, /private or reserved address, which webhooks may not reach/, url);
    }
    assert.equal(seen.length, 0, 'nothing reached the receiver');
  });
});
