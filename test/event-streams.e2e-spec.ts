import { strict as assert } from 'node:assert';
import { get, type ClientRequest, type IncomingMessage } from 'node:http';
import { after, before, describe, it } from 'node:test';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AuthService } from '../src/auth/auth.service';
import { createApi } from '../src/bootstrap';
import { loadConfig } from '../src/config/config';
import { Kiln, startKiln } from './support/harness';

const SOURCE = { language: 'c', files: [{ path: 'a.c', content: 'int f(void) { return 1; }\n' }] };
const CAP = 3;

interface OpenStream {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
  req: ClientRequest;
  res: IncomingMessage;
  ended: Promise<void>;
}

/** Opens GET /v1/jobs/{id}/events and resolves once the answer's headers are in. */
function openStream(baseUrl: string, jobId: string, key: string): Promise<OpenStream> {
  return new Promise((resolve, reject) => {
    const req = get(`${baseUrl}/v1/jobs/${jobId}/events`, { headers: { Authorization: `Bearer ${key}`, Accept: 'text/event-stream' } }, (res) => {
      const s: OpenStream = { status: res.statusCode ?? 0, headers: res.headers, body: '', req, res, ended: new Promise((r) => res.on('close', () => r())) };
      res.setEncoding('utf8');
      res.on('data', (c: string) => (s.body += c));
      res.on('error', () => undefined);
      if (s.status === 200) resolve(s);
      else res.on('end', () => resolve(s));
    });
    req.on('error', reject);
  });
}

async function eventually(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Open event streams are capped per tenant across API instances: the next one is a 429, and closing one frees its slot. */
describe('event streams per tenant are capped', () => {
  let kiln: Kiln;
  let second: NestExpressApplication;
  let secondUrl: string;
  let otherKey: string;
  const streams: OpenStream[] = [];

  async function createJob(key: string): Promise<string> {
    const res = await kiln.http().post('/v1/jobs').set({ Authorization: `Bearer ${key}` }).send({ source: SOURCE, targets: ['x86_64-linux-gnu'] });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.id;
  }

  async function open(baseUrl: string, jobId: string, key = kiln.apiKey): Promise<OpenStream> {
    const s = await openStream(baseUrl, jobId, key);
    streams.push(s);
    return s;
  }

  before(async () => {
    // No worker: the builds stay queued, so their streams stay open.
    kiln = await startKiln({ worker: false, env: { KILN_MAX_EVENT_STREAMS_PER_TENANT: String(CAP) } });
    // A second API instance on the same database and Redis.
    second = await createApi(loadConfig(kiln.env));
    await second.listen(0, '127.0.0.1');
    secondUrl = `http://127.0.0.1:${(second.getHttpServer().address() as { port: number }).port}`;
    const auth = kiln.api.get(AuthService);
    const other = await auth.ensureTenant('other-tenant');
    otherKey = (await auth.createKey(other.id, 'other')).secret;
  });
  after(async () => {
    for (const s of streams) s.req.destroy();
    await second?.close();
    await kiln?.close();
  });

  it(`the ${CAP + 1}th open stream of a tenant is a 429 on any instance; another tenant's are not counted; a closed stream frees its slot`, async () => {
    const jobId = await createJob(kiln.apiKey);
    const opened = [await open(kiln.baseUrl, jobId), await open(secondUrl, jobId), await open(kiln.baseUrl, jobId)];
    for (const s of opened) assert.equal(s.status, 200);
    await eventually('the first events arrive', async () => opened.every((s) => s.body.includes('event: build')));

    for (const url of [kiln.baseUrl, secondUrl]) {
      const refused = await open(url, jobId);
      assert.equal(refused.status, 429, refused.body);
      const body = JSON.parse(refused.body);
      assert.match(body.message, new RegExp(`this tenant has ${CAP} event streams open, the most it may hold at once \\(KILN_MAX_EVENT_STREAMS_PER_TENANT is ${CAP}\\)`));
      assert.ok(Number(refused.headers['retry-after']) > 0, 'Retry-After');
    }

    // Another tenant has slots of its own.
    const theirs = await open(secondUrl, await createJob(otherKey), otherKey);
    assert.equal(theirs.status, 200, theirs.body);

    // A client that leaves gives its slot back.
    opened[1].req.destroy();
    await eventually('a slot is free again', async () => {
      const s = await open(kiln.baseUrl, jobId);
      if (s.status === 200) return true;
      assert.equal(s.status, 429);
      return false;
    });
    // The API goes on answering other requests meanwhile.
    assert.equal((await kiln.http().get(`/v1/jobs/${jobId}`).set(kiln.auth)).status, 200);
  });

  it('a stream that ends by itself (its job canceled) gives its slot back', async () => {
    for (const s of streams) s.req.destroy();
    streams.length = 0;
    const jobId = await createJob(kiln.apiKey);
    const opened: OpenStream[] = [];
    await eventually('every slot is free', async () => {
      const s = await open(kiln.baseUrl, jobId);
      if (s.status === 200) opened.push(s);
      return opened.length === CAP;
    });
    assert.equal((await open(kiln.baseUrl, jobId)).status, 429);
    assert.equal((await kiln.http().delete(`/v1/jobs/${jobId}`).set(kiln.auth)).status, 200);
    await Promise.all(opened.map((s) => s.ended));
    for (const s of opened) assert.match(s.body, /event: end/);
    await eventually('the ended streams free their slots', async () => (await open(kiln.baseUrl, jobId)).status === 200);
  });
});
