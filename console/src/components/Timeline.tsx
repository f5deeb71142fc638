import { formatDuration } from '../lib/format';
import { buildTimeline } from '../lib/timeline';
import type { Build } from '../lib/types';

export function Timeline({ build, now }: { build: Build; now: number }) {
  const steps = buildTimeline(build, now);
  return (
    <ol className="timeline" aria-label={`Timeline of ${build.target.requested}`}>
      {steps.map((s, i) => (
        <li key={i} className={`step ${s.tone}`} data-status={s.status}>
          <span className="dot" aria-hidden="true" />
          <span className="step-label">{s.label}</span>
          <span className="step-time">
            {s.durationMs !== null ? formatDuration(s.durationMs) : new Date(s.at).toLocaleTimeString()}
            {s.current && s.tone === 'active' ? ' so far' : ''}
          </span>
          {(s.worker || s.message) && (
            <span className="step-note">
              {s.message ?? ''}
              {s.worker ? <span className="muted"> {s.message ? '· ' : ''}{s.worker}</span> : null}
            </span>
          )}
        </li>
      ))}
    </ol>
  );
}
