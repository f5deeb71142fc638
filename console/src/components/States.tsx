import type { ReactNode } from 'react';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="state loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </div>
  );
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state empty">
      <p className="state-title">{title}</p>
      {children}
    </div>
  );
}

/** A problem, with the API's message as the API wrote it. */
export function Problem({ title, message, onRetry }: { title: string; message: string; onRetry?: () => void }) {
  return (
    <div className="problem" role="alert">
      <strong>{title}</strong>
      <p className="problem-message">{message}</p>
      {onRetry && (
        <button type="button" className="btn small" onClick={onRetry}>
          Try again
        </button>
      )}
    </div>
  );
}
