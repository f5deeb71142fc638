import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { BeforeApplicationShutdown, Inject, Logger, OnApplicationBootstrap, Type } from '@nestjs/common';
import { CAPABILITIES, Capabilities } from './toolchains/capabilities';
import { isUnavailable } from '../src/common/exception.filter';
import { Job as QueueJob, UnrecoverableError } from 'bullmq';
import { BuildPayload, JobName, jobNamesForPool, JobPayloads, queueName } from '../src/queue/queue.types';
import { CompileService } from './compile/compile.service';
import { VerifyService } from './verify/verify.service';

type Handlers = { [N in JobName]: (job: QueueJob<JobPayloads[N]>) => Promise<unknown> };

/**
 * Makes the processor of one pool's queue. Every job name has a handler (the type says so),
 * and every job name the pool's queue can carry is checked again when the processor is built,
 * so a worker never starts half-able.
 */
export function makePoolProcessor(pool: string, concurrency: number, lockMs = 60_000, graceMs = 70_000): Type<WorkerHost> {
  // Started once the probe says this worker serves the pool (an optional pool may be skipped).
  // A job whose worker died is taken again after its lock expires (checked every lockMs / 2).
  @Processor(queueName(pool), { concurrency, lockDuration: lockMs, stalledInterval: Math.max(1000, Math.floor(lockMs / 2)), maxStalledCount: 2, autorun: false })
  class PoolProcessor extends WorkerHost implements OnApplicationBootstrap, BeforeApplicationShutdown {
    readonly logger = new Logger(`Pool ${pool}`);
    readonly handlers: Handlers;
    /** The jobs this worker is running now, so that a shutdown waits for them itself. */
    private readonly inFlight = new Set<Promise<unknown>>();

    constructor(
      readonly compile: CompileService,
      readonly verify: VerifyService,
      @Inject(CAPABILITIES) readonly caps: Capabilities,
    ) {
      super();
      this.handlers = {
        [JobName.CompileBuild]: (job) => this.attempt(job, (attempt) => this.compile.run(job.data.buildId, attempt)),
        [JobName.VerifyBuild]: (job) => this.attempt(job, (attempt) => this.verify.run(job.data.buildId, attempt)),
      };
      const missing = jobNamesForPool(pool).filter((n) => typeof this.handlers[n] !== 'function');
      if (missing.length) throw new Error(`pool ${pool} has no handler for job type(s): ${missing.join(', ')}`);
    }

    onApplicationBootstrap(): void {
      if (!this.caps.pools.includes(pool)) return;
      this.worker.run().catch((e) => this.logger.error(`the queue consumer stopped: ${(e as Error).message}`));
    }

    /**
     * On SIGTERM, before the database and Redis connections close: take no new job and let the
     * ones at hand finish, for up to graceMs. A job still running then is left to its lock,
     * which expires, and another worker takes it again.
     */
    async beforeApplicationShutdown(): Promise<void> {
      if (!this.caps.pools.includes(pool)) return;
      // The queue consumer's close stops taking jobs and usually waits for the ones at hand, but
      // not always (a fetch that fails while it closes ends its wait early): the jobs this
      // worker runs are waited for here too, before the connections they write through close.
      const closing = this.worker.close().catch((e) => this.logger.warn(`closing the queue consumer: ${(e as Error).message}`));
      let timer: NodeJS.Timeout | undefined;
      const finished = await Promise.race([
        Promise.all([closing, this.drained()]).then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), graceMs))),
      ]);
      clearTimeout(timer);
      if (!finished) this.logger.warn(`jobs still running after ${graceMs} ms; they will be taken again by another worker`);
    }

    /** Resolves once no job runs here (jobs that start meanwhile are waited for as well). */
    private async drained(): Promise<void> {
      while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
    }

    async process(job: QueueJob): Promise<unknown> {
      if (!jobNamesForPool(pool).includes(job.name as JobName)) throw new UnrecoverableError(`job type "${job.name}" does not belong on pool ${pool}`);
      const running = (this.handlers[job.name as JobName] as (j: QueueJob) => Promise<unknown>)(job);
      this.inFlight.add(running);
      try {
        return await running;
      } finally {
        this.inFlight.delete(running);
      }
    }

    /**
     * A job that fails without its handler having the last word (it stalled too often because
     * its workers died, or the handler itself could not record the failure) still ends its build.
     */
    @OnWorkerEvent('failed')
    async onFailed(job: QueueJob<BuildPayload> | undefined, error: Error): Promise<void> {
      if (!job) return;
      const attempts = job.opts.attempts ?? 1;
      if (job.attemptsMade < attempts && !/stalled/i.test(error.message)) return;
      await this.compile
        .failForGood(job.data.buildId, /stalled/i.test(error.message) ? `the worker running it was lost ${job.attemptsMade + 1} times` : `internal error after ${attempts} attempts: ${error.message}`)
        .catch((e) => this.logger.error(`could not record the failure of build ${job.data.buildId}: ${(e as Error).message}`));
    }

    /** Infrastructure errors are retried with backoff; after the last attempt the build fails and says why. */
    private async attempt(job: QueueJob<BuildPayload>, work: (attempt: number) => Promise<string>): Promise<string> {
      const attempts = job.opts.attempts ?? 1;
      const attempt = job.attemptsMade + 1;
      try {
        return await work(attempt);
      } catch (e) {
        const message = (e as Error).message;
        this.logger.error(`${job.name} ${job.data.buildId}, attempt ${attempt}/${attempts}: ${message}`, (e as Error).stack);
        // A service that is away (storage, database) is said so; anything else is an internal error.
        if (attempt >= attempts) await this.compile.failForGood(job.data.buildId, isUnavailable(e) ? `a service Kiln depends on (object storage, the database or Redis) was unreachable in all ${attempts} attempts: ${message}` : `internal error after ${attempts} attempts: ${message}`);
        else await this.compile.requeue(job.data.buildId, `attempt ${attempt} failed (${message}); retrying`);
        throw e;
      }
    }
  }
  Object.defineProperty(PoolProcessor, 'name', { value: `PoolProcessor_${pool.replace(/\W/g, '_')}` });
  return PoolProcessor;
}
