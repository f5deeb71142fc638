import { strict as assert } from 'node:assert';
import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { verifySignature } from '../src/webhooks/signature';
import { Kiln, startKiln, waitForJob } from './support/harness';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver on loopback that records every request and answers what each path asks. */
async function startReceiver(): Promise<{ url: string; received: Received[]; answers: Map<string, number[]>; close: () => Promise<void> }> {
  const received: Received[] = [];
  const answers = new Map<string, number[]>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const queue = answers.get(path) ?? [];
      res.writeHead(queue.length > 1 ? queue.shift()! : (queue[0] ?? 200)).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, received, answers, close: () => new Promise((r) => server.close(() => r())) };
}

const source = (n: number) => ({ language: 'c', files: [{ path: 'w.c', content: `int webhook_${n}(void) { return ${n}; }\n` }] });

interface Delivery {
  eventId: string;
  attempt: number;
  status: string;
  statusCode: number | null;
  error: string | null;
  nextRetryAt: string | null;
  url: string;
  event: string;
}

describe('webhooks', () => {
  let kiln: Kiln;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  async function deliveries(jobId: string, until: (d: Delivery[]) => boolean): Promise<Delivery[]> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await kiln.http().get(`/v1/jobs/${jobId}/webhooks`).set(kiln.auth);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      if (until(res.body.items)) return res.body.items;
      if (Date.now() > deadline) throw new Error(`deliveries of ${jobId}: ${JSON.stringify(res.body.items)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async function secret(): Promise<string> {
    const res = await kiln.http().get('/v1/webhooks/secret').set(kiln.auth);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.secret;
  }

  before(async () => {
    receiver = await startReceiver();
    // No worker at first: a job that finishes while none runs must still be announced later.
    kiln = await startKiln({ storage: 'fs', worker: false, env: { KILN_WEBHOOK_BACKOFF_MS: '100', KILN_WEBHOOK_MAX_ATTEMPTS: '3' } });
  });
  after(async () => {
    await kiln?.close();
    await receiver?.close();
  });

  it('announces a job canceled while no worker ran, once a worker starts, signed with the tenant secret', async () => {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: source(1), targets: ['x86_64-linux-gnu'], callbackUrl: `${receiver.url}/canceled` });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.callbackUrl, `${receiver.url}/canceled`);
    const canceled = await kiln.http().delete(`/v1/jobs/${res.body.id}`).set(kiln.auth);
    assert.equal(canceled.body.status, 'canceled');
    assert.deepEqual((await kiln.http().get(`/v1/jobs/${res.body.id}/webhooks`).set(kiln.auth)).body.items, []);

    await kiln.startWorker();
    const [d] = await deliveries(res.body.id, (ds) => ds.length > 0);
    assert.equal(d.status, 'delivered');
    assert.equal(d.statusCode, 200);
    assert.equal(d.attempt, 1);
    assert.equal(d.event, 'job.finished');
    const got = receiver.received.filter((r) => r.path === '/canceled');
    assert.equal(got.length, 1);
    assert.equal(verifySignature(await secret(), got[0].headers['kiln-signature'] as string, got[0].body), null);
    assert.equal(got[0].headers['kiln-event'], 'job.finished');
    assert.equal(got[0].headers['kiln-delivery'], d.eventId);
    const body = JSON.parse(got[0].body);
    assert.equal(body.id, d.eventId);
    assert.equal(body.type, 'job.finished');
    assert.equal(body.data.job.id, res.body.id);
    assert.equal(body.data.job.status, 'canceled');
    assert.deepEqual(body.data.job.builds.map((b: { status: string; target: string }) => [b.target, b.status]), [['x86_64-linux-gnu', 'canceled']]);
  });

  it('posts a finished job once, with the same body a signature covers', async () => {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: source(2), targets: ['x86_64-linux-gnu', 'wasm32-wasi'], callbackUrl: `${receiver.url}/ok?job=2` });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const job = await waitForJob(kiln, res.body.id);
    assert.equal(job.status, 'succeeded');
    const [d] = await deliveries(res.body.id, (ds) => ds.some((x) => x.status === 'delivered'));
    const got = receiver.received.filter((r) => r.path === '/ok?job=2');
    assert.equal(got.length, 1);
    const body = JSON.parse(got[0].body);
    assert.equal(body.data.job.status, 'succeeded');
    assert.deepEqual(body.data.job.builds.map((b: { id: string }) => b.id), job.builds.map((b) => b.id));
    assert.equal(d.url, `${receiver.url}/ok?job=2`);
    // A tampered body does not verify.
    assert.equal(verifySignature(await secret(), got[0].headers['kiln-signature'] as string, got[0].body.replace('succeeded', 'failed')), 'signature does not match');
  });

  it('retries a failing receiver with backoff, recording every attempt, and gives up after the last', async () => {
    receiver.answers.set('/flaky', [500, 502, 200]);
    const flaky = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: source(3), targets: ['x86_64-linux-gnu'], callbackUrl: `${receiver.url}/flaky` });
    receiver.answers.set('/down', [503]);
    const down = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: source(4), targets: ['x86_64-linux-gnu'], callbackUrl: `${receiver.url}/down` });

    const f = await deliveries(flaky.body.id, (ds) => ds.some((x) => x.status === 'delivered'));
    assert.deepEqual(f.map((x) => [x.attempt, x.status, x.statusCode]), [[1, 'retrying', 500], [2, 'retrying', 502], [3, 'delivered', 200]]);
    assert.equal(new Set(f.map((x) => x.eventId)).size, 1, 'every attempt carries the same event id');
    assert.ok(f[0].nextRetryAt && f[1].nextRetryAt && !f[2].nextRetryAt);
    assert.match(f[0].error!, /answered 500/);
    const bodies = receiver.received.filter((r) => r.path === '/flaky').map((r) => r.body);
    assert.equal(bodies.length, 3);
    assert.equal(new Set(bodies).size, 1, 'every attempt sends the same body');

    const d = await deliveries(down.body.id, (ds) => ds.some((x) => x.status === 'failed'));
    assert.deepEqual(d.map((x) => [x.attempt, x.status, x.statusCode]), [[1, 'retrying', 503], [2, 'retrying', 503], [3, 'failed', 503]]);
    assert.equal(d[2].nextRetryAt, null);
  });

  it('records a receiver that cannot be reached', async () => {
    const closed = await startReceiver();
    await closed.close(); // nothing listens on its port any more
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: source(5), targets: ['x86_64-linux-gnu'], callbackUrl: `${closed.url}/gone` });
    const d = await deliveries(res.body.id, (ds) => ds.some((x) => x.status === 'failed'));
    assert.equal(d.length, 3);
    assert.equal(d[0].statusCode, null);
    assert.match(d[0].error!, /ECONNREFUSED/);
  });

  it('rotates the signing secret: new deliveries verify with the new one only', async () => {
    const old = await secret();
    assert.match(old, /^whsec_/);
    assert.equal(await secret(), old, 'reading the secret does not change it');
    const rotated = await kiln.http().post('/v1/webhooks/secret').set(kiln.auth);
    assert.equal(rotated.status, 201, JSON.stringify(rotated.body));
    assert.notEqual(rotated.body.secret, old);
    assert.equal(await secret(), rotated.body.secret);

    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: source(6), targets: ['x86_64-linux-gnu'], callbackUrl: `${receiver.url}/rotated` });
    await deliveries(res.body.id, (ds) => ds.some((x) => x.status === 'delivered'));
    const [got] = receiver.received.filter((r) => r.path === '/rotated');
    assert.equal(verifySignature(rotated.body.secret, got.headers['kiln-signature'] as string, got.body), null);
    assert.equal(verifySignature(old, got.headers['kiln-signature'] as string, got.body), 'signature does not match');
  });

  it('refuses callback URLs it will not call, with the reason, and keeps nothing', async () => {
    const post = (callbackUrl: unknown) => kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: source(7), targets: ['x86_64-linux-gnu'], callbackUrl });
    const before = (await kiln.http().get('/v1/jobs?limit=100').set(kiln.auth)).body.items.length;
    for (const [url, why] of [
      ['ftp://example.com/hook', /must use http or https, not ftp/],
      ['not a url', /not a valid URL/],
      ['https://user:secret@example.com/hook', /user name or password/],
      [42, /callbackUrl must be a string/],
    ] as const) {
      const res = await post(url);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      const text = Array.isArray(res.body.message) ? res.body.message.join('; ') : res.body.message;
      assert.match(text, why);
    }
    assert.equal((await kiln.http().get('/v1/jobs?limit=100').set(kiln.auth)).body.items.length, before);
  });
});

describe('webhooks to private addresses, by default', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs', worker: false, env: { KILN_WEBHOOK_ALLOW_PRIVATE: 'false' } });
  });
  after(async () => {
    await kiln?.close();
  });

  it('refuses loopback, private, link-local and metadata addresses', async () => {
    for (const [url, why] of [
      ['http://127.0.0.1:9/hook', /"127.0.0.1" is a loopback, private, link-local or reserved address/],
      ['http://[::1]/hook', /"::1" is a loopback/],
      ['http://10.0.0.5/hook', /"10.0.0.5" is a loopback/],
      ['http://169.254.169.254/latest/meta-data/', /"169.254.169.254" is a loopback/],
      ['http://localhost:8080/hook', /"localhost" resolves to (127.0.0.1|::1), a loopback/],
    ] as const) {
      const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: source(8), targets: ['x86_64-linux-gnu'], callbackUrl: url });
      assert.equal(res.status, 400, `${url}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.message, why);
    }
  });
});
