import { createHash } from 'node:crypto';
import { entityFromJson, prepared, returning, run } from '../database/sql';
import {
  BadRequestException,
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  UnprocessableEntityException,
  ServiceUnavailableException,
} from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, In, Repository } from 'typeorm';
import type { Caller } from '../auth/auth.service';
import { Artifact, Build, BuildEvent, Job, Upload } from '../database/entities';
import type { ArtifactKind, ModelInput, SourceInput } from '../database/entities/job.entity';
import { EnqueueService } from '../queue/enqueue.service';
import { JobName, redisKeys, verifyJobId } from '../queue/queue.types';
import { TargetError } from '../targets/resolve';
import { targetKind, verifyPoolOf, verifyWaitReason } from '../targets/catalog';
import { TargetAvailability, TargetsService } from '../targets/targets.service';
import { normalizeModelVerify, normalizeVerify, VerifySpec, VerifySpecError, verifyUploadIds } from '../verification/spec';
import { bufferBytes, elementCount } from '../verification/inputs';
import { DTYPE_SIZE } from '../verification/dtype';
import { checkInputShapes, ModelRefusal } from '../models/inspect';
import { ModelCheckService } from '../models/model-check.service';
import { OBJECT_STORE, ObjectStore } from '../storage/object-store';
import { deleteUnreferenced } from '../storage/references';
import { DEFAULT_OUTPUTS, GPU_MODEL_OUTPUTS, MODEL_OUTPUTS, MODEL_SIDE_FILES } from './artifact-kinds';
import { BuildStatus, deriveJobStatus, isTerminal, JobStatus } from './build-status';
import { Observable } from 'rxjs';
import type { MessageEvent } from '@nestjs/common';
import type { CreateJobDto } from './dto/create-job.dto';
import type { JobDto, JobListDto } from './dto/job.dto';
import { toJobDto } from './job.mapper';
import { cursorTime, decodeCursor, encodeCursor } from '../common/cursor';
import { checkCompilerOption, checkDefine, checkSourcePath, isTranslationUnit, normalizeLanguage } from './source-rules';
import { checkLanguageTarget, LANGUAGES, languageSpecOf, languageToolchain, servedLanguageKey, toolchainsFor } from './languages';
import { ArchiveError, CMAKE_OUTPUTS, cmakeRoot, listArchive } from './archive';
import { CACHED_BUILD_OK, cacheKey, canonicalJson, copyFromCache, findCached, inputDigest, lockCachedBuilds, modelToolchain } from './build-cache';
import { MAX_FILES } from './source-rules';
import { REDIS } from '../queue/redis.module';
import type { Redis } from 'ioredis';
import { KILN_CONFIG, KilnConfig } from '../config/config';
import { QuotasService } from '../quotas/quotas.service';
import { WebhooksService } from '../webhooks/webhooks.service';
import { BuildEventListener } from './build-event-listener';

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const MAX_DEFINES = 256;
const MAX_ARGUMENT_BYTES = 64 * 1024;

/** Text that PostgreSQL and the toolchain can hold: no NUL, no broken UTF-16. */
function checkText(where: string, text: string): void {
  if (text.includes('\0')) throw new BadRequestException(`${where} contains a NUL character`);
  if (LONE_SURROGATE.test(text)) throw new BadRequestException(`${where} is not valid Unicode (a lone surrogate)`);
}

/** Why a CMake project (an archive with a CMakeLists.txt on top) cannot be built as asked; null when it can. */
export function checkCMakeProject(source: SourceInput, outputs: string[], verify: VerifySpec | null, wasm: boolean): string | null {
  if (!source.archive || (source.language !== 'c' && source.language !== 'c++') || cmakeRoot(source.archive.files) === null) return null;
  if (source.toolchain) return `CMake projects are built with clang; drop "toolchain": "${source.toolchain}"`;
  if (verify) return 'verification of CMake projects is not offered yet; send the sources without the CMakeLists.txt to verify them';
  const bad = outputs.filter((o) => !(CMAKE_OUTPUTS as readonly string[]).includes(o) || (wasm && o === 'shared'));
  if (bad.length) return `a CMake project gives what its targets build (${CMAKE_OUTPUTS.filter((o) => !(wasm && o === 'shared')).join(', ')}), not ${bad.join(', ')}`;
  return null;
}

/**
 * Every upload a job's input names: source files, the archive, the model, and a verification's
 * tensors and reference files (uploads.service.ts's JOB_UPLOAD_PATHS finds the same in SQL).
 */
export function jobUploadIds(source: SourceInput | null, model: ModelInput | null, verify: VerifySpec | null): string[] {
  return [
    ...new Set([
      ...(source?.files.filter((f) => f.uploadId).map((f) => f.uploadId!) ?? []),
      ...(source?.archive ? [source.archive.uploadId] : []),
      ...(model ? [model.uploadId] : []),
      ...verifyUploadIds(verify),
    ]),
  ];
}

/** A hash of a create-job request as sent (keys sorted), to recognise its retries. */
export function requestFingerprint(dto: unknown): string {
  return createHash('sha256').update(canonicalJson(dto)).digest('hex');
}

