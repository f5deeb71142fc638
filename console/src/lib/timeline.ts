import type { Build } from './types';

export interface TimelineStep {
  status: string;
  label: string;
  at: string;
  /** Time spent in this state; for the current state of a running build, so far. */
  durationMs: number | null;
  current: boolean;
  worker: string | null;
  message: string | null;
  tone: 'done' | 'active' | 'failed' | 'muted';
}

const LABELS: Record<string, string> = {
  queued: 'Queued',
  waiting: 'Waiting for a worker',
  compiling: 'Compiling',
  compiled: 'Compiled',
  verifying: 'Verifying',
  succeeded: 'Succeeded',
  failed: 'Failed',
  canceled: 'Canceled',
  running: 'Running',
};

export const TERMINAL = ['succeeded', 'failed', 'canceled'];

/** The one word for a status, the same in badges, filters and timelines (the API's word, capitalised). */
export function statusLabel(status: string): string {
  return LABELS[status] ?? status;
}

/**
 * A build's timeline from its recorded state changes: one step per state it entered, with the
 * time it stayed there (until the next change; for the state it is in now, until `now`).
 */
export function buildTimeline(build: Pick<Build, 'events' | 'status'>, now = Date.now()): TimelineStep[] {
  const events = [...build.events].sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  return events.map((e, i) => {
    const next = events[i + 1];
    const last = !next;
    const terminal = TERMINAL.includes(e.to);
    const durationMs = next ? Date.parse(next.at) - Date.parse(e.at) : terminal ? null : Math.max(0, now - Date.parse(e.at));
    const tone: TimelineStep['tone'] = e.to === 'failed' ? 'failed' : e.to === 'canceled' ? 'muted' : last && !terminal ? 'active' : 'done';
    return { status: e.to, label: statusLabel(e.to), at: e.at, durationMs, current: last, worker: e.worker ?? null, message: e.message ?? null, tone };
  });
}

/** Applies a live `build` event to a build's status, for lists that show summaries only. */
export function applyEvent<T extends { id: string; status: string }>(builds: T[], ev: { buildId: string; to: string }): T[] {
  return builds.map((b) => (b.id === ev.buildId ? { ...b, status: ev.to } : b));
}

/** A job's status from its builds' statuses, as the API derives it (src/jobs/build-status.ts). */
export function jobStatusOf(statuses: string[]): string {
  if (statuses.length === 0) return 'queued';
  if (statuses.every((s) => s === 'queued' || s === 'waiting')) return 'queued';
  if (statuses.some((s) => !TERMINAL.includes(s))) return 'running';
  if (statuses.some((s) => s === 'failed')) return 'failed';
  if (statuses.some((s) => s === 'canceled')) return 'canceled';
  return 'succeeded';
}
