import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import type { KilnConfig } from '../config/config';
import { redisConnectionOptions, redisKeys } from '../queue/queue.types';
import { WorkerCapabilities, WorkerRegistry } from './worker-registry';

const REDIS_URL = process.env.KILN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('WorkerRegistry against the real Redis', () => {
  let redis: Redis;
  let registry: WorkerRegistry;
  const prefix = `kiln-test-${randomBytes(4).toString('hex')}`;
  const caps = (id: string): WorkerCapabilities => ({ id, pools: ['cpu'], toolchains: [], targets: [], startedAt: '', heartbeatAt: '' });
  before(() => {
    redis = new Redis(redisConnectionOptions(REDIS_URL));
    registry = new WorkerRegistry(redis, { queuePrefix: prefix } as KilnConfig);
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('lists the workers that announced themselves, until they withdraw or their announcement expires', async () => {
    await registry.announce(caps('a'), 30);
    await registry.announce(caps('b'), 1);
    assert.deepEqual((await registry.list()).map((w) => w.id).sort(), ['a', 'b']);
    await registry.withdraw('a');
    assert.deepEqual((await registry.list()).map((w) => w.id), ['b']);
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual(await registry.list(), []);
  });

  it('finds workers that announce only their key (an older version) while none is indexed', async () => {
    await redis.set(redisKeys.worker(prefix, 'old'), JSON.stringify(caps('old')), 'EX', 30);
    assert.deepEqual((await registry.list()).map((w) => w.id), ['old']);
    await redis.del(redisKeys.worker(prefix, 'old'));
  });
});
