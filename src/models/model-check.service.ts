import { BadRequestException, Inject, Injectable, Logger, OnModuleDestroy, ServiceUnavailableException, UnprocessableEntityException } from '@nestjs/common';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import type { JobModelCheck, ModelInspection, ModelReadLimits } from './inspect';
import { ModelBudgetError, ModelPoolBusyError, ModelThreadPool } from './model-thread-pool';
import type { ModelTask } from './model-worker';

/**
 * Reads uploaded models off the event loop, each within the time and memory of its budget
 * (KILN_MODEL_CHECK_TIMEOUT_MS, KILN_MODEL_CHECK_MEMORY_MB): a refused model is a 400 that
 * says why, one that overruns its budget a 422, and the API goes on answering meanwhile.
 */
@Injectable()
export class ModelCheckService implements OnModuleDestroy {
  private readonly logger = new Logger('Models');
  private readonly pool: ModelThreadPool;
  private readonly limits: ModelReadLimits;

  constructor(@Inject(KILN_CONFIG) config: KilnConfig) {
    this.pool = new ModelThreadPool({ threads: config.models.checkThreads, timeoutMs: config.models.checkTimeoutMs, memoryMb: config.models.checkMemoryMb });
    this.limits = { maxBytes: config.maxUploadBytes, maxNodes: config.models.maxNodes };
  }

  /** What POST /v1/models/inspect answers about a model. */
  inspect(bytes: Uint8Array, inputShapes: Record<string, number[]>): Promise<ModelInspection> {
    return this.run('inspect', bytes, inputShapes) as Promise<ModelInspection>;
  }

  /** Job creation's checks of a model. */
  checkForJob(bytes: Uint8Array, inputShapes: Record<string, number[]>): Promise<JobModelCheck> {
    return this.run('job', bytes, inputShapes) as Promise<JobModelCheck>;
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.close();
  }

  private async run(op: ModelTask['op'], bytes: Uint8Array, inputShapes: Record<string, number[]>): Promise<unknown> {
    let reply;
    try {
      reply = await this.pool.run({ op, bytes, inputShapes, limits: this.limits });
    } catch (e) {
      if (e instanceof ModelBudgetError) throw new UnprocessableEntityException(`model: ${e.message}`);
      // A 503 with Retry-After (the exception filter adds it).
      if (e instanceof ModelPoolBusyError) throw new ServiceUnavailableException(`${e.message}; try again shortly`);
      throw e;
    }
    if (reply.ok) return reply.value;
    if ('refusal' in reply) {
      if (reply.budget) throw new UnprocessableEntityException(`model: ${reply.refusal}`);
      throw new BadRequestException(reply.refusal);
    }
    this.logger.error(`reading a model failed: ${reply.error}`);
    throw new Error('reading a model failed');
  }
}
