import { Controller, Delete, Get, HttpCode, Param, Post, Query, Req, UnsupportedMediaTypeException } from '@nestjs/common';
import { PageQuery } from '../common/cursor';
import { ApiBearerAuth, ApiBody, ApiConflictResponse, ApiConsumes, ApiCreatedResponse, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiPayloadTooLargeResponse, ApiProperty, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { CurrentCaller } from '../auth/auth.decorators';
import type { Caller } from '../auth/auth.service';
import type { Upload } from '../database/entities';
import { UploadsService } from './uploads.service';

export class UploadDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'project.tar' }) filename: string;
  @ApiProperty({ example: 'application/octet-stream' }) contentType: string;
  @ApiProperty() size: number;
  @ApiProperty() sha256: string;
  @ApiProperty({ format: 'date-time' }) createdAt: string;

  static from(u: Upload): UploadDto {
    return { id: u.id, filename: u.filename, contentType: u.contentType, size: u.size, sha256: u.sha256, createdAt: u.createdAt.toISOString() };
  }
}

export class UploadListDto {
  @ApiProperty({ type: [UploadDto], description: 'Newest first' }) items: UploadDto[];
  @ApiProperty({ nullable: true, type: String, description: 'Pass as cursor for the next page; null on the last page' }) nextCursor: string | null;
}

@ApiTags('uploads')
@ApiBearerAuth()
@Controller('v1/uploads')
export class UploadsController {
  constructor(private readonly uploads: UploadsService) {}

  @Post()
  @ApiOperation({ summary: 'Upload a file', description: 'The request body is the file\'s bytes (a source file, an archive, a model, a tensor). The answer has the upload\'s id for a job to name, and the bytes\' sha256.' })
  @HttpCode(201)
  @ApiConsumes('application/octet-stream')
  @ApiBody({ schema: { type: 'string', format: 'binary' }, description: 'The file\'s bytes, streamed as the request body' })
  @ApiQuery({ name: 'filename', required: true, example: 'saxpy.c' })
  @ApiCreatedResponse({ type: UploadDto })
  @ApiPayloadTooLargeResponse({ description: 'Over KILN_MAX_UPLOAD_BYTES; nothing is kept' })
  async create(@CurrentCaller() caller: Caller, @Req() req: Request, @Query('filename') filename?: string): Promise<UploadDto> {
    const name = this.uploads.checkFilename(filename);
    if (req.readableEnded || /^(application\/json|application\/x-www-form-urlencoded|multipart\/form-data)\b/i.test(req.headers['content-type'] ?? '')) {
      throw new UnsupportedMediaTypeException('send the file\'s bytes as the request body with Content-Type: application/octet-stream (or the file\'s own type)');
    }
    const length = req.headers['content-length'] ? Number(req.headers['content-length']) : null;
    const type = (req.headers['content-type'] ?? 'application/octet-stream').split(';')[0].trim() || 'application/octet-stream';
    return UploadDto.from(await this.uploads.create(caller, req, name, type, Number.isFinite(length) ? length : null));
  }

  @Get()
  @ApiOperation({ summary: 'List uploads', description: 'The tenant\'s uploads, newest first, a page at a time (nextCursor).' })
  @ApiOkResponse({ type: UploadListDto })
  async list(@CurrentCaller() caller: Caller, @Query() query: PageQuery): Promise<UploadListDto> {
    const page = await this.uploads.list(caller, { limit: query.limit ?? 20, cursor: query.cursor });
    return { items: page.items.map((u) => UploadDto.from(u)), nextCursor: page.nextCursor };
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get an upload\'s metadata', description: 'Its file name, content type, size, sha256 and when it was made.' })
  @ApiOkResponse({ type: UploadDto })
  @ApiNotFoundResponse()
  async get(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<UploadDto> {
    return UploadDto.from(await this.uploads.get(caller, id));
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete an upload', description: 'Refused with a 409 while a job that has not finished needs it.' })
  @HttpCode(204)
  @ApiNoContentResponse({ description: 'The upload is deleted, and its stored bytes unless something else still refers to them; the tenant\'s storage usage goes down accordingly' })
  @ApiNotFoundResponse({ description: 'No such upload for this tenant' })
  @ApiConflictResponse({ description: 'A job whose builds have not finished needs the upload; the message names the job' })
  async delete(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<void> {
    await this.uploads.delete(caller, id);
  }
}
