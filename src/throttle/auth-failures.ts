import { isIP } from 'node:net';
import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { REDIS } from '../queue/redis.module';
import { TooManyRequestsException } from '../quotas/quotas.service';
import { RedisThrottlerStorage } from './redis-throttler.storage';

/** The throttler name under which failed authentications are counted (tenants' requests: "default"). */
export const AUTH_FAILURES = 'auth-failures';

/** The eight 16-bit groups of an IPv6 address, as numbers. */
function ipv6Groups(ip: string): number[] {
  let text = ip.replace(/%.*$/, '');
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number);
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  return [...left, ...Array<number>(8 - left.length - right.length).fill(0), ...right];
}

/**
 * Whose failures count together: an IPv4 address (also when written IPv4-mapped, ::ffff:a.b.c.d),
 * or the /64 network of an IPv6 address, since one host commonly has a whole /64 to pick
 * addresses from.
 */
export function clientKey(ip: string | undefined): string {
  if (!ip) return 'ip:unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return `ip:${mapped[1]}`;
  if (isIP(ip.replace(/%.*$/, '')) !== 6) return `ip:${ip}`;
  return `ip6:${ipv6Groups(ip)
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/**
 * Rate limit of requests without a valid API key, per client address (KILN_AUTH_FAILURES_PER_MINUTE),
 * counted in Redis so every API instance shares the count. The tenants' own limit can only count
 * requests whose key is known; without this, guessing keys would be unlimited. Once an address
 * is past the limit, its requests are refused with 429 before their key is even looked at (so a
 * right guess is not told apart from a wrong one) until the minute ends; requests with a valid
 * key from an address that is not blocked are never counted.
 */
@Injectable()
export class AuthFailureLimiter {
  private readonly storage: RedisThrottlerStorage;
  readonly perMinute: number;

  constructor(@Inject(REDIS) redis: Redis, @Inject(KILN_CONFIG) config: KilnConfig) {
    this.storage = new RedisThrottlerStorage(redis, config);
    this.perMinute = config.authFailuresPerMinute;
  }

  /** Throws 429 while this address is blocked for having sent too many requests without a valid key. */
  async check(ip: string | undefined): Promise<void> {
    if (this.perMinute === 0) return;
    const wait = await this.storage.blockedFor(clientKey(ip), AUTH_FAILURES);
    if (wait > 0) throw this.tooMany(wait);
  }

  /** Counts a request without a valid key; throws 429 when it is one too many (else the caller answers 401). */
  async failed(ip: string | undefined): Promise<void> {
    if (this.perMinute === 0) return;
    const r = await this.storage.increment(clientKey(ip), 60_000, this.perMinute, 0, AUTH_FAILURES);
    if (r.isBlocked) throw this.tooMany(Math.max(1, r.timeToBlockExpire));
  }

  private tooMany(wait: number): TooManyRequestsException {
    return new TooManyRequestsException(
      `too many requests without a valid API key from this address (more than ${this.perMinute} a minute, KILN_AUTH_FAILURES_PER_MINUTE); try again in ${wait} s`,
      wait,
    );
  }
}
