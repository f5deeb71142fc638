import { Inject, Injectable } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { redisKeys } from '../queue/queue.types';
import { REDIS } from '../queue/redis.module';

export interface WorkerCapabilities {
  id: string;
  pools: string[];
  toolchains: { key: string; version: string }[];
  targets: {
    name: string;
    toolchain: string;
    cpus: string[];
    /** The languages this worker builds for the target, and the toolchain of each. */
    languages?: Record<string, string>;
    /** Target features the toolchain knows for it (LLVM names, without +/-). */
    features?: string[];
  }[];
  /** For each verify pool served, how it runs code: native, qemu-aarch64, wasm (node WASI). */
  runners?: Record<string, string>;
  startedAt: string;
  heartbeatAt: string;
}

/**
 * Live workers announce what they can build in Redis, under keys that expire unless renewed,
 * so the catalog shows only what a running worker really serves.
 */
@Injectable()
export class WorkerRegistry {
  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
  ) {}

  async announce(caps: WorkerCapabilities, ttlSeconds: number): Promise<void> {
    await this.redis.set(redisKeys.worker(this.config.queuePrefix, caps.id), JSON.stringify(caps), 'EX', ttlSeconds);
  }

  async withdraw(id: string): Promise<void> {
    await this.redis.del(redisKeys.worker(this.config.queuePrefix, id));
  }

  async list(): Promise<WorkerCapabilities[]> {
    const keys: string[] = [];
    let cursor = '0';
    // SCAN walks the whole keyspace (BullMQ's jobs included) for the few worker keys: in large
    // steps, so a listing (the API's target catalog, renewed every 500 ms under load) takes a
    // few round trips rather than one per 200 keys.
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', redisKeys.workerPattern(this.config.queuePrefix), 'COUNT', 2000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    if (keys.length === 0) return [];
    const values = await this.redis.mget(keys);
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as WorkerCapabilities);
  }
}
