import { Controller, Get, Inject, NotFoundException, Param, Query, Res, StreamableFile } from '@nestjs/common';
import { ApiBearerAuth, ApiFoundResponse, ApiNotFoundResponse, ApiOkResponse, ApiQuery, ApiTags } from '@nestjs/swagger';
import { InjectRepository } from '@nestjs/typeorm';
import type { Response } from 'express';
import { Repository } from 'typeorm';
import { UUID_RE } from '../jobs/jobs.service';
import { CurrentCaller } from '../auth/auth.decorators';
import type { Caller } from '../auth/auth.service';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { Artifact } from '../database/entities';
import { ArtifactDto } from '../jobs/dto/job.dto';
import { toArtifactDto } from '../jobs/job.mapper';
import { OBJECT_STORE, ObjectStore } from '../storage/object-store';

@ApiTags('artifacts')
@ApiBearerAuth()
@Controller('v1/artifacts')
export class ArtifactsController {
  constructor(
    @InjectRepository(Artifact) private readonly artifacts: Repository<Artifact>,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
  ) {}

  private async find(caller: Caller, id: string): Promise<Artifact> {
    const a = UUID_RE.test(id) ? await this.artifacts.findOneBy({ id, tenantId: caller.tenantId }) : null;
    if (!a) throw new NotFoundException(`no artifact with id ${id}`);
    return a;
  }

  @Get(':id')
  @ApiOkResponse({ type: ArtifactDto })
  @ApiNotFoundResponse()
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<ArtifactDto> {
    return toArtifactDto(await this.find(caller, id));
  }

  @Get(':id/content')
  @ApiQuery({ name: 'redirect', required: false, enum: ['true', 'false'], description: 'With object storage that can sign URLs, redirect to a short-lived URL (default) or stream through the API' })
  @ApiOkResponse({ description: 'The artifact\'s bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } })
  @ApiFoundResponse({ description: 'A redirect to a short-lived presigned URL' })
  @ApiNotFoundResponse()
  async content(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Res({ passthrough: true }) res: Response,
    @Query('redirect') redirect?: string,
  ): Promise<StreamableFile | void> {
    const a = await this.find(caller, id);
    if (redirect !== 'false') {
      const url = await this.store.downloadUrl(a.storageKey, this.config.downloadUrlTtlSeconds, a.name);
      if (url) {
        res.setHeader('Cache-Control', 'no-store');
        res.redirect(302, url);
        return;
      }
    }
    const body = await this.store.get(a.storageKey);
    res.setHeader('ETag', `"${a.sha256}"`);
    res.setHeader('X-Content-SHA256', a.sha256);
    return new StreamableFile(body, {
      type: a.contentType,
      length: a.size,
      disposition: `attachment; filename="${a.name.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
    });
  }
}
