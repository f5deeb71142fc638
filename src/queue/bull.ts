import type { QueueOptions } from 'bullmq';
import type { KilnConfig } from '../config/config';
import { redisConnectionOptions } from './queue.types';

export function bullRootOptions(config: KilnConfig, connection: { enableOfflineQueue?: boolean; maxRetriesPerRequest?: number | null } = {}): QueueOptions {
  return {
    prefix: config.queuePrefix,
    connection: { ...redisConnectionOptions(config.redisUrl), ...connection },
  };
}
