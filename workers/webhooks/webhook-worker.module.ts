import { BullModule } from '@nestjs/bullmq';
import { DynamicModule, Module } from '@nestjs/common';
import type { KilnConfig } from '../../src/config/config';
import { WEBHOOK_QUEUE } from '../../src/webhooks/webhook-queue';
import { WebhooksService } from '../../src/webhooks/webhooks.service';
import { WebhookDispatcher } from './webhook-dispatcher';
import { makeWebhookProcessor } from './webhook.processor';

/** A worker's part in webhooks: finding finished jobs and delivering their webhooks. */
@Module({})
export class WebhookWorkerModule {
  static register(config: KilnConfig): DynamicModule {
    if (config.webhooks.concurrency === 0) return { module: WebhookWorkerModule };
    return {
      module: WebhookWorkerModule,
      imports: [BullModule.registerQueue({ name: WEBHOOK_QUEUE })],
      providers: [WebhooksService, WebhookDispatcher, makeWebhookProcessor(config.webhooks.concurrency)],
    };
  }
}
