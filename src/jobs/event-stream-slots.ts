import { createHash, randomUUID } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { Observable } from 'rxjs';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { REDIS } from '../queue/redis.module';
import { TooManyRequestsException } from '../quotas/quotas.service';

/**
 * Takes a slot if the tenant holds fewer than the limit: the open streams are a sorted set of
 * stream ids scored with when their lease ends, so a slot whose API instance died frees itself.
 * KEYS: the set. ARGV: now (ms), lease (ms), limit, stream id. Returns {taken (0/1), open}.
 */
const TAKE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
local open = redis.call('ZCARD', KEYS[1])
if open >= tonumber(ARGV[3]) then return {0, open} end
redis.call('ZADD', KEYS[1], tonumber(ARGV[1]) + tonumber(ARGV[2]), ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {1, open + 1}
`;
const TAKE_SHA1 = createHash('sha1').update(TAKE).digest('hex');

/** Seconds a tenant at its limit is asked to wait. */
export const EVENT_STREAM_RETRY_AFTER_SECONDS = 10;

/**
 * The cap on event streams (GET /v1/jobs/{id}/events) a tenant holds open at once
 * (KILN_MAX_EVENT_STREAMS_PER_TENANT), counted in Redis across API instances. Each open stream
 * holds a slot with a lease it renews while it is open; the slot is given back when the stream
 * ends or its client leaves, and a lease not renewed (an API instance that died) runs out.
 */
@Injectable()
export class EventStreamSlots {
  private readonly logger = new Logger('EventStreams');

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KILN_CONFIG) private readonly config: Pick<KilnConfig, 'queuePrefix' | 'maxEventStreamsPerTenant'>,
  ) {}

  /** How long a slot is held without renewal; renewed every third of it. */
  leaseMs = 60_000;

  private key(tenantId: string): string {
    return `${this.config.queuePrefix}:event-streams:{${tenantId}}`;
  }

  /**
   * Takes a slot for one of the tenant's streams (a 429 when it holds the limit already), and
   * returns the stream that `open` makes, holding the slot for as long as it is subscribed.
   */
  async hold<T>(tenantId: string, open: () => Observable<T>): Promise<Observable<T>> {
    const limit = this.config.maxEventStreamsPerTenant;
    if (limit === 0) return open();
    const key = this.key(tenantId);
    const id = randomUUID();
    let taken: boolean;
    let count = 0;
    try {
      const args = [1, key, Date.now(), this.leaseMs, limit, id] as const;
      const reply = (await this.redis.evalsha(TAKE_SHA1, ...args).catch((e: Error) => {
        if (!/NOSCRIPT/.test(e.message)) throw e;
        return this.redis.eval(TAKE, ...args);
      })) as number[];
      taken = reply[0] === 1;
      count = reply[1];
    } catch (e) {
      // The cap protects the service; it must not take event streams down with Redis.
      this.logger.warn(`event stream cap not applied (Redis: ${(e as Error).message})`);
      return open();
    }
    if (!taken) {
      throw new TooManyRequestsException(
        `this tenant has ${count} event streams open, the most it may hold at once (KILN_MAX_EVENT_STREAMS_PER_TENANT is ${limit}); close one, or poll GET /v1/jobs/{id}`,
        EVENT_STREAM_RETRY_AFTER_SECONDS,
      );
    }
    const release = () => {
      this.redis.zrem(key, id).catch((e: Error) => this.logger.warn(`event stream slot not given back (Redis: ${e.message}); its lease runs out`));
    };
    return new Observable<T>((subscriber) => {
      const renew = setInterval(() => {
        this.redis
          .zadd(key, 'XX', Date.now() + this.leaseMs, id)
          .then(() => this.redis.pexpire(key, this.leaseMs))
          .catch((e: Error) => this.logger.warn(`event stream slot not renewed (Redis: ${e.message})`));
      }, Math.max(1000, Math.floor(this.leaseMs / 3)));
      renew.unref();
      const inner = open().subscribe(subscriber);
      return () => {
        clearInterval(renew);
        inner.unsubscribe();
        release();
      };
    });
  }

  /** The tenant's open streams, as Redis counts them (tests, metrics). */
  async open(tenantId: string): Promise<number> {
    const key = this.key(tenantId);
    await this.redis.zremrangebyscore(key, '-inf', Date.now());
    return this.redis.zcard(key);
  }
}
