import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import type { KilnConfig } from '../src/config/config';
import { ConfigModule } from '../src/config/config.module';
import { DatabaseModule } from '../src/database/database.module';
import { bullRootOptions } from '../src/queue/bull';
import { queueName } from '../src/queue/queue.types';
import { RedisModule } from '../src/queue/redis.module';
import { StorageModule } from '../src/storage/storage.module';
import { WorkerRegistry } from '../src/targets/worker-registry';
import { CancelRegistry } from './compile/cancel-registry';
import { makePoolProcessor } from './pool.processor';
import { VerifyService } from './verify/verify.service';
import { EnqueueService } from '../src/queue/enqueue.service';
import { POOLS } from '../src/targets/catalog';
import { CompileService, SANDBOX } from './compile/compile.service';
import { HeartbeatService } from './heartbeat.service';
import { SweeperService } from './sweeper.service';
import { SandboxExecutor } from './sandbox/executor';
import { HOST, WorkerHost } from './sandbox/host';
import { CAPABILITIES, probeCapabilities } from './toolchains/capabilities';
import { createToolchainRegistry } from './toolchains/registry';
import { WebhookWorkerModule } from './webhooks/webhook-worker.module';

/** A worker: no HTTP listener; consumes the queues of the pools in KILN_POOLS. */
@Module({})
export class WorkerModule {
  static register(config: KilnConfig): DynamicModule {
    const pools = config.worker.pools;
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.register(config),
        DatabaseModule,
        RedisModule,
        StorageModule,
        BullModule.forRoot(bullRootOptions(config)),
        // Every pool's queue, to hand builds on (compiled -> verify); processors only for ours.
        BullModule.registerQueue(...POOLS.map((p) => ({ name: queueName(p) }))),
        WebhookWorkerModule.register(config),
      ],
      providers: [
        { provide: HOST, useFactory: () => WorkerHost.prepare(config.worker) },
        {
          provide: SANDBOX,
          inject: [HOST],
          useFactory: (host: WorkerHost) => {
            const missing = SandboxExecutor.available(config.worker.sandbox);
            if (missing) throw new Error(`the sandbox is not available: ${missing}`);
            return new SandboxExecutor(config.worker.sandbox, host.tree);
          },
        },
        {
          // Resolved before any processor exists, so no job is taken before the probe is done.
          provide: CAPABILITIES,
          inject: [SANDBOX, HOST],
          useFactory: (exec: SandboxExecutor, host: WorkerHost) => probeCapabilities(pools, createToolchainRegistry(), exec, host.layout.scratchRoot, config.worker.optionalPools),
        },
        CompileService,
        VerifyService,
        EnqueueService,
        CancelRegistry,
        WorkerRegistry,
        HeartbeatService,
        SweeperService,
        ...pools.map((p) => makePoolProcessor(p, config.worker.concurrency, config.worker.jobLockMs, config.worker.shutdownGraceMs)),
      ],
    };
  }
}
