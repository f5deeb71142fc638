import { Inject, Injectable, Logger, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { KILN_CONFIG, KilnConfig } from '../../src/config/config';
import { redisKeys } from '../../src/queue/queue.types';
import { REDIS } from '../../src/queue/redis.module';

/**
 * Builds running on this worker, by id, so that a cancel published by the API stops the
 * sandboxed process tree at once instead of letting it run to the end.
 */
@Injectable()
export class CancelRegistry implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(CancelRegistry.name);
  private readonly running = new Map<string, AbortController>();
  private subscriber: Redis | null = null;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    this.subscriber = this.redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
    this.subscriber.on('error', () => undefined);
    this.subscriber.on('message', (_channel: string, buildId: string) => {
      const c = this.running.get(buildId);
      if (c) {
        this.logger.log(`build ${buildId} canceled by the client; stopping it`);
        c.abort();
      }
    });
    await this.subscriber.subscribe(redisKeys.cancelChannel(this.config.queuePrefix));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  register(buildId: string, c: AbortController): void {
    this.running.set(buildId, c);
  }

  unregister(buildId: string): void {
    this.running.delete(buildId);
  }

  abortAll(): void {
    for (const c of this.running.values()) c.abort();
  }
}
