import { Controller, Get, HttpException, Inject, NotFoundException, Param, Query, Res, StreamableFile } from '@nestjs/common';
import parseRange from 'range-parser';
import { ApiBearerAuth, ApiFoundResponse, ApiHeader, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiQuery, ApiResponse, ApiTags } from '@nestjs/swagger';
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

/**
 * The one byte range a Range header asks for (RFC 9110): null to send the whole artifact (no
 * header, one that is not understood, several ranges, or an If-Range that no longer matches).
 */
export function byteRange(size: number, header: string | undefined, ifRange: string | undefined, etag: string): { start: number; end: number } | null | 'unsatisfiable' {
  if (!header || (ifRange !== undefined && ifRange !== etag)) return null;
  const parsed = parseRange(size, header, { combine: true });
  if (parsed === -1) return 'unsatisfiable';
  if (parsed === -2 || parsed.type !== 'bytes' || parsed.length !== 1) return null;
  return { start: parsed[0].start, end: parsed[0].end };
}

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
  @ApiOperation({ summary: 'Get an artifact\'s metadata', description: 'Its kind, name, size, sha256 and content type, and the build it belongs to. The bytes are at /v1/artifacts/{id}/content.' })
  @ApiOkResponse({ type: ArtifactDto })
  @ApiNotFoundResponse()
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<ArtifactDto> {
    return toArtifactDto(await this.find(caller, id));
  }

  @Get(':id/content')
  @ApiOperation({ summary: 'Download an artifact', description: 'The artifact\'s bytes. With object storage that signs URLs, a 302 to a short-lived URL (redirect=false streams through the API instead). The response carries the sha256 (ETag, X-Content-SHA256). A single byte range (Range: bytes=start-end, with If-Range) gets a 206 with Content-Range, a range outside the file a 416; several ranges get the whole file.' })
  @ApiQuery({ name: 'redirect', required: false, enum: ['true', 'false'], description: 'With object storage that can sign URLs, redirect to a short-lived URL (default) or stream through the API' })
  @ApiOkResponse({ description: 'The artifact\'s bytes', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } })
  @ApiFoundResponse({ description: 'A redirect to a short-lived presigned URL' })
  @ApiHeader({ name: 'Range', required: false, description: 'One byte range, such as bytes=0-1023 or bytes=-512: the answer is a 206 with Content-Range (several ranges get the whole file)' })
  @ApiHeader({ name: 'If-Range', required: false, description: 'The ETag ("<sha256>") the range was taken from: a range of other bytes gets the whole file' })
  @ApiResponse({ status: 206, description: 'The bytes of the range asked for, with Content-Range', content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } })
  @ApiResponse({ status: 416, description: 'The range lies past the end of the artifact; Content-Range gives its size' })
  @ApiNotFoundResponse()
  async content(
    @CurrentCaller() caller: Caller,
    @Param('id') id: string,
    @Res({ passthrough: true }) res: Response,
    @Query('redirect') redirect?: string,
  ): Promise<StreamableFile | void> {
    // Read from the request (not @Headers), so that the spec shows them as the optional headers below.
    const rangeHeader = res.req.headers.range;
    const ifRange = typeof res.req.headers['if-range'] === 'string' ? res.req.headers['if-range'] : undefined;
    const a = await this.find(caller, id);
    if (redirect !== 'false') {
      const url = await this.store.downloadUrl(a.storageKey, this.config.downloadUrlTtlSeconds, a.name);
      if (url) {
        res.setHeader('Cache-Control', 'no-store');
        res.redirect(302, url);
        return;
      }
    }
    const etag = `"${a.sha256}"`;
    res.setHeader('ETag', etag);
    res.setHeader('X-Content-SHA256', a.sha256);
    res.setHeader('Accept-Ranges', 'bytes');
    const range = byteRange(a.size, rangeHeader, ifRange, etag);
    if (range === 'unsatisfiable') {
      res.setHeader('Content-Range', `bytes */${a.size}`);
      throw new HttpException(`the range ${rangeHeader} is not within the artifact's ${a.size} bytes`, 416);
    }
    const body = await this.store.get(a.storageKey, range ?? undefined);
    // Only once the bytes are at hand: an error answer carries no Content-Range.
    if (range) {
      res.status(206);
      res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${a.size}`);
    }
    return new StreamableFile(body, {
      type: a.contentType,
      length: range ? range.end - range.start + 1 : a.size,
      disposition: `attachment; filename="${a.name.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
    });
  }
}
