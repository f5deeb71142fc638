import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, MiddlewareConsumer, Module, NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ArtifactsController } from './artifacts/artifacts.controller';
import { ApiKeyGuard } from './auth/api-key.guard';
import { ApiKeyCache } from './auth/api-key-cache';
import { AuthService } from './auth/auth.service';
import { KeysController } from './auth/keys.controller';
import { WhoAmIController } from './auth/whoami.controller';
import { KilnExceptionFilter } from './common/exception.filter';
import { JsonBodyGuard } from './common/json-body.guard';
import type { KilnConfig } from './config/config';
import { ConfigModule } from './config/config.module';
import { DatabaseModule } from './database/database.module';
import { PgNotifications } from './database/notifications';
import { HealthController } from './health/health.controller';
import { JobsController } from './jobs/jobs.controller';
import { JobsService } from './jobs/jobs.service';
import { BuildEventListener } from './jobs/build-event-listener';
import { EventStreamSlots } from './jobs/event-stream-slots';
import { ModelsController } from './models/models.controller';
import { ModelCheckService } from './models/model-check.service';
import { EnqueueService } from './queue/enqueue.service';
import { bullRootOptions } from './queue/bull';
import { queueName } from './queue/queue.types';
import { RedisModule } from './queue/redis.module';
import { StorageModule } from './storage/storage.module';
import { POOLS } from './targets/catalog';
import { TargetsController } from './targets/targets.controller';
import { TargetsService } from './targets/targets.service';
import { WorkerRegistry } from './targets/worker-registry';
import { UploadsController } from './uploads/uploads.controller';
import { UploadsService } from './uploads/uploads.service';
import { QuotasController } from './quotas/quotas.controller';
import { QuotasService } from './quotas/quotas.service';
import { rateLimiting } from './throttle/throttle';
import { AuthFailureLimiter } from './throttle/auth-failures';
import { JobWebhooksController, WebhookSecretController } from './webhooks/webhooks.controller';
import { WebhooksService } from './webhooks/webhooks.service';
import { MetricsController } from './metrics/metrics.controller';
import { MetricsMiddleware } from './metrics/metrics.middleware';
import { RequestIdMiddleware } from './common/request-id.middleware';
import { MetricsService } from './metrics/metrics.service';

/** The HTTP API. Queues are registered for every pool in the catalog, so any build can be queued. */
@Module({})
export class AppModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(RequestIdMiddleware, MetricsMiddleware).forRoutes('*');
  }

  static register(config: KilnConfig): DynamicModule {
    const rateLimit = rateLimiting(config);
    return {
      module: AppModule,
      imports: [
        ConfigModule.register(config),
        DatabaseModule,
        RedisModule,
        StorageModule,
        TerminusModule,
        // The API only produces: with Redis away, adding a job fails at once (503), never hangs.
        BullModule.forRoot(bullRootOptions(config, { enableOfflineQueue: false, maxRetriesPerRequest: 1 })),
        BullModule.registerQueue(...POOLS.map((p) => ({ name: queueName(p) }))),
        ...rateLimit.imports,
      ],
      controllers: [MetricsController, JobsController, UploadsController, ArtifactsController, TargetsController, KeysController, WhoAmIController, ModelsController, WebhookSecretController, JobWebhooksController, QuotasController, HealthController],
      providers: [
        PgNotifications,
        ApiKeyCache,
        AuthService,
        AuthFailureLimiter,
        JobsService,
        BuildEventListener,
        EventStreamSlots,
        UploadsService,
        TargetsService,
        WorkerRegistry,
        EnqueueService,
        QuotasService,
        WebhooksService,
        MetricsService,
        ModelCheckService,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        // Only JSON bodies are parsed; another body sent where JSON is expected is a 415, not a {}.
        { provide: APP_GUARD, useClass: JsonBodyGuard },
        ...rateLimit.guards,
        { provide: APP_FILTER, useClass: KilnExceptionFilter },
      ],
    };
  }
}
