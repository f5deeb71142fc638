import type { Artifact, Build, BuildEvent, Job } from '../database/entities';
import { deriveJobStatus } from './build-status';
import type { ArtifactDto, BuildDto, JobDto } from './dto/job.dto';

const ms = (a: Date | null, b: Date | null): number | null => (a && b ? Math.max(0, b.getTime() - a.getTime()) : null);

export function toArtifactDto(a: Artifact): ArtifactDto {
  return {
    id: a.id,
    buildId: a.buildId,
    kind: a.kind,
    name: a.name,
    size: a.size,
    sha256: a.sha256,
    contentType: a.contentType,
    contentUrl: `/v1/artifacts/${a.id}/content`,
    createdAt: a.createdAt.toISOString(),
  };
}

export function toBuildDto(b: Build, artifacts: Artifact[], events: BuildEvent[]): BuildDto {
  return {
    id: b.id,
    target: { requested: b.targetName, ...b.target },
    pool: b.pool,
    status: b.status,
    statusReason: b.statusReason,
    toolchain: b.toolchainKey && b.toolchainVersion ? { key: b.toolchainKey, version: b.toolchainVersion } : null,
    worker: b.worker,
    attempts: b.attempts,
    timings: {
      queuedMs: ms(b.createdAt, b.startedAt),
      compileMs: ms(b.startedAt, b.compiledAt ?? (b.status === 'failed' ? b.finishedAt : null)),
      toolchainMs: b.toolchainMs,
      verifyMs: b.verifiedAt ? ms(b.compiledAt, b.verifiedAt) : null,
      totalMs: ms(b.createdAt, b.finishedAt),
    },
    diagnostics: b.diagnostics,
    artifacts: artifacts.filter((a) => a.buildId === b.id).map(toArtifactDto),
    events: events
      .filter((e) => e.buildId === b.id)
      .map((e) => ({ from: e.fromStatus, to: e.toStatus, at: e.at.toISOString(), worker: e.worker, message: e.message })),
    log: b.log,
    verifyPool: b.verifyPool,
    verification: b.verification,
    cache: b.cache ? { status: b.cache, from: b.cachedFrom } : null,
  };
}

export function toJobDto(job: Job, builds: Build[], artifacts: Artifact[], events: BuildEvent[], fileSizes: Map<string, number>): JobDto {
  return {
    id: job.id,
    status: deriveJobStatus(builds.map((b) => b.status)),
    createdAt: job.createdAt.toISOString(),
    updatedAt: new Date(Math.max(job.updatedAt.getTime(), ...builds.map((b) => b.updatedAt.getTime()))).toISOString(),
    source: job.source
      ? {
          language: job.source.language,
          toolchain: job.source.toolchain ?? null,
          files: job.source.files.map((f) => ({
            path: f.path,
            // Read back for an answer, an inline file comes with its size instead of its text.
            size: f.content !== undefined ? Buffer.byteLength(f.content) : ((f as { contentBytes?: number }).contentBytes ?? fileSizes.get(f.uploadId!) ?? 0),
            ...(f.uploadId ? { uploadId: f.uploadId } : {}),
          })),
          archive: job.source.archive ?? null,
          options: job.source.options,
          defines: job.source.defines,
        }
      : null,
    model: job.model
      ? { uploadId: job.model.uploadId, filename: job.model.filename, size: fileSizes.get(job.model.uploadId) ?? 0, inputShapes: job.model.inputShapes, threads: job.model.threads ?? 1, ...job.model.summary }
      : null,
    outputs: job.outputs,
    verify: job.verify as unknown as Record<string, unknown> | null,
    builds: builds.map((b) => toBuildDto(b, artifacts, events)),
    callbackUrl: job.callbackUrl,
  };
}
