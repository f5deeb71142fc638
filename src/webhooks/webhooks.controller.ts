import { Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiForbiddenResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/auth.decorators';
import type { Caller } from '../auth/auth.service';
import { RequireScope } from '../auth/scopes';
import type { WebhookDelivery } from '../database/entities';
import { WEBHOOK_EVENTS } from './webhook-queue';
import { WebhookSecret, WebhooksService } from './webhooks.service';

export class WebhookSecretDto {
  @ApiProperty({ example: 'whsec_3q2+7w...', description: 'The key of the HMAC-SHA256 in the Kiln-Signature header of every webhook' }) secret: string;
  @ApiProperty({ format: 'date-time', description: 'When this secret was made' }) createdAt: string;

  static from(s: WebhookSecret): WebhookSecretDto {
    return { secret: s.secret, createdAt: s.createdAt.toISOString() };
  }
}

export class WebhookDeliveryDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ format: 'uuid' }) jobId: string;
  @ApiProperty({ format: 'uuid', description: 'The event\'s id (the body\'s "id" and the Kiln-Delivery header), the same in every attempt' }) eventId: string;
  @ApiProperty({ enum: WEBHOOK_EVENTS }) event: string;
  @ApiProperty({ example: 'https://ci.example.com/kiln' }) url: string;
  @ApiProperty({ example: 1, description: 'The attempt\'s number, from 1' }) attempt: number;
  @ApiProperty({ enum: ['delivered', 'retrying', 'failed'], description: 'delivered: the receiver answered 2xx; retrying: it did not, and another attempt is due at nextRetryAt; failed: the last attempt failed' }) status: string;
  @ApiPropertyOptional({ nullable: true, type: Number, example: 200, description: 'The receiver\'s HTTP status; null when there was no answer' }) statusCode: number | null;
  @ApiPropertyOptional({ nullable: true, type: String, example: 'ECONNREFUSED: connect ECONNREFUSED 203.0.113.7:443' }) error: string | null;
  @ApiProperty({ example: 84 }) durationMs: number;
  @ApiPropertyOptional({ nullable: true, type: String, format: 'date-time', description: 'When the next attempt is due, for a retrying delivery' }) nextRetryAt: string | null;
  @ApiProperty({ format: 'date-time' }) attemptedAt: string;

  static from(d: WebhookDelivery): WebhookDeliveryDto {
    return {
      id: d.id, jobId: d.jobId, eventId: d.eventId, event: d.event, url: d.url, attempt: d.attempt, status: d.status, statusCode: d.statusCode,
      error: d.error, durationMs: d.durationMs, nextRetryAt: d.nextRetryAt ? d.nextRetryAt.toISOString() : null, attemptedAt: d.attemptedAt.toISOString(),
    };
  }
}

export class WebhookDeliveryListDto {
  @ApiProperty({ type: [WebhookDeliveryDto] }) items: WebhookDeliveryDto[];
}

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1/webhooks')
export class WebhookSecretController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Get('secret')
  @ApiOperation({ summary: 'Get the webhook signing secret', description: 'The secret that signs the tenant\'s webhook deliveries (Kiln-Signature: t=...,v1=HMAC-SHA256). Needs the admin scope.' })
  @RequireScope('admin')
  @ApiOkResponse({ type: WebhookSecretDto, description: 'The tenant\'s webhook signing secret (made now if there was none)' })
  @ApiForbiddenResponse({ description: 'The key lacks the admin scope' })
  async get(@CurrentCaller() caller: Caller): Promise<WebhookSecretDto> {
    return WebhookSecretDto.from(await this.webhooks.secret(caller.tenantId));
  }

  @Post('secret')
  @ApiOperation({ summary: 'Rotate the webhook signing secret', description: 'A new secret signs every delivery from now on, retries included. Needs the admin scope.' })
  @HttpCode(201)
  @RequireScope('admin')
  @ApiCreatedResponse({ type: WebhookSecretDto, description: 'A new secret; it signs every delivery attempt from now on, and the old one no longer does' })
  @ApiForbiddenResponse({ description: 'The key lacks the admin scope' })
  async rotate(@CurrentCaller() caller: Caller): Promise<WebhookSecretDto> {
    return WebhookSecretDto.from(await this.webhooks.rotate(caller.tenantId));
  }
}

@ApiTags('webhooks')
@ApiBearerAuth()
@Controller('v1/jobs')
export class JobWebhooksController {
  constructor(private readonly webhooks: WebhooksService) {}

  @Get(':id/webhooks')
  @ApiOperation({ summary: 'List a job\'s webhook deliveries', description: 'Each delivery attempt of the job\'s job.finished event: when, the answer\'s status, and the error if any.' })
  @ApiOkResponse({ type: WebhookDeliveryListDto, description: 'Every attempt to deliver the job\'s webhook, oldest first' })
  @ApiNotFoundResponse({ description: 'No such job for this tenant' })
  async list(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<WebhookDeliveryListDto> {
    return { items: (await this.webhooks.listForJob(caller, id)).map(WebhookDeliveryDto.from) };
  }
}
