import { Controller, Get, UnauthorizedException } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiProperty, ApiTags } from '@nestjs/swagger';
import { InjectRepository } from '@nestjs/typeorm';
import { IsNull, Repository } from 'typeorm';
import { ApiKey } from '../database/entities';
import { CurrentCaller } from './auth.decorators';
import type { Caller } from './auth.service';

export class TenantRefDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'default' }) name: string;
}

export class KeyRefDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'ci' }) name: string;
  @ApiProperty({ description: 'The first characters of the key, to recognise it' }) prefix: string;
  @ApiProperty({ enum: ['read', 'build', 'admin'], isArray: true, description: 'What the key may do' }) scopes: string[];
}

export class WhoAmIDto {
  @ApiProperty({ type: TenantRefDto, description: 'The tenant the key belongs to; everything the key sees is scoped to it' }) tenant: TenantRefDto;
  @ApiProperty({ type: KeyRefDto, description: 'The key that made this request' }) key: KeyRefDto;
}

@ApiTags('keys')
@ApiBearerAuth()
@Controller('v1/whoami')
export class WhoAmIController {
  constructor(@InjectRepository(ApiKey) private readonly keys: Repository<ApiKey>) {}

  @Get()
  @ApiOperation({ summary: 'Who is calling', description: 'The caller\'s tenant and the key the request used, with its scopes: a quick check that a key works.' })
  @ApiOkResponse({ type: WhoAmIDto, description: 'The caller: its tenant and the key it used' })
  async get(@CurrentCaller() caller: Caller): Promise<WhoAmIDto> {
    // A key revoked (or its tenant deleted) just after this request was let in is refused as
    // the next request with it will be.
    const key = await this.keys.findOneBy({ id: caller.keyId, revokedAt: IsNull() });
    if (!key) throw new UnauthorizedException('the API key is not valid (unknown or revoked)');
    return { tenant: { id: caller.tenantId, name: caller.tenantName }, key: { id: key.id, name: key.name, prefix: key.prefix, scopes: key.scopes } };
  }
}
