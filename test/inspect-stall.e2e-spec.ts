import { strict as assert } from 'node:assert';
import { after, before, describe, it, type TestContext } from 'node:test';
import { mlp } from '../compiler/test/models';
import { manyDimsModel, manyNodesModel } from './support/hostile-models';
import { Kiln, startKiln } from './support/harness';
import { LatencyProbe, median } from './support/latency-probe';

/** The upload limit in these tests; the worst models fill most of it. */
const LIMIT = 6 * 1024 * 1024;

/**
 * A model made to be costly to read (millions of packed dimensions, hundreds of thousands of
 * nodes) is refused with a 4xx, and while it is read the API goes on answering: /healthz is
 * timed from a thread of its own, against an idle baseline taken the same way.
 */
describe('reading an uploaded model never stalls the API', () => {
  let kiln: Kiln;
  let budgeted: Kiln;
  const probes: LatencyProbe[] = [];

  before(async () => {
    kiln = await startKiln({ worker: false, env: { KILN_MAX_UPLOAD_BYTES: String(LIMIT) } });
    // Bounds that let a costly model through to be read, within a budget it overruns.
    budgeted = await startKiln({
      worker: false,
      env: { KILN_MAX_UPLOAD_BYTES: String(LIMIT), KILN_MODEL_MAX_NODES: '1000000', KILN_MODEL_CHECK_TIMEOUT_MS: '1000', KILN_MODEL_CHECK_MEMORY_MB: '64' },
    });
  });
  after(async () => {
    for (const p of probes) await p.close();
    await kiln?.close();
    await budgeted?.close();
  });

  async function upload(k: Kiln, bytes: Uint8Array): Promise<string> {
    assert.ok(bytes.length <= LIMIT, `${bytes.length} bytes is over the limit`);
    const res = await k.http().post('/v1/uploads?filename=hostile.onnx').set(k.auth).set('Content-Type', 'application/octet-stream').send(Buffer.from(bytes));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }

  /**
   * Runs `request` while /healthz is probed, and checks the API stayed responsive: the median
   * wait during the request stays under max(100 ms, 10 x the idle median).
   */
  async function responsiveDuring<T>(t: TestContext, k: Kiln, request: () => Promise<T>): Promise<T> {
    const probe = new LatencyProbe(`${k.baseUrl}/healthz`);
    probes.push(probe);
    const idle = await probe.measure(() => new Promise((r) => setTimeout(r, 1000)));
    const busy = await probe.measure(request);
    const idleMedian = median(idle.samples);
    const busyMedian = median(busy.samples);
    const bound = Math.max(100, 10 * idleMedian);
    t.diagnostic(`/healthz: idle median ${idleMedian.toFixed(1)} ms (${idle.samples.length} samples); during the request median ${busyMedian.toFixed(1)} ms, slowest ${Math.max(...busy.samples).toFixed(0)} ms (${busy.samples.length} samples); bound ${bound.toFixed(0)} ms`);
    assert.ok(idle.samples.every(Number.isFinite) && busy.samples.every(Number.isFinite), 'every /healthz answered');
    assert.ok(busy.samples.length > 0);
    assert.ok(busyMedian < bound, `/healthz took ${busyMedian.toFixed(1)} ms (median) while the model was read, against ${idleMedian.toFixed(1)} ms idle`);
    return busy.result;
  }

  it('an initializer of millions of packed dimensions: 400 at once, and /healthz answers meanwhile', async (t) => {
    // One byte per dimension: as many as the upload limit holds.
    const bytes = manyDimsModel(LIMIT - 256);
    const uploadId = await upload(kiln, bytes);
    const res = await responsiveDuring(t, kiln, () => kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId }));
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.match(res.body.message, /initializer w declares \d{7} dimensions; a tensor may have at most 64/);
    const job = await responsiveDuring(t, kiln, () => kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId }, targets: ['x86_64-linux-gnu'] }));
    assert.equal(job.status, 400, JSON.stringify(job.body));
    assert.match(job.body.message, /declares \d{7} dimensions/);
  });

  it('a tensor that claims more elements than its bytes hold: 400 that says so', async () => {
    const uploadId = await upload(kiln, manyDimsModel(40, 2));
    const res = await kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.match(res.body.message, /initializer w declares 1099511627776 elements, but its data holds at most 1/);
  });

  it('200,000 nodes: 400 that names the bound, and /healthz answers meanwhile', async (t) => {
    const uploadId = await upload(kiln, manyNodesModel(200_000));
    const res = await responsiveDuring(t, kiln, () => kiln.http().post('/v1/models/inspect').set(kiln.auth).send({ uploadId }));
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.match(res.body.message, /more than 100000 nodes .*KILN_MODEL_MAX_NODES/);
    const job = await kiln.http().post('/v1/jobs').set(kiln.auth).send({ model: { uploadId }, targets: ['x86_64-linux-gnu'] });
    assert.equal(job.status, 400, JSON.stringify(job.body));
    assert.match(job.body.message, /more than 100000 nodes/);
  });

  it('a model within the bounds that overruns its time or memory: 422 that says which, /healthz answers meanwhile, and the next model is read', async (t) => {
    const uploadId = await upload(budgeted, manyNodesModel(300_000));
    const res = await responsiveDuring(t, budgeted, () => budgeted.http().post('/v1/models/inspect').set(budgeted.auth).send({ uploadId }));
    assert.equal(res.status, 422, JSON.stringify(res.body));
    assert.match(res.body.message, /^model: the model could not be inspected within (1 s|64 MB of memory)/);
    const job = await responsiveDuring(t, budgeted, () => budgeted.http().post('/v1/jobs').set(budgeted.auth).send({ model: { uploadId }, targets: ['x86_64-linux-gnu'] }));
    assert.equal(job.status, 422, JSON.stringify(job.body));
    assert.match(job.body.message, /could not be inspected within/);
    // The thread that overran was ended; the next model gets a new one.
    const good = await upload(budgeted, mlp());
    const ok = await budgeted.http().post('/v1/models/inspect').set(budgeted.auth).send({ uploadId: good, inputShapes: { x: [2, 16] } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.outputs, [{ name: 'softmax_3', dtype: 'float32', shape: [2, 10] }]);
    assert.equal((await budgeted.http().get('/healthz')).status, 200);
  });
});
