import { Body, Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiForbiddenResponse, ApiNoContentResponse, ApiOkResponse, ApiOperation, ApiProperty, ApiPropertyOptional, ApiTags } from '@nestjs/swagger';
import { ArrayMinSize, IsArray, IsIn, IsOptional, IsString, Length, Matches } from 'class-validator';
import type { ApiKey } from '../database/entities';
import { CurrentCaller } from './auth.decorators';
import { AuthService, Caller } from './auth.service';
import { DEFAULT_KEY_SCOPES, RequireScope, Scope, SCOPES } from './scopes';

export class CreateKeyDto {
  @ApiProperty({ example: 'ci', description: 'A name to tell the key apart, 1 to 100 characters' })
  @IsString()
  @Length(1, 100)
  @Matches(/^[\w .@-]+$/, { message: 'name may contain letters, digits, spaces and . _ @ - only' })
  name: string;

  @ApiPropertyOptional({ enum: SCOPES, isArray: true, example: ['read', 'build'], description: 'Default: read and build. read: every GET; build: create, cancel and delete jobs, create and delete uploads; admin: manage keys and the webhook signing secret' })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1, { message: 'scopes must name at least one scope: read, build or admin' })
  @IsIn(SCOPES, { each: true, message: `each scope must be one of: ${SCOPES.join(', ')}` })
  scopes?: Scope[];
}

export class ApiKeyDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'ci' }) name: string;
  @ApiProperty({ example: 'kiln_3f9a', description: 'The first characters of the key, to recognise it' }) prefix: string;
  @ApiProperty({ enum: SCOPES, isArray: true, description: 'What the key may do' }) scopes: string[];
  @ApiProperty({ format: 'date-time' }) createdAt: string;

  static from(k: ApiKey): ApiKeyDto {
    return { id: k.id, name: k.name, prefix: k.prefix, scopes: k.scopes, createdAt: k.createdAt.toISOString() };
  }
}

export class CreatedApiKeyDto extends ApiKeyDto {
  @ApiProperty({ description: 'The key itself. Shown once: store it now.' }) secret: string;
}

export class ApiKeyListDto {
  @ApiProperty({ type: [ApiKeyDto] }) items: ApiKeyDto[];
}

@ApiTags('keys')
@ApiBearerAuth()
@RequireScope('admin')
@ApiForbiddenResponse({ description: 'The key lacks the admin scope' })
@Controller('v1/keys')
export class KeysController {
  constructor(private readonly auth: AuthService) {}

  @Get()
  @ApiOperation({ summary: 'List the tenant\'s API keys', description: 'Every key of the caller\'s tenant that is not revoked: its name, prefix, scopes and when it was made. Secrets are never shown again. Needs the admin scope.' })
  @ApiOkResponse({ type: ApiKeyListDto })
  async list(@CurrentCaller() caller: Caller): Promise<ApiKeyListDto> {
    return { items: (await this.auth.listKeys(caller.tenantId)).map(ApiKeyDto.from) };
  }

  @Post()
  @ApiOperation({ summary: 'Create an API key', description: 'A new key for the caller\'s tenant with the scopes asked for (read and build by default). The secret is in this answer only: store it now. Needs the admin scope.' })
  @ApiCreatedResponse({ type: CreatedApiKeyDto, description: 'The secret is in the response, and only there.' })
  async create(@CurrentCaller() caller: Caller, @Body() body: CreateKeyDto): Promise<CreatedApiKeyDto> {
    const { key, secret } = await this.auth.createKey(caller.tenantId, body.name, body.scopes ?? DEFAULT_KEY_SCOPES);
    return { ...ApiKeyDto.from(key), secret };
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Revoke an API key', description: 'The key stops working at once (within the API\'s key cache, a few seconds at most). Needs the admin scope.' })
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'The key is revoked.' })
  async revoke(@CurrentCaller() caller: Caller, @Param('id', new ParseUUIDPipe()) id: string): Promise<void> {
    await this.auth.revokeKey(caller.tenantId, id);
  }
}
