import { getQueueToken } from '@nestjs/bullmq';
import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { JobsOptions, Queue } from 'bullmq';
import { queueName, DEFAULT_JOB_OPTIONS, JobName, JobPayloads } from './queue.types';

export interface EnqueueRequest<N extends JobName> {
  pool: string;
  name: N;
  data: JobPayloads[N];
  /** Deduplicates: a second add with the same id is a no-op while the first exists. */
  jobId: string;
  options?: JobsOptions;
}

/** The one path by which Kiln puts work on a queue; it owns the defaults. */
@Injectable()
export class EnqueueService {
  constructor(private readonly moduleRef: ModuleRef) {}

  queue(pool: string): Queue {
    return this.moduleRef.get<Queue>(getQueueToken(queueName(pool)), { strict: false });
  }

  async enqueue<N extends JobName>(requests: EnqueueRequest<N>[]): Promise<void> {
    const byPool = new Map<string, EnqueueRequest<N>[]>();
    for (const r of requests) byPool.set(r.pool, [...(byPool.get(r.pool) ?? []), r]);
    await Promise.all(
      [...byPool].map(([pool, rs]) =>
        this.queue(pool).addBulk(rs.map((r) => ({ name: r.name, data: r.data, opts: { ...DEFAULT_JOB_OPTIONS, ...r.options, jobId: r.jobId } }))),
      ),
    );
  }

  /** Removes a job that no worker has taken yet; false when it is running or gone. */
  async removeIfWaiting(pool: string, jobId: string): Promise<boolean> {
    try {
      return (await this.queue(pool).remove(jobId)) === 1;
    } catch {
      return false;
    }
  }
}
