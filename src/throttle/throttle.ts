import type { DynamicModule, Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { ThrottlerModule } from '@nestjs/throttler';
import type { Redis } from 'ioredis';
import { KILN_CONFIG, type KilnConfig } from '../config/config';
import { REDIS } from '../queue/redis.module';
import { RedisThrottlerStorage } from './redis-throttler.storage';
import { TenantThrottlerGuard } from './tenant-throttler.guard';

/** The rate limit's module and guard; nothing when KILN_RATE_LIMIT_PER_MINUTE is 0. */
export function rateLimiting(config: KilnConfig): { imports: DynamicModule[]; guards: Provider[] } {
  if (config.rateLimitPerMinute === 0) return { imports: [], guards: [] };
  return {
    imports: [
      ThrottlerModule.forRootAsync({
        inject: [REDIS, KILN_CONFIG],
        // blockDuration 0: a tenant over the limit waits until its window ends, not longer.
        useFactory: (redis: Redis, c: KilnConfig) => ({
          throttlers: [{ name: 'default', ttl: 60_000, limit: c.rateLimitPerMinute, blockDuration: 0 }],
          storage: new RedisThrottlerStorage(redis, c),
        }),
      }),
    ],
    // After the API key guard (registered before it), which says whose request it is.
    guards: [{ provide: APP_GUARD, useClass: TenantThrottlerGuard }],
  };
}