/** Validates a job's source and turns it into what is stored. Throws 400s with the reason. */
export function normalizeSource(dto: NonNullable<CreateJobDto['source']>, archive: SourceInput['archive'] | null = null): SourceInput {
  const language = normalizeLanguage(dto.language);
  if (!language) throw new BadRequestException(`source.language "${dto.language}" is not supported; use one of ${LANGUAGES.join(', ')}`);
  const files = dto.files ?? [];
  if (files.length === 0 && !archive) throw new BadRequestException('source needs "files" (at least one), an "archive", or both');
  const seen = new Set<string>();
  for (const [i, f] of files.entries()) {
    const why = checkSourcePath(language, f.path);
    if (why) throw new BadRequestException(`source.files[${i}]: ${why}`);
    if (seen.has(f.path)) throw new BadRequestException(`source.files[${i}]: "${f.path}" is listed twice`);
    seen.add(f.path);
    const hasContent = f.content !== undefined && f.content !== null;
    if (hasContent === Boolean(f.uploadId)) {
      throw new BadRequestException(`source.files[${i}] ("${f.path}"): give exactly one of "content" or "uploadId"`);
    }
    if (hasContent) checkText(`source.files[${i}] ("${f.path}") content`, f.content!);
  }
  // A file and a folder of the same name cannot both exist.
  for (const p of seen) {
    const parts = p.split('/');
    for (let k = 1; k < parts.length; k++) {
      const folder = parts.slice(0, k).join('/');
      if (seen.has(folder)) throw new BadRequestException(`source.files: "${folder}" is both a file and a folder`);
    }
  }
  for (const p of archive?.files ?? []) {
    if (seen.has(p)) throw new BadRequestException(`source: "${p}" is both in source.files and in the archive`);
    if (isTranslationUnit(language, p)) {
      const why = checkSourcePath(language, p);
      if (why) throw new BadRequestException(`source.archive: ${why}`);
    }
  }
  if (archive && archive.files.length + files.length > MAX_FILES * 4) throw new BadRequestException(`source: at most ${MAX_FILES * 4} files in all`);
  const units = [...files.map((f) => f.path), ...(archive?.files ?? [])].filter((p) => isTranslationUnit(language, p));
  if (units.length === 0) {
    const exts = languageSpecOf(language).units.join(', ');
    throw new BadRequestException(`source has no ${language} file to compile (${exts})${archive ? '; the archive holds ' + (archive.files.slice(0, 8).join(', ') || 'no files') + (archive.files.length > 8 ? ', ...' : '') : ' (only headers were given)'}`);
  }
  if (!archive && files.filter((f) => isTranslationUnit(language, f.path)).every((f) => f.content !== undefined && f.content.trim() === '')) {
    throw new BadRequestException('source is empty: every file to compile has no content');
  }
  const options = dto.options ?? [];
  for (const o of options) {
    checkText('source.options', o);
    const why = checkCompilerOption(language, o);
    if (why) throw new BadRequestException(`source.options: ${why}`);
  }
  const defines: Record<string, string> = {};
  const entries = Object.entries(dto.defines ?? {});
  if (entries.length > MAX_DEFINES) throw new BadRequestException(`source.defines: at most ${MAX_DEFINES} macros`);
  for (const [k, v] of entries) {
    const why = checkDefine(k, v as string);
    if (why) throw new BadRequestException(`source.defines: ${why}`);
    checkText(`source.defines.${k}`, v as string);
    defines[k] = String(v);
  }
  const argumentBytes = [...options, ...entries.map(([k, v]) => `-D${k}=${v}`)].reduce((n, a) => n + Buffer.byteLength(a) + 1, 0);
  if (argumentBytes > MAX_ARGUMENT_BYTES) throw new BadRequestException(`source.options and source.defines add up to ${argumentBytes} bytes of compiler arguments; the limit is ${MAX_ARGUMENT_BYTES}`);
  let toolchain: string | undefined;
  if (dto.toolchain !== undefined && dto.toolchain !== null) {
    const tc = languageToolchain(language, dto.toolchain);
    if (!tc) throw new BadRequestException(`source.toolchain: ${language} is built by ${toolchainsFor(language).join(' or ')}, not "${dto.toolchain}"`);
    if (!tc.isDefault) toolchain = tc.toolchain;
  }
  return {
    language,
    ...(toolchain ? { toolchain } : {}),
    files: files.map((f) => (f.uploadId ? { path: f.path, uploadId: f.uploadId } : { path: f.path, content: f.content! })),
    ...(archive ? { archive } : {}),
    options,
    defines,
  };
}

/**
 * A job's row (alias j) as JSON for the API's answers, with each inline file's text replaced by
 * its size in bytes (contentBytes): an answer shows the sizes only, and the texts can be large.
 */
const JOB_JSON = `(to_jsonb(j) || jsonb_build_object('source', j.source || jsonb_build_object('files', (
    SELECT COALESCE(jsonb_agg(CASE WHEN f ? 'content' THEN (f - 'content') || jsonb_build_object('contentBytes', octet_length(convert_to(f->>'content', 'UTF8'))) ELSE f END ORDER BY n), '[]'::jsonb)
      FROM jsonb_array_elements(j.source->'files') WITH ORDINALITY AS x(f, n)))))`;

/** The job, its builds and their first events in one statement. */
const CREATE_JOB = prepared(
  `WITH j AS (
          INSERT INTO jobs (tenant_id, source, model, outputs, verify, idempotency_key, request_sha256, callback_url)
          VALUES ($1, $2::jsonb, $3::jsonb, $4, $5::jsonb, $6, $7, $8) RETURNING id),
        b AS (
          INSERT INTO builds (job_id, tenant_id, position, target_name, target, pool, verify_pool, input_digest, cache, status, status_reason)
          SELECT j.id, $1, x.position, x.target_name, x.target, x.pool, x.verify_pool, x.input_digest, x.cache, x.status, x.status_reason
            FROM j, jsonb_to_recordset($9::jsonb) AS x(position int, target_name text, target jsonb, pool text, verify_pool text, input_digest text, cache text, status text, status_reason text)
          RETURNING id, job_id, position, pool, status, status_reason),
        e AS (
          INSERT INTO build_events (build_id, job_id, from_status, to_status, message)
          SELECT id, job_id, NULL, status, status_reason FROM b ORDER BY position)
   SELECT b.job_id, b.id, b.pool, b.status FROM b ORDER BY b.position`,
);

/**
 * A job whose every build is answered from the cache, in one statement, which also looks the
 * builds up: each position's candidate cache keys ($9's "keys", as findCached takes them) are
 * looked up, and only when every position has a hit is anything recorded: as CREATE_JOB, with
 * each build a copy of its cached build as copyFromCache makes it (its result, artifacts and the
 * event that says where they came from), answered with what READ_JOB would read back (the job
 * names no uploads). The cached builds are locked FOR SHARE in id order, as a deletion of their
 * jobs locks them, before the artifacts' references are counted (the statement's triggers, in key
 * order, at its end); a cached build gone between the lookup and the lock leaves its copy as
 * CREATE_JOB records it, to be queued. When some position has no hit, nothing is written or
 * locked, and "hits" says what was found, by position, for the job to be made as usual.
 */
