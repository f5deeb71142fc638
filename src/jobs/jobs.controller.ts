import { Body, Controller, Delete, Get, Headers, HttpCode, MessageEvent, Param, Post, Query, Req, Res, Sse } from '@nestjs/common';
import { Observable } from 'rxjs';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiProduces,
  ApiPropertyOptional,
  ApiServiceUnavailableResponse,
  ApiTooManyRequestsResponse,
  ApiUnprocessableEntityResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import type { Request, Response } from 'express';
import { CurrentCaller } from '../auth/auth.decorators';
import type { Caller } from '../auth/auth.service';
import { JOB_STATUSES, JobStatus } from './build-status';
import { CreateJobDto } from './dto/create-job.dto';
import { JobDto, JobListDto } from './dto/job.dto';
import { JobsService } from './jobs.service';
import { EventStreamSlots } from './event-stream-slots';

export class ListJobsQuery {
  @ApiPropertyOptional({ enum: JOB_STATUSES })
  @IsOptional()
  @IsIn(JOB_STATUSES, { message: `status must be one of: ${JOB_STATUSES.join(', ')}` })
  status?: JobStatus;

  @ApiPropertyOptional({ description: 'nextCursor from the previous page' })
  @IsOptional()
  @IsString()
  cursor?: string;

  @ApiPropertyOptional({ example: '6ed9277b', description: 'Only jobs whose id starts with these characters (4 or more hex digits, dashes as in the id): how a short id, as the console shows it, is found' })
  @IsOptional()
  @Matches(/^[0-9a-fA-F][0-9a-fA-F-]{3,35}$/, { message: 'idPrefix must be the start of a job id: 4 to 36 hex digits and dashes, such as 6ed9277b' })
  idPrefix?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: 100, default: 20 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;
}

export class DeleteJobQuery {
  @ApiPropertyOptional({
    type: Boolean,
    description:
      'false (the default): cancel the builds that have not finished. true: delete the job, which must have finished, with its builds, their events, artifacts, verification reports and webhook deliveries, and every stored object nothing else refers to; its uploads stay (DELETE /v1/uploads/{id})',
  })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean({ message: 'purge must be true or false' })
  purge?: boolean;
}

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly streams: EventStreamSlots,
  ) {}

  @Post()
  @HttpCode(202)
  @ApiHeader({ name: 'Idempotency-Key', required: false, description: 'A retried request with the same key returns the same job (200) instead of creating another' })
  @ApiAcceptedResponse({ type: JobDto, description: 'The job is accepted; one build per target is queued' })
  @ApiOkResponse({ type: JobDto, description: 'A job with this Idempotency-Key already exists; it is returned' })
  @ApiBadRequestResponse({ description: 'The request names an unknown target, has a bad path or option, or is empty; the message says which' })
  @ApiUnprocessableEntityResponse({ description: 'The Idempotency-Key was already used for a different request, or the model could not be read within the time or memory the API gives one model (KILN_MODEL_CHECK_TIMEOUT_MS, KILN_MODEL_CHECK_MEMORY_MB)' })
  @ApiServiceUnavailableResponse({ description: 'The queue is unavailable, or every thread that reads models is busy; nothing was created' })
  async create(
    @Body() body: CreateJobDto,
    @CurrentCaller() caller: Caller,
    @Headers('idempotency-key') idempotencyKey: string | undefined,
    @Res({ passthrough: true }) res: Response,
  ): Promise<JobDto> {
    const { job, created } = await this.jobs.create(caller, body, idempotencyKey ?? null);
    if (!created) res.status(200);
    res.setHeader('Location', `/v1/jobs/${job.id}`);
    return job;
  }

  @Get()
  @ApiOkResponse({ type: JobListDto, description: 'Newest first' })
  list(@CurrentCaller() caller: Caller, @Query() query: ListJobsQuery): Promise<JobListDto> {
    return this.jobs.list(caller, { status: query.status, cursor: query.cursor, idPrefix: query.idPrefix, limit: query.limit ?? 20 });
  }

  @Get(':id')
  @ApiOkResponse({ type: JobDto })
  @ApiNotFoundResponse({ description: 'No such job for this tenant' })
  get(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<JobDto> {
    return this.jobs.get(caller, id);
  }

  @Sse(':id/events')
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume after this event (an EventSource sends it when it reconnects)' })
  @ApiOkResponse({
    description:
      'Server-sent events: `build` for every state change of a build ({ buildId, target, from, to, at, worker, message }, the id is the event\'s sequence number), then `end` ({ jobId, status }) once every build has finished.',
    content: { 'text/event-stream': { schema: { type: 'string' } } },
  })
  @ApiNotFoundResponse({ description: 'No such job for this tenant' })
  @ApiTooManyRequestsResponse({ description: 'The tenant holds as many event streams open as it may (KILN_MAX_EVENT_STREAMS_PER_TENANT); close one, or poll the job. Retry-After says when to try again' })
  async events(@CurrentCaller() caller: Caller, @Param('id') id: string, @Req() req: Request): Promise<Observable<MessageEvent>> {
    await this.jobs.assertExists(caller, id); // a 404 before the stream starts
    // Read from the request (not @Headers) so the spec shows the one optional header above.
    const lastEventId = req.headers['last-event-id'];
    // A 429 when the tenant holds its limit of open streams; the slot is held while this one is open.
    return this.streams.hold(caller.tenantId, () => this.jobs.eventStream(id, typeof lastEventId === 'string' ? lastEventId : null));
  }

  @Delete(':id')
  @ApiOkResponse({ type: JobDto, description: 'Builds that had not finished are canceled; finished ones keep their result' })
  @ApiNoContentResponse({ description: 'With purge=true: the job and everything it made are deleted; the tenant\'s storage usage goes down by the objects nothing else refers to' })
  @ApiConflictResponse({ description: 'With purge=true: some builds of the job have not finished; cancel it first' })
  @ApiNotFoundResponse({ description: 'No such job for this tenant' })
  async cancel(@CurrentCaller() caller: Caller, @Param('id') id: string, @Query() query: DeleteJobQuery, @Res({ passthrough: true }) res: Response): Promise<JobDto | void> {
    if (!query.purge) return this.jobs.cancel(caller, id);
    await this.jobs.purge(caller, id);
    res.status(204);
  }
}
