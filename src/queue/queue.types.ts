import type { JobsOptions } from 'bullmq';

/**
 * Every kind of background job Kiln runs, declared once. A worker that serves a queue must
 * handle every job name that can be put on it; start-up fails otherwise.
 */
export enum JobName {
  CompileBuild = 'compile-build',
}

export interface CompileBuildPayload {
  buildId: string;
  jobId: string;
  tenantId: string;
}

export interface JobPayloads {
  [JobName.CompileBuild]: CompileBuildPayload;
}

export type QueueJob = { [N in JobName]: { name: N; data: JobPayloads[N] } }[JobName];

/** BullMQ forbids ':' in queue names, so pools map to `compile-<pool>`. */
export function compileQueueName(pool: string): string {
  return `compile-${pool}`;
}

/** Which job names may be put on a pool's queue. */
export function jobNamesForPool(_pool: string): JobName[] {
  return [JobName.CompileBuild];
}

/**
 * Defaults owned by the one enqueue path. A compile error is a result, not a fault, so
 * attempts only cover infrastructure failures (a lost worker, storage unreachable).
 */
export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 2000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: false,
};

export function redisConnectionOptions(redisUrl: string) {
  const u = new URL(redisUrl);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname && u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
  };
}

/** Redis keys outside BullMQ's own. */
export const redisKeys = {
  worker: (prefix: string, id: string) => `${prefix}:workers:${id}`,
  workerPattern: (prefix: string) => `${prefix}:workers:*`,
  cancelChannel: (prefix: string) => `${prefix}:cancel`,
};