const CREATE_JOB_IF_CACHED = prepared(
  `WITH x AS (
          SELECT * FROM jsonb_to_recordset($9::jsonb) AS x(position int, target_name text, target jsonb, pool text, verify_pool text, input_digest text, cache text, status text, status_reason text, keys text[])),
        found AS (
          SELECT x.position, (
            SELECT c.build_id FROM build_cache c
             WHERE c.key = ANY(x.keys) AND c.tenant_id = $1 AND (${CACHED_BUILD_OK.replace('$T', '$1')})
             ORDER BY c.created_at DESC LIMIT 1) AS hit
            FROM x),
        every AS (SELECT bool_and(hit IS NOT NULL) AS ok FROM found),
        src AS (SELECT * FROM builds WHERE id = ANY(ARRAY(SELECT hit FROM found)) AND tenant_id = $1 AND status = 'succeeded' AND (SELECT ok FROM every) ORDER BY id FOR SHARE),
        j AS (
          INSERT INTO jobs (tenant_id, source, model, outputs, verify, idempotency_key, request_sha256, callback_url)
          SELECT $1, $2::jsonb, $3::jsonb, $4, $5::jsonb, $6, $7, $8 WHERE (SELECT ok FROM every) RETURNING *),
        b AS (
          INSERT INTO builds (job_id, tenant_id, position, target_name, target, pool, verify_pool, input_digest, cache, status, status_reason,
                              diagnostics, log, toolchain_key, toolchain_version, toolchain_ms, verification, verified_at, cached_from,
                              started_at, compiled_at, finished_at)
          SELECT j.id, $1, x.position, x.target_name, x.target, x.pool, x.verify_pool, x.input_digest,
                 CASE WHEN s.id IS NULL THEN x.cache ELSE 'hit' END, CASE WHEN s.id IS NULL THEN x.status ELSE 'succeeded' END,
                 CASE WHEN s.id IS NULL THEN x.status_reason END, COALESCE(s.diagnostics, '[]'), s.log, s.toolchain_key, s.toolchain_version,
                 CASE WHEN s.id IS NOT NULL THEN 0 END, s.verification, CASE WHEN s.verification IS NOT NULL THEN now() END, s.id,
                 CASE WHEN s.id IS NOT NULL THEN now() END, CASE WHEN s.id IS NOT NULL THEN now() END, CASE WHEN s.id IS NOT NULL THEN now() END
            FROM j, x JOIN found f ON f.position = x.position LEFT JOIN src s ON s.id = f.hit
          RETURNING *),
        e AS (
          INSERT INTO build_events (build_id, job_id, from_status, to_status, message)
          SELECT b.id, b.job_id, ev.from_status, ev.to_status, ev.message
            FROM b JOIN x ON x.position = b.position
           CROSS JOIN LATERAL (VALUES (1, NULL, x.status, x.status_reason),
                                      (2, x.status, 'succeeded', 'from the build cache: the same input as build ' || b.cached_from)) AS ev(n, from_status, to_status, message)
           WHERE ev.n = 1 OR b.cached_from IS NOT NULL
           ORDER BY b.position, ev.n
          RETURNING *),
        art AS (
          INSERT INTO artifacts (build_id, tenant_id, kind, name, size, sha256, storage_key, content_type)
          SELECT b.id, b.tenant_id, a.kind, a.name, a.size, a.sha256, a.storage_key, a.content_type
            FROM b JOIN artifacts a ON a.build_id = b.cached_from
          RETURNING *),
        hit AS (UPDATE build_cache SET hits = hits + 1, last_hit_at = now() WHERE build_id = ANY(ARRAY(SELECT cached_from FROM b)))
   SELECT (SELECT ${JOB_JSON} FROM j) AS job,
          (SELECT json_agg(b ORDER BY b.position) FROM b) AS builds,
          COALESCE((SELECT json_agg(a ORDER BY a.kind, a.name) FROM art a), '[]') AS artifacts,
          (SELECT json_agg(e ORDER BY e.id) FROM e) AS events,
          '{}'::json AS upload_sizes,
          (SELECT json_agg(hit ORDER BY position) FROM found) AS hits`,
);

/** A job's row and its builds', artifacts' and events' rows, as JSON, and its uploads' sizes by id. */
interface JobRow {
  job: Record<string, unknown>;
  builds: Record<string, unknown>[];
  artifacts: Record<string, unknown>[];
  events: Record<string, unknown>[];
  upload_sizes: Record<string, number>;
}

/** A job and everything shown with it, in one round trip (every poll of a job comes here). */
const READ_JOB = prepared(
  `SELECT ${JOB_JSON} AS job,
          COALESCE((SELECT json_agg(b ORDER BY b.position) FROM builds b WHERE b.job_id = j.id), '[]') AS builds,
          COALESCE((SELECT json_agg(a ORDER BY a.kind, a.name) FROM artifacts a JOIN builds b ON b.id = a.build_id WHERE b.job_id = j.id), '[]') AS artifacts,
          COALESCE((SELECT json_agg(e ORDER BY e.id) FROM build_events e WHERE e.job_id = j.id), '[]') AS events,
          COALESCE((SELECT json_object_agg(u.id, u.size) FROM uploads u
                     WHERE u.id IN (SELECT (f->>'uploadId')::uuid FROM jsonb_array_elements(j.source->'files') f UNION ALL SELECT (j.model->>'uploadId')::uuid)), '{}') AS upload_sizes
     FROM jobs j WHERE j.id = $1 AND j.tenant_id = $2`,
);

const JOB_EXISTS = prepared(`SELECT 1 FROM jobs WHERE id = $1 AND tenant_id = $2`);

/** A job's events after a given one (500 at most), and its builds' statuses, from one snapshot. */
const JOB_EVENTS_AFTER = prepared(
  `SELECT (SELECT COALESCE(json_agg(x ORDER BY x.id), '[]') FROM (
             SELECT e.id, e.build_id, b.target_name, e.from_status, e.to_status, e.at, e.worker, e.message
               FROM build_events e JOIN builds b ON b.id = e.build_id
              WHERE e.job_id = $1 AND e.id > $2 ORDER BY e.id LIMIT 500) x) AS events,
          ARRAY(SELECT status FROM builds WHERE job_id = $1) AS statuses`,
);

