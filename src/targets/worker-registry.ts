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
    const prefix = this.config.queuePrefix;
    const expires = Date.now() + ttlSeconds * 1000;
    await this.redis
      .multi()
      .set(redisKeys.worker(prefix, caps.id), JSON.stringify(caps), 'EX', ttlSeconds)
      .zadd(redisKeys.workerIndex(prefix), expires, caps.id)
      .zremrangebyscore(redisKeys.workerIndex(prefix), '-inf', Date.now())
      .exec();
  }

  async withdraw(id: string): Promise<void> {
    const prefix = this.config.queuePrefix;
    await this.redis.multi().del(redisKeys.worker(prefix, id)).zrem(redisKeys.workerIndex(prefix), id).exec();
  }

  /**
   * The live workers. Their ids come from the index (a sorted set by expiry), not from a SCAN
   * of the whole keyspace, which holds BullMQ's jobs too (up to 10,000 finished ones per queue)
   * and which the API's target catalog would walk every 500 ms under load. A worker's key
   * still expires by itself, so one that died is gone from the listing either way.
   */
  async list(): Promise<WorkerCapabilities[]> {
    const prefix = this.config.queuePrefix;
    const ids = await this.redis.zrangebyscore(redisKeys.workerIndex(prefix), Date.now(), '+inf');
    const keys = ids.length ? ids.map((id) => redisKeys.worker(prefix, id)) : await this.scan();
    if (keys.length === 0) return [];
    const values = await this.redis.mget(keys);
    return values.filter((v): v is string => v !== null).map((v) => JSON.parse(v) as WorkerCapabilities);
  }

  /** Workers of a version from before the index announce only their key: found by a SCAN, while no worker is indexed. */
  private async scan(): Promise<string[]> {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', redisKeys.workerPattern(this.config.queuePrefix), 'COUNT', 2000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
    return keys;
  }
}
