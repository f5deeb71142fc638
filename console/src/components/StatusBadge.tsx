import { statusLabel } from '../lib/timeline';

const TONE: Record<string, string> = {
  queued: 'neutral', waiting: 'warn', compiling: 'active', compiled: 'active', verifying: 'active', running: 'active',
  succeeded: 'ok', passed: 'ok', failed: 'bad', canceled: 'neutral', pending: 'neutral', 'not verified': 'neutral',
};

export function StatusBadge({ status, label }: { status: string; label?: string }) {
  const tone = TONE[status] ?? 'neutral';
  return (
    <span className={`badge ${tone}`} data-status={status}>
      {tone === 'active' && <span className="pulse" aria-hidden="true" />}
      {label ?? statusLabel(status)}
    </span>
  );
}
