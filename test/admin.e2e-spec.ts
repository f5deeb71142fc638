import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';
import { Kiln, startKiln } from './support/harness';

describe('the queue dashboard', () => {
  let kiln: Kiln;
  before(async () => {
    kiln = await startKiln({ storage: 'fs', worker: false });
  });
  after(async () => {
    await kiln?.close();
  });

  it('asks a browser for the operator\'s admin key, and refuses other keys', async () => {
    const none = await kiln.http().get('/admin/queues');
    assert.equal(none.status, 401);
    assert.match(none.headers['www-authenticate'], /^Basic realm="Kiln queues"/);
    assert.equal((await kiln.http().get('/admin/queues').auth('admin', 'not-a-key')).status, 401);
    const created = await kiln.http().post('/v1/keys').set(kiln.auth).send({ name: 'ci', scopes: ['read', 'build'] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const builder = await kiln.http().get('/admin/queues').set('Authorization', `Bearer ${created.body.secret}`);
    assert.equal(builder.status, 403);
  });

  it('shows every pool\'s queue to the operator', async () => {
    const page = await kiln.http().get('/admin/queues').auth('operator', kiln.apiKey);
    assert.equal(page.status, 200);
    assert.match(page.text, /<title>Kiln queues<\/title>|Kiln queues/);
    const api = await kiln.http().get('/admin/queues/api/queues').auth('operator', kiln.apiKey);
    assert.equal(api.status, 200);
    const names = (api.body.queues as { name: string }[]).map((q) => q.name);
    for (const pool of ['cpu', 'wasm', 'verify-aarch64']) assert.ok(names.some((n) => n.endsWith(pool)), `${pool} in ${names}`);
  });
});
