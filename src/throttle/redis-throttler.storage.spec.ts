import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { redisConnectionOptions } from '../queue/queue.types';
import { RedisThrottlerStorage } from './redis-throttler.storage';

const REDIS_URL = process.env.KILN_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('RedisThrottlerStorage against the real Redis', () => {
  let redis: Redis;
  let storage: RedisThrottlerStorage;
  const prefix = `kiln-test-${randomBytes(4).toString('hex')}`;

  before(async () => {
    redis = new Redis(redisConnectionOptions(REDIS_URL));
    storage = new RedisThrottlerStorage(redis, { queuePrefix: prefix });
  });
  after(async () => {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length) await redis.del(...keys);
    await redis.quit();
  });

  it('counts hits in a window and blocks past the limit until the window ends', async () => {
    const a = await storage.increment('tenant:a', 60_000, 3, 0, 'default');
    assert.deepEqual({ hits: a.totalHits, blocked: a.isBlocked }, { hits: 1, blocked: false });
    assert.ok(a.timeToExpire > 0 && a.timeToExpire <= 60);
    await storage.increment('tenant:a', 60_000, 3, 0, 'default');
    const third = await storage.increment('tenant:a', 60_000, 3, 0, 'default');
    assert.equal(third.isBlocked, false);
    const fourth = await storage.increment('tenant:a', 60_000, 3, 0, 'default');
    assert.equal(fourth.isBlocked, true);
    assert.equal(fourth.totalHits, 4);
    assert.ok(fourth.timeToBlockExpire > 0 && fourth.timeToBlockExpire <= 60, String(fourth.timeToBlockExpire));
    // While blocked, hits are not counted further.
    const fifth = await storage.increment('tenant:a', 60_000, 3, 0, 'default');
    assert.equal(fifth.isBlocked, true);
    assert.equal(fifth.totalHits, 4);
    // Another tracker has its own count.
    assert.equal((await storage.increment('tenant:b', 60_000, 3, 0, 'default')).totalHits, 1);
  });

  it('counts concurrent hits exactly once each (the increment is atomic)', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => storage.increment('tenant:c', 60_000, 20, 0, 'default')));
    assert.deepEqual(results.map((r) => r.totalHits).sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => (i < 21 ? i + 1 : 21)).sort((x, y) => x - y));
    assert.equal(results.filter((r) => !r.isBlocked).length, 20);
  });

  it('says how long a tracker is blocked without counting a hit', async () => {
    assert.equal(await storage.blockedFor('tenant:e', 'default'), 0);
    await storage.increment('tenant:e', 60_000, 1, 0, 'default');
    assert.equal(await storage.blockedFor('tenant:e', 'default'), 0, 'at the limit, not past it');
    await storage.increment('tenant:e', 60_000, 1, 0, 'default');
    const left = await storage.blockedFor('tenant:e', 'default');
    assert.ok(left > 0 && left <= 60, String(left));
    const hits = await redis.get(`${prefix}:throttle:default:{tenant:e}:hits`);
    assert.ok((await storage.blockedFor('tenant:e', 'default')) <= left);
    assert.equal(await redis.get(`${prefix}:throttle:default:{tenant:e}:hits`), hits, 'looking does not count');
    assert.equal(await storage.blockedFor('tenant:e', 'other'), 0, 'each throttler has its own trackers');
  });

  it('starts a new window once the old one expires', async () => {
    await storage.increment('tenant:d', 50, 1, 0, 'default');
    assert.equal((await storage.increment('tenant:d', 50, 1, 0, 'default')).isBlocked, true);
    await new Promise((r) => setTimeout(r, 120));
    const fresh = await storage.increment('tenant:d', 50, 1, 0, 'default');
    assert.deepEqual({ hits: fresh.totalHits, blocked: fresh.isBlocked }, { hits: 1, blocked: false });
  });
});
