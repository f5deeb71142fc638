import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { runChaos } from '../scripts/chaos';

/** The chaos run (npm run chaos, 200 builds) in a small size: the same checks, fewer builds. */
describe('chaos, small', () => {
  it('every build ends once, with consistent artifacts, while workers die and Redis and PostgreSQL restart', async () => {
    const r = await runChaos(10, 2, () => undefined);
    assert.deepEqual(r.problems, []);
    assert.equal(r.builds, 10);
    assert.ok(r.workerKills > 0);
    assert.ok((r.statuses.succeeded ?? 0) > 0, JSON.stringify(r.statuses));
  });
});