@Injectable()
export class JobsService {
  private readonly logger = new Logger(JobsService.name);

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectRepository(Job) private readonly jobs: Repository<Job>,
    @InjectRepository(Build) private readonly builds: Repository<Build>,
    @InjectRepository(Artifact) private readonly artifacts: Repository<Artifact>,
    @InjectRepository(BuildEvent) private readonly events: Repository<BuildEvent>,
    @InjectRepository(Upload) private readonly uploads: Repository<Upload>,
    private readonly targets: TargetsService,
    private readonly enqueuer: EnqueueService,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(KILN_CONFIG) private readonly config: KilnConfig,
    @Inject(OBJECT_STORE) private readonly store: ObjectStore,
    private readonly quotas: QuotasService,
    private readonly webhooks: WebhooksService,
    private readonly eventListener: BuildEventListener,
    private readonly models: ModelCheckService,
  ) {}

  /** Creates a job and its builds, and queues them. Returns the job and whether it is new. */
  async create(caller: Caller, dto: CreateJobDto, idempotencyKey: string | null): Promise<{ job: JobDto; created: boolean }> {
    if (idempotencyKey !== null && !/^[\x21-\x7e]{1,200}$/.test(idempotencyKey)) {
      throw new BadRequestException('the Idempotency-Key header must be 1 to 200 visible ASCII characters');
    }
    const requestSha256 = requestFingerprint(dto);
    if (idempotencyKey) {
      const existing = await this.jobs.findOneBy({ tenantId: caller.tenantId, idempotencyKey });
      if (existing) return { job: await this.replay(caller, existing, idempotencyKey, requestSha256), created: false };
    }

    if (Boolean(dto.source) === Boolean(dto.model)) {
      throw new BadRequestException('give either "source" (code to compile) or "model" (an uploaded ONNX model), not both or neither');
    }
    let source: SourceInput | null = null;
    let model: ModelInput | null = null;
    let cudaProblem: string | null = null;
    let verify: VerifySpec | null;
    let outputs = (dto.outputs ?? DEFAULT_OUTPUTS) as ArtifactKind[];
    if (dto.source) {
      if (dto.inputShapes) throw new BadRequestException('inputShapes applies to a model job only');
      source = normalizeSource(dto.source, dto.source.archive ? await this.checkArchive(caller, dto.source.archive.uploadId) : null);
      const src = source;
      const lang = languageSpecOf(src.language);
      if (!dto.outputs) outputs = [...lang.defaultOutputs];
      if (dto.verify && src.toolchain) throw new BadRequestException(`verify: verification is offered with ${lang.toolchain}, not with ${src.toolchain}; drop "verify" or "toolchain"`);
      if (dto.verify && !lang.verifiable) {
        throw new BadRequestException(`verify: verification is offered for ${LANGUAGES.filter((l) => languageSpecOf(l).verifiable).join(' and ')} sources and for models, not yet for ${src.language}`);
      }
      const uploadIds = src.files.filter((f) => f.uploadId).map((f) => f.uploadId!);
      if (uploadIds.length) {
        const found = await this.uploads.findBy({ id: In(uploadIds), tenantId: caller.tenantId });
        const missing = uploadIds.filter((id) => !found.some((u) => u.id === id));
        if (missing.length) throw new BadRequestException(`source.files: no upload with id ${missing.join(', ')}`);
        if (!src.archive && src.files.every((f) => !isTranslationUnit(src.language, f.path) || (f.uploadId ? found.find((u) => u.id === f.uploadId)!.size === 0 : !f.content!.trim()))) {
          throw new BadRequestException('source is empty: every file to compile has no content');
        }
      }
      try {
        verify = normalizeVerify(dto.verify === true ? { program: {} } : dto.verify, src.options, src.language);
      } catch (e) {
        if (e instanceof VerifySpecError) throw new BadRequestException(e.message);
        throw e;
      }
      verify = await this.checkVerifyUploads(caller, src, verify);
    } else {
      ({ model, cudaProblem } = await this.checkModel(caller, dto.model!.uploadId, dto.inputShapes ?? {}));
      if (dto.model!.threads && dto.model!.threads > 1) model.threads = dto.model!.threads;
      const bad = outputs.filter((o) => !MODEL_OUTPUTS.includes(o) && !GPU_MODEL_OUTPUTS.includes(o));
      if (bad.length) throw new BadRequestException(`outputs: a model build gives ${MODEL_OUTPUTS.join(', ')} for CPU and WebAssembly targets (no shared library for WebAssembly), ${GPU_MODEL_OUTPUTS.join(', ')} for NVIDIA GPUs (and always its header, source and metadata), not ${bad.join(', ')}`);
      outputs = [...new Set<ArtifactKind>([...outputs, 'header', 'c-source', 'metadata'])];
      try {
        verify = normalizeModelVerify(dto.verify);
      } catch (e) {
        if (e instanceof VerifySpecError) throw new BadRequestException(e.message);
        throw e;
      }
    }

    let resolved;
    let availability;
    try {
      ({ resolved, availability } = await this.targets.resolveAll(dto.targets));
    } catch (e) {
      if (e instanceof TargetError) throw new BadRequestException(`targets: ${e.message}`);
      this.logger.warn(`cannot read the worker registry: ${(e as Error).message}`);
      throw new ServiceUnavailableException('the build queue is unavailable; try again shortly');
    }
    const keys = new Set<string>();
    for (const r of resolved) {
      const key = JSON.stringify(r.target);
      if (keys.has(key)) throw new BadRequestException(`targets: ${r.requested} is listed twice`);
      keys.add(key);
      if (source) {
        const cmake = checkCMakeProject(source, outputs, verify, r.spec.family === 'wasm');
        if (cmake) throw new BadRequestException(`source.archive: ${cmake}`);
        const why = checkLanguageTarget(source.language, r.spec.name, outputs, source.toolchain);
        if (why) throw new BadRequestException(`targets: ${r.requested}: ${why}`);
      } else if (r.spec.family === 'nvptx') {
        const other = outputs.filter((o) => !GPU_MODEL_OUTPUTS.includes(o) && !MODEL_SIDE_FILES.includes(o));
        if (other.length) throw new BadRequestException(`outputs: a model build for ${r.requested} gives ${GPU_MODEL_OUTPUTS.join(', ')}, not ${other.join(', ')}`);
        if (cudaProblem) throw new BadRequestException(`targets: ${r.requested}: ${cudaProblem}`);
        if (verify?.kind === 'model' && verify.profile) throw new BadRequestException(`verify.profile: profiles are taken of CPU and WebAssembly builds; ${r.requested} is a GPU target (drop "profile" or this target)`);
      } else if (targetKind(r.spec.family) === 'gpu') {
        throw new BadRequestException(`targets: ${r.requested}: models compile to CPU, WebAssembly and NVIDIA GPU targets; AMD GPU code generation for models is not offered yet`);
      } else {
        // WebAssembly has no shared libraries that WASI runtimes load (as for source builds).
        const offered = r.spec.family === 'wasm' ? MODEL_OUTPUTS.filter((o) => o !== 'shared') : MODEL_OUTPUTS;
        const other = outputs.filter((o) => !offered.includes(o) && !MODEL_SIDE_FILES.includes(o));
        if (other.length) throw new BadRequestException(`outputs: a model build for ${r.requested} gives ${offered.join(', ')}, not ${other.join(', ')}`);
      }
      if (verify && verifyPoolOf(r.spec, r.target.cpu) === null) {
        throw new BadRequestException(`verify: ${r.requested} code can only be checked on a machine with that GPU, and Kiln has no runner for it yet; drop "verify" or this target`);
      }
    }

    // The build cache: each build's input digest, and for each a succeeded build to reuse.
    const finalOutputs = [...new Set(outputs)];
    const uploadHashes = await this.uploadHashes(caller, source, model, verify);
    const digests = resolved.map((r) => inputDigest({ source, model, uploadHashes, target: r.target, outputs: finalOutputs, verify }));
    const bypass = dto.cache === 'bypass';
    const callbackUrl = await this.webhooks.callbackUrlFor(dto.callbackUrl);
    const named = jobUploadIds(source, model, verify);

    const common = [
      caller.tenantId,
      source === null ? null : JSON.stringify(source),
      model === null ? null : JSON.stringify(model),
      finalOutputs,
      verify === null ? null : JSON.stringify(verify),
      idempotencyKey,
      requestSha256,
      callbackUrl,
    ];
    const rows = resolved.map((r, position) => {
      const served = availability.get(r.spec.name);
      const servedAs = source ? servedLanguageKey(source.language, source.toolchain ?? languageSpecOf(source.language).toolchain, !source.toolchain) : null;
      const live = (served?.available ?? false) && (!servedAs || served!.languages.includes(servedAs));
      return {
        position,
        target_name: r.requested,
        target: r.target,
        pool: r.spec.pool,
        verify_pool: verify ? verifyPoolOf(r.spec, r.target.cpu) : null,
        input_digest: digests[position],
        cache: bypass ? 'bypass' : null,
        status: live ? 'queued' : 'waiting',
        status_reason: live
          ? null
          : source && served?.available
            ? `waiting for a worker with the ${source.toolchain ?? languageSpecOf(source.language).toolchain} toolchain for ${r.spec.name} (${source.language}); it starts when one connects`
            : `waiting for a worker that serves pool "${r.spec.pool}" (${r.spec.name}); it starts when one connects`,
      };
    });

    let job: { id: string };
    let builds: { id: string; pool: string; status: BuildStatus }[];
    let recorded: JobRow | null = null;
    try {
      // The build cache: for each build a succeeded build with the same input to reuse.
      let hits: ({ buildId: string } | null)[];
      if (bypass) hits = resolved.map(() => null);
      else if (named.length === 0) {
        // Nothing needs a lock before: the lookup, and when every build is answered from the
        // cache the job and its copied builds, in one statement with no transaction around it.
        const keys = resolved.map((r, i) => this.cacheKeys(caller.tenantId, digests[i], r.spec.name, source, availability));
        const [row] = await run<JobRow & { hits: (string | null)[] }>(this.db, CREATE_JOB_IF_CACHED, [...common, JSON.stringify(rows.map((r, i) => ({ ...r, keys: keys[i] })))]);
        if (row.job) recorded = row;
        hits = (row.hits ?? []).map((id) => (id ? { buildId: id } : null));
      } else hits = await Promise.all(resolved.map((r, i) => findCached(this.db, caller.tenantId, this.cacheKeys(caller.tenantId, digests[i], r.spec.name, source, availability))));

      if (recorded) {
        job = { id: recorded.job.id as string };
        builds = recorded.builds.map((b) => ({ id: b.id as string, pool: b.pool as string, status: b.status as BuildStatus }));
      } else {
        // Builds answered from the cache store nothing new and run nothing: no quota to check.
        const toBuild = hits.filter((h) => !h).length;
        const limits = toBuild > 0 ? await this.quotas.checkStorageForJob(caller.tenantId) : undefined;
        ({ job, builds } = await this.db.transaction(async (tx) => {
          if (toBuild > 0) await this.quotas.reserveBuilds(tx, caller.tenantId, toBuild, limits);
          // The uploads it names stay until the job is recorded: a deletion of one waits for this
          // transaction and then sees the job's unfinished builds (409), or has deleted it already.
          if (named.length) {
            const held: { id: string }[] = await tx.query(`SELECT id FROM uploads WHERE id = ANY($1) AND tenant_id = $2 ORDER BY id FOR SHARE`, [named, caller.tenantId]);
            const gone = named.filter((u) => !held.some((h) => h.id === u));
            if (gone.length) throw new BadRequestException(`upload ${gone.join(', ')} was deleted while the job was being created; upload the file again`);
          }
          const created = await run<{ job_id: string; id: string; pool: string; status: BuildStatus }>(tx, CREATE_JOB, [...common, JSON.stringify(rows)]);
          const job = { id: created[0].job_id };
          const builds = created.map((r) => ({ id: r.id, pool: r.pool, status: r.status }));
          await lockCachedBuilds(tx, caller.tenantId, [...new Set(hits.filter((h) => h !== null).map((h) => h.buildId))]);
          for (const [i, b] of builds.entries()) {
            const hit = hits[i];
            if (hit && (await copyFromCache(tx, b.id, hit.buildId, [b.status], null))) b.status = 'succeeded';
          }
          return { job, builds };
        }));
      }
    } catch (e) {
      if (idempotencyKey && (e as { code?: string }).code === '23505') {
        const existing = await this.jobs.findOneByOrFail({ tenantId: caller.tenantId, idempotencyKey });
        return { job: await this.replay(caller, existing, idempotencyKey, requestSha256), created: false };
      }
      throw e;
    }

    try {
      await this.enqueuer.enqueue(
        builds.filter((b) => b.status !== 'succeeded').map((b) => ({ pool: b.pool, name: JobName.CompileBuild, jobId: b.id, data: { buildId: b.id, jobId: job.id, tenantId: caller.tenantId } })),
      );
    } catch (e) {
      // Nothing half-done stays behind: without its queue entries the job would never run.
      this.logger.error(`enqueue failed for job ${job.id}: ${(e as Error).message}`);
      for (const b of builds) await this.enqueuer.removeIfWaiting(b.pool, b.id);
      await this.jobs.delete({ id: job.id });
      throw new ServiceUnavailableException('the build queue is unavailable; try again shortly');
    }
    return { job: recorded ? await this.toDto(recorded) : await this.get(caller, job.id), created: true };
  }

  /** A 404 unless the job exists for this tenant (before an event stream starts). */
  async assertExists(caller: Caller, id: string): Promise<void> {
    if (!UUID_RE.test(id)) throw new NotFoundException(`no job with id ${id}`);
    const rows = await run(this.db, JOB_EXISTS, [id, caller.tenantId]);
    if (rows.length === 0) throw new NotFoundException(`no job with id ${id}`);
  }

  async get(caller: Caller, id: string): Promise<JobDto> {
    if (!UUID_RE.test(id)) throw new NotFoundException(`no job with id ${id}`);
    // One round trip for the job and everything shown with it (every poll of a job comes here).
    const [row] = await run<JobRow>(this.db, READ_JOB, [id, caller.tenantId]);
    if (!row) throw new NotFoundException(`no job with id ${id}`);
    return this.toDto(row);
  }

  /** The job as the API shows it, from its rows as JSON (READ_JOB's answer). */
  private async toDto(row: JobRow): Promise<JobDto> {
    const meta = (entity: Function) => this.db.getMetadata(entity);
    const job = entityFromJson<Job>(meta(Job), row.job);
    const builds = row.builds.map((b) => entityFromJson<Build>(meta(Build), b));
    const artifacts = row.artifacts.map((a) => entityFromJson<Artifact>(meta(Artifact), a));
    const events = row.events.map((e) => entityFromJson<BuildEvent>(meta(BuildEvent), e));
    await this.explainQueued(builds);
    return toJobDto(job, builds, artifacts, events, new Map(Object.entries(row.upload_sizes).map(([k, v]) => [k, Number(v)])));
  }

  /**
   * Reads and checks an uploaded ONNX model now, so a malformed model, an unsupported operator
   * or an unbound symbolic dimension is a 400 that says which, not a failed build later.
   */
  /** A retry gets the job its key made; the same key with another request is a 422. */
  private async replay(caller: Caller, existing: Job, key: string, requestSha256: string): Promise<JobDto> {
    if (existing.requestSha256 && existing.requestSha256 !== requestSha256) {
      throw new UnprocessableEntityException({ code: 'idempotency_key_reused', message: `Idempotency-Key "${key}" was already used for a different request (job ${existing.id}); send a new key for a new request` });
    }
    return this.get(caller, existing.id);
  }

  /** The sha256 of every upload a job's input names (they are checked to exist before this). */
  private async uploadHashes(caller: Caller, source: SourceInput | null, model: ModelInput | null, verify: VerifySpec | null): Promise<Map<string, string>> {
    const ids = jobUploadIds(source, model, verify);
    if (ids.length === 0) return new Map();
    const rows = await this.uploads.findBy({ id: In(ids), tenantId: caller.tenantId });
    // Checked to exist a moment ago, but a deletion may have come in between: the same 400 as
    // when the deletion wins later, inside the transaction.
    const gone = ids.filter((id) => !rows.some((u) => u.id === id));
    if (gone.length) throw new BadRequestException(`upload ${gone.join(', ')} was deleted while the job was being created; upload the file again`);
    return new Map(rows.map((u) => [u.id, u.sha256]));
  }

  /**
   * The uploads a verification names: each input tensor and expected output must exist for the
   * tenant and hold exactly its buffer's bytes, and a reference source gets the checks of a
   * job's source (paths, options). Returns the spec with the reference source normalised.
   */
  private async checkVerifyUploads(caller: Caller, source: SourceInput, verify: VerifySpec | null): Promise<VerifySpec | null> {
    if (!verify || verify.kind === 'model') return verify;
    const ids = verifyUploadIds(verify);
    const found = ids.length ? await this.uploads.findBy({ id: In(ids), tenantId: caller.tenantId }) : [];
    const upload = (id: string, where: string) => {
      const u = found.find((x) => x.id === id);
      if (!u) throw new BadRequestException(`${where}: no upload with id ${id}`);
      return u;
    };
    if (verify.kind === 'kernel') {
      for (const a of verify.args) {
        if (a.kind !== 'buffer') continue;
        for (const role of ['input', 'expected'] as const) {
          const ref = a[role];
          if (!ref) continue;
          const size = upload(ref.uploadId, `verify: argument "${a.name}" ${role}`).size;
          const need = bufferBytes(a);
          if (size !== need) {
            throw new BadRequestException(
              `verify: argument "${a.name}": the uploaded ${role === 'input' ? 'input' : 'expected output'} (upload ${ref.uploadId}) holds ${size} bytes, but ${a.dtype} ${JSON.stringify(a.shape)} needs exactly ${need} bytes (${elementCount(a)} elements of ${DTYPE_SIZE[a.dtype]} bytes, raw little-endian)`,
            );
          }
        }
      }
    }
    if (!verify.reference) return verify;
    let reference: SourceInput;
    try {
      reference = normalizeSource({ language: verify.reference.language ?? source.language, files: verify.reference.files, options: verify.reference.options });
    } catch (e) {
      // The same checks as the job's source, named after where the mistake is.
      if (e instanceof BadRequestException) throw new BadRequestException(e.message.replace(/^source/, 'verify.reference'));
      throw e;
    }
    for (const f of reference.files) if (f.uploadId) upload(f.uploadId, `verify.reference.files ("${f.path}")`);
    return { ...verify, reference: { files: reference.files, options: reference.options, ...(verify.reference.language ? { language: verify.reference.language } : {}) } };
  }

  /** The cache keys of a build's input: one for each version of its toolchain that live workers run now. */
  private cacheKeys(tenantId: string, digest: string, target: string, source: SourceInput | null, availability: Map<string, TargetAvailability>): string[] {
    const live = availability.get(target)?.toolchains ?? [];
    const identities = source ? live.filter((t) => t.key === (source.toolchain ?? languageSpecOf(source.language).toolchain)) : live.filter((t) => t.key === 'clang').map((t) => modelToolchain(t.version));
    return identities.map((t) => cacheKey(tenantId, digest, t));
  }

  /** Reads an uploaded archive and lists its files, checking every entry (400 with why). */
  private async checkArchive(caller: Caller, uploadId: string): Promise<NonNullable<SourceInput['archive']>> {
    const upload = await this.uploads.findOneBy({ id: uploadId, tenantId: caller.tenantId });
    if (!upload) throw new BadRequestException(`source.archive: no upload with id ${uploadId}`);
    const chunks: Buffer[] = [];
    for await (const c of await this.store.get(upload.storageKey)) chunks.push(c as Buffer);
    try {
      const files = await listArchive(Buffer.concat(chunks), this.config.archiveLimits);
      return { uploadId, filename: upload.filename, files: files.map((f) => f.path), bytes: files.reduce((n, f) => n + f.size, 0) };
    } catch (e) {
      if (e instanceof ArchiveError) throw new BadRequestException(`source.archive ("${upload.filename}"): ${e.message}`);
      throw e;
    }
  }

  /**
   * Reads and checks an uploaded model, on a worker thread within the model budget (never on
   * the event loop); also says why the CUDA generator would refuse it (null: it would not).
   */
  private async checkModel(caller: Caller, uploadId: string, inputShapes: Record<string, number[]>): Promise<{ model: ModelInput; cudaProblem: string | null }> {
    try {
      checkInputShapes(inputShapes);
    } catch (e) {
      if (e instanceof ModelRefusal) throw new BadRequestException(e.message);
      throw e;
    }
    const upload = await this.uploads.findOneBy({ id: uploadId, tenantId: caller.tenantId });
    if (!upload) throw new BadRequestException(`model: no upload with id ${uploadId}`);
    if (Number(upload.size) > this.config.maxUploadBytes) throw new BadRequestException(`model: the model is ${upload.size} bytes; the limit is ${this.config.maxUploadBytes}`);
    const chunks: Buffer[] = [];
    for await (const c of await this.store.get(upload.storageKey)) chunks.push(c as Buffer);
    const { summary, cudaProblem } = await this.models.checkForJob(Buffer.concat(chunks), inputShapes);
    return { model: { uploadId, filename: upload.filename, inputShapes, summary }, cudaProblem };
  }

  /**
   * Every state change of a job's builds, as server-sent events: what is already recorded after
   * `afterId`, then new ones as they happen, and an "end" event once every build has finished.
   * Event ids are the build event ids, so a client resumes with Last-Event-ID.
   *
   * The stream looks when the job's events are committed (a PostgreSQL notification, see
   * BuildEventListener), and every `fallbackMs` by itself, or every `pollMs` while
   * notifications are down.
   */
  eventStream(jobId: string, afterId: string | null, pollMs = 250, fallbackMs = 2000): Observable<MessageEvent> {
    return new Observable<MessageEvent>((subscriber) => {
      let last = afterId && /^\d{1,18}$/.test(afterId) ? afterId : '0';
      let timer: NodeJS.Timeout | null = null;
      let idleSince = Date.now();
      let stopped = false;
      let running = false;
      let again = false;
      const tick = async () => {
        running = true;
        again = false;
        try {
          // Events and statuses from one snapshot: the end is never seen before the events that led to it.
          const [{ events, statuses }] = await run<{ events: { id: number; build_id: string; target_name: string; from_status: string | null; to_status: string; at: string; worker: string | null; message: string | null }[]; statuses: BuildStatus[] }>(this.db, JOB_EVENTS_AFTER, [jobId, last]);
          for (const r of events) {
            last = String(r.id);
            subscriber.next({ id: last, type: 'build', data: { buildId: r.build_id, target: r.target_name, from: r.from_status, to: r.to_status, at: new Date(r.at).toISOString(), worker: r.worker, message: r.message } });
          }
          if (events.length) idleSince = Date.now();
          if (events.length < 500) {
            if (statuses.length === 0) {
              // Every job has builds: the job was deleted (DELETE ?purge=true). A reconnect gets 404.
              subscriber.complete();
              return;
            }
            const status = deriveJobStatus(statuses);
            if (['succeeded', 'failed', 'canceled'].includes(status)) {
              // The id repeats the last event's, so a client reconnecting after the end resumes correctly.
              subscriber.next({ id: last, type: 'end', data: { jobId, status } });
              subscriber.complete();
              return;
            }
          } else again = true; // more to read at once
          // A comment now and then keeps proxies from closing a quiet stream.
          if (Date.now() - idleSince > 15_000) {
            idleSince = Date.now();
            subscriber.next({ id: last, comment: 'keep-alive', data: '' });
          }
        } catch (e) {
          this.logger.warn(`events of job ${jobId}: ${(e as Error).message}`);
        } finally {
          running = false;
        }
        if (stopped) return;
        if (again) void tick();
        else timer = setTimeout(tick, this.eventListener.live ? fallbackMs : pollMs);
      };
      // Subscribed before the first look, so nothing committed after it goes unnoticed.
      const unsubscribe = this.eventListener.subscribe(jobId, () => {
        if (stopped) return;
        if (running) {
          again = true;
          return;
        }
        if (timer) clearTimeout(timer);
        timer = null;
        void tick();
      });
      void tick();
      return () => {
        stopped = true;
        unsubscribe();
        if (timer) clearTimeout(timer);
      };
    });
  }

  /** A queued build whose pool has lost its workers says so, instead of looking merely slow. */
  private async explainQueued(builds: Build[]): Promise<void> {
    const queued = builds.filter((b) => (b.status === 'queued' || b.status === 'compiled') && !b.statusReason);
    if (queued.length === 0) return;
    const { targets } = await this.targets.snapshot().catch(() => ({ targets: [] as TargetAvailability[] }));
    for (const b of queued) {
      const t = targets.find((x) => x.spec.name === b.target.name);
      if (!t) continue;
      if (b.status === 'queued' && !t.available) b.statusReason = `no live worker serves pool "${b.pool}" right now; the build starts when one connects`;
      if (b.status === 'compiled' && b.verifyPool && !t.verifyPools.includes(b.verifyPool)) b.statusReason = verifyWaitReason(b.verifyPool);
    }
  }

  async list(caller: Caller, opts: { status?: JobStatus; cursor?: string; idPrefix?: string; limit: number }): Promise<JobListDto> {
    const cursor = opts.cursor ? decodeCursor(opts.cursor) : null;
    const params: unknown[] = [caller.tenantId];
    let where = 'j.tenant_id = $1';
    if (cursor) {
      params.push(cursor.createdAt, cursor.id);
      where += ` AND (j.created_at, j.id) < ($2::timestamptz, $3::uuid)`;
    }
    if (opts.status) {
      params.push(opts.status);
      where += ` AND s.status = $${params.length}`;
    }
    if (opts.idPrefix) {
      // Validated as hex digits and dashes, so it holds no LIKE wildcard.
      params.push(`${opts.idPrefix.toLowerCase()}%`);
      where += ` AND j.id::text LIKE $${params.length}`;
    }
    params.push(opts.limit + 1);
    const rows: { id: string; created_at: Date; created_at_text: string; language: string; status: JobStatus; builds: { id: string; target: string; status: BuildStatus }[] }[] =
      await this.db.query(
        `SELECT j.id, j.created_at, ${cursorTime('j.created_at')} AS created_at_text,
                COALESCE(j.source->>'language', 'onnx') AS language, s.status, s.builds
           FROM jobs j
           CROSS JOIN LATERAL (
             SELECT CASE
                      WHEN bool_and(b.status IN ('queued','waiting')) THEN 'queued'
                      WHEN bool_or(b.status NOT IN ('succeeded','failed','canceled')) THEN 'running'
                      WHEN bool_or(b.status = 'failed') THEN 'failed'
                      WHEN bool_or(b.status = 'canceled') THEN 'canceled'
                      ELSE 'succeeded' END AS status,
                    json_agg(json_build_object('id', b.id, 'target', b.target_name, 'status', b.status) ORDER BY b.position) AS builds
               FROM builds b WHERE b.job_id = j.id
           ) s
          WHERE ${where}
          ORDER BY j.created_at DESC, j.id DESC
          LIMIT $${params.length}`,
        params,
      );
    const page = rows.slice(0, opts.limit);
    const last = page[page.length - 1];
    return {
      items: page.map((r) => ({ id: r.id, status: r.status, createdAt: new Date(r.created_at).toISOString(), language: r.language, builds: r.builds })),
      nextCursor:
        rows.length > opts.limit && last ? encodeCursor({ createdAt: last.created_at_text, id: last.id }) : null,
    };
  }

  /**
   * Deletes a finished job with everything it made: its builds, their events, artifacts
   * (verification bundles and reports among them), verification results, build-cache entries
   * and webhook deliveries. Then each stored object of its artifacts goes, unless another row
   * still refers to it (another build, of this tenant or another, with equal bytes; a cache hit
   * that copied this job's results; an upload). The tenant's storage usage goes down with the
   * rows. A job with builds that have not finished is a 409: cancel it first.
   */
  async purge(caller: Caller, id: string): Promise<void> {
    if (!UUID_RE.test(id)) throw new NotFoundException(`no job with id ${id}`);
    const { keys, verifying } = await this.db.transaction(async (tx) => {
      const [job]: { id: string }[] = await tx.query(`SELECT id FROM jobs WHERE id = $1 AND tenant_id = $2 FOR UPDATE`, [id, caller.tenantId]);
      if (!job) throw new NotFoundException(`no job with id ${id}`);
      // In id order, as a job creation copying cache hits locks them (lockCachedBuilds); a
      // copy of one of them that is being made finishes first, and one started later finds
      // nothing to copy.
      const builds: { id: string; position: number; target_name: string; status: BuildStatus; verify_pool: string | null }[] = await tx.query(
        `SELECT id, position, target_name, status, verify_pool FROM builds WHERE job_id = $1 ORDER BY id FOR UPDATE`,
        [id],
      );
      const unfinished = builds.filter((b) => !isTerminal(b.status)).sort((x, y) => x.position - y.position);
      if (unfinished.length) {
        throw new ConflictException(
          `job ${id} has ${unfinished.length} build${unfinished.length > 1 ? 's' : ''} that ${unfinished.length > 1 ? 'have' : 'has'} not finished (${unfinished.map((b) => `${b.target_name}: ${b.status}`).join(', ')}); cancel the job first (DELETE /v1/jobs/${id}), then delete it with ?purge=true`,
        );
      }
      const artifacts = await returning<{ storage_key: string }>(tx, `DELETE FROM artifacts WHERE build_id = ANY($1) RETURNING storage_key`, [builds.map((b) => b.id)]);
      // Builds, build events, build-cache entries and webhook deliveries go with the job.
      await tx.query(`DELETE FROM jobs WHERE id = $1`, [id]);
      return { keys: artifacts.map((a) => a.storage_key), verifying: builds.filter((b) => b.verify_pool !== null) };
    });
    // A verification entry left behind (a build canceled while it waited for a runner, before
    // cancel took it off) would wait for a build that no longer exists.
    for (const b of verifying) await this.enqueuer.removeIfWaiting(b.verify_pool!, verifyJobId(b.id));
    // After the commit: what a failure here leaves in the store, the garbage collector takes.
    await deleteUnreferenced(this.db, this.store, keys).catch((e) => this.logger.warn(`job ${id}: some stored objects were not deleted (${(e as Error).message}); npm run gc will`));
  }

  /** Cancels every build of the job that has not finished. Finished builds keep their result. */
  async cancel(caller: Caller, id: string): Promise<JobDto> {
    await this.get(caller, id); // 404 for unknown ids and other tenants' jobs
    const canceled: { id: string; pool: string; verifyPool: string | null; status: BuildStatus }[] = await this.db.transaction(async (tx) => {
      const rows = await returning<{ id: string; pool: string; verify_pool: string | null; prev: BuildStatus }>(tx, 
        `UPDATE builds b SET status = 'canceled', status_reason = 'canceled by the client', finished_at = now(), updated_at = now()
           FROM (SELECT id, status AS prev FROM builds WHERE job_id = $1 AND status NOT IN ('succeeded','failed','canceled') FOR UPDATE) old
          WHERE b.id = old.id
          RETURNING b.id, b.pool, b.verify_pool, old.prev`,
        [id],
      );
      if (rows.length) {
        await tx.getRepository(BuildEvent).insert(rows.map((r) => ({ buildId: r.id, jobId: id, fromStatus: r.prev, toStatus: 'canceled' as const, message: 'canceled by the client' })));
      }
      return rows.map((r) => ({ id: r.id, pool: r.pool, verifyPool: r.verify_pool, status: r.prev }));
    });
    for (const b of canceled) {
      if (isTerminal(b.status)) continue;
      // A queued build is simply taken off its queue, and a compiled one off its verify pool's
      // (where it may wait for a device for good); a running one is told to stop.
      const removed = await this.enqueuer.removeIfWaiting(b.pool, b.id);
      const removedVerify = b.verifyPool !== null && (await this.enqueuer.removeIfWaiting(b.verifyPool, verifyJobId(b.id)));
      if (!removed && !removedVerify) await this.redis.publish(redisKeys.cancelChannel(this.config.queuePrefix), b.id).catch(() => undefined);
    }
    return this.get(caller, id);
  }
}
