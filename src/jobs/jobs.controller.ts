import { Body, Controller, Delete, Get, Headers, HttpCode, MessageEvent, Param, Post, Query, Req, Res, Sse } from '@nestjs/common';
import { Observable } from 'rxjs';
import { ApiAcceptedResponse, ApiBadRequestResponse, ApiBearerAuth, ApiBody, ApiConflictResponse, ApiHeader, ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiProduces, ApiPropertyOptional, ApiServiceUnavailableResponse, ApiTags, ApiTooManyRequestsResponse, ApiUnprocessableEntityResponse } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, Matches } from 'class-validator';
import type { Request, Response } from 'express';
import { CurrentCaller } from '../auth/auth.decorators';
import type { Caller } from '../auth/auth.service';
import { JOB_STATUSES, JobStatus } from './build-status';
import { CreateJobDto } from './dto/create-job.dto';
import { JobDto, JobListDto } from './dto/job.dto';
import { JobsService } from './jobs.service';
import { PageQuery } from '../common/cursor';
import { EventStreamSlots } from './event-stream-slots';

export class ListJobsQuery extends PageQuery {
  @ApiPropertyOptional({ enum: JOB_STATUSES })
  @IsOptional()
  @IsIn(JOB_STATUSES, { message: `status must be one of: ${JOB_STATUSES.join(', ')}` })
  status?: JobStatus;

  @ApiPropertyOptional({ example: '6ed9277b', description: 'Only jobs whose id starts with these characters (4 or more hex digits, dashes as in the id): how a short id, as the console shows it, is found' })
  @IsOptional()
  @Matches(/^[0-9a-fA-F][0-9a-fA-F-]{3,35}$/, { message: 'idPrefix must be the start of a job id: 4 to 36 hex digits and dashes, such as 6ed9277b' })
  idPrefix?: string;
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

const UPLOAD_ID = '3f1b9c2e-6a4d-4e1f-9b7a-2c5d8e0f1a23';
/** One request of each kind, as a client sends it. */
const CREATE_JOB_EXAMPLES: Record<string, { summary: string; value: unknown }> = {
  library: {
    summary: 'C source for three CPUs: objects and shared libraries',
    value: {
      source: { language: 'c', files: [{ path: 'src/saxpy.c', content: '#include "saxpy.h"\nvoid saxpy(int n, float a, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }\n' }, { path: 'include/saxpy.h', content: 'void saxpy(int n, float a, const float *x, float *y);\n' }], options: ['-O2', '-Iinclude'] },
      targets: ['x86_64-linux-gnu', 'graviton3', { triple: 'riscv64-linux-gnu', features: ['+v'] }],
      outputs: ['object', 'shared'],
    },
  },
  kernel: {
    summary: 'A kernel verified on each target against the same source built for the host',
    value: {
      source: { language: 'c', files: [{ path: 'saxpy.c', content: 'void saxpy(int n, float a, const float *x, float *y) { for (int i = 0; i < n; i++) y[i] = a * x[i] + y[i]; }\n' }], options: ['-O3'] },
      targets: ['aarch64-linux-gnu', 'wasm32-wasi'],
      verify: { entry: 'saxpy', args: [{ name: 'n', type: 'int32', value: 1024 }, { name: 'a', type: 'float32', value: 2.5 }, { name: 'x', type: 'float32*', shape: [1024], dir: 'in' }, { name: 'y', type: 'float32*', shape: [1024], dir: 'inout' }], tolerance: { rtol: 1e-5, atol: 1e-6 } },
    },
  },
  program: {
    summary: 'A program, run on each target and judged by what it prints',
    value: {
      source: { language: 'c++', files: [{ path: 'main.cpp', content: '#include <cstdio>\nint main() { std::printf("%d\\n", 6 * 7); }\n' }] },
      targets: ['aarch64-linux-gnu', 'armv7-linux-gnueabihf'],
      outputs: ['executable'],
      verify: { program: { expect: { stdout: '42\n', exitCode: 0 } } },
    },
  },
  archive: {
    summary: 'A CMake project uploaded as an archive (POST /v1/uploads first)',
    value: { source: { language: 'c', archive: { uploadId: UPLOAD_ID } }, targets: ['x86_64-linux-gnu', 'wasm32-wasi'], outputs: ['executable', 'static'] },
  },
  model: {
    summary: 'An ONNX model (POST /v1/uploads first), compiled to C and objects, verified against ONNX Runtime',
    value: { model: { uploadId: UPLOAD_ID, threads: 1 }, inputShapes: { input: [1, 3, 224, 224] }, targets: ['x86_64-linux-gnu', 'aarch64-linux-gnu', 'wasm32-wasi'], verify: true },
  },
  cuda: {
    summary: 'CUDA for two NVIDIA architectures: PTX and cubin',
    value: { source: { language: 'cuda', files: [{ path: 'scale.cu', content: '__global__ void scale(int n, float *y) { int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) y[i] *= 2.0f; }\n' }] }, targets: ['h100', 'sm_80'], outputs: ['ptx', 'cubin'] },
  },
};

@ApiTags('jobs')
@ApiBearerAuth()
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly jobs: JobsService,
    private readonly streams: EventStreamSlots,
  ) {}

  @Post()
  @ApiOperation({ summary: 'Create a job', description: 'Source (files, or an uploaded archive) or an ONNX model, with the targets to build for: one build per target, queued at once (202). With verify, each build also runs on its target\'s runner and is compared with a reference. With an Idempotency-Key, a retry returns the same job instead of making another.' })
  @HttpCode(202)
  @ApiBody({ type: CreateJobDto, examples: CREATE_JOB_EXAMPLES })
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
  @ApiOperation({ summary: 'List jobs', description: 'The tenant\'s jobs, newest first, a page at a time (nextCursor), optionally by status or by the start of their id.' })
  @ApiOkResponse({ type: JobListDto, description: 'Newest first' })
  list(@CurrentCaller() caller: Caller, @Query() query: ListJobsQuery): Promise<JobListDto> {
    return this.jobs.list(caller, { status: query.status, cursor: query.cursor, idPrefix: query.idPrefix, limit: query.limit ?? 20 });
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a job', description: 'The job with each build: its state and why, diagnostics, artifacts, verification report, timings and state changes.' })
  @ApiOkResponse({ type: JobDto })
  @ApiNotFoundResponse({ description: 'No such job for this tenant' })
  get(@CurrentCaller() caller: Caller, @Param('id') id: string): Promise<JobDto> {
    return this.jobs.get(caller, id);
  }

  @Sse(':id/events')
  @ApiOperation({ summary: 'Follow a job\'s state changes', description: 'Server-sent events, one per state change of a build, in the order they were recorded, then end once every build has finished. Resumes after Last-Event-ID.' })
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
  @ApiOperation({ summary: 'Cancel or delete a job', description: 'Without purge: the builds that have not finished are canceled and the job is returned. With purge=true: a finished job is deleted with its builds, artifacts and reports (204).' })
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
