import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger, Type } from '@nestjs/common';
import { Job as QueueJob, UnrecoverableError } from 'bullmq';
import { compileQueueName, JobName, jobNamesForPool, JobPayloads } from '../../src/queue/queue.types';
import { CompileService } from './compile.service';

type Handlers = { [N in JobName]: (job: QueueJob<JobPayloads[N]>) => Promise<unknown> };

/**
 * Makes the processor of one pool's queue. Every job name that can be put on the queue must
 * have a handler, checked when the processor is built, so a worker never starts half-able.
 */
export function makeCompileProcessor(pool: string, concurrency: number): Type<WorkerHost> {
  @Processor(compileQueueName(pool), { concurrency, lockDuration: 60_000, maxStalledCount: 2 })
  class CompileProcessor extends WorkerHost {
    readonly logger = new Logger(`Pool ${pool}`);
    readonly handlers: Handlers;

    constructor(readonly compile: CompileService) {
      super();
      this.handlers = {
        [JobName.CompileBuild]: (job) => this.compileBuild(job),
      };
      const missing = jobNamesForPool(pool).filter((n) => typeof this.handlers[n] !== 'function');
      if (missing.length) throw new Error(`pool ${pool} has no handler for job type(s): ${missing.join(', ')}`);
    }

    async process(job: QueueJob): Promise<unknown> {
      const handler = this.handlers[job.name as JobName] as ((j: QueueJob) => Promise<unknown>) | undefined;
      if (!handler) throw new UnrecoverableError(`no handler for job type "${job.name}" on pool ${pool}`);
      return handler(job);
    }

    private async compileBuild(job: QueueJob<JobPayloads[JobName.CompileBuild]>): Promise<string> {
      const attempts = job.opts.attempts ?? 1;
      const attempt = job.attemptsMade + 1;
      try {
        return await this.compile.run(job.data.buildId, attempt);
      } catch (e) {
        const message = (e as Error).message;
        this.logger.error(`build ${job.data.buildId}, attempt ${attempt}/${attempts}: ${message}`, (e as Error).stack);
        if (attempt >= attempts) await this.compile.failForGood(job.data.buildId, `internal error after ${attempts} attempts: ${message}`);
        else await this.compile.requeue(job.data.buildId, `attempt ${attempt} failed (${message}); retrying`);
        throw e;
      }
    }
  }
  Object.defineProperty(CompileProcessor, 'name', { value: `CompileProcessor_${pool.replace(/\W/g, '_')}` });
  return CompileProcessor;
}
