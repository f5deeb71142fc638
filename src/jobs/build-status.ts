/** Build states, in the order a build normally moves through them. */
export const BUILD_STATUSES = [
  'queued',
  'waiting',
  'compiling',
  'compiled',
  'verifying',
  'succeeded',
  'failed',
  'canceled',
] as const;
export type BuildStatus = (typeof BUILD_STATUSES)[number];

export const TERMINAL_BUILD_STATUSES: readonly BuildStatus[] = ['succeeded', 'failed', 'canceled'];
export const PENDING_BUILD_STATUSES: readonly BuildStatus[] = ['queued', 'waiting'];

export const JOB_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'canceled'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export function isTerminal(status: BuildStatus): boolean {
  return TERMINAL_BUILD_STATUSES.includes(status);
}

/**
 * A job's status is derived from its builds: queued while nothing has started, running while
 * any build is not finished, then failed if any build failed, canceled if any was canceled,
 * and succeeded only when every build succeeded.
 */
export function deriveJobStatus(builds: readonly BuildStatus[]): JobStatus {
  if (builds.length === 0) return 'queued';
  if (builds.every((s) => PENDING_BUILD_STATUSES.includes(s))) return 'queued';
  if (builds.some((s) => !isTerminal(s))) return 'running';
  if (builds.some((s) => s === 'failed')) return 'failed';
  if (builds.some((s) => s === 'canceled')) return 'canceled';
  return 'succeeded';
}
