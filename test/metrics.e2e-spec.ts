import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Kiln, startKiln, waitForJob } from './support/harness';

const TOKEN = 'metrics-token-for-tests-0123456789';

describe('Prometheus metrics', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs', env: { KILN_METRICS_TOKEN: TOKEN, KILN_AUTH_FAILURES_PER_MINUTE: '5' } });
  });
  after(async () => {
    await kiln?.close();
  });

  it('needs the metrics token when one is set, and limits guessing it like guessing API keys', async () => {
    const from = (ip: string) => ({ 'X-Forwarded-For': ip });
    assert.equal((await kiln.http().get('/metrics').set(from('203.0.113.7'))).status, 403);
    assert.equal((await kiln.http().get('/metrics').set(from('203.0.113.7')).set('Authorization', 'Bearer wrong-token-of-the-same-length-00')).status, 403);
    for (let i = 0; i < 3; i++) assert.equal((await kiln.http().get('/metrics').set(from('203.0.113.7')).set('Authorization', `Bearer guess-${i}`)).status, 403);
    const blocked = await kiln.http().get('/metrics').set(from('203.0.113.7')).set('Authorization', 'Bearer guess-5');
    assert.equal(blocked.status, 429);
    assert.ok(Number(blocked.headers['retry-after']) >= 1);
    // Blocked, the address is refused even with the right token; other addresses are not.
    assert.equal((await kiln.http().get('/metrics').set(from('203.0.113.7')).set('Authorization', `Bearer ${TOKEN}`)).status, 429);
    assert.equal((await kiln.http().get('/metrics').set(from('203.0.113.8')).set('Authorization', `Bearer ${TOKEN}`)).status, 200);
  });

  it('reports HTTP latency by route, queues by pool, builds by toolchain and target, and the cache', async () => {
    const res = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ source: { language: 'c', files: [{ path: 'm.c', content: `int f(void) { return ${Date.now() % 1000}; }\n` }] }, targets: ['x86_64-linux-gnu'] });
    assert.equal(res.status, 202);
    await waitForJob(kiln, res.body.id);
    const m = await kiln.http().get('/metrics').set('Authorization', `Bearer ${TOKEN}`);
    assert.equal(m.status, 200);
    assert.match(m.headers['content-type'], /text\/plain/);
    const text = m.text;
    assert.match(text, /kiln_http_request_duration_seconds_count\{method="POST",route="\/v1\/jobs",status="202"\} 1\b/);
    assert.match(text, /kiln_http_request_duration_seconds_bucket\{le="[\d.]+",method="GET",route="\/v1\/jobs\/:id",status="200"\} \d+/);
    assert.match(text, /kiln_queue_jobs\{pool="cpu",state="waiting"\} 0/);
    assert.match(text, /kiln_queue_oldest_waiting_seconds\{pool="cpu"\} 0/);
    assert.match(text, /kiln_builds\{status="succeeded",target="x86_64-linux-gnu",toolchain="clang"\} 1/);
    assert.match(text, /kiln_build_duration_seconds\{toolchain="clang",target="x86_64-linux-gnu",quantile="0.5"\} [\d.e-]+/);
    assert.match(text, /kiln_build_cache\{result="miss"\} 1/);
    assert.match(text, /kiln_api_process_resident_memory_bytes \d+/);
  });

  it('gives every request an id, keeping a sane one the client sent', async () => {
    const own = await kiln.http().get('/v1/targets').set(kiln.auth).set('X-Request-Id', 'ci-run-42.step-7');
    assert.equal(own.headers['x-request-id'], 'ci-run-42.step-7');
    const made = await kiln.http().get('/v1/targets').set(kiln.auth).set('X-Request-Id', 'not ok; injected\\nline');
    assert.match(made.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  });
});
