import { createHash } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { ThrottlerStorageRecord } from '@nestjs/throttler/dist/throttler-storage-record.interface';
import type { Redis } from 'ioredis';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { REDIS } from '../queue/redis.module';

/**
 * One atomic step per request: count the hit in a fixed window (the first hit starts it and sets
 * its expiry), and once the count passes the limit, block the tracker for the block duration
 * (0: until the window ends). KEYS: hits, block. ARGV: window ms, limit, block ms. Returns hits, ms left in the window,
 * blocked (0/1), ms left of the block.
 */
const INCREMENT = `
local blockLeft = redis.call('PTTL', KEYS[2])
if blockLeft > 0 then
  local hits = tonumber(redis.call('GET', KEYS[1]) or '0')
  local left = redis.call('PTTL', KEYS[1])
  if left < 0 then left = 0 end
  return {hits, left, 1, blockLeft}
end
local hits = redis.call('INCR', KEYS[1])
local left = redis.call('PTTL', KEYS[1])
if left < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  left = tonumber(ARGV[1])
end
if hits > tonumber(ARGV[2]) then
  local block = tonumber(ARGV[3])
  if block <= 0 then block = left end
  redis.call('SET', KEYS[2], '1', 'PX', block)
  return {hits, left, 1, block}
end
return {hits, left, 0, 0}
`;

const INCREMENT_SHA1 = createHash('sha1').update(INCREMENT).digest('hex');

/**
 * Throttler storage in Redis, so every API instance counts against the same numbers. (No
 * published Redis storage supports this NestJS version; this is the whole of what one does.)
 * Times go in as milliseconds and come out as seconds, as the throttler guard expects.
 */
@Injectable()
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger(RedisThrottlerStorage.name);

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KILN_CONFIG) private readonly config: Pick<KilnConfig, 'queuePrefix'>,
  ) {}

  /** One hash tag per tracker keeps both keys on one Redis Cluster slot. */
  private base(key: string, throttlerName: string): string {
    return `${this.config.queuePrefix}:throttle:${throttlerName}:{${key}}`;
  }

  async increment(key: string, ttl: number, limit: number, blockDuration: number, throttlerName: string): Promise<ThrottlerStorageRecord> {
    const base = this.base(key, throttlerName);
    try {
      const args = [2, `${base}:hits`, `${base}:block`, Math.max(1, Math.round(ttl)), limit, Math.max(0, Math.round(blockDuration))] as const;
      // By its digest: Redis keeps the script compiled, and the request does not carry it. Only
      // a Redis that has not seen it yet (restarted, or new) gets the text.
      const reply = await this.redis.evalsha(INCREMENT_SHA1, ...args).catch((e: Error) => {
        if (!/NOSCRIPT/.test(e.message)) throw e;
        return this.redis.eval(INCREMENT, ...args);
      });
      const [hits, left, blocked, blockLeft] = reply as number[];
      return { totalHits: hits, timeToExpire: Math.ceil(left / 1000), isBlocked: blocked === 1, timeToBlockExpire: Math.ceil(blockLeft / 1000) };
    } catch (e) {
      // Rate limiting protects the service; it must not take it down with Redis. Let the request through.
      this.logger.warn(`rate limit not applied (Redis: ${(e as Error).message})`);
      return { totalHits: 0, timeToExpire: 0, isBlocked: false, timeToBlockExpire: 0 };
    }
  }

  /** Seconds the tracker is still blocked for, without counting a hit; 0 when it is not blocked. */
  async blockedFor(key: string, throttlerName: string): Promise<number> {
    try {
      const left = await this.redis.pttl(`${this.base(key, throttlerName)}:block`);
      return left > 0 ? Math.ceil(left / 1000) : 0;
    } catch (e) {
      this.logger.warn(`rate limit not applied (Redis: ${(e as Error).message})`);
      return 0;
    }
  }
}
