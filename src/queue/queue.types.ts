import type { JobsOptions } from 'bullmq';

/**
 * Every kind of background job Kiln runs, declared once. A worker that serves a queue must
 * handle every job name that can be put on it; start-up fails otherwise.
 */
export enum JobName {
  CompileBuild = 'compile-build',
  VerifyBuild = 'verify-build',
}

export interface BuildPayload {
  buildId: string;
  jobId: string;
  tenantId: string;
}

export interface JobPayloads {
  [JobName.CompileBuild]: BuildPayload;
  [JobName.VerifyBuild]: BuildPayload;
}

export type QueueJob = { [N in JobName]: { name: N; data: JobPayloads[N] } }[JobName];

export function isVerifyPool(pool: string): boolean {
  return pool.startsWith('verify-');
}

/**
 * The queue of a pool. BullMQ forbids ':' in queue names, so compile pools map to
 * `compile-<pool>`, and verify pools (already named `verify-<arch>`) to themselves.
 */
export function queueName(pool: string): string {
  return isVerifyPool(pool) ? pool : `compile-${pool}`;
}

/** The queue entry's id of a build's verification, on its verify pool (its compile entry's id is the build's). */
export function verifyJobId(buildId: string): string {
  return `verify-${buildId}`;
}

/** Which job names may be put on a pool's queue. */
export function jobNamesForPool(pool: string): JobName[] {
  return isVerifyPool(pool) ? [JobName.VerifyBuild] : [JobName.CompileBuild];
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
  /** The live workers' ids, each scored with the time (ms) its announcement expires. */
  workerIndex: (prefix: string) => `${prefix}:worker-index`,
  cancelChannel: (prefix: string) => `${prefix}:cancel`,
};
