import { Controller, Get } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { CurrentCaller } from '../auth/auth.decorators';
import type { Caller } from '../auth/auth.service';
import { QuotasService } from './quotas.service';

export class QuotaLimitsDto {
  @ApiProperty({ example: 64, description: 'Builds queued, waiting or running at once; 0: no limit' }) concurrentBuilds: number;
  @ApiProperty({ example: 10737418240, description: 'Bytes of uploads and artifacts; 0: no limit' }) storageBytes: number;
  @ApiProperty({ example: 67108864, description: 'Bytes of one upload' }) uploadBytes: number;
  @ApiProperty({ example: 1200, description: 'Requests per minute, all the tenant\'s keys together; 0: no limit' }) requestsPerMinute: number;
}

export class QuotaUsageDto {
  @ApiProperty({ example: 3, description: 'Builds queued, waiting or running now' }) activeBuilds: number;
  @ApiProperty({ example: 1048576, description: 'Bytes of uploads and artifacts stored now' }) storageBytes: number;
}

export class QuotasDto {
  @ApiProperty({ type: QuotaLimitsDto }) limits: QuotaLimitsDto;
  @ApiProperty({ type: QuotaUsageDto }) usage: QuotaUsageDto;
}

@ApiTags('quotas')
@ApiBearerAuth()
@Controller('v1/quotas')
export class QuotasController {
  constructor(private readonly quotas: QuotasService) {}

  @Get()
  @ApiOperation({ summary: 'Get the tenant\'s quotas and usage', description: 'Concurrent builds, stored bytes and upload size: the limits and what is in use now.' })
  @ApiOkResponse({ type: QuotasDto, description: 'The tenant\'s limits and what it uses of them now' })
  async get(@CurrentCaller() caller: Caller): Promise<QuotasDto> {
    const [limits, usage] = await Promise.all([this.quotas.limits(caller.tenantId), this.quotas.usage(caller.tenantId)]);
    return { limits: { ...limits, requestsPerMinute: this.quotas.requestsPerMinute }, usage };
  }
}
