import { Global, Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';
import { Redis } from 'ioredis';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { redisConnectionOptions } from './queue.types';

export const REDIS = Symbol('REDIS');

@Injectable()
class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

/** One shared Redis client for Kiln's own keys (worker registry, cancel messages). */
@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [KILN_CONFIG],
      useFactory: async (config: KilnConfig) => {
        // No offline queue: while Redis is away, commands fail at once instead of piling up.
        const redis = new Redis({ ...redisConnectionOptions(config.redisUrl), maxRetriesPerRequest: 2, enableOfflineQueue: false });
        await new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => {
            redis.disconnect();
            reject(new Error(`cannot reach Redis at ${config.redisUrl} (KILN_REDIS_URL)`));
          }, 10_000);
          redis.once('ready', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        redis.on('error', () => undefined); // reconnects by itself; readiness reports the outage
        return redis;
      },
    },
    RedisCloser,
  ],
  exports: [REDIS],
})
export class RedisModule {}
